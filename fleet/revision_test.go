package fleet_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func TestRevisionCompare(t *testing.T) {
	r := func(e fleet.AgentEpoch, s uint64) fleet.Revision { return fleet.Revision{AgentEpoch: e, Sequence: s} }
	tests := []struct {
		a, b fleet.Revision
		want int
	}{
		{r(5, 1), r(5, 1), 0},
		{r(5, 1), r(5, 2), -1},
		{r(5, 2), r(5, 1), +1},
		{r(5, 9), r(5, 10), -1}, // numeric, not textual
		{r(5, 1<<40), r(6, 1), -1},
		{r(6, 1), r(5, 1<<40), +1},
		{r(9, 1), r(10, 1), -1},
		{r(fleet.MaxEpoch, 1), r(fleet.MaxEpoch-1, ^uint64(0)), +1},
		{fleet.Revision{}, r(1, 1), -1},
		{fleet.Revision{}, r(0, 1), -1},
		{r(1, 1), fleet.Revision{}, +1},
		{fleet.Revision{}, fleet.Revision{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.a.String()+"_vs_"+tt.b.String(), func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := tt.b.Compare(tt.a); got != -tt.want {
				t.Errorf("%v.Compare(%v) = %d, want %d", tt.b, tt.a, got, -tt.want)
			}
		})
	}
}

func TestRevisionIsZeroString(t *testing.T) {
	tests := []struct {
		r        fleet.Revision
		wantZero bool
		wantStr  string
	}{
		{fleet.Revision{}, true, "0/0"},
		{fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 42}, false, "1875123456789012/42"},
		{fleet.Revision{Sequence: 1}, false, "0/1"},
	}
	for _, tt := range tests {
		t.Run(tt.wantStr, func(t *testing.T) {
			if got := tt.r.IsZero(); got != tt.wantZero {
				t.Errorf("%#v.IsZero() = %v, want %v", tt.r, got, tt.wantZero)
			}
			if got := tt.r.String(); got != tt.wantStr {
				t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.wantStr)
			}
		})
	}
}

// timeEpoch is the time-based epoch of 3.1 with the given random bits.
func timeEpoch(now time.Time, random uint64) fleet.AgentEpoch {
	return fleet.AgentEpoch(uint64(now.UnixMilli())<<10 | random)
}

func TestNextEpoch(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 123_000_000, time.UTC)
	future := now.Add(365 * 24 * time.Hour)
	tests := []struct {
		name      string
		lastSaved fleet.AgentEpoch
		now       time.Time
		random    uint16
		want      fleet.AgentEpoch
	}{
		{"first run", 0, now, 0x2a, timeEpoch(now, 0x2a)},
		{"random is masked to 10 bits", 0, now, 0xffff, timeEpoch(now, 0x3ff)},
		{"bit 10 of random is dropped", 0, now, 0x0400, timeEpoch(now, 0)},
		{"saved epoch from an earlier run", timeEpoch(now.Add(-time.Hour), 7), now, 1, timeEpoch(now, 1)},
		{"saved epoch one below the time-based one", timeEpoch(now, 5) - 1, now, 5, timeEpoch(now, 5)},
		{"saved epoch equals the time-based one", timeEpoch(now, 5), now, 5, timeEpoch(now, 5) + 1},
		{"clock behind: saved epoch far in the future", timeEpoch(future, 9), now, 1, timeEpoch(future, 9) + 1},
		{"clock before 1970", 41, time.Unix(-5, 0), 3, 42},
		{"zero time", 0, time.Time{}, 3, 1},
		{"clock at the Unix epoch", 0, time.Unix(0, 0), 3, 1},
		{"clock beyond year 2248: time part would pass 2^53", 99, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 3, 100},
		{"largest saved epoch that leaves room", fleet.MaxEpoch - 1, now, 0, fleet.MaxEpoch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fleet.NextEpoch(tt.lastSaved, tt.now, tt.random)
			if err != nil || got != tt.want {
				t.Errorf("NextEpoch(%d, %v, %#x) = %d, %v, want %d, nil", tt.lastSaved, tt.now, tt.random, got, err, tt.want)
			}
		})
	}
}

func TestNextEpochExhausted(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, last := range []fleet.AgentEpoch{fleet.MaxEpoch, fleet.MaxEpoch + 1, ^fleet.AgentEpoch(0)} {
		got, err := fleet.NextEpoch(last, now, 0)
		if !errors.Is(err, fleet.ErrEpochExhausted) || got != 0 {
			t.Errorf("NextEpoch(%d) = %d, %v, want 0, ErrEpochExhausted", last, got, err)
		}
	}
	if fleet.MaxEpoch != 1<<53-1 {
		t.Errorf("MaxEpoch = %d, want 2^53-1", fleet.MaxEpoch)
	}
}

// TestNextEpochRestarts simulates 1,000 restarts of one device whose clock
// moves forward and jumps backwards at random (NTP corrections, an RTC
// without battery): every epoch is larger than the one before and below
// 2^53, and the random bits only ever fill the low 10 bits.
func TestNextEpochRestarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2026))
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var last fleet.AgentEpoch
	backwards := 0
	for i := range 1000 {
		switch rng.IntN(4) {
		case 0: // an NTP correction: backwards up to ten days
			clock = clock.Add(-time.Duration(rng.Int64N(int64(10 * 24 * time.Hour))))
			backwards++
		case 1: // an RTC reset to a fixed old date
			clock = time.Date(2000+rng.IntN(20), 1, 1, 0, 0, 0, 0, time.UTC)
			backwards++
		default: // a restart a moment to a day later
			clock = clock.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
		}
		random := uint16(rng.Uint32())
		got, err := fleet.NextEpoch(last, clock, random)
		if err != nil {
			t.Fatalf("restart %d: NextEpoch(%d, %v, %#x) = %v", i, last, clock, random, err)
		}
		if got <= last {
			t.Fatalf("restart %d: NextEpoch(%d, %v, %#x) = %d, want > %d", i, last, clock, random, got, last)
		}
		if got >= 1<<53 {
			t.Fatalf("restart %d: NextEpoch(%d, %v, %#x) = %d, want < 2^53", i, last, clock, random, got)
		}
		if timed := timeEpoch(clock, uint64(random)&0x3ff); got != max(last+1, timed) {
			t.Fatalf("restart %d: NextEpoch(%d, %v, %#x) = %d, want max(%d, %d)", i, last, clock, random, got, last+1, timed)
		}
		last = got
	}
	if backwards < 100 {
		t.Fatalf("only %d backward jumps in 1,000 restarts: the simulation tests too little", backwards)
	}
}
