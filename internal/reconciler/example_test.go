package reconciler_test

import (
	"fmt"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/reconciler"
)

// The agent records what it observed and publishes only what changed.
func Example() {
	s := reconciler.New(1875123456789012, 64)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	for _, p := range []fleet.Phase{fleet.PhasePending, fleet.PhaseRunning, fleet.PhaseRunning} {
		if t, ok := s.RecordApply("web", p, "", now); ok {
			e := t.Event("pi-017")
			fmt.Println(e.MsgID("5f0c2a9e41b7d803"), e.Transition.From, "->", e.Transition.To)
		} else {
			fmt.Println("no-op")
		}
	}
	if t, ok := s.RecordRemove("web", now); ok {
		fmt.Println(t.Revision, t.Transition.Kind, t.Transition.From)
	}
	fmt.Println(s.Snapshot().Count(fleet.PhaseRunning))
	// Output:
	// pi-017.1875123456789012.1.5f0c2a9e41b7d803  -> pending
	// pi-017.1875123456789012.2.5f0c2a9e41b7d803 pending -> running
	// no-op
	// 1875123456789012/3 removed running
	// 0
}
