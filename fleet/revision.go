package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// MaxEpoch is the largest AgentEpoch: every JSON parser reads numbers below
// 2^53 exactly.
const MaxEpoch AgentEpoch = 1<<53 - 1

// ErrEpochExhausted is returned by NextEpoch when no epoch greater than the
// last one fits below MaxEpoch.
var ErrEpochExhausted = errors.New("fleet: agent epoch exhausted")

// AgentEpoch identifies one run of an agent process. Each run's epoch is
// strictly greater than every earlier epoch of the same device.
type AgentEpoch uint64

// epochRandomBits is how many low bits of a time-based epoch are random.
const epochRandomBits = 10

// NextEpoch returns the epoch of a new run: the larger of lastSaved+1 and
// now in Unix milliseconds * 1024 plus the low 10 bits of random. It is
// strictly greater than lastSaved even when the clock went backwards, and
// never above MaxEpoch. lastSaved is 0 when no epoch was saved.
func NextEpoch(lastSaved AgentEpoch, now time.Time, random uint16) (AgentEpoch, error) {
	if lastSaved >= MaxEpoch {
		return 0, fmt.Errorf("%w: last saved epoch %d", ErrEpochExhausted, lastSaved)
	}
	next := lastSaved + 1
	if ms := now.UnixMilli(); ms > 0 && uint64(ms) < uint64(MaxEpoch)>>epochRandomBits {
		timed := AgentEpoch(uint64(ms)<<epochRandomBits | uint64(random)&(1<<epochRandomBits-1))
		next = max(next, timed)
	}
	return next, nil
}

// Revision orders the transitions of a device: by epoch, then by sequence.
// Sequence starts at 1 in each epoch; the zero Revision precedes them all.
type Revision struct {
	AgentEpoch AgentEpoch `json:"agent_epoch"`
	Sequence   uint64     `json:"sequence"`
}

// Compare returns -1, 0 or +1 as r is before, equal to or after o.
func (r Revision) Compare(o Revision) int {
	if c := cmp.Compare(r.AgentEpoch, o.AgentEpoch); c != 0 {
		return c
	}
	return cmp.Compare(r.Sequence, o.Sequence)
}

// IsZero reports whether r is the zero Revision (nothing recorded).
func (r Revision) IsZero() bool { return r == Revision{} }

// String formats r as epoch/sequence.
func (r Revision) String() string { return fmt.Sprintf("%d/%d", r.AgentEpoch, r.Sequence) }

// validate checks r as the revision of a recorded transition when recorded
// is true, or as a possibly-zero latest revision otherwise.
func (r Revision) validate(field string, recorded bool) error {
	if r.AgentEpoch > MaxEpoch {
		return fmt.Errorf("%s.agent_epoch: %d is above 2^53-1", field, r.AgentEpoch)
	}
	if recorded && (r.AgentEpoch == 0 || r.Sequence == 0) {
		return fmt.Errorf("%s: agent_epoch and sequence must be at least 1, got %s", field, r)
	}
	if !recorded && r.AgentEpoch == 0 && r.Sequence != 0 {
		return fmt.Errorf("%s: sequence %d without an agent_epoch", field, r.Sequence)
	}
	return nil
}
