package fleet

import "fmt"

// Phase is the lifecycle phase of a deployment on a device.
type Phase string

// The four phases. Unknown strings are a decode error.
const (
	// PhasePending: accepted, being applied.
	PhasePending Phase = "pending"
	// PhaseRunning: the workload runs.
	PhaseRunning Phase = "running"
	// PhaseSucceeded: a run-to-completion workload exited 0.
	PhaseSucceeded Phase = "succeeded"
	// PhaseFailed: apply error, invalid spec, or the workload exited
	// non-zero or is crash-looping.
	PhaseFailed Phase = "failed"
)

// Phases lists every phase in lifecycle order.
var Phases = [...]Phase{PhasePending, PhaseRunning, PhaseSucceeded, PhaseFailed}

// Valid reports whether p is one of the four phases.
func (p Phase) Valid() bool {
	switch p {
	case PhasePending, PhaseRunning, PhaseSucceeded, PhaseFailed:
		return true
	}
	return false
}

// UnmarshalText rejects unknown phases.
func (p *Phase) UnmarshalText(b []byte) error {
	v := Phase(b)
	if !v.Valid() {
		return fmt.Errorf("fleet: unknown phase %q (want pending, running, succeeded or failed)", truncate(string(b), 64))
	}
	*p = v
	return nil
}
