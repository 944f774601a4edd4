package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// BenchmarkPlan10kDevices10Deployments plans 10 fleet deployments, each
// targeting all 10,000 devices, in the middle of a rollout: half the
// devices hold the new version and run it ready, the other half the
// previous one, so every Plan starts a wave of 10% per deployment.
func BenchmarkPlan10kDevices10Deployments(b *testing.B) {
	const devices, deployments = 10_000, 10
	now := t0
	in := Input{
		Now:         now,
		Deployments: map[fleet.DeploymentName]fleet.FleetDeployment{},
		Liveness:    map[fleet.DeviceID]Liveness{},
		Observed:    map[fleet.DeploymentName]map[fleet.DeviceID]Observation{},
		Keys:        map[fleet.DeploymentName]map[fleet.DeviceID]Key{},
		Statuses:    map[fleet.DeploymentName]fleet.RolloutStatus{},
	}
	for i := range devices {
		id := fleet.DeviceID(fmt.Sprintf("device-%05d", i))
		in.Registry = append(in.Registry, Device{ID: id, Labels: map[string]string{"role": "edge", "site": fmt.Sprintf("site-%d", i%20)}})
		in.Liveness[id] = Liveness{HeartbeatAt: now, HeartbeatInterval: 30 * time.Second}
	}
	for j := range deployments {
		name := fleet.DeploymentName(fmt.Sprintf("deployment-%02d", j))
		d := web(func(d *fleet.FleetDeployment) {
			d.Name = name
			d.Selector = map[string]string{"role": "edge"}
			d.Rollout.Batch = fleet.Batch{Amount: fleet.Amount{N: 10, Percent: true}}
		})
		in.Deployments[name] = d
		in.Keys[name] = map[fleet.DeviceID]Key{}
		in.Observed[name] = map[fleet.DeviceID]Observation{}
		for i, dev := range in.Registry {
			k := Key{Generation: 100, SpecHash: hashA, Revision: uint64(i + 1), WrittenAt: now.Add(-time.Hour)}
			o := Observation{Phase: fleet.PhaseRunning, SpecHash: hashA, Since: now.Add(-time.Hour)}
			if i%2 == 0 {
				k.Generation, k.SpecHash = 200, hashB
				o.SpecHash = hashB
			}
			in.Keys[name][dev.ID] = k
			in.Observed[name][dev.ID] = o
		}
		in.Statuses[name] = fleet.RolloutStatus{Deployment: name, Generation: 200, SpecHash: hashB, State: fleet.RolloutProgressing, Wave: 5}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out := Plan(in)
		if len(out.Puts) != deployments*devices/10 {
			b.Fatalf("Plan() made %d puts, want %d", len(out.Puts), deployments*devices/10)
		}
	}
}
