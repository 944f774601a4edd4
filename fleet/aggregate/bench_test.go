package aggregate

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// The fleet the targets are set for: 1,000,000 pairs.
const (
	benchDevices     = 100_000
	benchDeployments = 10
)

func benchFleet() ([]fleet.DeviceID, []fleet.DeploymentName) {
	ids := make([]fleet.DeviceID, benchDevices)
	for i := range ids {
		ids[i] = fleet.DeviceID(fmt.Sprintf("device-%06d", i))
	}
	names := make([]fleet.DeploymentName, benchDeployments)
	for i := range names {
		names[i] = fleet.DeploymentName(fmt.Sprintf("deployment-%02d", i))
	}
	return ids, names
}

// benchEvent is the i-th event of a stream that visits every pair in turn,
// cycling through the phases; its revision is i+1, so every event is new.
func benchEvent(ids []fleet.DeviceID, names []fleet.DeploymentName, i int) fleet.StateChangeEvent {
	round := i / len(ids)
	return fleet.StateChangeEvent{
		DeviceID:   ids[i%len(ids)],
		Deployment: names[round%len(names)],
		Revision:   fleet.Revision{AgentEpoch: 1, Sequence: uint64(i) + 1},
		Transition: fleet.Applied("", fleet.Phases[(round/len(names))%len(fleet.Phases)], ""),
	}
}

// BenchmarkApply measures events applied per second on a fleet that
// already holds its 1,000,000 pairs (target: >= 2,000,000 events/s).
func BenchmarkApply(b *testing.B) {
	ids, names := benchFleet()
	a := New()
	pairs := len(ids) * len(names)
	for i := range pairs {
		a.Apply(benchEvent(ids, names, i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if !a.Apply(benchEvent(ids, names, pairs+i)) {
			b.Fatalf("Apply(event %d) = false, want true", pairs+i)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkMemoryPerPair measures the heap one pair costs, device ids
// included, with 1,000,000 pairs (target: <= 200 bytes/pair).
func BenchmarkMemoryPerPair(b *testing.B) {
	_, names := benchFleet()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		a := New()
		seq := uint64(0)
		for d := range benchDevices {
			id := fleet.DeviceID(fmt.Sprintf("device-%06d", d))
			for _, name := range names {
				seq++
				a.Apply(fleet.StateChangeEvent{
					DeviceID:   id,
					Deployment: name,
					Revision:   fleet.Revision{AgentEpoch: 1, Sequence: seq},
					Transition: fleet.Applied("", fleet.PhaseRunning, ""),
				})
			}
		}

		runtime.GC()
		runtime.ReadMemStats(&after)
		if a.Len() != benchDevices*benchDeployments {
			b.Fatalf("Len() = %d, want %d", a.Len(), benchDevices*benchDeployments)
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(a.Len()), "bytes/pair")
		runtime.KeepAlive(a)
	}
}
