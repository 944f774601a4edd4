//go:build embednats

package desired

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// setup starts a server with the buckets and returns the desired-state
// bucket and a JetStream for the watcher.
func setup(t *testing.T) (jetstream.KeyValue, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv, js
}

// run starts w and returns its updates; the watcher stops at cleanup.
func run(t *testing.T, w *Watcher) <-chan Update {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Update)
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx, out) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return out
}

func next(t *testing.T, out <-chan Update) Update {
	t.Helper()
	select {
	case u := <-out:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no update within 10s")
		return Update{}
	}
}

func put(t *testing.T, kv jetstream.KeyValue, key, value string) {
	t.Helper()
	if _, err := kv.Put(context.Background(), key, []byte(value)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func TestWatchFullThenLive(t *testing.T) {
	kv, js := setup(t)
	put(t, kv, "pi-1.web", `{"v":1}`)
	put(t, kv, "pi-1.db", `{"v":2}`)
	put(t, kv, "pi-2.web", `{"other":true}`) // another device: outside the filter
	put(t, kv, "pi-1.gone", `{}`)
	if err := kv.Delete(context.Background(), "pi-1.gone"); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	w := New(js, "pi-1", zap.New(core))
	out := run(t, w)

	u := next(t, out)
	if !u.Full {
		t.Fatalf("first update Full = false, want the full snapshot")
	}
	var got []string
	for _, e := range u.Entries {
		got = append(got, string(e.Deployment)+":"+string(e.Value)+":"+map[bool]string{true: "deleted", false: "put"}[e.Deleted])
	}
	slices.Sort(got)
	want := []string{`db:{"v":2}:put`, `gone::deleted`, `web:{"v":1}:put`}
	if !slices.Equal(got, want) {
		t.Fatalf("full snapshot = %v, want %v", got, want)
	}

	put(t, kv, "pi-1.a.b", `{}`) // invalid name: skipped, logged once
	put(t, kv, "pi-1.a.b", `{}`)
	put(t, kv, "pi-1.web", `{"v":3}`)
	u = next(t, out)
	if u.Full || len(u.Entries) != 1 || u.Entries[0].Deployment != "web" || !bytes.Equal(u.Entries[0].Value, []byte(`{"v":3}`)) {
		t.Fatalf("live update = %+v, want web {\"v\":3}", u)
	}
	if err := kv.Purge(context.Background(), "pi-1.db"); err != nil {
		t.Fatal(err)
	}
	u = next(t, out)
	if len(u.Entries) != 1 || u.Entries[0].Deployment != "db" || !u.Entries[0].Deleted {
		t.Fatalf("purge update = %+v, want db deleted", u)
	}
	if n := logs.FilterMessage("skipping desired-state key").Len(); n != 1 {
		t.Fatalf("invalid key logged %d times, want once", n)
	}
}

func TestWatchRestartDeliversFullSnapshot(t *testing.T) {
	kv, js := setup(t)
	put(t, kv, "pi-1.web", `{}`)
	w := New(js, "pi-1", zap.NewNop())
	out := run(t, w)
	if u := next(t, out); !u.Full || len(u.Entries) != 1 {
		t.Fatalf("first update = %+v, want a full snapshot of 1", u)
	}
	put(t, kv, "pi-1.db", `{}`)
	if u := next(t, out); u.Full {
		t.Fatalf("live update = %+v, want not full", u)
	}
	w.Restart()
	u := next(t, out)
	if !u.Full || len(u.Entries) != 2 {
		t.Fatalf("after Restart: %+v, want a full snapshot of 2", u)
	}
}

func TestWatchWaitsForBucket(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	core, logs := observer.New(zap.InfoLevel)
	out := run(t, New(js, "pi-1", zap.New(core)))
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("desired-state bucket not created yet; waiting").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no 'waiting for bucket' log within 10s")
		}
		time.Sleep(20 * time.Millisecond) // polling a log, not waiting for a result
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{}); err != nil {
		t.Fatal(err)
	}
	if u := next(t, out); !u.Full || len(u.Entries) != 0 {
		t.Fatalf("update after the bucket appeared = %+v, want an empty full snapshot", u)
	}
}

// TestWatchLargeSnapshot: a snapshot larger than the consumer's flow
// control window arrives whole (the watch answers flow control), then live
// changes follow.
func TestWatchLargeSnapshot(t *testing.T) {
	kv, js := setup(t)
	value := `{"pad":"` + strings.Repeat("p", 32<<10) + `"}`
	const n = 300 // about 10 MB
	for i := range n {
		put(t, kv, fmt.Sprintf("pi-1.d%03d", i), value)
	}
	out := run(t, New(js, "pi-1", zap.NewNop()))
	if u := next(t, out); !u.Full || len(u.Entries) != n {
		t.Fatalf("first update: Full %v with %d entries, want a full snapshot of %d", u.Full, len(u.Entries), n)
	}
	put(t, kv, "pi-1.d000", `{"v":2}`)
	if u := next(t, out); u.Full || len(u.Entries) != 1 || string(u.Entries[0].Value) != `{"v":2}` {
		t.Fatalf("live update = %+v, want d000 {\"v\":2}", u)
	}
}
