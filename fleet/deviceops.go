package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Device operations (ARCHITECTURE 11): request and reply bodies of
// fleet.device.<device_id>.logs|restart|ping. Requests are decoded
// strictly (an unknown field is an error naming it: a typo must not be
// ignored); replies ignore unknown fields (forward compatibility).
//
// Follow is a pull protocol, so that it fits "responses allowed" (one
// reply per request): the first LogsRequest with Follow set answers with
// the tail and a Stream id; every later request names that Stream and
// gets what was written since the previous answer (waiting up to WaitMillis
// for something new). The agent keeps at most MaxLogsBytes per stream
// buffered; a requester that stops pulling for StreamIdleTimeout loses
// its stream. The last answer of a stream has End set.

// Limits of the device operations.
const (
	// DefaultTailLines is LogsRequest.TailLines when zero.
	DefaultTailLines = 100
	// MaxTailLines bounds LogsRequest.TailLines.
	MaxTailLines = 100_000
	// MaxLogsBytes bounds LogsReply.Output: 64 KiB, cut at a line start.
	MaxLogsBytes = 64 << 10
	// MaxWaitMillis bounds LogsRequest.WaitMillis.
	MaxWaitMillis = 5000
	// StreamIdleTimeout: a follow stream not pulled for this long ends.
	StreamIdleTimeout = 10 * time.Second
	// MaxStreamDuration: a follow stream ends this long after it began.
	MaxStreamDuration = 10 * time.Minute
)

// HeaderEnd is the NATS header of the last answer of a follow stream; its
// value is the LogsReply.End.
const HeaderEnd = "Harmony-End"

// StreamEnd says why a follow stream ended.
type StreamEnd string

// The ends of a follow stream.
const (
	// EndEOF: the workload's output ended (it was removed).
	EndEOF StreamEnd = "eof"
	// EndTimeout: MaxStreamDuration passed, or the requester stopped
	// pulling for StreamIdleTimeout.
	EndTimeout StreamEnd = "timeout"
	// EndStopped: the requester asked to stop.
	EndStopped StreamEnd = "stopped"
)

// Valid reports whether e is a known end ("" is not).
func (e StreamEnd) Valid() bool { return e == EndEOF || e == EndTimeout || e == EndStopped }

// LogsRequest asks for a workload's output.
type LogsRequest struct {
	Deployment DeploymentName `json:"deployment"`
	// TailLines is how many of the last lines to return (0: DefaultTailLines).
	TailLines int `json:"tail_lines,omitempty"`
	// Follow starts a stream (Stream empty) or pulls its next chunk.
	Follow bool `json:"follow,omitempty"`
	// Stream is the id the first answer of a follow gave.
	Stream string `json:"stream,omitempty"`
	// WaitMillis is how long a pull waits for new output (at most
	// MaxWaitMillis; 0 answers at once).
	WaitMillis int `json:"wait_ms,omitempty"`
	// Stop ends the stream Stream.
	Stop bool `json:"stop,omitempty"`
}

// Validate reports which field of r is wrong, or nil.
func (r LogsRequest) Validate() error {
	if err := r.Deployment.Validate(); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	if r.TailLines < 0 || r.TailLines > MaxTailLines {
		return fmt.Errorf("tail_lines: %d is outside 0..%d", r.TailLines, MaxTailLines)
	}
	if r.WaitMillis < 0 || r.WaitMillis > MaxWaitMillis {
		return fmt.Errorf("wait_ms: %d is outside 0..%d", r.WaitMillis, MaxWaitMillis)
	}
	if r.Stream != "" && !r.Follow {
		return fmt.Errorf("stream: set without follow")
	}
	if r.Stop && r.Stream == "" {
		return fmt.Errorf("stop: set without stream")
	}
	if len(r.Stream) > 64 {
		return fmt.Errorf("stream: longer than 64 bytes")
	}
	return nil
}

// UnmarshalJSON decodes strictly and validates.
func (r *LogsRequest) UnmarshalJSON(b []byte) error {
	type plain LogsRequest
	var v plain
	if err := decodeStrict(b, &v); err != nil {
		return fmt.Errorf("logs request: %w", err)
	}
	if err := LogsRequest(v).Validate(); err != nil {
		return fmt.Errorf("logs request: %w", err)
	}
	*r = LogsRequest(v)
	return nil
}

// LogsReply is one answer to a LogsRequest.
type LogsReply struct {
	Deployment DeploymentName `json:"deployment"`
	// Output is the workload's output (stdout and stderr, interleaved as
	// written), at most MaxLogsBytes, starting at a line.
	Output string `json:"output"`
	// Truncated reports whether older output was cut to fit MaxLogsBytes
	// (or, in a stream, dropped because the requester pulled too slowly).
	Truncated bool `json:"truncated,omitempty"`
	// Stream is the follow stream's id, to pull the next chunk with.
	Stream string `json:"stream,omitempty"`
	// End, when set, says the stream ended and why; nothing follows.
	End StreamEnd `json:"end,omitempty"`
}

// Validate reports which field of r is wrong, or nil.
func (r LogsReply) Validate() error {
	if err := r.Deployment.Validate(); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	if r.End != "" && !r.End.Valid() {
		return fmt.Errorf("end: unknown %q", truncate(string(r.End), 32))
	}
	return nil
}

// UnmarshalJSON validates while decoding; unknown fields are ignored.
func (r *LogsReply) UnmarshalJSON(b []byte) error {
	type plain LogsReply
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("logs reply: %w", err)
	}
	if err := LogsReply(v).Validate(); err != nil {
		return fmt.Errorf("logs reply: %w", err)
	}
	*r = LogsReply(v)
	return nil
}

// RestartRequest asks for a workload to be stopped and started.
type RestartRequest struct {
	Deployment DeploymentName `json:"deployment"`
}

// UnmarshalJSON decodes strictly and validates.
func (r *RestartRequest) UnmarshalJSON(b []byte) error {
	type plain RestartRequest
	var v plain
	if err := decodeStrict(b, &v); err != nil {
		return fmt.Errorf("restart request: %w", err)
	}
	if err := v.Deployment.Validate(); err != nil {
		return fmt.Errorf("restart request: deployment: %w", err)
	}
	*r = RestartRequest(v)
	return nil
}

// RestartQueued is RestartReply.Status: the restart was queued on the
// deployment's worker; its transitions follow as events.
const RestartQueued = "queued"

// RestartReply answers a RestartRequest.
type RestartReply struct {
	Deployment DeploymentName `json:"deployment"`
	Status     string         `json:"status"`
}

// UnmarshalJSON validates while decoding; unknown fields are ignored.
func (r *RestartReply) UnmarshalJSON(b []byte) error {
	type plain RestartReply
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("restart reply: %w", err)
	}
	if err := v.Deployment.Validate(); err != nil {
		return fmt.Errorf("restart reply: deployment: %w", err)
	}
	if v.Status == "" {
		return fmt.Errorf("restart reply: status: missing")
	}
	*r = RestartReply(v)
	return nil
}

// PingReply answers a ping (whose request body is empty or {}).
type PingReply struct {
	DeviceID      DeviceID   `json:"device_id"`
	AgentVersion  string     `json:"agent_version"`
	AgentEpoch    AgentEpoch `json:"agent_epoch"`
	StartedAt     time.Time  `json:"started_at"`
	UptimeSeconds float64    `json:"uptime_seconds"`
	// Connection is the NATS connection's state as the agent sees it
	// ("connected", "reconnecting", ...), and ConnectedURL its server.
	Connection   string        `json:"connection"`
	ConnectedURL string        `json:"connected_url,omitempty"`
	Deployments  map[Phase]int `json:"deployments"`
	At           time.Time     `json:"at"`
}

// UnmarshalJSON validates while decoding; unknown fields are ignored.
func (r *PingReply) UnmarshalJSON(b []byte) error {
	type plain PingReply
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("ping reply: %w", err)
	}
	if err := v.DeviceID.Validate(); err != nil {
		return fmt.Errorf("ping reply: device_id: %w", err)
	}
	for p := range v.Deployments {
		if !p.Valid() {
			return fmt.Errorf("ping reply: deployments: unknown phase %q", truncate(string(p), 32))
		}
	}
	*r = PingReply(v)
	return nil
}

// OpError is the answer of a device operation that failed:
// {"error":"..."}.
type OpError struct {
	Error string `json:"error"`
}

// Operation error messages that callers may match on.
const (
	// OpErrBusy: the agent is answering as many requests as it will.
	OpErrBusy = "busy"
)

// DecodeOpReply decodes a device operation's answer into v, or returns
// the agent's error when the answer is an OpError.
func DecodeOpReply(b []byte, v any) error {
	var e struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != nil {
		return fmt.Errorf("agent: %s", *e.Error)
	}
	return json.Unmarshal(b, v)
}

// decodeStrict decodes one JSON object from b into v, rejecting unknown
// fields and trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the object")
	}
	return nil
}
