package fleet

import (
	"encoding/json"
	"fmt"
	"time"
)

// DefaultHeartbeatInterval is how often an agent rewrites its DeviceInfo
// when nothing changes, unless configured otherwise; a central reader may
// call a device stale after a few of them.
const DefaultHeartbeatInterval = 30 * time.Second

// DeviceInfo is the snapshot an agent keeps in the device-info bucket under
// its DeviceID: who it is, and the phase of every deployment as of Revision.
// A reader holding it knows every event up to Revision is folded in.
type DeviceInfo struct {
	DeviceID     DeviceID          `json:"device_id"`
	AgentEpoch   AgentEpoch        `json:"agent_epoch"`
	AgentVersion string            `json:"agent_version"`
	Hostname     string            `json:"hostname"`
	OS           string            `json:"os"`
	Arch         string            `json:"arch"`
	Labels       map[string]string `json:"labels"`
	StartedAt    time.Time         `json:"started_at"`
	HeartbeatAt  time.Time         `json:"heartbeat_at"`
	// Revision is the latest revision the agent has recorded (zero: none).
	Revision    Revision                            `json:"revision"`
	Deployments map[DeploymentName]DeploymentStatus `json:"deployments"`
	// OutboxDropped counts events this epoch dropped from a full outbox;
	// this snapshot repairs what they would have told.
	OutboxDropped uint64 `json:"outbox_dropped"`
	// Host holds the host's metrics; nil when not sampled.
	Host *HostInfo `json:"host,omitempty"`
	// HeartbeatIntervalSeconds is how often the agent rewrites this
	// snapshot when nothing changes; 0 (absent): DefaultHeartbeatInterval.
	HeartbeatIntervalSeconds int64 `json:"heartbeat_interval_seconds,omitempty"`
}

// HeartbeatInterval returns the agent's heartbeat interval, or
// DefaultHeartbeatInterval when the snapshot does not say.
func (i DeviceInfo) HeartbeatInterval() time.Duration {
	if i.HeartbeatIntervalSeconds <= 0 {
		return DefaultHeartbeatInterval
	}
	return time.Duration(i.HeartbeatIntervalSeconds) * time.Second
}

// DeploymentStatus is one deployment's entry in DeviceInfo.
type DeploymentStatus struct {
	Phase     Phase     `json:"phase"`
	LastError ErrorText `json:"last_error"`
	Revision  Revision  `json:"revision"`
	// SpecHash is the hash of the spec the phase is about (as an event's
	// spec_hash); empty when the agent does not say.
	SpecHash string `json:"spec_hash,omitempty"`
}

// ErrorText is an error message that is JSON null when empty.
type ErrorText string

// MarshalJSON writes null for the empty text.
func (t ErrorText) MarshalJSON() ([]byte, error) {
	if t == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(t))
}

// UnmarshalJSON reads null as the empty text.
func (t *ErrorText) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = ErrorText(deref(s))
	return nil
}

// Validate reports why i is not a well-formed snapshot, or nil.
func (i DeviceInfo) Validate() error {
	if err := i.DeviceID.Validate(); err != nil {
		return fmt.Errorf("device_id: %w", err)
	}
	if i.AgentEpoch == 0 || i.AgentEpoch > MaxEpoch {
		return fmt.Errorf("agent_epoch: %d is not in 1..2^53-1", i.AgentEpoch)
	}
	if err := i.Revision.validate("revision", false); err != nil {
		return err
	}
	if i.Revision.AgentEpoch > i.AgentEpoch {
		return fmt.Errorf("revision: epoch %d is after agent_epoch %d", i.Revision.AgentEpoch, i.AgentEpoch)
	}
	for name, d := range i.Deployments {
		if err := name.Validate(); err != nil {
			return fmt.Errorf("deployments: %w", err)
		}
		// The field's name is made only for an error: a central reader
		// validates every deployment of a fleet's snapshots.
		field := func() string { return "deployments." + string(name) }
		if !d.Phase.Valid() {
			return fmt.Errorf("%s.phase: unknown phase %q", field(), d.Phase)
		}
		if d.SpecHash != "" && checkSpecHash("", d.SpecHash) != nil {
			return checkSpecHash(field()+".spec_hash", d.SpecHash)
		}
		if d.Revision.validate("", true) != nil {
			return d.Revision.validate(field()+".revision", true)
		}
		if d.Revision.Compare(i.Revision) > 0 {
			return fmt.Errorf("%s.revision: %s is after the snapshot's revision %s", field(), d.Revision, i.Revision)
		}
	}
	return nil
}

// UnmarshalJSON decodes and validates; unknown fields are ignored. It
// accepts what json.Unmarshal into the fields would, in one pass (see
// scanner): a central reader decodes every snapshot of a fleet.
func (i *DeviceInfo) UnmarshalJSON(b []byte) error {
	var v DeviceInfo
	if err := decodeDeviceInfo(b, &v); err != nil {
		return fmt.Errorf("device info: %w", err)
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("device info: %w", err)
	}
	*i = v
	return nil
}
