//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// convDeployments is how many deployments the changes rotate over.
const convDeployments = 8

// BenchmarkConvergence measures, per desired-state change, the time from
// the KV put to the moment the server stored the deployment's `running`
// event (the stream's own timestamp, read back with an ordered consumer).
// One op is one change; run it with -benchtime=2000x. Metrics: p50-ms,
// p99-ms, max-ms (and, for the agent, pending-p50-ms: the put to its
// `pending` event, the first of the two). Targets: p99 <= 10 ms and <= 3x
// the floor's.
//
//   - agent: the in-process agent (real watcher, desired cache, publisher;
//     the Nop runtime) converging a new spec of one of 8 deployments: it
//     records pending then running and publishes both, each acked.
//   - floor: what any agent must at least do, from the benchmark's client:
//     the same KV put, then one event published and acked.
//   - contract: what the contract (ARCHITECTURE 4, Publish) makes any
//     agent do, with no agent code: a bare KV watch on its own connection
//     that, for each put, publishes `pending` and then `running`, each
//     waited for its ack before the next. The agent's distance to this one
//     is its own cost; the rest of its distance to floor is the second
//     acked event and the watch's delivery, which the contract requires.
func BenchmarkConvergence(b *testing.B) {
	env := startNATS(b)

	b.Run("agent", func(b *testing.B) {
		const device fleet.DeviceID = "conv-agent"
		events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
		stop := startAgent(b, env.url, device, map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimeProcess: NewNop()})
		defer stop()
		for i := range convDeployments { // every deployment exists before the clock starts
			env.put(b, device, deployment(i), processSpec(i))
			waitEvent(b, events, deployment(i), fleet.PhaseRunning)
		}
		var lat, pending latencies
		for i := convDeployments; b.Loop(); i++ {
			name := deployment(i % convDeployments)
			start := time.Now()
			env.put(b, device, name, processSpec(i))
			p := waitEvent(b, events, name, fleet.PhasePending)
			e := waitEvent(b, events, name, fleet.PhaseRunning)
			lat = append(lat, e.stored.Sub(start))
			pending = append(pending, p.stored.Sub(start))
		}
		lat.report(b)
		// Where the time goes: the put to the first event stored (watch,
		// desired cache, queue, record), the rest is publishing.
		b.ReportMetric(ms(percentile(pending.sorted(), 50)), "pending-p50-ms")
	})

	b.Run("floor", func(b *testing.B) {
		const device fleet.DeviceID = "conv-floor"
		events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
		var lat latencies
		for i := 0; b.Loop(); i++ {
			name := deployment(i % convDeployments)
			start := time.Now()
			env.put(b, device, name, processSpec(i))
			env.publishEvent(b, fleet.StateChangeEvent{
				DeviceID:   device,
				Deployment: name,
				Revision:   fleet.Revision{AgentEpoch: 1, Sequence: uint64(i) + 1},
				Transition: fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""),
				At:         time.Now().UTC(),
			})
			e := waitEvent(b, events, name, fleet.PhaseRunning)
			lat = append(lat, e.stored.Sub(start))
		}
		lat.report(b)
	})
	b.Run("contract", func(b *testing.B) {
		const device fleet.DeviceID = "conv-contract"
		events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
		stop := bareAgent(b, env.url, device)
		defer stop()
		var lat latencies
		for i := 0; b.Loop(); i++ {
			name := deployment(i % convDeployments)
			start := time.Now()
			env.put(b, device, name, processSpec(i))
			e := waitEvent(b, events, name, fleet.PhaseRunning)
			lat = append(lat, e.stored.Sub(start))
		}
		lat.report(b)
	})
}

// bareAgent watches device's desired keys on a connection of its own and
// answers each put with `pending` then `running`, each published and acked
// in turn, as the contract requires of an agent, doing nothing else. The
// returned function stops it.
func bareAgent(b *testing.B, url string, device fleet.DeviceID) (stop func()) {
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatalf("nats.Connect(%s): %v", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatalf("jetstream.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		b.Fatalf("KeyValue(%s): %v", fleet.DesiredStateBucket, err)
	}
	w, err := kv.Watch(ctx, fleet.DesiredKey(device, "*"), jetstream.UpdatesOnly())
	if err != nil {
		b.Fatalf("watch %s: %v", device, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seq uint64
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			_, name, err := fleet.ParseDesiredKey(e.Key())
			if err != nil {
				continue
			}
			for _, tr := range []fleet.LifecycleTransition{
				fleet.Applied("", fleet.PhasePending, ""),
				fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""),
			} {
				seq++
				ev := fleet.StateChangeEvent{DeviceID: device, Deployment: name, Revision: fleet.Revision{AgentEpoch: 1, Sequence: seq}, Transition: tr, At: time.Now().UTC()}
				data, err := json.Marshal(ev)
				if err == nil {
					_, err = js.PublishMsg(ctx, &nats.Msg{Subject: ev.Subject(), Data: data}, jetstream.WithMsgID(ev.MsgID(benchNonce)))
				}
				if err != nil && ctx.Err() == nil {
					b.Errorf("bare agent: publish %s: %v", ev.Subject(), err)
				}
			}
		}
	}()
	return func() {
		_ = w.Stop()
		cancel()
		<-done
		nc.Close()
	}
}
