package fleet

import (
	"encoding/json"
	"fmt"
	"time"
)

// StateChangeEvent is one recorded transition of one deployment on one
// device, published on EventSubject with MsgID as Nats-Msg-Id.
type StateChangeEvent struct {
	DeviceID   DeviceID            `json:"device_id"`
	Deployment DeploymentName      `json:"deployment"`
	Revision   Revision            `json:"revision"`
	Transition LifecycleTransition `json:"transition"`
	At         time.Time           `json:"at"`
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
	At         time.Time      `json:"at"`
}

// DecodeEvent decodes and validates one event; unknown fields are ignored.
// It is json.Unmarshal into a StateChangeEvent without the second
// validating scan that a custom UnmarshalJSON costs: readers of a fleet's
// stream decode millions.
func DecodeEvent(data []byte) (StateChangeEvent, error) {
	var w eventJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return StateChangeEvent{}, fmt.Errorf("state change event: %w", err)
	}
	e := StateChangeEvent{DeviceID: w.DeviceID, Deployment: w.Deployment, Revision: w.Revision,
		Transition: w.Transition.value(), At: w.At}
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
