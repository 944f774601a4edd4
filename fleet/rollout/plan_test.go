package rollout

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

var (
	t0    = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	specA = fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/a"}}
	specB = fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/b"}}
	hashA = fleet.SpecHash(specA)
	hashB = fleet.SpecHash(specB)
)

// web is a fleet deployment on site=lyon: spec B at generation 200,
// replacing spec A at 100.
func web(mut ...func(*fleet.FleetDeployment)) fleet.FleetDeployment {
	d := fleet.FleetDeployment{
		Name: "web", Selector: map[string]string{"site": "lyon"},
		Spec: specB, Generation: 200, Rollout: fleet.DefaultRolloutPolicy(),
		Previous: &fleet.PreviousVersion{Spec: specA, Generation: 100},
	}
	for _, m := range mut {
		m(&d)
	}
	return d
}

// world builds an Input around one fleet deployment; devices are online
// unless listed offline.
type world struct{ in Input }

func newWorld(d fleet.FleetDeployment, now time.Time) *world {
	return &world{in: Input{
		Now:         now,
		Deployments: map[fleet.DeploymentName]fleet.FleetDeployment{d.Name: d},
		Liveness:    map[fleet.DeviceID]Liveness{},
		Observed:    map[fleet.DeploymentName]map[fleet.DeviceID]Observation{d.Name: {}},
		Keys:        map[fleet.DeploymentName]map[fleet.DeviceID]Key{d.Name: {}},
		Statuses:    map[fleet.DeploymentName]fleet.RolloutStatus{},
	}}
}

func (w *world) device(id fleet.DeviceID, site string) *world {
	w.in.Registry = append(w.in.Registry, Device{ID: id, Labels: map[string]string{"site": site}})
	w.in.Liveness[id] = Liveness{HeartbeatAt: w.in.Now, HeartbeatInterval: 10 * time.Second}
	return w
}

func (w *world) key(id fleet.DeviceID, gen uint64, hash string, rev uint64, at time.Time) *world {
	w.in.Keys["web"][id] = Key{Generation: gen, SpecHash: hash, Revision: rev, WrittenAt: at}
	return w
}

func (w *world) observe(id fleet.DeviceID, p fleet.Phase, hash string, since time.Time) *world {
	w.in.Observed["web"][id] = Observation{Phase: p, SpecHash: hash, Since: since}
	return w
}

func (w *world) status(s fleet.RolloutStatus) *world {
	w.in.Statuses[s.Deployment] = s
	return w
}

func putKeys(out Output) []string {
	var ks []string
	for _, p := range out.Puts {
		ks = append(ks, p.Key+"/"+p.Reason.String())
	}
	return ks
}

func deleteKeys(out Output) []string {
	var ks []string
	for _, d := range out.Deletes {
		ks = append(ks, d.Key+"/"+d.Reason.String())
	}
	return ks
}

func status(t *testing.T, out Output) fleet.RolloutStatus {
	t.Helper()
	if len(out.Statuses) != 1 {
		t.Fatalf("Plan() returned %d statuses, want 1", len(out.Statuses))
	}
	return out.Statuses[0]
}

func TestPlan(t *testing.T) {
	later := t0.Add(time.Hour)
	progressing := fleet.RolloutStatus{Deployment: "web", Generation: 200, SpecHash: hashB, State: fleet.RolloutProgressing, Wave: 1}
	complete := progressing
	complete.State = fleet.RolloutComplete
	halted := progressing
	halted.State = fleet.RolloutHalted
	tests := []struct {
		name        string
		w           *world
		wantPuts    []string
		wantDeletes []string
		wantState   fleet.RolloutState
		check       func(t *testing.T, out Output)
	}{
		{
			name: "first wave targets registry labels only, in id order",
			w: newWorld(web(func(d *fleet.FleetDeployment) { d.Rollout.Batch = fleet.Batch{Amount: fleet.Amount{N: 2}} }), t0).
				device("c", "lyon").device("b", "paris").device("a", "lyon").device("d", "lyon"),
			wantPuts:  []string{"a.web/wave", "c.web/wave"},
			wantState: fleet.RolloutProgressing,
			check: func(t *testing.T, out Output) {
				for _, p := range out.Puts {
					if p.Generation != 200 || p.ExpectedRevision != 0 || !reflect.DeepEqual(p.Spec, specB) {
						t.Errorf("Put = %+v, want generation 200, revision 0, spec B", p)
					}
				}
				if s := status(t, out); s.Wave != 1 || s.Targeted != 3 || s.Updated != 2 || s.PreviousSpecHash != hashA {
					t.Errorf("status = %+v, want wave 1, 3 targeted, 2 updated, previous hash A", s)
				}
			},
		},
		{
			name: "a device relabelled out or removed has its key deleted, other deployments untouched",
			w: func() *world {
				w := newWorld(web(), t0).device("a", "paris").key("a", 100, hashA, 7, t0).key("gone", 100, hashA, 8, t0)
				w.in.Keys["manual"] = map[fleet.DeviceID]Key{"a": {Generation: 1, Revision: 9}}
				return w
			}(),
			wantDeletes: []string{"a.web/untargeted", "gone.web/untargeted"},
			wantState:   fleet.RolloutProgressing,
			check: func(t *testing.T, out Output) {
				if out.Deletes[0].ExpectedRevision != 7 {
					t.Errorf("Delete = %+v, want expected revision 7", out.Deletes[0])
				}
			},
		},
		{
			name:      "no new wave while one device is in flight",
			w:         newWorld(web(), t0).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhasePending, hashB, t0).status(progressing),
			wantState: fleet.RolloutProgressing,
		},
		{
			name:      "running for less than min_ready is not ready",
			w:         newWorld(web(), t0.Add(15*time.Second)).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseRunning, hashB, t0.Add(9*time.Second)).status(progressing),
			wantState: fleet.RolloutProgressing,
		},
		{
			name:      "running the old spec is not ready",
			w:         newWorld(web(), later.Add(-time.Hour+time.Minute)).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseRunning, hashA, t0.Add(-time.Hour)).status(progressing),
			wantState: fleet.RolloutProgressing,
		},
		{
			name:      "ready after min_ready: the next wave starts",
			w:         newWorld(web(), t0.Add(20*time.Second)).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseRunning, hashB, t0.Add(5*time.Second)).status(progressing),
			wantPuts:  []string{"b.web/wave"},
			wantState: fleet.RolloutProgressing,
			check: func(t *testing.T, out Output) {
				if s := status(t, out); s.Wave != 2 || s.Ready != 1 {
					t.Errorf("status = %+v, want wave 2, 1 ready", s)
				}
			},
		},
		{
			name:      "succeeded is ready",
			w:         newWorld(web(), t0.Add(time.Second)).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseSucceeded, hashB, t0).status(progressing),
			wantPuts:  []string{"b.web/wave"},
			wantState: fleet.RolloutProgressing,
		},
		{
			name: "failed within max_failed: the next wave starts",
			w: newWorld(web(func(d *fleet.FleetDeployment) { d.Rollout.MaxFailed = fleet.MaxFailed{Amount: fleet.Amount{N: 1}} }), t0.Add(time.Second)).
				device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseFailed, hashB, t0).status(progressing),
			wantPuts:  []string{"b.web/wave"},
			wantState: fleet.RolloutProgressing,
		},
		{
			name:      "failed beyond max_failed halts",
			w:         newWorld(web(), t0.Add(time.Second)).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseFailed, hashB, t0).status(progressing),
			wantState: fleet.RolloutHalted,
			check: func(t *testing.T, out Output) {
				if s := status(t, out); s.Failed != 1 || !strings.Contains(s.Message, "halted: 1 failed, more than max_failed 0") {
					t.Errorf("status = %+v, want 1 failed and the halt reason", s)
				}
			},
		},
		{
			name:      "not ready within health_timeout is failed",
			w:         newWorld(web(), t0.Add(300*time.Second)).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhasePending, hashB, t0).status(progressing),
			wantState: fleet.RolloutHalted,
		},
		{
			name:      "halted stays halted when the failure heals",
			w:         newWorld(web(), later).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseRunning, hashB, t0).status(halted),
			wantState: fleet.RolloutHalted,
		},
		{
			name: "auto_rollback writes the previous spec, newer than every key",
			w: newWorld(web(func(d *fleet.FleetDeployment) { d.Rollout.AutoRollback = true }), t0.Add(time.Second)).
				device("a", "lyon").device("b", "lyon").device("c", "lyon").
				key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseFailed, hashB, t0).
				key("b", 200, hashB, 4, t0).observe("b", fleet.PhaseRunning, hashB, t0).
				key("c", 100, hashA, 5, t0).
				key("x", uint64(t0.UnixMilli())+5000, hashA, 6, t0).status(progressing),
			wantPuts:    []string{"a.web/rollback", "b.web/rollback"},
			wantDeletes: []string{"x.web/untargeted"},
			wantState:   fleet.RolloutRollingBack,
			check: func(t *testing.T, out Output) {
				for _, p := range out.Puts {
					if p.Generation != uint64(t0.UnixMilli())+5001 || !reflect.DeepEqual(p.Spec, specA) {
						t.Errorf("Put = %+v, want spec A at generation %d", p, uint64(t0.UnixMilli())+5001)
					}
				}
			},
		},
		{
			name: "rolled back: halted",
			w: newWorld(web(func(d *fleet.FleetDeployment) { d.Rollout.AutoRollback = true }), t0.Add(2*time.Second)).
				device("a", "lyon").key("a", 300, hashA, 9, t0).status(func() fleet.RolloutStatus {
				s := halted
				s.State, s.Message = fleet.RolloutRollingBack, "halted: 1 failed, more than max_failed 0; rolling back 1 devices"
				return s
			}()),
			wantState: fleet.RolloutHalted,
			check: func(t *testing.T, out Output) {
				if s := status(t, out); s.Message != "halted: 1 failed, more than max_failed 0; rolled back" {
					t.Errorf("status message = %q, want the first reason and rolled back", s.Message)
				}
			},
		},
		{
			name: "auto_rollback of a first version deletes its keys",
			w: newWorld(web(func(d *fleet.FleetDeployment) { d.Rollout.AutoRollback = true; d.Previous = nil }), t0.Add(time.Second)).
				device("a", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseFailed, hashB, t0),
			wantDeletes: []string{"a.web/rollback"},
			wantState:   fleet.RolloutRollingBack,
		},
		{
			name: "paused: no puts, deletes still",
			w: newWorld(web(func(d *fleet.FleetDeployment) { d.Paused = true }), t0).
				device("a", "lyon").device("b", "paris").key("b", 100, hashA, 3, t0),
			wantDeletes: []string{"b.web/untargeted"},
			wantState:   fleet.RolloutPaused,
		},
		{
			name: "offline devices are unavailable and skipped",
			w: func() *world {
				w := newWorld(web(), t0).device("a", "lyon").device("b", "lyon")
				w.in.Liveness["a"] = Liveness{HeartbeatAt: t0.Add(-31 * time.Second), HeartbeatInterval: 10 * time.Second}
				return w
			}(),
			wantPuts:  []string{"b.web/wave"},
			wantState: fleet.RolloutProgressing,
			check: func(t *testing.T, out Output) {
				if s := status(t, out); s.Unavailable != 1 {
					t.Errorf("status = %+v, want 1 unavailable", s)
				}
			},
		},
		{
			name:      "every online device ready: complete",
			w:         newWorld(web(), t0.Add(time.Minute)).device("a", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseRunning, hashB, t0).status(progressing),
			wantState: fleet.RolloutComplete,
		},
		{
			name: "complete: late joiners get the spec at once, all of them",
			w: newWorld(web(), later).device("a", "lyon").device("b", "lyon").device("c", "lyon").
				key("a", 200, hashB, 3, t0).observe("a", fleet.PhaseRunning, hashB, t0).key("c", 100, hashA, 4, t0).status(complete),
			wantPuts:  []string{"b.web/join", "c.web/join"},
			wantState: fleet.RolloutComplete,
		},
		{
			name: "a device running the spec under an older generation is restamped, outside the waves",
			w: newWorld(web(), t0).device("a", "lyon").device("b", "lyon").
				key("a", 150, hashB, 3, t0.Add(-time.Hour)).observe("a", fleet.PhaseRunning, hashB, t0.Add(-time.Hour)),
			wantPuts:  []string{"a.web/restamp", "b.web/wave"},
			wantState: fleet.RolloutProgressing,
		},
		{
			name:      "a key newer than the generation is written one above it",
			w:         newWorld(web(), t0).device("a", "lyon").key("a", 500, hashA, 3, t0),
			wantPuts:  []string{"a.web/wave"},
			wantState: fleet.RolloutProgressing,
			check: func(t *testing.T, out Output) {
				if p := out.Puts[0]; p.Generation != 501 || p.ExpectedRevision != 3 {
					t.Errorf("Put = %+v, want generation 501, expected revision 3", p)
				}
			},
		},
		{
			name:      "a status of another generation starts over",
			w:         newWorld(web(), t0).device("a", "lyon").status(fleet.RolloutStatus{Deployment: "web", Generation: 100, SpecHash: hashA, State: fleet.RolloutHalted, Wave: 9}),
			wantPuts:  []string{"a.web/wave"},
			wantState: fleet.RolloutProgressing,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Plan(tt.w.in)
			if got := putKeys(out); !reflect.DeepEqual(got, tt.wantPuts) {
				t.Errorf("Plan() puts = %v, want %v", got, tt.wantPuts)
			}
			if got := deleteKeys(out); !reflect.DeepEqual(got, tt.wantDeletes) {
				t.Errorf("Plan() deletes = %v, want %v", got, tt.wantDeletes)
			}
			if s := status(t, out); s.State != tt.wantState {
				t.Errorf("Plan() state = %q (%s), want %q", s.State, s.Message, tt.wantState)
			}
			if tt.check != nil {
				tt.check(t, out)
			}
			if again := Plan(tt.w.in); !reflect.DeepEqual(again, out) {
				t.Errorf("Plan() twice = %+v then %+v, want the same", out, again)
			}
		})
	}
}

// TestPlanStatusUnchanged: a status that did not change keeps its
// UpdatedAt, so the caller writes nothing.
func TestPlanStatusUnchanged(t *testing.T) {
	w := newWorld(web(), t0).device("a", "lyon").device("b", "lyon").key("a", 200, hashB, 3, t0).observe("a", fleet.PhasePending, hashB, t0)
	first := status(t, Plan(w.in))
	w.in.Now = t0.Add(time.Second)
	w.status(first)
	if second := status(t, Plan(w.in)); second != first {
		t.Errorf("Plan() status = %+v, want unchanged %+v", second, first)
	}
}

func TestPlanSkipsInvalidDeployments(t *testing.T) {
	w := newWorld(web(func(d *fleet.FleetDeployment) { d.Selector = nil }), t0).device("a", "lyon")
	w.in.Deployments["other"] = web()
	if out := Plan(w.in); len(out.Puts)+len(out.Deletes)+len(out.Statuses) != 0 {
		t.Errorf("Plan() = %+v, want nothing for an invalid deployment and one under another name", out)
	}
}

func TestDeployAndUndo(t *testing.T) {
	now := time.UnixMilli(1000)
	first := Deploy(nil, fleet.FleetDeployment{Name: "web", Spec: specA}, now)
	if first.Generation != 1000 || first.Previous != nil {
		t.Fatalf("Deploy(nil) = %+v, want generation 1000, no previous", first)
	}
	same := Deploy(&first, fleet.FleetDeployment{Name: "web", Spec: specA, Selector: map[string]string{"x": "y"}}, now.Add(time.Second))
	if same.Generation != 1000 || same.Selector["x"] != "y" {
		t.Errorf("Deploy(same spec) = %+v, want generation 1000 kept, new selector", same)
	}
	second := Deploy(&first, fleet.FleetDeployment{Name: "web", Spec: specB}, now)
	if second.Generation != 1001 || second.Previous == nil || second.Previous.Generation != 1000 || !reflect.DeepEqual(second.Previous.Spec, specA) {
		t.Errorf("Deploy(new spec, same ms) = %+v, want generation 1001, previous A at 1000", second)
	}
	undone, err := Undo(second, now.Add(time.Minute))
	if err != nil || !reflect.DeepEqual(undone.Spec, specA) || undone.Generation != 61000 || undone.Previous.Generation != 1001 || !reflect.DeepEqual(undone.Previous.Spec, specB) {
		t.Errorf("Undo() = %+v, %v, want spec A at 61000, previous B at 1001", undone, err)
	}
	if _, err := Undo(first, now); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("Undo(first version) = %v, want ErrNoPrevious", err)
	}
}

func TestWaves(t *testing.T) {
	d := web(func(d *fleet.FleetDeployment) {
		d.Rollout.Batch = fleet.Batch{Amount: fleet.Amount{N: 40, Percent: true}}
	})
	reg := []Device{{"e", map[string]string{"site": "lyon"}}, {"a", map[string]string{"site": "lyon"}}, {"b", map[string]string{"site": "paris"}},
		{"c", map[string]string{"site": "lyon"}}, {"d", map[string]string{"site": "lyon"}}, {"f", map[string]string{"site": "lyon"}}}
	want := [][]fleet.DeviceID{{"a", "c"}, {"d", "e"}, {"f"}}
	if got := Waves(d, reg); !reflect.DeepEqual(got, want) {
		t.Errorf("Waves() = %v, want %v", got, want)
	}
}
