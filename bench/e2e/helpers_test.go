//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/daemon"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// waitTimeout bounds every wait for the system under test: a stuck run
// fails instead of hanging make bench.
const waitTimeout = 2 * time.Minute

// natsEnv is an in-process nats-server with the stream and buckets made
// (as harmony-fleet init makes them), and the benchmark's own client.
type natsEnv struct {
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue // desired-state
}

// startNATS starts a server for b, shut down when b ends.
func startNATS(b *testing.B) *natsEnv {
	b.Helper()
	srv := natstest.Start(b)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatalf("nats.Connect(%s): %v", srv.ClientURL(), err)
	}
	b.Cleanup(nc.Close) // before the server's shutdown, registered earlier
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatalf("jetstream.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{}); err != nil {
		b.Fatalf("EnsureResources: %v", err)
	}
	kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		b.Fatalf("KeyValue(%s): %v", fleet.DesiredStateBucket, err)
	}
	return &natsEnv{url: srv.ClientURL(), nc: nc, js: js, kv: kv}
}

// put writes a desired-state value.
func (e *natsEnv) put(b *testing.B, device fleet.DeviceID, name fleet.DeploymentName, value []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := e.kv.Put(ctx, fleet.DesiredKey(device, name), value); err != nil {
		b.Fatalf("put %s: %v", fleet.DesiredKey(device, name), err)
	}
}

// del deletes a desired-state key.
func (e *natsEnv) del(b *testing.B, device fleet.DeviceID, name fleet.DeploymentName) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.kv.Delete(ctx, fleet.DesiredKey(device, name)); err != nil {
		b.Fatalf("delete %s: %v", fleet.DesiredKey(device, name), err)
	}
}

// benchNonce is the Msg-Id nonce of the agent run publishEvent plays.
const benchNonce = "00c0ffee00c0ffee"

// publishEvent publishes e as the agent's publisher does (JSON, Msg-Id)
// and waits for the ack.
func (e *natsEnv) publishEvent(b *testing.B, ev fleet.StateChangeEvent) {
	data, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, &nats.Msg{Subject: ev.Subject(), Data: data}, jetstream.WithMsgID(ev.MsgID(benchNonce))); err != nil {
		b.Fatalf("publish %s: %v", ev.Subject(), err)
	}
}

// processSpec is a valid process spec; change makes its hash differ from
// that of every other change.
func processSpec(change int) []byte {
	return fmt.Appendf(nil, `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"CHANGE":"%d"}}`, change)
}

// deployment names the i-th deployment of a benchmark.
func deployment(i int) fleet.DeploymentName { return fleet.DeploymentName(fmt.Sprintf("dep-%05d", i)) }

// benchLogger logs as the daemon does by default (JSON, info), to nowhere:
// the encoding cost stays in what is measured.
func benchLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(io.Discard), zap.InfoLevel))
}

// startAgent runs an agent for device in this process, through
// internal/daemon as cmd/harmony-agent runs it, with the default
// configuration, state in a temporary directory, and rts as its runtimes.
// The returned function stops it and waits for Run to return.
func startAgent(b *testing.B, url string, device fleet.DeviceID, rts map[fleet.RuntimeKind]runtime.Runtime) (stop func()) {
	b.Helper()
	cfg := config.Default()
	cfg.DeviceID = device
	cfg.StateDir = b.TempDir()
	cfg.NATS.URLs = []string{url}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1) // Run's result; never blocks the goroutine
	go func() { done <- daemon.Run(ctx, cfg, benchLogger(), daemon.Options{Version: "bench", Runtimes: rts}) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("daemon.Run = %v", err)
		}
	}
}

// storedEvent is an event read back from FLEET_EVENTS with the time the
// server stored it, or the error that kept it from being read.
type storedEvent struct {
	fleet.StateChangeEvent
	stored time.Time
	err    error
}

// readEvents reads, with an ordered consumer, every event stored under
// filter from now on, until b ends.
func readEvents(b *testing.B, js jetstream.JetStream, filter string) <-chan storedEvent {
	b.Helper()
	// out holds more events than any benchmark lets pile up between two
	// reads (a cold start stores two per deployment), so the consumer's
	// callback never blocks.
	out := make(chan storedEvent, 1<<16)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, fleet.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		b.Fatalf("OrderedConsumer(%s): %v", filter, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var se storedEvent
		md, err := m.Metadata()
		if err == nil {
			se.stored = md.Timestamp
			err = json.Unmarshal(m.Data(), &se.StateChangeEvent)
		}
		se.err = err
		out <- se
	})
	if err != nil {
		b.Fatalf("Consume(%s): %v", filter, err)
	}
	b.Cleanup(cc.Stop)
	return out
}

// waitEvent returns the next event from events that is an applied
// transition of deployment name to phase to, or its removal when to is "".
// An event that puts name in phase failed fails b.
func waitEvent(b *testing.B, events <-chan storedEvent, name fleet.DeploymentName, to fleet.Phase) storedEvent {
	b.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		select {
		case e := <-events:
			switch {
			case e.err != nil:
				b.Fatalf("read event: %v", e.err)
			case e.Deployment != name:
			case to == "" && e.Transition.Kind == fleet.KindRemoved:
				return e
			case e.Transition.Kind == fleet.KindApplied && e.Transition.To == to:
				return e
			case e.Transition.Kind == fleet.KindApplied && e.Transition.To == fleet.PhaseFailed:
				b.Fatalf("deployment %s failed: %s", name, e.Transition.LastError)
			}
		case <-timeout.C:
			b.Fatalf("no event of %s to %q within %s", name, to, waitTimeout)
		}
	}
}

// waitAll waits until n distinct deployments had an event from events
// that puts them in phase to (applied), or removes them when to is "", and
// returns when the last of those was stored. A failed phase fails b.
func waitAll(b *testing.B, events <-chan storedEvent, n int, to fleet.Phase) time.Time {
	b.Helper()
	seen := make(map[fleet.DeploymentName]bool, n)
	var last time.Time
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for len(seen) < n {
		select {
		case e := <-events:
			tr := e.Transition
			switch {
			case e.err != nil:
				b.Fatalf("read event: %v", e.err)
			case tr.Kind == fleet.KindApplied && tr.To == fleet.PhaseFailed:
				b.Fatalf("deployment %s failed: %s", e.Deployment, tr.LastError)
			case to == "" && tr.Kind == fleet.KindRemoved, tr.Kind == fleet.KindApplied && tr.To == to:
				seen[e.Deployment] = true
				if e.stored.After(last) {
					last = e.stored
				}
			}
		case <-timeout.C:
			b.Fatalf("%d of %d deployments reached %q within %s", len(seen), n, to, waitTimeout)
		}
	}
	return last
}

// latencies are the times of the operations of one benchmark.
type latencies []time.Duration

// report adds their p50, p99 and max, in milliseconds, to b's result.
func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	s := l.sorted()
	b.ReportMetric(ms(percentile(s, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(s, 99)), "p99-ms")
	b.ReportMetric(ms(s[len(s)-1]), "max-ms")
}

// sorted returns the latencies in increasing order, l unchanged.
func (l latencies) sorted() []time.Duration { return slices.Sorted(slices.Values(l)) }

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
