package reconciler

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

const (
	testEpoch  fleet.AgentEpoch = 1875123456789012
	testDevice fleet.DeviceID   = "pi-017"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC)

// at returns the i-th test instant, one second apart.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

func rev(seq uint64) fleet.Revision { return fleet.Revision{AgentEpoch: testEpoch, Sequence: seq} }

// wantPanic runs f and fails unless it panics with a string containing want.
func wantPanic(t *testing.T, call, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		msg, _ := r.(string)
		if !strings.HasPrefix(msg, "reconciler: ") || !strings.Contains(msg, want) {
			t.Errorf("%s panicked with %v, want a message containing %q", call, r, want)
		}
	}()
	f()
	t.Errorf("%s did not panic", call)
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		epoch    fleet.AgentEpoch
		capacity int
		want     string
	}{
		{epoch: 0, capacity: 8, want: "epoch 0 is not in"},
		{epoch: fleet.MaxEpoch + 1, capacity: 8, want: fmt.Sprintf("epoch %d is not in", fleet.MaxEpoch+1)},
		{epoch: testEpoch, capacity: 0, want: "history capacity 0 is less than 1"},
		{epoch: testEpoch, capacity: -5, want: "history capacity -5 is less than 1"},
	}
	for _, tt := range tests {
		call := fmt.Sprintf("New(%d, %d)", tt.epoch, tt.capacity)
		t.Run(call, func(t *testing.T) {
			wantPanic(t, call, tt.want, func() { New(tt.epoch, tt.capacity) })
		})
	}
}

func TestNewIsEmpty(t *testing.T) {
	for _, epoch := range []fleet.AgentEpoch{1, testEpoch, fleet.MaxEpoch} {
		s := New(epoch, 1)
		if s.Epoch() != epoch {
			t.Errorf("Epoch() = %d, want %d", s.Epoch(), epoch)
		}
		if !s.Revision().IsZero() {
			t.Errorf("Revision() before any transition = %v, want zero", s.Revision())
		}
		snap := s.Snapshot()
		if snap.Epoch != epoch || !snap.Revision.IsZero() || snap.Deployments == nil || len(snap.Deployments) != 0 {
			t.Errorf("Snapshot() of a new State = %+v, want epoch %d, zero revision, empty non-nil map", snap, epoch)
		}
		if r := s.Recent(); r == nil || len(r) != 0 {
			t.Errorf("Recent() of a new State = %#v, want empty and non-nil", r)
		}
		if st, ok := s.Get("web"); ok {
			t.Errorf("Get(%q) of a new State = %+v, true, want false", "web", st)
		}
	}
}

// step is one call in a TestRecord script: RecordRemove when remove is
// set, else RecordApply.
type step struct {
	remove  bool
	name    fleet.DeploymentName
	phase   fleet.Phase
	lastErr string
	// want is the transition expected and seq its sequence; a zero want
	// means a no-op (false).
	want fleet.LifecycleTransition
	seq  uint64
}

func apply(name fleet.DeploymentName, p fleet.Phase, lastErr string, want fleet.LifecycleTransition, seq uint64) step {
	return step{name: name, phase: p, lastErr: lastErr, want: want, seq: seq}
}

func remove(name fleet.DeploymentName, want fleet.LifecycleTransition, seq uint64) step {
	return step{remove: true, name: name, want: want, seq: seq}
}

var noop fleet.LifecycleTransition

func TestRecord(t *testing.T) {
	const (
		pending   = fleet.PhasePending
		running   = fleet.PhaseRunning
		succeeded = fleet.PhaseSucceeded
		failed    = fleet.PhaseFailed
	)
	tests := []struct {
		name  string
		steps []step
	}{
		{"first apply is from null", []step{
			apply("web", pending, "", fleet.Applied("", pending, ""), 1),
		}},
		{"first apply can carry an error", []step{
			apply("web", failed, "image: required for runtime podman", fleet.Applied("", failed, "image: required for runtime podman"), 1),
		}},
		{"phase change", []step{
			apply("web", pending, "", fleet.Applied("", pending, ""), 1),
			apply("web", running, "", fleet.Applied(pending, running, ""), 2),
			apply("web", succeeded, "", fleet.Applied(running, succeeded, ""), 3),
		}},
		{"same phase and error is a no-op", []step{
			apply("web", running, "", fleet.Applied("", running, ""), 1),
			apply("web", running, "", noop, 0),
			apply("web", running, "", noop, 0),
			apply("web", failed, "", fleet.Applied(running, failed, ""), 2),
		}},
		{"same failure repeated is a no-op", []step{
			apply("web", failed, "exit 1", fleet.Applied("", failed, "exit 1"), 1),
			apply("web", failed, "exit 1", noop, 0),
		}},
		{"error change in the same phase is a transition", []step{
			apply("web", failed, "exit 1", fleet.Applied("", failed, "exit 1"), 1),
			apply("web", failed, "exit 2", fleet.Applied(failed, failed, "exit 2"), 2),
			apply("web", failed, "", fleet.Applied(failed, failed, ""), 3),
			apply("web", failed, "exit 2", fleet.Applied(failed, failed, "exit 2"), 4),
		}},
		{"recovering clears the error", []step{
			apply("web", failed, "no such image", fleet.Applied("", failed, "no such image"), 1),
			apply("web", running, "", fleet.Applied(failed, running, ""), 2),
		}},
		{"remove of an unknown deployment is a no-op", []step{
			remove("web", noop, 0),
			apply("web", pending, "", fleet.Applied("", pending, ""), 1),
			remove("db", noop, 0),
		}},
		{"remove carries the last phase", []step{
			apply("web", pending, "", fleet.Applied("", pending, ""), 1),
			apply("web", failed, "exit 1", fleet.Applied(pending, failed, "exit 1"), 2),
			remove("web", fleet.Removed(failed), 3),
			remove("web", noop, 0),
		}},
		{"apply after remove starts from null", []step{
			apply("web", running, "", fleet.Applied("", running, ""), 1),
			remove("web", fleet.Removed(running), 2),
			apply("web", running, "", fleet.Applied("", running, ""), 3),
		}},
		{"deployments share one sequence", []step{
			apply("web", pending, "", fleet.Applied("", pending, ""), 1),
			apply("db", pending, "", fleet.Applied("", pending, ""), 2),
			apply("web", running, "", fleet.Applied(pending, running, ""), 3),
			apply("db", pending, "", noop, 0),
			remove("db", fleet.Removed(pending), 4),
			apply("web", running, "", noop, 0),
			apply("db", failed, "x", fleet.Applied("", failed, "x"), 5),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(testEpoch, 16)
			last := fleet.Revision{}
			var recorded []RecordedTransition
			for i, st := range tt.steps {
				var got RecordedTransition
				var ok bool
				var call string
				if st.remove {
					call = fmt.Sprintf("step %d: RecordRemove(%q)", i, st.name)
					got, ok = s.RecordRemove(st.name, at(i))
				} else {
					call = fmt.Sprintf("step %d: RecordApply(%q, %s, %q)", i, st.name, st.phase, st.lastErr)
					got, ok = s.RecordApply(st.name, st.phase, st.lastErr, at(i))
				}
				if st.want == noop {
					if ok || got != (RecordedTransition{}) {
						t.Fatalf("%s = %+v, %v, want a no-op", call, got, ok)
					}
					if s.Revision() != last {
						t.Fatalf("%s: no-op moved Revision() from %v to %v", call, last, s.Revision())
					}
					continue
				}
				want := RecordedTransition{Deployment: st.name, Revision: rev(st.seq), Transition: st.want, At: at(i)}
				if !ok || got != want {
					t.Fatalf("%s = %+v, %v, want %+v, true", call, got, ok, want)
				}
				last = got.Revision
				recorded = append(recorded, got)
				if s.Revision() != last {
					t.Errorf("%s: Revision() = %v, want %v", call, s.Revision(), last)
				}
				status, known := s.Get(st.name)
				switch {
				case st.remove && known:
					t.Errorf("%s: Get after remove = %+v, true, want false", call, status)
				case !st.remove && status != (fleet.DeploymentStatus{Phase: st.phase, LastError: fleet.ErrorText(st.lastErr), Revision: last}):
					t.Errorf("%s: Get = %+v, %v, want phase %s, error %q, revision %v", call, status, known, st.phase, st.lastErr, last)
				}
			}
			if got := s.Recent(); !slices.Equal(got, recorded) {
				t.Errorf("Recent() = %+v, want %+v", got, recorded)
			}
		})
	}
}

func TestRecordApplyInvalidPhasePanics(t *testing.T) {
	for _, p := range []fleet.Phase{"", "Running", "crashed", "running "} {
		call := fmt.Sprintf("RecordApply(%q, %q)", "web", p)
		t.Run(call, func(t *testing.T) {
			s := New(testEpoch, 4)
			wantPanic(t, call, fmt.Sprintf("invalid phase %q", p), func() { s.RecordApply("web", p, "", t0) })
			if !s.Revision().IsZero() || len(s.Recent()) != 0 {
				t.Errorf("%s changed the State: revision %v, recent %v", call, s.Revision(), s.Recent())
			}
		})
	}
}

func TestRecentHonoursCapacity(t *testing.T) {
	const transitions = 7
	for _, capacity := range []int{1, 3, transitions, 10} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			s := New(testEpoch, capacity)
			for i := range transitions {
				phase := fleet.Phases[i%len(fleet.Phases)]
				s.RecordApply("web", phase, "", at(i))
				s.RecordApply("web", phase, "", at(i)) // a no-op: not in Recent
			}
			got := s.Recent()
			if want := min(capacity, transitions); len(got) != want {
				t.Fatalf("len(Recent()) = %d, want %d", len(got), want)
			}
			first := uint64(transitions - len(got) + 1)
			for i, r := range got {
				if want := rev(first + uint64(i)); r.Revision != want {
					t.Errorf("Recent()[%d].Revision = %v, want %v", i, r.Revision, want)
				}
			}
		})
	}
}

func TestSnapshotIsADeepCopy(t *testing.T) {
	s := New(testEpoch, 4)
	s.RecordApply("web", fleet.PhaseRunning, "", at(0))
	s.RecordApply("db", fleet.PhaseFailed, "exit 1", at(1))
	before := s.Snapshot()

	snap := s.Snapshot()
	snap.Deployments["web"] = fleet.DeploymentStatus{Phase: fleet.PhaseFailed, LastError: "changed", Revision: rev(99)}
	delete(snap.Deployments, "db")
	snap.Deployments["new"] = fleet.DeploymentStatus{Phase: fleet.PhasePending}
	snap.Revision = rev(99)
	recent := s.Recent()
	recent[0].Deployment = "changed"

	after := s.Snapshot()
	if after.Revision != before.Revision || len(after.Deployments) != len(before.Deployments) {
		t.Fatalf("Snapshot() after changing a copy = %+v, want %+v", after, before)
	}
	for name, st := range before.Deployments {
		if after.Deployments[name] != st {
			t.Errorf("Snapshot().Deployments[%q] after changing a copy = %+v, want %+v", name, after.Deployments[name], st)
		}
	}
	if got, _ := s.Get("web"); got.Phase != fleet.PhaseRunning {
		t.Errorf("Get(%q) after changing a snapshot = %+v, want phase running", "web", got)
	}
	if got := s.Recent()[0].Deployment; got != "web" {
		t.Errorf("Recent()[0].Deployment after changing a copy = %q, want %q", got, "web")
	}
}

func TestSnapshotCount(t *testing.T) {
	s := New(testEpoch, 4)
	s.RecordApply("a", fleet.PhaseRunning, "", at(0))
	s.RecordApply("b", fleet.PhaseRunning, "", at(1))
	s.RecordApply("c", fleet.PhaseFailed, "exit 1", at(2))
	s.RecordApply("d", fleet.PhasePending, "", at(3))
	s.RecordApply("e", fleet.PhaseRunning, "", at(4))
	s.RecordRemove("e", at(5))
	snap := s.Snapshot()
	tests := []struct {
		phase fleet.Phase
		want  int
	}{
		{fleet.PhasePending, 1},
		{fleet.PhaseRunning, 2},
		{fleet.PhaseSucceeded, 0},
		{fleet.PhaseFailed, 1},
		{"bogus", 0},
	}
	for _, tt := range tests {
		if got := snap.Count(tt.phase); got != tt.want {
			t.Errorf("Count(%q) = %d, want %d", tt.phase, got, tt.want)
		}
	}
	if got := (Snapshot{}).Count(fleet.PhaseRunning); got != 0 {
		t.Errorf("zero Snapshot Count(running) = %d, want 0", got)
	}
}

func TestEvent(t *testing.T) {
	s := New(testEpoch, 8)
	var recorded []RecordedTransition
	keep := func(r RecordedTransition, ok bool) {
		if !ok {
			t.Fatalf("setup: %+v was a no-op", r)
		}
		recorded = append(recorded, r)
	}
	keep(s.RecordApply("web", fleet.PhasePending, "", at(0)))
	keep(s.RecordApply("web", fleet.PhaseFailed, "pull docker.io/x: not found", at(1)))
	keep(s.RecordApply("web", fleet.PhaseFailed, "exit 1", at(2)))
	keep(s.RecordApply("web", fleet.PhaseRunning, "", at(3)))
	keep(s.RecordRemove("web", at(4)))

	for _, r := range recorded {
		t.Run(r.Revision.String(), func(t *testing.T) {
			e := r.Event(testDevice)
			want := fleet.StateChangeEvent{DeviceID: testDevice, Deployment: r.Deployment, Revision: r.Revision, Transition: r.Transition, At: r.At}
			if e != want {
				t.Fatalf("Event(%q) = %+v, want %+v", testDevice, e, want)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("Event(%q).Validate() = %v, want nil", testDevice, err)
			}
			if got, want := e.MsgID("n"), fmt.Sprintf("pi-017.%d.%d.n", testEpoch, r.Revision.Sequence); got != want {
				t.Errorf("Event(%q).MsgID() = %q, want %q", testDevice, got, want)
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("json.Marshal(Event) = %v", err)
			}
			var back fleet.StateChangeEvent
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v", b, err)
			}
			if back != e {
				t.Errorf("JSON round trip of %s = %+v, want %+v", b, back, e)
			}
		})
	}
}
