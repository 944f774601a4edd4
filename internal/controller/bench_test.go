package controller

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
)

// BenchmarkPlanRollout10k is one controller plan as step makes it (the
// view's input, bare keys stamped, rollout.Plan) over 10,000 devices and
// 10 fleet deployments targeting all of them, mid-rollout: half the keys
// hold the new version and run it ready, the others the previous one, so
// each plan starts a wave of 10% per deployment.
func BenchmarkPlanRollout10k(b *testing.B) {
	const devices, deployments = 10_000, 10
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	v := newView(30 * time.Second)
	oldSpec := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "1"}}
	newSpec := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "2"}}
	oldHash, newHash := fleet.SpecHash(oldSpec), fleet.SpecHash(newSpec)
	for i := range devices {
		id := fleet.DeviceID(fmt.Sprintf("device-%05d", i))
		v.setDevice(id, &fleet.DeviceRecord{DeviceID: id, Labels: map[string]string{"role": "edge"}})
		v.liveness[id] = rollout.Liveness{HeartbeatAt: now, HeartbeatInterval: 30 * time.Second}
	}
	values := map[string][]byte{}
	for _, spec := range []fleet.DeploymentSpec{oldSpec, newSpec} {
		data, err := json.Marshal(spec.WithDefaults())
		if err != nil {
			b.Fatal(err)
		}
		values[fleet.SpecHash(spec)] = data
	}
	rev := uint64(0)
	for j := range deployments {
		name := fleet.DeploymentName(fmt.Sprintf("deployment-%02d", j))
		pol := fleet.DefaultRolloutPolicy()
		pol.Batch = fleet.Batch{Amount: fleet.Amount{N: 10, Percent: true}}
		d := fleet.FleetDeployment{Name: name, Selector: map[string]string{"role": "edge"}, Spec: newSpec, Generation: 200,
			Rollout: pol, Previous: &fleet.PreviousVersion{Spec: oldSpec, Generation: 100}}
		v.setDeployment(name, &d)
		for i := range devices {
			rev++
			hash := oldHash
			if i%2 == 0 {
				hash = newHash
			}
			// As the watches apply them: each key, event and device ID
			// decoded on its own (bare specs, as the dev default writes:
			// stampBare works on each).
			v.setKey(fmt.Sprintf("device-%05d.%s", i, name), values[hash], rev, now.Add(-time.Hour))
			v.setEvent(fleet.StateChangeEvent{DeviceID: fleet.DeviceID(fmt.Sprintf("device-%05d", i)), Deployment: name,
				Revision: fleet.Revision{AgentEpoch: 7, Sequence: uint64(j + 1)}, Transition: fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""),
				SpecHash: strings.Clone(hash), At: now.Add(-time.Hour)})
		}
		v.statuses[name] = fleet.RolloutStatus{Deployment: name, Generation: 200, SpecHash: newHash, PreviousSpecHash: oldHash,
			State: fleet.RolloutProgressing, Wave: 5}
	}
	b.ReportAllocs()
	for b.Loop() {
		in := v.input(now)
		stampBare(&in)
		out := rollout.Plan(in)
		if len(out.Puts) != deployments*devices/10 {
			b.Fatalf("plan made %d puts, want %d", len(out.Puts), deployments*devices/10)
		}
	}
}
