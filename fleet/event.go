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

// UnmarshalJSON decodes and validates; unknown fields are ignored.
func (e *StateChangeEvent) UnmarshalJSON(b []byte) error {
	type plain StateChangeEvent
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("state change event: %w", err)
	}
	if err := StateChangeEvent(v).Validate(); err != nil {
		return fmt.Errorf("state change event: %w", err)
	}
	*e = StateChangeEvent(v)
	return nil
}

// Subject is the subject e is published on.
func (e StateChangeEvent) Subject() string { return EventSubject(e.DeviceID, e.Deployment) }

// MsgID is e's Nats-Msg-Id: a re-sent event is stored once.
func (e StateChangeEvent) MsgID() string { return MsgID(e.DeviceID, e.Revision) }
