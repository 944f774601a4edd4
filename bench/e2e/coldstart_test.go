//go:build embednats

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// BenchmarkColdStart measures an agent that starts with
// BENCH_COLD_DEPLOYMENTS (1000) deployments already in the desired-state
// bucket: from the start of the agent (connection included) to the moment
// the server stored the last `running` event. One op is one cold start of
// a new device; run it with -benchtime=3x. Metrics: ms (the median start),
// events/s (every event stored, pending and running, over that time).
// Target: <= 1 s for 1000 deployments.
//
// The floor publishes the same number of events, one at a time with its
// ack, from the benchmark's client: the publishing a cold start cannot
// avoid, since the agent's publisher sends in order, one ack at a time.
func BenchmarkColdStart(b *testing.B) {
	n := envInt(b, "BENCH_COLD_DEPLOYMENTS", 1000, 200)
	env := startNATS(b)

	b.Run(fmt.Sprintf("agent/deployments=%d", n), func(b *testing.B) {
		var runs latencies
		for run := 0; b.Loop(); run++ {
			b.StopTimer()
			device := fleet.DeviceID(fmt.Sprintf("cold-%d", run))
			for i := range n {
				env.put(b, device, deployment(i), processSpec(i))
			}
			events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
			b.StartTimer()

			start := time.Now()
			stop := startAgent(b, env.url, device, map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimeProcess: NewNop()})
			last := waitAll(b, events, n, fleet.PhaseRunning)
			runs = append(runs, last.Sub(start))

			b.StopTimer()
			stop()
			b.StartTimer()
		}
		reportColdStart(b, runs, 2*n)
	})

	b.Run(fmt.Sprintf("floor/deployments=%d", n), func(b *testing.B) {
		var runs latencies
		for run := 0; b.Loop(); run++ {
			device := fleet.DeviceID(fmt.Sprintf("cold-floor-%d", run))
			events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
			start := time.Now()
			seq := uint64(0)
			for i := range n {
				for _, tr := range []fleet.LifecycleTransition{
					fleet.Applied("", fleet.PhasePending, ""),
					fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""),
				} {
					seq++
					env.publishEvent(b, fleet.StateChangeEvent{
						DeviceID: device, Deployment: deployment(i),
						Revision:   fleet.Revision{AgentEpoch: 1, Sequence: seq},
						Transition: tr, At: time.Now().UTC(),
					})
				}
			}
			last := waitAll(b, events, n, fleet.PhaseRunning)
			runs = append(runs, last.Sub(start))
		}
		reportColdStart(b, runs, 2*n)
	})
}

// reportColdStart reports the median start in ms and the events stored
// per second during it.
func reportColdStart(b *testing.B, runs latencies, events int) {
	if len(runs) == 0 {
		return
	}
	med := percentile(runs.sorted(), 50)
	b.ReportMetric(ms(med), "ms")
	b.ReportMetric(float64(events)/med.Seconds(), "events/s")
}
