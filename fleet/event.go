package fleet

import (
	"fmt"
	"strings"
	"time"
)

// StateChangeEvent is one recorded transition of one deployment on one
// device, published on EventSubject with MsgID as Nats-Msg-Id.
type StateChangeEvent struct {
	DeviceID   DeviceID            `json:"device_id"`
	Deployment DeploymentName      `json:"deployment"`
	Revision   Revision            `json:"revision"`
	Transition LifecycleTransition `json:"transition"`
	// SpecHash is, on applied, the fleet.SpecHash of the spec the
	// transition is about; "" (omitted) on removed and when the desired
	// value was invalid.
	SpecHash string    `json:"spec_hash,omitempty"`
	At       time.Time `json:"at"`
}

// Validate reports why e is not a well-formed event, or nil.
func (e StateChangeEvent) Validate() error {
	if err := e.DeviceID.Validate(); err != nil {
		return fmt.Errorf("device_id: %w", err)
	}
	if err := e.Deployment.Validate(); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	if err := e.Revision.validate("revision", true); err != nil {
		return err
	}
	if err := e.Transition.Validate(); err != nil {
		return err
	}
	if err := checkSpecHash("spec_hash", e.SpecHash); err != nil {
		return err
	}
	if e.SpecHash != "" && e.Transition.Kind == KindRemoved {
		return fmt.Errorf("spec_hash: set on a removed transition")
	}
	if e.At.IsZero() {
		return fmt.Errorf("at: missing")
	}
	return nil
}

// eventJSON is the wire form of a StateChangeEvent, decoded in one pass
// (no nested UnmarshalJSON re-scanning the transition): a central reader
// decodes every event of a fleet.
type eventJSON struct {
	DeviceID   DeviceID       `json:"device_id"`
	Deployment DeploymentName `json:"deployment"`
	Revision   Revision       `json:"revision"`
	Transition transitionJSON `json:"transition"`
	SpecHash   string         `json:"spec_hash"`
	At         time.Time      `json:"at"`
}

// DecodeEvent decodes and validates one event; unknown fields are ignored.
// It accepts what json.Unmarshal into eventJSON would, in one pass (see
// scanner), without the second validating scan that a custom
// UnmarshalJSON costs: readers of a fleet's stream decode millions.
func DecodeEvent(data []byte) (StateChangeEvent, error) {
	var w eventJSON
	if err := decodeEventJSON(data, &w); err != nil {
		return StateChangeEvent{}, fmt.Errorf("state change event: %w", err)
	}
	e := StateChangeEvent{DeviceID: w.DeviceID, Deployment: w.Deployment, Revision: w.Revision,
		Transition: w.Transition.value(), SpecHash: w.SpecHash, At: w.At}
	if err := e.Validate(); err != nil {
		return StateChangeEvent{}, fmt.Errorf("state change event: %w", err)
	}
	return e, nil
}

// UnmarshalJSON decodes and validates, as DecodeEvent.
func (e *StateChangeEvent) UnmarshalJSON(b []byte) error {
	v, err := DecodeEvent(b)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// Subject is the subject e is published on.
func (e StateChangeEvent) Subject() string { return EventSubject(e.DeviceID, e.Deployment) }

// MsgID is e's Nats-Msg-Id as sent by the agent run of nonce: a re-sent
// event is stored once.
func (e StateChangeEvent) MsgID(nonce string) string { return MsgID(e.DeviceID, e.Revision, nonce) }

// checkSpecHash reports why h is neither empty nor a SpecHash (64
// lower-case hex characters), or nil.
func checkSpecHash(field, h string) error {
	if h == "" {
		return nil
	}
	if len(h) != 64 || strings.TrimLeft(h, "0123456789abcdef") != "" {
		return fmt.Errorf("%s: %q is not 64 lower-case hex characters", field, truncate(h, 64))
	}
	return nil
}
