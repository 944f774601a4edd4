//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
)

// BenchmarkFleetSim simulates BENCH_SIM_DEVICES (10,000) devices with
// BENCH_SIM_DEPLOYMENTS (5) deployments each, publishing their
// transitions through one nats-server for BENCH_SIM_DURATION (15s), while
// an aggregator folds FLEET_EVENTS live as harmony-fleet status --watch
// does (see watchLive). The devices share
// BENCH_SIM_CONNS (20) connections, each publishing asynchronously (up to
// 256 unacked), in two runs:
//
//   - rate=max: as fast as the server acks: the most the server stores
//     with the aggregator reading, and how far the aggregator falls behind.
//   - rate=N: paced to BENCH_SIM_RATE events/s in all (default: one event
//     per device per second, a fleet far busier than a real one).
//
// Run it with -benchtime=1x. Metrics: stored-events/s (acked while the
// devices published), applied-events/s (folded by the aggregator over the
// same time), lag-events (stored but not folded when the devices stopped)
// and catchup-ms (until they were).
func BenchmarkFleetSim(b *testing.B) {
	devices := envInt(b, "BENCH_SIM_DEVICES", 10_000, 2_000)
	deployments := envInt(b, "BENCH_SIM_DEPLOYMENTS", 5, 5)
	conns := max(envInt(b, "BENCH_SIM_CONNS", 20, 20), 1)
	duration := envDuration(b, "BENCH_SIM_DURATION", 15*time.Second, 5*time.Second)
	paced := envInt(b, "BENCH_SIM_RATE", devices, devices)

	for _, rate := range []int{0, paced} {
		name := fmt.Sprintf("devices=%d/rate=%d", devices, rate)
		if rate == 0 {
			name = fmt.Sprintf("devices=%d/rate=max", devices)
		}
		b.Run(name, func(b *testing.B) { simulate(b, devices, deployments, conns, duration, rate) })
	}
}

// simulate runs one fleet simulation per op; rate 0 is unpaced.
func simulate(b *testing.B, devices, deployments, conns int, duration time.Duration, rate int) {
	var stored, applied, lag uint64
	var catchup time.Duration
	for b.Loop() {
		env := startNATS(b)
		var folded atomic.Uint64
		stopAgg := watchLive(b, env.js, &folded)

		ctx, stopDevices := context.WithTimeout(context.Background(), duration)
		var wg sync.WaitGroup
		perConn := 0 // unpaced
		if rate > 0 {
			perConn = max(rate/conns, 1)
		}
		for c := range conns {
			wg.Go(func() { simConn(ctx, b, env.url, c, conns, devices, deployments, perConn) })
		}
		<-ctx.Done()
		stopDevices()
		end := time.Now()
		appliedAtEnd := folded.Load()
		storedAtEnd := streamMsgs(b, env.js)
		wg.Wait() // every device acked or failed
		total := streamMsgs(b, env.js)
		for folded.Load() < total {
			if time.Since(end) > waitTimeout {
				b.Fatalf("aggregator folded %d of %d events %s after the devices stopped", folded.Load(), total, waitTimeout)
			}
			time.Sleep(time.Millisecond)
		}
		catchup = time.Since(end)
		stopAgg()
		stored, applied, lag = storedAtEnd, appliedAtEnd, storedAtEnd-min(appliedAtEnd, storedAtEnd)
	}
	b.ReportMetric(float64(stored)/duration.Seconds(), "stored-events/s")
	b.ReportMetric(float64(applied)/duration.Seconds(), "applied-events/s")
	b.ReportMetric(float64(lag), "lag-events")
	b.ReportMetric(ms(catchup), "catchup-ms")
}

// simMaxPending is how many events a connection leaves unacked at most.
const simMaxPending = 256

// simConn publishes the events of the devices c, c+conns, c+2*conns... on
// one connection until ctx is done, then waits for their acks. rate > 0
// paces it to rate events/s.
func simConn(ctx context.Context, b *testing.B, url string, c, conns, devices, deployments, rate int) {
	nc, err := nats.Connect(url)
	if err != nil {
		b.Errorf("connect: %v", err)
		return
	}
	defer nc.Close()
	var failed atomic.Int64
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(simMaxPending),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		b.Errorf("jetstream: %v", err)
		return
	}
	type device struct {
		id  fleet.DeviceID
		seq uint64
	}
	var mine []*device
	for d := c; d < devices; d += conns {
		mine = append(mine, &device{id: fleet.DeviceID(fmt.Sprintf("sim-%05d", d))})
	}
	names := make([]fleet.DeploymentName, deployments)
	for i := range names {
		names[i] = fleet.DeploymentName(fmt.Sprintf("app-%02d", i))
	}
	start := time.Now()
	sent := 0
	for round := 0; ctx.Err() == nil; round++ {
		for _, d := range mine {
			if ctx.Err() != nil {
				break
			}
			if rate > 0 {
				for ahead := sent - int(time.Since(start).Seconds()*float64(rate)); ahead > 0 && ctx.Err() == nil; {
					time.Sleep(time.Millisecond)
					ahead = sent - int(time.Since(start).Seconds()*float64(rate))
				}
			}
			d.seq++
			// Each deployment goes pending, then running, then is
			// replaced: pending, running, ...
			k := int(d.seq - 1)
			name := names[(k/2)%deployments]
			tr := fleet.Applied("", fleet.PhasePending, "")
			if k%2 == 1 {
				tr = fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, "")
			}
			e := fleet.StateChangeEvent{
				DeviceID: d.id, Deployment: name,
				Revision:   fleet.Revision{AgentEpoch: 1875123456789012, Sequence: d.seq},
				Transition: tr, At: time.Now().UTC(),
			}
			data, err := json.Marshal(e)
			if err != nil {
				b.Errorf("encode: %v", err)
				return
			}
			if _, err := js.PublishMsgAsync(&nats.Msg{Subject: e.Subject(), Data: data}, jetstream.WithMsgID(e.MsgID(benchNonce)), jetstream.WithStallWait(waitTimeout)); err != nil {
				b.Errorf("publish: %v", err)
				return
			}
			sent++
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(waitTimeout):
		b.Errorf("%d events not acked within %s", js.PublishAsyncPending(), waitTimeout)
	}
	if n := failed.Load(); n > 0 {
		b.Errorf("%d publishes failed", n)
	}
}

// watchLive folds every event published from now on into an aggregator
// as harmony-fleet status --watch does (watchStatus in
// cmd/harmony-fleet/status.go): a reader goroutine (fleetview.EventReader) hands
// the events through a channel of 64 to the goroutine that applies them,
// counting them in folded. The returned function stops both and waits.
func watchLive(b *testing.B, js jetstream.JetStream, folded *atomic.Uint64) (stop func()) {
	b.Helper()
	r := openStatusReader(b, js)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// events lets the reader run a little ahead of folding, as in
	// watchStatus.
	events := make(chan fleet.StateChangeEvent, 64)
	wg.Go(func() {
		for {
			e, _, err := nextEvent(ctx, b, r)
			if err != nil {
				if ctx.Err() == nil {
					b.Errorf("read event: %v", err)
				}
				return
			}
			select {
			case events <- e:
			case <-ctx.Done():
				return
			}
		}
	})
	wg.Go(func() {
		a := aggregate.New()
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-events:
				a.Apply(e)
				folded.Add(1)
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		r.Stop()
	}
}

// streamMsgs returns how many events FLEET_EVENTS holds.
func streamMsgs(b *testing.B, js jetstream.JetStream) uint64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		b.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}
