//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
)

// The fleet of the replayed stream: 1,000,000 pairs, as in
// fleet/aggregate's benchmarks.
const (
	replayDevices     = 100_000
	replayDeployments = 10
)

// BenchmarkReplay fills FLEET_EVENTS with BENCH_REPLAY_EVENTS (1,000,000)
// events of 100,000 devices x 10 deployments, published as agents publish
// them (JSON, Msg-Id), then reads the whole stream with an ordered
// consumer: bare (the floor: read each message, nothing more), and
// aggregate (harmony-fleet status's read of the stored events, see
// fleetview.EventReader: metadata, fleet's validating decoder, the subject check,
// then aggregate.Apply). One op is one replay of the
// stream; run it with -benchtime=1x. Metric: events/s. Target: aggregate
// >= 0.5x bare.
func BenchmarkReplay(b *testing.B) {
	n := envInt(b, "BENCH_REPLAY_EVENTS", 1_000_000, 100_000)
	env := startNATS(b)
	fillStream(b, env, n)

	b.Run(fmt.Sprintf("bare/events=%d", n), func(b *testing.B) {
		for b.Loop() {
			bareReplay(b, env.js, n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run(fmt.Sprintf("aggregate/events=%d", n), func(b *testing.B) {
		var pairs int
		for b.Loop() {
			// harmony-fleet status: every event stored, folded in order.
			r := openStatusReader(b, env.js)
			a := aggregate.New()
			var read uint64
			for r.Backlog() {
				e, seq, err := nextEvent(context.Background(), b, r)
				if err != nil {
					b.Fatalf("read event: %v", err)
				}
				a.Apply(e)
				read = seq
			}
			r.Stop()
			if read != uint64(n) {
				b.Fatalf("read up to event %d, want %d", read, n)
			}
			pairs = a.Len()
		}
		if want := min(n, replayDevices*replayDeployments); pairs != want {
			b.Fatalf("aggregator holds %d pairs after the replay, want %d", pairs, want)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// replayEvent is the i-th event of the replayed stream: it visits every
// pair in turn, each device's revisions growing, phases cycling.
func replayEvent(i int, at time.Time) fleet.StateChangeEvent {
	round := i / replayDevices
	from, to := fleet.Phases[(round+3)%len(fleet.Phases)], fleet.Phases[round%len(fleet.Phases)]
	if round == 0 {
		from = ""
	}
	return fleet.StateChangeEvent{
		DeviceID:   fleet.DeviceID(fmt.Sprintf("device-%06d", i%replayDevices)),
		Deployment: fleet.DeploymentName(fmt.Sprintf("deployment-%02d", round%replayDeployments)),
		Revision:   fleet.Revision{AgentEpoch: 1875123456789012, Sequence: uint64(round) + 1},
		Transition: fleet.Applied(from, to, ""),
		At:         at.Add(time.Duration(i) * time.Microsecond),
	}
}

// fillStream publishes n replay events and checks the stream holds them.
func fillStream(b *testing.B, env *natsEnv, n int) {
	b.Helper()
	start := time.Now()
	var failed atomic.Int64
	js, err := jetstream.New(env.nc,
		jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().UTC()
	for i := range n {
		e := replayEvent(i, at)
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: e.Subject(), Data: data}, jetstream.WithMsgID(e.MsgID(benchNonce)), jetstream.WithStallWait(waitTimeout)); err != nil {
			b.Fatalf("publish event %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(waitTimeout):
		b.Fatalf("%d events not acked within %s", js.PublishAsyncPending(), waitTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := env.js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != uint64(n) || failed.Load() > 0 {
		b.Fatalf("stream holds %d events (%d publishes failed), want %d", got, failed.Load(), n)
	}
	b.Logf("stream filled: %d events, %d bytes, in %s", n, st.CachedInfo().State.Bytes, time.Since(start).Round(time.Millisecond))
}

// bareReplay reads the first n messages of FLEET_EVENTS with an ordered
// consumer, through the same calls as harmony-fleet (Messages, Next), and
// does nothing with them.
func bareReplay(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, fleet.EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		b.Fatal(err)
	}
	defer msgs.Stop()
	for i := range n {
		if _, err := msgs.Next(jetstream.NextContext(ctx)); err != nil {
			b.Fatalf("read event %d of %d: %v", i+1, n, err)
		}
	}
}
