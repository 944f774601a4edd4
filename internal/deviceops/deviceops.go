package deviceops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Defaults for the Config fields left zero.
const (
	// DefaultMaxConcurrent is how many requests are answered at once;
	// beyond it a request is answered "busy" at once.
	DefaultMaxConcurrent = 8
	// DefaultMaxStreams is how many follow streams may be open at once.
	DefaultMaxStreams = 4
	// DefaultRequestTimeout bounds the work of one answer.
	DefaultRequestTimeout = 10 * time.Second
)

// LogSource reads a deployment's output, whichever runtime holds it.
type LogSource interface {
	// Logs returns the last tailLines lines, at most maxBytes of them
	// from a line start, and whether older output was cut.
	Logs(ctx context.Context, name fleet.DeploymentName, tailLines, maxBytes int) ([]byte, bool, error)
	// Follow sends what the deployment writes from now on until ctx is
	// done or its output ends; then it closes the channel. It must not
	// buffer without bound when the reader is slow.
	Follow(ctx context.Context, name fleet.DeploymentName) (<-chan []byte, error)
}

// Restarter queues a stop and start of a deployment on its worker
// (*agent.Agent does).
type Restarter interface {
	Restart(name fleet.DeploymentName) error
}

// Config is what Start needs.
type Config struct {
	Conn      *nats.Conn
	Device    fleet.DeviceID
	Version   string
	Epoch     fleet.AgentEpoch
	StartedAt time.Time
	Logs      LogSource
	Restarter Restarter
	// Phases counts the deployments by phase, for ping.
	Phases         func() map[fleet.Phase]int
	MaxConcurrent  int
	MaxStreams     int
	RequestTimeout time.Duration
	// StreamIdle and StreamMax bound a follow stream: not pulled for
	// StreamIdle, it is dropped; StreamMax after it began, it ends
	// (timeout). 0: fleet.StreamIdleTimeout, fleet.MaxStreamDuration.
	StreamIdle time.Duration
	StreamMax  time.Duration
	Log        *zap.Logger
}

// Server answers the device operations. Start it with Start; Close it.
type Server struct {
	cfg    Config
	log    *zap.Logger
	sub    *nats.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	// sem holds one token per request being answered; its capacity is
	// MaxConcurrent.
	sem chan struct{}
	// wg counts the answering goroutines and the streams' pumps.
	wg sync.WaitGroup

	mu      sync.Mutex
	streams map[string]*stream // guarded by mu
	closed  bool               // guarded by mu
}

// Start subscribes to fleet.DeviceOpsSubjects(cfg.Device) and answers
// until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Conn == nil || cfg.Logs == nil || cfg.Restarter == nil || cfg.Phases == nil {
		return nil, errors.New("deviceops: Conn, Logs, Restarter and Phases are required")
	}
	if err := cfg.Device.Validate(); err != nil {
		return nil, fmt.Errorf("deviceops: %w", err)
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.StreamIdle <= 0 {
		cfg.StreamIdle = fleet.StreamIdleTimeout
	}
	if cfg.StreamMax <= 0 {
		cfg.StreamMax = fleet.MaxStreamDuration
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Log, ctx: ctx, cancel: cancel,
		sem: make(chan struct{}, cfg.MaxConcurrent), streams: make(map[string]*stream)}
	subj := fleet.DeviceOpsSubjects(cfg.Device)
	sub, err := cfg.Conn.Subscribe(subj, s.dispatch)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe %s: %w", subj, err)
	}
	s.sub = sub
	// Make the subscription known to the server before Start returns, so a
	// request sent right after reaches it; best effort: a device that is
	// offline subscribes again when it connects.
	if cfg.Conn.IsConnected() {
		_ = cfg.Conn.FlushTimeout(2 * time.Second)
	}
	return s, nil
}

// Close stops answering, ends the streams and waits for every answer in
// flight.
func (s *Server) Close() {
	_ = s.sub.Unsubscribe()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// dispatch runs in the subscription's goroutine: it hands the request to
// a goroutine of its own when a token is free, else answers busy at once,
// so a flood of requests never queues work (nor holds the reconciler).
func (s *Server) dispatch(m *nats.Msg) {
	if m.Reply == "" {
		return // nobody to answer
	}
	op := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	select {
	case s.sem <- struct{}{}:
	default:
		s.respondErr(m, errors.New(fleet.OpErrBusy))
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.sem
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		s.handle(op, m)
	}()
}

func (s *Server) handle(op string, m *nats.Msg) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	defer cancel()
	switch op {
	case fleet.OpPing:
		s.respond(m, s.ping(), nil)
	case fleet.OpRestart:
		var req fleet.RestartRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			s.respondErr(m, fmt.Errorf("bad request: %w", err))
			return
		}
		if err := s.cfg.Restarter.Restart(req.Deployment); err != nil {
			s.respondErr(m, opError("restart", req.Deployment, err))
			return
		}
		s.log.Info("restart requested", zap.String("deployment", string(req.Deployment)))
		s.respond(m, fleet.RestartReply{Deployment: req.Deployment, Status: fleet.RestartQueued}, nil)
	case fleet.OpLogs:
		var req fleet.LogsRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			s.respondErr(m, fmt.Errorf("bad request: %w", err))
			return
		}
		s.logs(ctx, m, req)
	default:
		s.respondErr(m, fmt.Errorf("unknown operation %q (want %s, %s or %s)", truncate(op, 32), fleet.OpLogs, fleet.OpRestart, fleet.OpPing))
	}
}

func (s *Server) ping() fleet.PingReply {
	now := time.Now().UTC()
	r := fleet.PingReply{
		DeviceID: s.cfg.Device, AgentVersion: s.cfg.Version, AgentEpoch: s.cfg.Epoch,
		StartedAt: s.cfg.StartedAt, UptimeSeconds: now.Sub(s.cfg.StartedAt).Seconds(),
		Connection: strings.ToLower(s.cfg.Conn.Status().String()), Deployments: s.cfg.Phases(), At: now,
	}
	if r.Connection == "connected" {
		r.ConnectedURL = s.cfg.Conn.ConnectedUrlRedacted()
	}
	return r
}

// logs answers a logs request: a tail, the start of a follow stream, or
// one pull of a stream.
func (s *Server) logs(ctx context.Context, m *nats.Msg, req fleet.LogsRequest) {
	if req.Stream != "" {
		s.pull(ctx, m, req)
		return
	}
	tail := req.TailLines
	if tail == 0 {
		tail = fleet.DefaultTailLines
	}
	var follow <-chan []byte
	fctx, fcancel := context.WithTimeout(s.ctx, s.cfg.StreamMax)
	handedOff := false // to the stream, which cancels fctx when it ends
	defer func() {
		if !handedOff {
			fcancel()
		}
	}()
	if req.Follow {
		// Follow before reading the tail: a line written in between
		// shows twice rather than never.
		ch, err := s.cfg.Logs.Follow(fctx, req.Deployment)
		if err != nil {
			s.respondErr(m, opError("logs", req.Deployment, err))
			return
		}
		follow = ch
	}
	out, truncated, err := s.cfg.Logs.Logs(ctx, req.Deployment, tail, fleet.MaxLogsBytes)
	if err != nil && !(req.Follow && errors.Is(err, runtime.ErrNoOutput)) {
		s.respondErr(m, opError("logs", req.Deployment, err))
		return
	}
	reply := fleet.LogsReply{Deployment: req.Deployment, Output: string(out), Truncated: truncated}
	if req.Follow {
		st, err := s.openStream(fctx, fcancel, req.Deployment, follow)
		if err != nil {
			s.respondErr(m, opError("logs", req.Deployment, err))
			return
		}
		handedOff = true
		reply.Stream = st.id
	}
	s.respond(m, reply, nil)
}

// respond sends v as m's one reply; hdr, when set, goes with it.
func (s *Server) respond(m *nats.Msg, v any, hdr nats.Header) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fleet.OpError{Error: "encode reply: " + err.Error()})
	}
	out := &nats.Msg{Subject: m.Reply, Data: b, Header: hdr}
	if err := m.RespondMsg(out); err != nil {
		s.log.Debug("reply not sent", zap.String("subject", m.Subject), zap.Error(err))
	}
}

func (s *Server) respondErr(m *nats.Msg, err error) {
	s.respond(m, fleet.OpError{Error: err.Error()}, nil)
}

// opError words err for the requester: what failed, on what, and why in
// terms an operator can act on.
func opError(op string, name fleet.DeploymentName, err error) error {
	switch {
	case errors.Is(err, agent.ErrUnknownDeployment):
		return fmt.Errorf("%s %s: unknown deployment (no desired state asks for it on this device)", op, name)
	case errors.Is(err, runtime.ErrNoOutput):
		return fmt.Errorf("%s %s: no output yet", op, name)
	case errors.Is(err, ErrRuntimeUnavailable):
		return fmt.Errorf("%s %s: %w", op, name, err)
	case errors.Is(err, errTooManyStreams):
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
