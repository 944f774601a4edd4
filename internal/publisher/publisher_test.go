//go:build embednats

package publisher_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
)

func TestPublishInOrder(t *testing.T) {
	_, js := setup(t)
	p := publisher.New(js, publisher.Config{Device: device, Info: info()})
	run(t, p)
	want := events(1, 30)
	for _, e := range want {
		p.Publish(e)
	}
	waitFor(t, "30 events published", func() bool { return p.Stats().Published == 30 })
	checkStored(t, js, want)
	if s := p.Stats(); s.Queued != 0 || s.Dropped != 0 || s.LastError != "" {
		t.Errorf("Stats() = %+v, want nothing queued, dropped or failed", s)
	}
}

// TestPublishDedup re-sends events, as a retry after a lost ack does: each
// is stored once.
func TestPublishDedup(t *testing.T) {
	_, js := setup(t)
	p := publisher.New(js, publisher.Config{Device: device})
	run(t, p)
	want := events(1, 3)
	for _, e := range []fleet.StateChangeEvent{want[0], want[1], want[1], want[2], want[0]} {
		p.Publish(e)
	}
	waitFor(t, "5 sends acknowledged", func() bool { return p.Stats().Published == 5 })
	checkStored(t, js, want)
}

// TestOfflineAtStart boots with no server reachable: Connect succeeds, the
// events wait, and all arrive once, in order, when the server comes up
// (the stream and buckets exist: the restarted server keeps its store).
func TestOfflineAtStart(t *testing.T) {
	srv, _ := setup(t)
	srv.Shutdown()
	_, js := natstest.ConnectAgent(t, srv.ClientURL())
	if js.Conn().IsConnected() {
		t.Fatal("connected to a stopped server")
	}
	p := publisher.New(js, publisher.Config{Device: device, Info: info()})
	run(t, p)
	want := events(1, 50)
	for _, e := range want {
		p.Publish(e)
	}
	if s := p.Stats(); s.Queued != 50 || s.Published != 0 {
		t.Fatalf("Stats() offline = %+v, want 50 queued, 0 published", s)
	}
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	waitFor(t, "50 events published", func() bool { return p.Stats().Published == 50 })
	checkStored(t, js, want)
	waitFor(t, "device info written", func() bool { return p.Stats().InfoPuts > 0 })
	if got, _ := storedInfo(t, js); got.DeviceID != device || got.HeartbeatAt.IsZero() {
		t.Errorf("device info = %+v, want device %s with a heartbeat", got, device)
	}
}

// TestServerRestart stops the server mid-stream: nothing is lost or
// doubled, and the order holds.
func TestServerRestart(t *testing.T) {
	srv, js := setup(t)
	p := publisher.New(js, publisher.Config{Device: device})
	run(t, p)
	want := events(1, 40)
	for _, e := range want[:20] {
		p.Publish(e)
	}
	waitFor(t, "20 events published", func() bool { return p.Stats().Published == 20 })
	srv.Shutdown()
	for _, e := range want[20:] {
		p.Publish(e)
	}
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	waitFor(t, "40 events published", func() bool { return p.Stats().Published == 40 })
	checkStored(t, js, want)
}

func TestOutboxOverflow(t *testing.T) {
	_, js := setup(t)
	core, logs := observer.New(zap.WarnLevel)
	p := publisher.New(js, publisher.Config{Device: device, OutboxCapacity: 5, Info: info(), Log: zap.New(core)})
	all := events(1, 12)
	for _, e := range all {
		p.Publish(e) // Run is not started: nothing leaves the outbox
	}
	if s := p.Stats(); s.Queued != 5 || s.Dropped != 7 {
		t.Fatalf("Stats() = %+v, want 5 queued, 7 dropped", s)
	}
	drops := logs.FilterMessageSnippet("outbox full").All()
	if len(drops) != 1 {
		t.Errorf("%d drop log lines for 7 drops, want 1 (the first)", len(drops))
	} else if f := drops[0].ContextMap(); f["seq"] != uint64(1) || f["dropped_total"] != uint64(1) {
		t.Errorf("drop log fields = %v, want seq 1, dropped_total 1", f)
	}

	run(t, p)
	waitFor(t, "5 events published", func() bool { return p.Stats().Published == 5 })
	checkStored(t, js, all[7:])
	waitFor(t, "device info with the drop count", func() bool {
		if p.Stats().InfoPuts == 0 {
			return false
		}
		got, _ := storedInfo(t, js)
		return got.OutboxDropped == 7
	})
}

func TestDeviceInfoAtStart(t *testing.T) {
	_, js := setup(t)
	p := publisher.New(js, publisher.Config{Device: device, Info: info(), HeartbeatInterval: time.Hour})
	start := time.Now()
	run(t, p)
	waitFor(t, "device info written", func() bool { return p.Stats().InfoPuts == 1 })
	got, rev := storedInfo(t, js)
	if got.DeviceID != device || got.AgentEpoch != epoch || got.HeartbeatAt.Before(start.Add(-time.Second)) {
		t.Errorf("device info = %+v, want device %s, epoch %d, a fresh heartbeat", got, device, epoch)
	}
	if rev != 1 {
		t.Errorf("device-info revision = %d, want 1 (one put)", rev)
	}
}

// TestDeviceInfoDebounce calls InfoChanged every few milliseconds for a
// while: the puts are bounded by the debounce, not by the calls.
func TestDeviceInfoDebounce(t *testing.T) {
	_, js := setup(t)
	const debounce = 100 * time.Millisecond
	p := publisher.New(js, publisher.Config{Device: device, Info: info(), HeartbeatInterval: time.Hour, InfoDebounce: debounce})
	run(t, p)
	waitFor(t, "device info at start", func() bool { return p.Stats().InfoPuts == 1 })

	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	calls := 0
	for time.Since(start) < 10*debounce {
		p.InfoChanged()
		calls++
		<-tick.C
	}
	tick.Stop()
	elapsed := time.Since(start)
	// The last call is followed by one more put at most a debounce later.
	waitFor(t, "a put after the last InfoChanged", func() bool {
		_, rev := storedInfo(t, js)
		return rev >= 2 && time.Since(start) > elapsed+2*debounce
	})
	puts := p.Stats().InfoPuts - 1
	if max := uint64(elapsed/debounce) + 2; puts < 2 || puts > max {
		t.Errorf("%d InfoChanged calls in %s gave %d puts, want 2..%d (debounce %s)", calls, elapsed, puts, max, debounce)
	}
	if _, rev := storedInfo(t, js); rev != puts+1 {
		t.Errorf("device-info revision = %d, want %d", rev, puts+1)
	}
}

func TestDeviceInfoHeartbeat(t *testing.T) {
	_, js := setup(t)
	p := publisher.New(js, publisher.Config{Device: device, Info: info(), HeartbeatInterval: 50 * time.Millisecond, InfoDebounce: time.Millisecond})
	run(t, p)
	waitFor(t, "device info at start", func() bool { return p.Stats().InfoPuts >= 1 })
	first, _ := storedInfo(t, js)
	waitFor(t, "4 heartbeats", func() bool { return p.Stats().InfoPuts >= 5 })
	last, rev := storedInfo(t, js)
	if rev < 5 || !last.HeartbeatAt.After(first.HeartbeatAt) {
		t.Errorf("after heartbeats: revision %d, heartbeat_at %s (first %s); want >= 5 and later", rev, last.HeartbeatAt, first.HeartbeatAt)
	}
}

func TestFlush(t *testing.T) {
	srv, js := setup(t)
	p := publisher.New(js, publisher.Config{Device: device, Info: info()})
	srv.Shutdown()
	want := events(1, 3)
	for _, e := range want {
		p.Publish(e)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := p.Flush(ctx)
	cancel()
	if !errors.Is(err, publisher.ErrUnflushed) || !strings.Contains(err.Error(), "3 events left") {
		t.Fatalf("Flush offline = %v, want ErrUnflushed saying 3 events left", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err := p.Flush(ctxT(t)); err != nil {
		t.Fatalf("Flush online = %v, want nil", err)
	}
	checkStored(t, js, want)
	if s := p.Stats(); s.Queued != 0 || s.InfoPuts != 1 {
		t.Errorf("Stats() after Flush = %+v, want 0 queued, 1 info put", s)
	}
}

// TestRejectedEventDoesNotBlock: an event the stream refuses for good
// (too large) is dropped and counted; the events after it still go.
func TestRejectedEventDoesNotBlock(t *testing.T) {
	_, js := natstest.ConnectAgent(t, natstest.Start(t).ClientURL())
	if _, err := js.CreateStream(ctxT(t), jetstream.StreamConfig{
		Name: fleet.EventsStream, Subjects: []string{fleet.EventsSubjects}, MaxMsgSize: 1024, Duplicates: 10 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.ErrorLevel)
	p := publisher.New(js, publisher.Config{Device: device, Log: zap.New(core)})
	run(t, p)
	all := events(1, 3)
	all[1].Transition = fleet.Applied(fleet.PhasePending, fleet.PhaseFailed, strings.Repeat("x", 2048))
	for _, e := range all {
		p.Publish(e)
	}
	waitFor(t, "2 published, 1 dropped", func() bool { s := p.Stats(); return s.Published == 2 && s.Dropped == 1 })
	checkStored(t, js, []fleet.StateChangeEvent{all[0], all[2]})
	if n := logs.FilterMessageSnippet("rejected").Len(); n != 1 {
		t.Errorf("%d rejection log lines, want 1", n)
	}
}
