package aggregate

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

const (
	epoch1 fleet.AgentEpoch = 1_875_123_456_789_012
	epoch2 fleet.AgentEpoch = 1_875_200_000_000_000
)

func rev(epoch fleet.AgentEpoch, seq uint64) fleet.Revision {
	return fleet.Revision{AgentEpoch: epoch, Sequence: seq}
}

func applied(dev, dep string, r fleet.Revision, from, to fleet.Phase, lastError string) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID:   fleet.DeviceID(dev),
		Deployment: fleet.DeploymentName(dep),
		Revision:   r,
		Transition: fleet.Applied(from, to, lastError),
	}
}

func removed(dev, dep string, r fleet.Revision, from fleet.Phase) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID:   fleet.DeviceID(dev),
		Deployment: fleet.DeploymentName(dep),
		Revision:   r,
		Transition: fleet.Removed(from),
	}
}

func status(p fleet.Phase, lastError string, r fleet.Revision) fleet.DeploymentStatus {
	return fleet.DeploymentStatus{Phase: p, LastError: fleet.ErrorText(lastError), Revision: r}
}

func snapshot(dev string, r fleet.Revision, deps map[fleet.DeploymentName]fleet.DeploymentStatus) fleet.DeviceInfo {
	return fleet.DeviceInfo{
		DeviceID:    fleet.DeviceID(dev),
		AgentEpoch:  r.AgentEpoch,
		Revision:    r,
		Deployments: deps,
	}
}

func pair(dev, dep string) DevicePair {
	return DevicePair{DeviceID: fleet.DeviceID(dev), Deployment: fleet.DeploymentName(dep)}
}

// step is one input: an event, or a snapshot when snap is set, and what
// applying it must return.
type step struct {
	event fleet.StateChangeEvent
	snap  *fleet.DeviceInfo
	want  bool
}

func ev(e fleet.StateChangeEvent, want bool) step { return step{event: e, want: want} }

func sn(info fleet.DeviceInfo, want bool) step { return step{snap: &info, want: want} }

func (s step) run(a *Aggregator) bool {
	if s.snap != nil {
		return a.ApplySnapshot(*s.snap)
	}
	return a.Apply(s.event)
}

func (s step) String() string {
	if s.snap != nil {
		return "ApplySnapshot(" + string(s.snap.DeviceID) + "@" + s.snap.Revision.String() + ")"
	}
	return "Apply(" + s.event.MsgID("") + " " + string(s.event.Deployment) + ")"
}

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		// pairs is every pair that must exist afterwards; counts follow
		// from it, and are also given explicitly when counts is set.
		pairs  map[DevicePair]PairState
		counts map[fleet.DeploymentName]Counts
	}{
		{
			name: "removed_transition_decrements_without_paired_increment",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
				ev(applied("pi-1", "web", rev(epoch1, 2), fleet.PhasePending, fleet.PhaseRunning, ""), true),
				ev(applied("pi-2", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""), true),
				ev(removed("pi-1", "web", rev(epoch1, 3), fleet.PhaseRunning), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-2", "web"): {Phase: fleet.PhaseRunning, Revision: rev(epoch1, 1)},
			},
			counts: map[fleet.DeploymentName]Counts{"web": {Running: 1}},
		},
		{
			name: "revision_ordering_handles_agent_restart",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
				ev(applied("pi-1", "web", rev(epoch1, 2), fleet.PhasePending, fleet.PhaseFailed, "exit 1"), true),
				// The new epoch's sequence restarts at 1 and still wins.
				ev(applied("pi-1", "web", rev(epoch2, 1), "", fleet.PhasePending, ""), true),
				ev(applied("pi-1", "web", rev(epoch2, 2), fleet.PhasePending, fleet.PhaseRunning, ""), true),
				// The old epoch's late events lose, whatever their sequence.
				ev(applied("pi-1", "web", rev(epoch1, 99), fleet.PhaseFailed, fleet.PhaseFailed, "late"), false),
				ev(applied("pi-1", "web", rev(epoch1, 2), fleet.PhasePending, fleet.PhaseFailed, "exit 1"), false),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseRunning, Revision: rev(epoch2, 2)},
			},
			counts: map[fleet.DeploymentName]Counts{"web": {Running: 1}},
		},
		{
			name: "from_null_after_restart_decrements_stored_phase",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 5), fleet.PhasePending, fleet.PhaseRunning, ""), true),
				ev(applied("pi-1", "web", rev(epoch2, 1), "", fleet.PhasePending, ""), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhasePending, Revision: rev(epoch2, 1)},
			},
			counts: map[fleet.DeploymentName]Counts{"web": {Pending: 1}},
		},
		{
			name: "from_is_ignored_stored_phase_is_decremented",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
				// Event 2 (pending -> running) was lost; 3 says from running.
				ev(applied("pi-1", "web", rev(epoch1, 3), fleet.PhaseRunning, fleet.PhaseFailed, "oom"), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseFailed, LastError: "oom", Revision: rev(epoch1, 3)},
			},
			counts: map[fleet.DeploymentName]Counts{"web": {Failed: 1}},
		},
		{
			name: "duplicates_ignored",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""), true),
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""), false),
				ev(removed("pi-1", "api", rev(epoch1, 2), fleet.PhaseRunning), true),
				ev(removed("pi-1", "api", rev(epoch1, 2), fleet.PhaseRunning), false),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseRunning, Revision: rev(epoch1, 1)},
			},
			counts: map[fleet.DeploymentName]Counts{"web": {Running: 1}, "api": {}},
		},
		{
			name: "stale_event_after_newer_ignored",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 2), fleet.PhasePending, fleet.PhaseRunning, ""), true),
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), false),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseRunning, Revision: rev(epoch1, 2)},
			},
		},
		{
			name: "stale_event_after_remove_does_not_resurrect",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
				ev(removed("pi-1", "web", rev(epoch1, 3), fleet.PhaseRunning), true),
				ev(applied("pi-1", "web", rev(epoch1, 2), fleet.PhasePending, fleet.PhaseRunning, ""), false),
			},
			pairs: map[DevicePair]PairState{},
		},
		{
			name: "remove_before_its_pair_leaves_tombstone",
			steps: []step{
				ev(removed("pi-1", "web", rev(epoch1, 2), fleet.PhasePending), true),
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), false),
			},
			pairs: map[DevicePair]PairState{},
		},
		{
			name: "reapplied_after_remove",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""), true),
				ev(removed("pi-1", "web", rev(epoch1, 2), fleet.PhaseRunning), true),
				ev(applied("pi-1", "web", rev(epoch1, 3), "", fleet.PhasePending, ""), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhasePending, Revision: rev(epoch1, 3)},
			},
		},
		{
			name: "snapshot_replaces_pairs_and_removes_the_ones_it_lacks",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""), true),
				ev(applied("pi-1", "api", rev(epoch1, 2), "", fleet.PhaseFailed, "exit 2"), true),
				ev(applied("pi-1", "db", rev(epoch1, 3), "", fleet.PhasePending, ""), true),
				ev(applied("pi-2", "db", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
				sn(snapshot("pi-1", rev(epoch1, 10), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web":   status(fleet.PhaseSucceeded, "", rev(epoch1, 9)),
					"cache": status(fleet.PhaseFailed, "no image", rev(epoch1, 8)),
				}), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"):   {Phase: fleet.PhaseSucceeded, Revision: rev(epoch1, 9)},
				pair("pi-1", "cache"): {Phase: fleet.PhaseFailed, LastError: "no image", Revision: rev(epoch1, 8)},
				pair("pi-2", "db"):    {Phase: fleet.PhasePending, Revision: rev(epoch1, 1)},
			},
			counts: map[fleet.DeploymentName]Counts{
				"web": {Succeeded: 1}, "cache": {Failed: 1}, "api": {}, "db": {Pending: 1},
			},
		},
		{
			name: "older_snapshot_ignored",
			steps: []step{
				sn(snapshot("pi-1", rev(epoch1, 10), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhaseRunning, "", rev(epoch1, 10)),
				}), true),
				sn(snapshot("pi-1", rev(epoch1, 8), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhaseFailed, "boom", rev(epoch1, 8)),
					"api": status(fleet.PhaseRunning, "", rev(epoch1, 7)),
				}), false),
				// The same snapshot again (a heartbeat) changes nothing.
				sn(snapshot("pi-1", rev(epoch1, 10), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhaseRunning, "", rev(epoch1, 10)),
				}), false),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseRunning, Revision: rev(epoch1, 10)},
			},
		},
		{
			name: "event_older_than_the_snapshot_ignored",
			steps: []step{
				sn(snapshot("pi-1", rev(epoch1, 10), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhaseRunning, "", rev(epoch1, 7)),
				}), true),
				// Newer than the pair (7) but folded into the snapshot (10).
				ev(applied("pi-1", "web", rev(epoch1, 9), fleet.PhaseRunning, fleet.PhaseFailed, "x"), false),
				ev(applied("pi-1", "web", rev(epoch1, 10), fleet.PhaseRunning, fleet.PhaseFailed, "x"), false),
				ev(applied("pi-1", "api", rev(epoch1, 8), "", fleet.PhaseRunning, ""), false),
				ev(applied("pi-1", "web", rev(epoch1, 11), fleet.PhaseRunning, fleet.PhaseSucceeded, ""), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseSucceeded, Revision: rev(epoch1, 11)},
			},
		},
		{
			name: "snapshot_at_the_last_event_revision_repairs_a_lost_event",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
				ev(applied("pi-1", "api", rev(epoch1, 2), "", fleet.PhasePending, ""), true),
				// 3: api removed, lost.
				ev(applied("pi-1", "web", rev(epoch1, 4), fleet.PhasePending, fleet.PhaseRunning, ""), true),
				sn(snapshot("pi-1", rev(epoch1, 4), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhaseRunning, "", rev(epoch1, 4)),
				}), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseRunning, Revision: rev(epoch1, 4)},
			},
		},
		{
			name: "snapshot_keeps_what_is_newer_than_itself",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 12), fleet.PhaseRunning, fleet.PhaseFailed, "crash loop"), true),
				ev(removed("pi-1", "api", rev(epoch1, 13), fleet.PhaseRunning), true),
				// Written at 11, delivered after 12 and 13.
				sn(snapshot("pi-1", rev(epoch1, 11), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhaseRunning, "", rev(epoch1, 5)),
					"api": status(fleet.PhaseRunning, "", rev(epoch1, 6)),
					"db":  status(fleet.PhaseSucceeded, "", rev(epoch1, 11)),
				}), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhaseFailed, LastError: "crash loop", Revision: rev(epoch1, 12)},
				pair("pi-1", "db"):  {Phase: fleet.PhaseSucceeded, Revision: rev(epoch1, 11)},
			},
		},
		{
			name: "snapshot_of_a_new_epoch",
			steps: []step{
				ev(applied("pi-1", "web", rev(epoch1, 40), fleet.PhasePending, fleet.PhaseRunning, ""), true),
				sn(snapshot("pi-1", rev(epoch2, 3), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status(fleet.PhasePending, "", rev(epoch2, 3)),
				}), true),
				ev(applied("pi-1", "web", rev(epoch1, 41), fleet.PhasePending, fleet.PhaseFailed, "old"), false),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhasePending, Revision: rev(epoch2, 3)},
			},
		},
		{
			name: "first_snapshot_with_zero_revision_registers_the_device",
			steps: []step{
				sn(snapshot("pi-1", fleet.Revision{}, nil), true),
				sn(snapshot("pi-1", fleet.Revision{}, nil), false),
				ev(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhasePending, ""), true),
			},
			pairs: map[DevicePair]PairState{
				pair("pi-1", "web"): {Phase: fleet.PhasePending, Revision: rev(epoch1, 1)},
			},
		},
		{
			name: "malformed_input_dropped",
			steps: []step{
				ev(applied("pi-1", "web", fleet.Revision{}, "", fleet.PhaseRunning, ""), false),
				ev(applied("pi-1", "web", rev(epoch1, 1), "", "sleeping", ""), false),
				ev(fleet.StateChangeEvent{DeviceID: "pi-1", Deployment: "web", Revision: rev(epoch1, 2),
					Transition: fleet.LifecycleTransition{Kind: "paused", To: fleet.PhaseRunning}}, false),
				sn(snapshot("pi-1", rev(epoch1, 3), map[fleet.DeploymentName]fleet.DeploymentStatus{
					"web": status("sleeping", "", rev(epoch1, 3)),
				}), false),
			},
			pairs: map[DevicePair]PairState{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New()
			for _, s := range tc.steps {
				if got := s.run(a); got != s.want {
					t.Fatalf("%v = %v, want %v", s, got, s.want)
				}
				checkInvariants(t, a)
			}
			checkPairs(t, a, tc.pairs)
			for name, want := range tc.counts {
				if got := a.Counts(name); got != want {
					t.Errorf("Counts(%q) = %+v, want %+v", name, got, want)
				}
			}
		})
	}
}

// checkPairs checks that a holds exactly want, and the counts, Len and
// Deployments that follow from it.
func checkPairs(t *testing.T, a *Aggregator, want map[DevicePair]PairState) {
	t.Helper()
	wantCounts := map[fleet.DeploymentName]Counts{}
	for p, st := range want {
		got, ok := a.Pair(p)
		if !ok || got != st {
			t.Errorf("Pair(%v) = %+v, %v, want %+v, true", p, got, ok, st)
		}
		c := wantCounts[p.Deployment]
		switch st.Phase {
		case fleet.PhasePending:
			c.Pending++
		case fleet.PhaseRunning:
			c.Running++
		case fleet.PhaseSucceeded:
			c.Succeeded++
		case fleet.PhaseFailed:
			c.Failed++
		}
		wantCounts[p.Deployment] = c
	}
	for _, dev := range a.Devices() {
		for _, name := range a.names {
			p := DevicePair{DeviceID: dev, Deployment: name}
			if _, exists := want[p]; exists {
				continue
			}
			if got, ok := a.Pair(p); ok {
				t.Errorf("Pair(%v) = %+v, true, want it absent", p, got)
			}
		}
	}
	for _, name := range a.names {
		if got := a.Counts(name); got != wantCounts[name] {
			t.Errorf("Counts(%q) = %+v, want %+v", name, got, wantCounts[name])
		}
	}
	if got := a.Len(); got != len(want) {
		t.Errorf("Len() = %d, want %d", got, len(want))
	}
	var wantNames []fleet.DeploymentName
	for name := range wantCounts {
		wantNames = append(wantNames, name)
	}
	slices.Sort(wantNames)
	if got := a.Deployments(); !slices.Equal(got, wantNames) {
		t.Errorf("Deployments() = %v, want %v", got, wantNames)
	}
}

// tb is what the checks need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// checkInvariants recomputes the tallies, the failing sets and the pair
// count from the entries and compares them with what a maintains.
func checkInvariants(t tb, a *Aggregator) {
	t.Helper()
	tallies := make([][numPhases]int, len(a.names))
	failing := make([]int, len(a.names))
	pairs, errs := 0, 0
	for id, d := range a.devices {
		seen := map[uint32]bool{}
		for _, en := range d.entries {
			if seen[en.dep] {
				t.Fatalf("device %s has two entries for %s", id, a.names[en.dep])
			}
			seen[en.dep] = true
			if d.hasSnap && en.phase == phaseNone && en.rev.Compare(d.snap) <= 0 {
				t.Errorf("device %s keeps a tombstone for %s at %s, at or before its snapshot %s", id, a.names[en.dep], en.rev, d.snap)
			}
			if msg, ok := a.errs[pairKey{d, en.dep}]; ok != en.hasErr || ok && msg == "" {
				t.Errorf("device %s, %s: errs holds %q, %v; hasErr is %v", id, a.names[en.dep], msg, ok, en.hasErr)
			}
			if en.phase == phaseNone {
				if en.hasErr {
					t.Errorf("device %s keeps an error for removed %s", id, a.names[en.dep])
				}
				continue
			}
			if en.hasErr {
				errs++
			}
			pairs++
			tallies[en.dep][en.phase-1]++
			if en.phase == phaseFailed {
				failing[en.dep]++
				if a.failing[en.dep][id] != d {
					t.Errorf("failing[%s] lacks device %s", a.names[en.dep], id)
				}
			}
		}
	}
	if errs != len(a.errs) {
		t.Errorf("len(errs) = %d, entries have %d errors", len(a.errs), errs)
	}
	if pairs != a.pairs {
		t.Errorf("pairs = %d, entries hold %d", a.pairs, pairs)
	}
	for dep := range a.names {
		if a.tallies[dep] != tallies[dep] {
			t.Errorf("tallies[%s] = %v, entries hold %v", a.names[dep], a.tallies[dep], tallies[dep])
		}
		if len(a.failing[dep]) != failing[dep] {
			t.Errorf("len(failing[%s]) = %d, entries hold %d", a.names[dep], len(a.failing[dep]), failing[dep])
		}
	}
}

func TestFailing(t *testing.T) {
	a := New()
	for _, e := range []fleet.StateChangeEvent{
		applied("pi-3", "web", rev(epoch1, 1), "", fleet.PhaseFailed, "exit 3"),
		applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhaseFailed, "exit 1"),
		applied("pi-2", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""),
		applied("pi-4", "web", rev(epoch1, 1), "", fleet.PhaseFailed, ""),
		applied("pi-5", "web", rev(epoch1, 1), "", fleet.PhaseFailed, "exit 5"),
		applied("pi-5", "web", rev(epoch1, 2), fleet.PhaseFailed, fleet.PhaseRunning, ""),
		applied("pi-0", "web", rev(epoch1, 1), "", fleet.PhaseFailed, "exit 0"),
		removed("pi-0", "web", rev(epoch1, 2), fleet.PhaseFailed),
		applied("pi-2", "api", rev(epoch1, 2), "", fleet.PhaseFailed, "other deployment"),
	} {
		if !a.Apply(e) {
			t.Fatalf("Apply(%s) = false, want true", e.MsgID(""))
		}
	}
	tests := []struct {
		name fleet.DeploymentName
		want []Failing
	}{
		{"web", []Failing{
			{DeviceID: "pi-1", LastError: "exit 1", Revision: rev(epoch1, 1)},
			{DeviceID: "pi-3", LastError: "exit 3", Revision: rev(epoch1, 1)},
			{DeviceID: "pi-4", LastError: "", Revision: rev(epoch1, 1)},
		}},
		{"api", []Failing{{DeviceID: "pi-2", LastError: "other deployment", Revision: rev(epoch1, 2)}}},
		{"unknown", []Failing{}},
	}
	for _, tc := range tests {
		t.Run(string(tc.name), func(t *testing.T) {
			got := a.Failing(tc.name)
			if got == nil || !slices.Equal(got, tc.want) {
				t.Errorf("Failing(%q) = %#v, want %#v", tc.name, got, tc.want)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		b, err := json.Marshal(a.Failing("api"))
		if err != nil {
			t.Fatal(err)
		}
		want := `[{"device_id":"pi-2","last_error":"other deployment","revision":{"agent_epoch":1875123456789012,"sequence":2}}]`
		if string(b) != want {
			t.Errorf("json.Marshal(Failing(api)) = %s, want %s", b, want)
		}
		b, err = json.Marshal(a.Failing("unknown"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `[]` {
			t.Errorf("json.Marshal(Failing(unknown)) = %s, want []", b)
		}
	})
}

func TestCounts(t *testing.T) {
	c := Counts{Pending: 1, Running: 2, Succeeded: 3, Failed: 4}
	tests := []struct {
		phase fleet.Phase
		want  int
	}{
		{fleet.PhasePending, 1},
		{fleet.PhaseRunning, 2},
		{fleet.PhaseSucceeded, 3},
		{fleet.PhaseFailed, 4},
		{"sleeping", 0},
		{"", 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.phase), func(t *testing.T) {
			if got := c.Get(tc.phase); got != tc.want {
				t.Errorf("Get(%q) = %d, want %d", tc.phase, got, tc.want)
			}
		})
	}
	t.Run("total", func(t *testing.T) {
		if got := c.Total(); got != 10 {
			t.Errorf("Total() = %d, want 10", got)
		}
	})
	t.Run("json", func(t *testing.T) {
		b, err := json.Marshal(Counts{Running: 2, Failed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"pending":0,"running":2,"succeeded":0,"failed":1}`; string(b) != want {
			t.Errorf("json.Marshal(Counts) = %s, want %s", b, want)
		}
	})
}

func TestDevices(t *testing.T) {
	a := New()
	if got := a.Devices(); len(got) != 0 {
		t.Errorf("New().Devices() = %v, want none", got)
	}
	a.Apply(applied("pi-2", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""))
	a.Apply(removed("pi-2", "web", rev(epoch1, 2), fleet.PhaseRunning))
	a.Apply(applied("pi-3", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""))
	a.ApplySnapshot(snapshot("pi-1", rev(epoch1, 1), nil))
	want := []fleet.DeviceID{"pi-1", "pi-2", "pi-3"}
	if got := a.Devices(); !slices.Equal(got, want) {
		t.Errorf("Devices() = %v, want %v", got, want)
	}
	if got := a.Deployments(); !slices.Equal(got, []fleet.DeploymentName{"web"}) {
		t.Errorf("Deployments() = %v, want [web]", got)
	}
}

func TestPhaseString(t *testing.T) {
	tests := []struct {
		p    phase
		want string
	}{
		{phaseNone, "none"},
		{phasePending, "pending"},
		{phaseRunning, "running"},
		{phaseSucceeded, "succeeded"},
		{phaseFailed, "failed"},
		{phase(9), "phase(9)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("phase(%d).String() = %q, want %q", uint8(tc.p), got, tc.want)
			}
		})
	}
}

func TestPairUnknown(t *testing.T) {
	a := New()
	a.Apply(applied("pi-1", "web", rev(epoch1, 1), "", fleet.PhaseRunning, ""))
	for _, p := range []DevicePair{pair("pi-2", "web"), pair("pi-1", "api")} {
		if got, ok := a.Pair(p); ok {
			t.Errorf("Pair(%v) = %+v, true, want false", p, got)
		}
	}
	if got := a.Counts("api"); got != (Counts{}) {
		t.Errorf("Counts(api) = %+v, want zero", got)
	}
}
