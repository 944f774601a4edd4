package controller

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
)

var (
	t0    = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	specA = fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "1"}}
	specB = fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "2"}}
	hashA = fleet.SpecHash(specA)
	hashB = fleet.SpecHash(specB)
)

func r(seq uint64) fleet.Revision { return fleet.Revision{AgentEpoch: 7, Sequence: seq} }

func applied(seq uint64, to fleet.Phase, hash string, at time.Time) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{DeviceID: "d1", Deployment: "web", Revision: r(seq), Transition: fleet.Applied("", to, ""), SpecHash: hash, At: at}
}

// TestViewObservations: events and snapshots fold by revision, whatever
// their order; Since is kept while phase and spec stay.
func TestViewObservations(t *testing.T) {
	snap := func(seq uint64, deps map[fleet.DeploymentName]fleet.DeploymentStatus) *fleet.DeviceInfo {
		return &fleet.DeviceInfo{DeviceID: "d1", AgentEpoch: 7, HeartbeatAt: t0.Add(time.Minute), Revision: r(seq), Deployments: deps}
	}
	for _, tc := range []struct {
		name string
		do   func(v *view)
		want rollout.Observation
		gone bool
	}{
		{"an event", func(v *view) { v.setEvent(applied(2, fleet.PhaseRunning, hashB, t0)) },
			rollout.Observation{Phase: fleet.PhaseRunning, SpecHash: hashB, Since: t0}, false},
		{"an older event after a newer one is dropped", func(v *view) {
			v.setEvent(applied(3, fleet.PhaseRunning, hashB, t0))
			v.setEvent(applied(2, fleet.PhasePending, hashB, t0.Add(-time.Second)))
		}, rollout.Observation{Phase: fleet.PhaseRunning, SpecHash: hashB, Since: t0}, false},
		{"a snapshot repeating the event keeps Since", func(v *view) {
			v.setEvent(applied(3, fleet.PhaseRunning, hashB, t0))
			v.setInfo("d1", snap(4, map[fleet.DeploymentName]fleet.DeploymentStatus{"web": {Phase: fleet.PhaseRunning, SpecHash: hashB, Revision: r(3)}}))
		}, rollout.Observation{Phase: fleet.PhaseRunning, SpecHash: hashB, Since: t0}, false},
		{"an older snapshot does not undo an event", func(v *view) {
			v.setEvent(applied(5, fleet.PhaseFailed, hashB, t0))
			v.setInfo("d1", snap(4, map[fleet.DeploymentName]fleet.DeploymentStatus{"web": {Phase: fleet.PhaseRunning, SpecHash: hashA, Revision: r(4)}}))
		}, rollout.Observation{Phase: fleet.PhaseFailed, SpecHash: hashB, Since: t0}, false},
		{"a snapshot without the pair removes it", func(v *view) {
			v.setEvent(applied(3, fleet.PhaseRunning, hashB, t0))
			v.setInfo("d1", snap(6, nil))
		}, rollout.Observation{}, true},
		{"removed forgets, and older news stays dropped", func(v *view) {
			v.setEvent(applied(3, fleet.PhaseRunning, hashB, t0))
			v.setEvent(fleet.StateChangeEvent{DeviceID: "d1", Deployment: "web", Revision: r(4), Transition: fleet.Removed(fleet.PhaseRunning), At: t0})
			v.setEvent(applied(3, fleet.PhaseRunning, hashB, t0))
		}, rollout.Observation{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newView(time.Second)
			tc.do(v)
			got, ok := v.observed["web"]["d1"]
			if tc.gone {
				if ok {
					t.Errorf("observed = %+v, want none", got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Errorf("observed = %+v (%v), want %+v", got, ok, tc.want)
			}
		})
	}
}

// TestViewKeys: desired values decode to their hash, late entries are
// dropped, and stampBare gives bare keys their version's generation on a
// copy, leaving the view as it was.
func TestViewKeys(t *testing.T) {
	v := newView(time.Second)
	bare := func(s fleet.DeploymentSpec) []byte {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v.setKey("d1.web", bare(specA), 5, t0)
	v.setKey("d2.web", bare(specB), 6, t0)
	v.setKey("d3.web", []byte("not json"), 7, t0)
	v.setKey("d1.web", bare(specB), 4, t0) // older than what is held
	v.setKey("d4.web", bare(specB), 8, t0)
	v.setKey("d4.web", nil, 9, time.Time{})
	d := fleet.FleetDeployment{Name: "web", Spec: specB, Generation: 20, Previous: &fleet.PreviousVersion{Spec: specA, Generation: 10}}
	v.setDeployment("web", &d)
	in := v.input(t0)
	stampBare(&in)
	for _, tc := range []struct {
		dev  fleet.DeviceID
		want rollout.Key
		ok   bool
	}{
		{"d1", rollout.Key{Generation: 10, SpecHash: hashA, Revision: 5, WrittenAt: t0}, true},
		{"d2", rollout.Key{Generation: 20, SpecHash: hashB, Revision: 6, WrittenAt: t0}, true},
		{"d3", rollout.Key{Revision: 7, WrittenAt: t0}, true},
		{"d4", rollout.Key{}, false},
	} {
		got, ok := in.Keys["web"][tc.dev]
		if ok != tc.ok || got != tc.want {
			t.Errorf("Keys[web][%s] = %+v, %v; want %+v, %v", tc.dev, got, ok, tc.want, tc.ok)
		}
	}
	if g := v.keys["web"]["d2"].Generation; g != 0 {
		t.Errorf("view's own d2 key stamped with generation %d: stampBare must work on a copy", g)
	}
}
