//go:build embednats

package deviceops_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// BenchmarkRoundTrip measures a requester's round trip on loopback to a
// real nats-server and the agent's answer: ping, and logs --tail 100 of a
// process that printed 200 lines. It reports p50 and p99.
func BenchmarkRoundTrip(b *testing.B) {
	r := newRig(b, 0)
	r.deploy(b, map[fleet.DeploymentName]string{
		"web": `i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "line $i of the output of a workload, about sixty bytes"; done; exec sleep 600`,
	})
	waitFor(b, "200 lines", 30*time.Second, func() bool {
		var got fleet.LogsReply
		return r.request(b, fleet.OpLogs, fleet.LogsRequest{Deployment: "web", TailLines: 1}, &got) == nil && got.Output != "" &&
			got.Output == "line 200 of the output of a workload, about sixty bytes\n"
	})
	for _, bc := range []struct {
		name, op string
		req      any
	}{
		{"ping", fleet.OpPing, struct{}{}},
		{"logs-tail-100", fleet.OpLogs, fleet.LogsRequest{Deployment: "web", TailLines: 100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body, _ := json.Marshal(bc.req)
			subj := fleet.DeviceOpSubject(testDevice, bc.op)
			rtts := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				m, err := r.client.Request(subj, body, 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				rtts = append(rtts, time.Since(start))
				if len(m.Data) == 0 {
					b.Fatal("empty answer")
				}
			}
			slices.Sort(rtts)
			q := func(p float64) float64 { return float64(rtts[int(p*float64(len(rtts)-1))].Microseconds()) }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
		})
	}
}
