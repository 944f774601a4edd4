package reconciler

import (
	"fmt"
	"maps"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/ringbuf"
)

// RecordedTransition is one transition the State recorded: what happened to
// which deployment, at which revision and when.
type RecordedTransition struct {
	Deployment fleet.DeploymentName
	Revision   fleet.Revision
	Transition fleet.LifecycleTransition
	// SpecHash is, on applied, the hash of the spec the phase is about;
	// "" on removed and when the desired value was invalid.
	SpecHash string
	At       time.Time
}

// Event builds the wire event of t for device d.
func (t RecordedTransition) Event(d fleet.DeviceID) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID:   d,
		Deployment: t.Deployment,
		Revision:   t.Revision,
		Transition: t.Transition,
		SpecHash:   t.SpecHash,
		At:         t.At,
	}
}

// State is the agent's record of its deployments within one epoch.
// It is not safe for concurrent use.
type State struct {
	epoch       fleet.AgentEpoch
	seq         uint64 // sequence of the latest recorded transition; 0 before any
	deployments map[fleet.DeploymentName]fleet.DeploymentStatus
	recent      *ringbuf.Ring[RecordedTransition]
}

// New returns the empty State of epoch, keeping the last historyCapacity
// transitions for Recent. It panics when epoch is not in 1..fleet.MaxEpoch
// or historyCapacity is less than 1: both come from validated sources
// (fleet.NextEpoch, the config), so anything else is a programming error.
func New(epoch fleet.AgentEpoch, historyCapacity int) *State {
	if epoch == 0 || epoch > fleet.MaxEpoch {
		panic(fmt.Sprintf("reconciler: New: epoch %d is not in 1..2^53-1", epoch))
	}
	if historyCapacity < 1 {
		panic(fmt.Sprintf("reconciler: New: history capacity %d is less than 1", historyCapacity))
	}
	return &State{
		epoch:       epoch,
		deployments: make(map[fleet.DeploymentName]fleet.DeploymentStatus),
		recent:      ringbuf.New[RecordedTransition](historyCapacity),
	}
}

// RecordApply records that deployment name is now in phase with lastError
// ("" none), about the spec of hash specHash ("" when the desired value is
// invalid). It returns the transition and true, or false when nothing
// changed: the same phase, lastError and specHash are a no-op and consume
// no sequence. A changed lastError or specHash in the same phase is a
// transition whose From equals its To. From is "" for the first phase the deployment gets in
// this epoch (and after a RecordRemove).
//
// name is not checked: the agent gets it from fleet.ParseDesiredKey.
// RecordApply panics when phase is not one of the fleet phases, a
// programming error (the agent passes only the constants).
func (s *State) RecordApply(name fleet.DeploymentName, phase fleet.Phase, lastError, specHash string, at time.Time) (RecordedTransition, bool) {
	if !phase.Valid() {
		panic(fmt.Sprintf("reconciler: RecordApply(%q): invalid phase %q", name, phase))
	}
	cur, known := s.deployments[name]
	if known && cur.Phase == phase && string(cur.LastError) == lastError && cur.SpecHash == specHash {
		return RecordedTransition{}, false
	}
	var from fleet.Phase
	if known {
		from = cur.Phase
	}
	t := s.record(name, fleet.Applied(from, phase, lastError), specHash, at)
	s.deployments[name] = fleet.DeploymentStatus{
		Phase:     phase,
		LastError: fleet.ErrorText(lastError),
		SpecHash:  specHash,
		Revision:  t.Revision,
	}
	return t, true
}

// RecordRemove records that deployment name is gone and forgets it. It
// returns removed{from: its last phase} and true for a known deployment, or
// false for an unknown one (a no-op that consumes no sequence).
func (s *State) RecordRemove(name fleet.DeploymentName, at time.Time) (RecordedTransition, bool) {
	cur, known := s.deployments[name]
	if !known {
		return RecordedTransition{}, false
	}
	delete(s.deployments, name)
	return s.record(name, fleet.Removed(cur.Phase), "", at), true
}

// record takes the next sequence for tr and keeps the result in the recent
// ring.
func (s *State) record(name fleet.DeploymentName, tr fleet.LifecycleTransition, specHash string, at time.Time) RecordedTransition {
	s.seq++
	t := RecordedTransition{
		Deployment: name,
		Revision:   fleet.Revision{AgentEpoch: s.epoch, Sequence: s.seq},
		Transition: tr,
		SpecHash:   specHash,
		At:         at,
	}
	s.recent.Push(t)
	return t
}

// Epoch returns the epoch every revision of s carries.
func (s *State) Epoch() fleet.AgentEpoch { return s.epoch }

// Revision returns the revision of the latest recorded transition, or the
// zero Revision before any.
func (s *State) Revision() fleet.Revision {
	if s.seq == 0 {
		return fleet.Revision{}
	}
	return fleet.Revision{AgentEpoch: s.epoch, Sequence: s.seq}
}

// Get returns the status of deployment name and true, or false when s does
// not know it (never applied, or removed).
func (s *State) Get(name fleet.DeploymentName) (fleet.DeploymentStatus, bool) {
	st, ok := s.deployments[name]
	return st, ok
}

// Snapshot returns a deep copy of s's epoch, latest revision and
// deployments. Its Deployments map is never nil.
func (s *State) Snapshot() Snapshot {
	// DeploymentStatus holds no pointers, so a shallow map copy is deep;
	// s.deployments is never nil, so neither is the clone.
	return Snapshot{Epoch: s.epoch, Revision: s.Revision(), Deployments: maps.Clone(s.deployments)}
}

// Recent returns a copy of the last recorded transitions, oldest first: at
// most the history capacity given to New. It is never nil.
func (s *State) Recent() []RecordedTransition { return s.recent.Snapshot() }

// Snapshot is a copy of a State at one revision, for DeviceInfo and STATUS=
// lines. Changing it does not change the State.
type Snapshot struct {
	Epoch       fleet.AgentEpoch
	Revision    fleet.Revision
	Deployments map[fleet.DeploymentName]fleet.DeploymentStatus
}

// Count returns how many deployments are in phase p (for STATUS= lines).
func (s Snapshot) Count(p fleet.Phase) int {
	n := 0
	for _, st := range s.Deployments {
		if st.Phase == p {
			n++
		}
	}
	return n
}
