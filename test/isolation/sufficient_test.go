//go:build embednats

package isolation

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// backlogValues and valueBytes make a desired backlog big enough that
// the ordered consumer's flow control is exercised (about 18 MiB, values
// near the 64 KiB limit of 3.6).
const (
	backlogValues = 300
	valueBytes    = 60 << 10
)

func value(i int) []byte {
	v := bytes.Repeat([]byte{'a' + byte(i%26)}, valueBytes)
	copy(v, fmt.Sprintf("%d:", i))
	return v
}

// TestSufficient: with its own creds and inbox prefix, a device does what
// an agent does (bind to the buckets, watch its desired keys through a
// large backlog and a server restart, publish events with an ack, put its
// DeviceInfo, stop its watch) and the server refuses nothing.
func TestSufficient(t *testing.T) {
	e := newEnv(t, "pi-1")
	ctx := ctxT(t, 2*waitTimeout)
	adminKV, err := e.adminJS.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	for i := range backlogValues {
		if _, err := adminKV.Put(ctx, fmt.Sprintf("pi-1.d%03d", i), value(i)); err != nil {
			t.Fatalf("admin put: %v", err)
		}
	}
	if _, err := adminKV.Put(ctx, "pi-2.web", []byte("not for pi-1")); err != nil {
		t.Fatal(err)
	}

	var errs errSink
	nc := e.device(t, "pi-1", &errs)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatalf("pi-1 KeyValue(%s): %v", fleet.DesiredStateBucket, err)
	}
	w, err := kv.Watch(ctx, fleet.DesiredFilter("pi-1"))
	if err != nil {
		t.Fatalf("pi-1 Watch(%s): %v", fleet.DesiredFilter("pi-1"), err)
	}
	next := func() jetstream.KeyValueEntry {
		t.Helper()
		select {
		case en := <-w.Updates():
			return en
		case <-time.After(waitTimeout):
			t.Fatalf("watch: no update within %s; async errors %v", waitTimeout, errs.all())
			return nil
		}
	}
	got := 0
	for en := next(); en != nil; en = next() {
		want := fmt.Sprintf("pi-1.d%03d", got)
		if en.Key() != want || !bytes.Equal(en.Value(), value(got)) {
			t.Fatalf("backlog entry %d: key %q (%d bytes), want %q (%d bytes)", got, en.Key(), len(en.Value()), want, valueBytes)
		}
		got++
	}
	if got != backlogValues {
		t.Fatalf("backlog: %d values, want %d", got, backlogValues)
	}

	// A live update, then one after a server restart (the ordered
	// consumer is recreated).
	for i, restart := range []bool{false, true} {
		if restart {
			e.restart(t)
			poll(t, "admin reconnects", e.admin.IsConnected)
			poll(t, "pi-1 reconnects", nc.IsConnected)
		}
		key := fmt.Sprintf("pi-1.live%d", i)
		poll(t, "admin put "+key, func() bool {
			_, err := adminKV.Put(ctx, key, []byte("v"))
			return err == nil
		})
		if en := next(); en.Key() != key {
			t.Fatalf("watch after restart=%v: key %q, want %q", restart, en.Key(), key)
		}
	}

	ack, err := js.Publish(ctx, fleet.EventSubject("pi-1", "web"), []byte(`{}`), jetstream.WithMsgID("pi-1.1.1.0123456789abcdef"))
	if err != nil {
		t.Fatalf("pi-1 publish event: %v", err)
	}
	if ack.Stream != fleet.EventsStream {
		t.Fatalf("event ack from stream %q, want %q", ack.Stream, fleet.EventsStream)
	}
	info, err := js.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		t.Fatalf("pi-1 KeyValue(%s): %v", fleet.DeviceInfoBucket, err)
	}
	if _, err := info.Put(ctx, fleet.DeviceInfoKey("pi-1"), []byte(`{}`)); err != nil {
		t.Fatalf("pi-1 put device info: %v", err)
	}
	if err := w.Stop(); err != nil {
		t.Errorf("watch stop: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A violation would have been sent before the flush's PONG.
	if v := errs.violations(); len(v) > 0 {
		t.Errorf("pi-1 saw permission violations: %v", v)
	}
	if v := e.srvLog.violations(); len(v) > 0 {
		t.Errorf("the server logged permission violations: %v", v)
	}
}
