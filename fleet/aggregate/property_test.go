package aggregate

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
	"pgregory.net/rapid"
)

// modelAgent is the agent side of one device, reduced to what the
// aggregator sees: it records transitions as the real agent does and keeps
// the truth.
type modelAgent struct {
	id    fleet.DeviceID
	epoch fleet.AgentEpoch
	seq   uint64
	last  fleet.Revision // latest recorded revision, across epochs
	truth map[fleet.DeploymentName]PairState
}

// record publishes one transition of name, updating the truth.
func (m *modelAgent) record(name fleet.DeploymentName, tr fleet.LifecycleTransition) fleet.StateChangeEvent {
	m.seq++
	m.last = fleet.Revision{AgentEpoch: m.epoch, Sequence: m.seq}
	if tr.Kind == fleet.KindRemoved {
		delete(m.truth, name)
	} else {
		m.truth[name] = PairState{Phase: tr.To, LastError: tr.LastError, Revision: m.last}
	}
	return fleet.StateChangeEvent{DeviceID: m.id, Deployment: name, Revision: m.last, Transition: tr}
}

// restart starts a new, larger epoch and re-records every current
// deployment from null, in name order, as the real agent does; the phase it
// observes on the way back may differ.
func (m *modelAgent) restart(t *rapid.T) []fleet.StateChangeEvent {
	m.epoch += fleet.AgentEpoch(rapid.IntRange(1, 1<<20).Draw(t, "epoch step"))
	m.seq = 0
	var events []fleet.StateChangeEvent
	for _, name := range slices.Sorted(maps.Keys(m.truth)) {
		to, lastError := drawPhase(t)
		events = append(events, m.record(name, fleet.Applied("", to, lastError)))
	}
	return events
}

// snapshot is the DeviceInfo the agent would write now.
func (m *modelAgent) snapshot() fleet.DeviceInfo {
	deps := make(map[fleet.DeploymentName]fleet.DeploymentStatus, len(m.truth))
	for name, st := range m.truth {
		deps[name] = fleet.DeploymentStatus{Phase: st.Phase, LastError: fleet.ErrorText(st.LastError), Revision: st.Revision}
	}
	return fleet.DeviceInfo{DeviceID: m.id, AgentEpoch: m.epoch, Revision: m.last, Deployments: deps}
}

func drawPhase(t *rapid.T) (fleet.Phase, string) {
	p := rapid.SampledFrom(fleet.Phases[:]).Draw(t, "phase")
	if p != fleet.PhaseFailed {
		return p, ""
	}
	return p, rapid.SampledFrom([]string{"", "exit 1", "exit 2", "oom"}).Draw(t, "last error")
}

// history is what a random fleet recorded: every event in record order,
// the snapshots written along the way, and the agents holding the truth.
type history struct {
	events    []fleet.StateChangeEvent
	snapshots []fleet.DeviceInfo
	agents    []*modelAgent
	names     []fleet.DeploymentName
}

// drawHistory drives a few model agents through random transitions,
// removals, restarts and snapshot writes.
func drawHistory(t *rapid.T) history {
	var h history
	for i := range rapid.IntRange(1, 5).Draw(t, "deployments") {
		h.names = append(h.names, fleet.DeploymentName(fmt.Sprintf("dep-%d", i)))
	}
	for i := range rapid.IntRange(1, 4).Draw(t, "devices") {
		h.agents = append(h.agents, &modelAgent{
			id:    fleet.DeviceID(fmt.Sprintf("pi-%03d", i)),
			epoch: fleet.AgentEpoch(rapid.IntRange(1, 1000).Draw(t, "first epoch")),
			truth: map[fleet.DeploymentName]PairState{},
		})
	}
	for range rapid.IntRange(0, 80).Draw(t, "steps") {
		m := rapid.SampledFrom(h.agents).Draw(t, "device")
		switch rapid.IntRange(0, 9).Draw(t, "action") {
		case 0:
			h.events = append(h.events, m.restart(t)...)
		case 1:
			h.snapshots = append(h.snapshots, m.snapshot())
		case 2, 3:
			name := rapid.SampledFrom(h.names).Draw(t, "deployment")
			if cur, ok := m.truth[name]; ok {
				h.events = append(h.events, m.record(name, fleet.Removed(cur.Phase)))
			}
		default:
			name := rapid.SampledFrom(h.names).Draw(t, "deployment")
			to, lastError := drawPhase(t)
			cur, ok := m.truth[name]
			if ok && cur.Phase == to && cur.LastError == lastError {
				continue // a no-op consumes no sequence
			}
			h.events = append(h.events, m.record(name, fleet.Applied(cur.Phase, to, lastError)))
		}
	}
	return h
}

// delivery is one event or snapshot as the central side receives it.
type delivery struct {
	event fleet.StateChangeEvent
	snap  *fleet.DeviceInfo
}

func (d delivery) apply(a *Aggregator) bool {
	if d.snap != nil {
		return a.ApplySnapshot(*d.snap)
	}
	return a.Apply(d.event)
}

// copies appends each of items between lo and hi times (0: lost).
func copies[E any](t *rapid.T, out []delivery, items []E, lo, hi int, wrap func(E) delivery, label string) []delivery {
	for _, it := range items {
		for range rapid.IntRange(lo, hi).Draw(t, label) {
			out = append(out, wrap(it))
		}
	}
	return out
}

func eventDelivery(e fleet.StateChangeEvent) delivery { return delivery{event: e} }

func snapDelivery(s fleet.DeviceInfo) delivery { return delivery{snap: &s} }

// checkTruth checks that a holds exactly what the agents hold.
func checkTruth(t *rapid.T, a *Aggregator, h history) {
	want := map[fleet.DeploymentName]Counts{}
	wantFailing := map[fleet.DeploymentName][]Failing{}
	pairs := 0
	for _, m := range h.agents { // agents are in device id order
		for _, name := range h.names {
			p := DevicePair{DeviceID: m.id, Deployment: name}
			got, ok := a.Pair(p)
			st, exists := m.truth[name]
			if ok != exists || got != st {
				t.Fatalf("Pair(%v) = %+v, %v, want %+v, %v", p, got, ok, st, exists)
			}
			if !exists {
				continue
			}
			pairs++
			c := want[name]
			switch st.Phase {
			case fleet.PhasePending:
				c.Pending++
			case fleet.PhaseRunning:
				c.Running++
			case fleet.PhaseSucceeded:
				c.Succeeded++
			case fleet.PhaseFailed:
				c.Failed++
				wantFailing[name] = append(wantFailing[name], Failing{DeviceID: m.id, LastError: st.LastError, Revision: st.Revision})
			}
			want[name] = c
		}
	}
	for _, name := range h.names {
		if got := a.Counts(name); got != want[name] {
			t.Fatalf("Counts(%q) = %+v, want %+v", name, got, want[name])
		}
		if got := a.Failing(name); !slices.Equal(got, wantFailing[name]) {
			t.Fatalf("Failing(%q) = %+v, want %+v", name, got, wantFailing[name])
		}
	}
	if got := a.Len(); got != pairs {
		t.Fatalf("Len() = %d, want %d", got, pairs)
	}
}

func TestPropertyLossyDeliveryThenSnapshotEqualsTruth(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		var in []delivery
		in = copies(t, in, h.events, 0, 3, eventDelivery, "event copies")
		in = copies(t, in, h.snapshots, 0, 2, snapDelivery, "snapshot copies")
		in = rapid.Permutation(in).Draw(t, "order")
		a := New()
		for _, d := range in {
			d.apply(a)
		}
		checkInvariants(t, a)
		// One final snapshot per device, at its latest revision, then
		// some stale replays: nothing may undo it.
		for _, m := range h.agents {
			a.ApplySnapshot(m.snapshot())
		}
		if len(in) > 0 {
			for _, d := range rapid.SliceOfN(rapid.SampledFrom(in), 0, 20).Draw(t, "replays") {
				if d.apply(a) {
					t.Fatalf("replay after the final snapshot applied: %+v", d)
				}
			}
		}
		checkInvariants(t, a)
		checkTruth(t, a, h)
	})
}

func TestPropertyFinalSnapshotAnywhereEqualsTruth(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		var in []delivery
		in = copies(t, in, h.events, 0, 3, eventDelivery, "event copies")
		in = copies(t, in, h.snapshots, 0, 2, snapDelivery, "snapshot copies")
		for _, m := range h.agents {
			in = append(in, snapDelivery(m.snapshot()))
		}
		in = rapid.Permutation(in).Draw(t, "order")
		a := New()
		for _, d := range in {
			d.apply(a)
		}
		checkInvariants(t, a)
		checkTruth(t, a, h)
	})
}

func TestPropertyWithoutLossEqualsTruth(t *testing.T) {
	t.Run("in_order", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			h := drawHistory(t)
			a := New()
			for _, e := range h.events {
				if !a.Apply(e) {
					t.Fatalf("Apply(%s) = false, want true: in order, every event is new", e.MsgID(""))
				}
			}
			checkInvariants(t, a)
			checkTruth(t, a, h)
		})
	})
	t.Run("duplicated_and_reordered", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			h := drawHistory(t)
			var in []delivery
			in = copies(t, in, h.events, 1, 3, eventDelivery, "event copies")
			in = copies(t, in, h.snapshots, 0, 2, snapDelivery, "snapshot copies")
			in = rapid.Permutation(in).Draw(t, "order")
			a := New()
			for _, d := range in {
				d.apply(a)
			}
			checkInvariants(t, a)
			checkTruth(t, a, h)
		})
	})
}

func TestPropertyOrderDoesNotMatter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := drawHistory(t)
		var in []delivery
		in = copies(t, in, h.events, 0, 2, eventDelivery, "event copies")
		in = copies(t, in, h.snapshots, 0, 2, snapDelivery, "snapshot copies")
		var states [2]map[DevicePair]PairState
		var counts [2]map[fleet.DeploymentName]Counts
		for i := range states {
			a := New()
			for _, d := range rapid.Permutation(in).Draw(t, "order") {
				d.apply(a)
			}
			states[i], counts[i] = map[DevicePair]PairState{}, map[fleet.DeploymentName]Counts{}
			for _, m := range h.agents {
				for _, name := range h.names {
					if st, ok := a.Pair(DevicePair{DeviceID: m.id, Deployment: name}); ok {
						states[i][DevicePair{DeviceID: m.id, Deployment: name}] = st
					}
				}
			}
			for _, name := range h.names {
				counts[i][name] = a.Counts(name)
			}
		}
		if !maps.Equal(states[0], states[1]) {
			t.Fatalf("pairs differ between two orders of the same deliveries:\n%v\n%v", states[0], states[1])
		}
		if !maps.Equal(counts[0], counts[1]) {
			t.Fatalf("counts differ between two orders of the same deliveries:\n%v\n%v", counts[0], counts[1])
		}
	})
}
