package reconciler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// op is one random call: RecordRemove when remove is set, else RecordApply.
type op struct {
	remove  bool
	name    fleet.DeploymentName
	phase   fleet.Phase
	lastErr string
	i       int // index, for at(i)
}

func (o op) String() string {
	if o.remove {
		return fmt.Sprintf("RecordRemove(%q)", o.name)
	}
	return fmt.Sprintf("RecordApply(%q, %s, %q)", o.name, o.phase, o.lastErr)
}

// randomOps returns n ops drawn from a few names, every phase and a few
// errors, so no-ops, same-phase error changes, removes of unknown
// deployments and re-applies after remove all happen often.
func randomOps(seed uint64, n int) []op {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	names := []fleet.DeploymentName{"web", "db", "cache", "job-1", "x"}
	errs := []string{"", "", "", "exit 1", "pull docker.io/library/nginx:1.27: not found"}
	ops := make([]op, n)
	for i := range ops {
		ops[i] = op{
			remove:  rng.IntN(6) == 0,
			name:    names[rng.IntN(len(names))],
			phase:   fleet.Phases[rng.IntN(len(fleet.Phases))],
			lastErr: errs[rng.IntN(len(errs))],
			i:       i,
		}
	}
	return ops
}

func (o op) run(s *State) (RecordedTransition, bool) {
	if o.remove {
		return s.RecordRemove(o.name, at(o.i))
	}
	return s.RecordApply(o.name, o.phase, o.lastErr, "", at(o.i))
}

var seeds = []uint64{1, 2, 3, 42, 20261126}

// TestInvariants runs random op sequences against a plain model and checks
// after every op: the result matches the model; sequences are contiguous
// from 1 and carry the epoch; no-ops consume none; the snapshot's revision
// is the last recorded one and no deployment's revision is after it; Recent
// is the last N recorded, oldest first; the snapshot makes a valid
// DeviceInfo and every transition a valid event.
func TestInvariants(t *testing.T) {
	const capacity = 5
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := New(testEpoch, capacity)
			model := map[fleet.DeploymentName]fleet.DeploymentStatus{}
			var recorded []RecordedTransition
			for _, o := range randomOps(seed, 2000) {
				got, ok := o.run(s)
				cur, known := model[o.name]

				// What the model says should happen.
				var want fleet.LifecycleTransition
				switch {
				case o.remove && known:
					want = fleet.Removed(cur.Phase)
				case o.remove:
				case known && cur.Phase == o.phase && string(cur.LastError) == o.lastErr:
				default:
					want = fleet.Applied(cur.Phase, o.phase, o.lastErr) // cur.Phase is "" when unknown
				}
				if want == (fleet.LifecycleTransition{}) {
					if ok || got != (RecordedTransition{}) {
						t.Fatalf("%v = %+v, %v, want a no-op", o, got, ok)
					}
				} else {
					wantRev := rev(uint64(len(recorded)) + 1)
					if !ok || got.Transition != want || got.Revision != wantRev || got.Deployment != o.name || !got.At.Equal(at(o.i)) {
						t.Fatalf("%v = %+v, %v, want %+v at %v", o, got, ok, want, wantRev)
					}
					if err := got.Event(testDevice).Validate(); err != nil {
						t.Fatalf("%v: Event(%q).Validate() = %v", o, testDevice, err)
					}
					recorded = append(recorded, got)
					if o.remove {
						delete(model, o.name)
					} else {
						model[o.name] = fleet.DeploymentStatus{Phase: o.phase, LastError: fleet.ErrorText(o.lastErr), Revision: got.Revision}
					}
				}

				snap := s.Snapshot()
				var last fleet.Revision
				if len(recorded) > 0 {
					last = recorded[len(recorded)-1].Revision
				}
				if snap.Revision != last || s.Revision() != last || snap.Epoch != testEpoch {
					t.Fatalf("after %v: Snapshot() revision %v, Revision() %v, epoch %d, want %v, epoch %d", o, snap.Revision, s.Revision(), snap.Epoch, last, testEpoch)
				}
				if !reflect.DeepEqual(snap.Deployments, model) {
					t.Fatalf("after %v: Snapshot().Deployments = %v, want %v", o, snap.Deployments, model)
				}
				for name, st := range snap.Deployments {
					if st.Revision.AgentEpoch != testEpoch || st.Revision.Sequence < 1 || st.Revision.Compare(snap.Revision) > 0 {
						t.Fatalf("after %v: deployment %q revision %v, want epoch %d and in 1..%v", o, name, st.Revision, testEpoch, snap.Revision)
					}
				}
				info := fleet.DeviceInfo{DeviceID: testDevice, AgentEpoch: snap.Epoch, Revision: snap.Revision, Deployments: snap.Deployments}
				if err := info.Validate(); err != nil {
					t.Fatalf("after %v: DeviceInfo from Snapshot().Validate() = %v", o, err)
				}
				wantRecent := recorded[max(0, len(recorded)-capacity):]
				if got := s.Recent(); !slices.Equal(got, wantRecent) {
					t.Fatalf("after %v: Recent() = %+v, want %+v", o, got, wantRecent)
				}
			}

			// Sequences are contiguous from 1 and every one carries the epoch.
			for i, r := range recorded {
				if r.Revision != rev(uint64(i)+1) {
					t.Fatalf("recorded[%d].Revision = %v, want %v", i, r.Revision, rev(uint64(i)+1))
				}
			}
			if len(recorded) < 500 {
				t.Errorf("only %d of 2000 random ops were transitions; the generator is too tame", len(recorded))
			}
		})
	}
}

// result is everything one op returns and the State shows afterwards.
type result struct {
	Transition RecordedTransition
	OK         bool
	Snapshot   Snapshot
	Recent     []RecordedTransition
}

// TestPurity feeds the same ops to two States and checks they return the
// same results, and that reading one (Get, Snapshot, Recent, Revision)
// between ops changes nothing.
func TestPurity(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			a, b := New(testEpoch, 8), New(testEpoch, 8)
			for _, o := range randomOps(seed, 500) {
				// Only a is read between ops.
				for range 2 {
					a.Get(o.name)
					a.Snapshot()
					a.Recent()
					a.Revision()
				}
				ta, oka := o.run(a)
				tb, okb := o.run(b)
				ra := result{ta, oka, a.Snapshot(), a.Recent()}
				rb := result{tb, okb, b.Snapshot(), b.Recent()}
				if !reflect.DeepEqual(ra, rb) {
					t.Fatalf("%v on two States = %+v and %+v, want the same", o, ra, rb)
				}
			}
		})
	}
}

func BenchmarkRecordApply(b *testing.B) {
	names := make([]fleet.DeploymentName, 64)
	for i := range names {
		names[i] = fleet.DeploymentName(fmt.Sprintf("dep-%d", i))
	}
	b.Run("transition", func(b *testing.B) {
		s := New(testEpoch, 256)
		i := 0
		for b.Loop() {
			// Every call moves a deployment to the next phase: a transition.
			s.RecordApply(names[i%len(names)], fleet.Phases[(i/len(names))%len(fleet.Phases)], "", "", t0)
			i++
		}
	})
	b.Run("noop", func(b *testing.B) {
		s := New(testEpoch, 256)
		for _, n := range names {
			s.RecordApply(n, fleet.PhaseRunning, "", "", t0)
		}
		i := 0
		for b.Loop() {
			s.RecordApply(names[i%len(names)], fleet.PhaseRunning, "", "", t0)
			i++
		}
	})
}
