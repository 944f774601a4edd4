//go:build embednats

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// BenchmarkLateJoiner measures a device enrolled into a running fleet
// deployment (issue 16, figure 3b; ARCHITECTURE 9: a device enrolled later
// gets the deployment within 2 s), end to end with a real agent: one
// `harmony-fleet serve` process (acting, no HTTP) and a fleet deployment of
// `/bin/sleep 3600` (process runtime) selecting role=joiner, made complete
// by one untimed joiner first, so that each later one joins at once.
//
// Each of BENCH_JOINERS (20; quick 5) trials starts the release-built
// harmony-agent as a process for a device not yet enrolled, waits for its
// DeviceInfo (it is connected and reporting), then enrols it: a
// device-registry record with role=joiner, as `harmony-fleet device add`
// writes it. From just before that put, it times by the server's stored
// timestamps:
//
//   - key: the device's desired key written with the deployment's spec;
//     key-p50-ms, key-p99-ms. Target: p99 <= 1 s.
//   - running: the agent's `running` event of that spec stored in
//     FLEET_EVENTS; running-p50-ms, running-p99-ms. Target: p99 <= 2 s.
//   - agent, the floor of running: from the key written to `running`
//     stored, the agent's own convergence; agent-p50-ms, agent-p99-ms.
//
// The agents keep running, each its own device, until the benchmark ends;
// then they are stopped and their workloads killed. Run it with
// -benchtime=1x.
func BenchmarkLateJoiner(b *testing.B) {
	joiners := envInt(b, "BENCH_JOINERS", 20, 5)
	env := startNATS(b)
	fleetBin := buildFleetCLI(b)
	agentBin := filepath.Join(b.TempDir(), "harmony-agent")
	buildAgent(b, goruntime.GOARCH, agentBin)
	const name = fleet.DeploymentName("joiner")
	spec := []byte(`{"runtime":"process","command":["/bin/sleep","3600"],"restart":"always"}`)
	hash := hashOf(b, spec)

	serve := startFleetServe(b, fleetBin, env.url, "serve-joiner")
	serve.waitStatus(b, "acting")
	registry := keyValue(b, env.js, fleet.DeviceRegistryBucket)
	rollouts := keyValue(b, env.js, fleet.RolloutsBucket)
	deployFleet(b, fleetBin, env.url, name, spec, "role=joiner", "--min-ready", "1s")

	// join starts an agent for device, enrols it once it reports, and
	// returns the times from the enrolment to its key written and to its
	// `running` stored.
	join := func(device fleet.DeviceID) (key, running time.Duration) {
		b.Helper()
		events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
		keys := watchKeys(b, env.kv, fleet.DesiredKey(device, name))
		p := startAgentProcess(b, agentBin, env.url, device)
		p.waitDeviceInfo(b, env.js, device)
		enrolled := time.Now()
		putJSON(b, registry, string(device), fleet.DeviceRecord{DeviceID: device, Labels: map[string]string{"role": "joiner"}, EnrolledAt: enrolled.UTC()})
		written := nextEntry(b, keys, "the desired key of "+string(device), func(e jetstream.KeyValueEntry) bool { return specHashOf(e) == hash })
		ev := waitEvent(b, events, name, fleet.PhaseRunning)
		if ev.SpecHash != hash {
			p.fatalf(b, "%s runs spec %s, want %s", device, ev.SpecHash, hash)
		}
		return written.Created().Sub(enrolled), ev.stored.Sub(enrolled)
	}

	// The first joiner completes the rollout (a first version with no
	// device stays progressing): later ones join it at once.
	statuses := watchKeys(b, rollouts, fleet.RolloutKey(name))
	join("joiner-warm")
	nextEntry(b, statuses, "the rollout of "+string(name)+" complete", func(e jetstream.KeyValueEntry) bool {
		var st fleet.RolloutStatus
		return e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &st) == nil &&
			st.SpecHash == hash && st.State == fleet.RolloutComplete
	})

	var key, running, agent latencies
	for b.Loop() {
		for range joiners {
			k, r := join(fleet.DeviceID(fmt.Sprintf("joiner-%03d", len(key)))) // a new device, whatever -benchtime
			key, running, agent = append(key, k), append(running, r), append(agent, r-k)
		}
	}
	key.reportAs(b, "key")
	running.reportAs(b, "running")
	agent.reportAs(b, "agent")
	b.ReportMetric(float64(len(key)), "joiners")
}
