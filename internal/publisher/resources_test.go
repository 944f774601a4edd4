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

func TestEnsureResourcesIdempotent(t *testing.T) {
	_, js := setup(t)
	ctx := ctxT(t)
	for i := range 2 {
		if err := publisher.EnsureResources(ctx, js, publisher.DefaultResourceSettings()); err != nil {
			t.Fatalf("EnsureResources call %d: %v", i+1, err)
		}
	}
	// Zero settings mean the defaults: no mismatch either.
	if err := publisher.EnsureResources(ctx, js, publisher.ResourceSettings{}); err != nil {
		t.Fatalf("EnsureResources(zero settings): %v", err)
	}

	st, err := js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	c := st.CachedInfo().Config
	if len(c.Subjects) != 1 || c.Subjects[0] != "fleet.events.>" || c.Storage != jetstream.FileStorage ||
		c.Retention != jetstream.LimitsPolicy || c.Duplicates != 10*time.Minute || c.MaxAge != 7*24*time.Hour || c.Replicas != 1 {
		t.Errorf("FLEET_EVENTS config = %+v, want fleet.events.>, file, limits, 10m dup window, 7d, R1", c)
	}
	for bucket, history := range map[string]int64{fleet.DesiredStateBucket: 5, fleet.DeviceInfoBucket: 1} {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatalf("KeyValue(%s): %v", bucket, err)
		}
		s, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.History() != history || s.BackingStore() != "JetStream" {
			t.Errorf("bucket %s: history %d, want %d", bucket, s.History(), history)
		}
	}
}

// TestEnsureResourcesMismatch: an existing stream with other settings is
// reported, by resource and setting, and left alone; the rest is created.
func TestEnsureResourcesMismatch(t *testing.T) {
	_, js := setup(t)
	ctx := ctxT(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: fleet.EventsStream, Subjects: []string{"fleet.events.>"}, Duplicates: 2 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	err := publisher.EnsureResources(ctx, js, publisher.DefaultResourceSettings())
	if !errors.Is(err, publisher.ErrResourceMismatch) {
		t.Fatalf("EnsureResources = %v, want ErrResourceMismatch", err)
	}
	for _, want := range []string{"stream FLEET_EVENTS", "duplicate window is 2m0s, want 10m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("EnsureResources error %q does not say %q", err, want)
		}
	}
	if strings.Count(err.Error(), "existing resource differs") != 1 {
		t.Errorf("EnsureResources error %q: want exactly one mismatch", err)
	}
	st, err := js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.CachedInfo().Config.Duplicates; d != 2*time.Minute {
		t.Errorf("FLEET_EVENTS duplicate window changed to %s", d)
	}
	for _, b := range []string{fleet.DesiredStateBucket, fleet.DeviceInfoBucket} {
		if _, err := js.KeyValue(ctx, b); err != nil {
			t.Errorf("bucket %s not created: %v", b, err)
		}
	}

	// Other history for a bucket is reported as well.
	err = publisher.EnsureResources(ctx, js, publisher.ResourceSettings{DuplicateWindow: 2 * time.Minute, DesiredHistory: 3})
	if !errors.Is(err, publisher.ErrResourceMismatch) || !strings.Contains(err.Error(), "bucket desired-state") || !strings.Contains(err.Error(), "history is 5, want 3") {
		t.Errorf("EnsureResources(history 3) = %v, want a history mismatch on bucket desired-state", err)
	}
}

func TestEnsureResourcesNotPermitted(t *testing.T) {
	tests := []struct {
		name string
		conf string
	}{
		{"permissions", `authorization { users = [ { user: u, password: p, permissions: { publish: { deny: ["$JS.API.STREAM.CREATE.>"] } } } ] }`},
		{"no jetstream for the account", `accounts { A: { users = [ { user: u, password: p } ] } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := natstest.StartConfig(t, tt.conf)
			_, js := connect(t, strings.Replace(url, "nats://", "nats://u:p@", 1))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := publisher.EnsureResources(ctx, js, publisher.ResourceSettings{})
			if !errors.Is(err, publisher.ErrNotPermitted) {
				t.Fatalf("EnsureResources = %v, want ErrNotPermitted", err)
			}
			for _, what := range []string{"stream FLEET_EVENTS: publisher: not permitted", "bucket desired-state: publisher: not permitted", "bucket device-info: publisher: not permitted"} {
				if !strings.Contains(err.Error(), what) {
					t.Errorf("EnsureResources error %q does not say %q", err, what)
				}
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

// TestPublishWithoutCreatePermission: an agent that may not create streams
// says so once and publishes to what the operator created.
func TestPublishWithoutCreatePermission(t *testing.T) {
	url := natstest.StartConfig(t, `authorization { users = [
		{ user: admin, password: a },
		{ user: agent, password: p, permissions: { publish: { deny: ["$JS.API.STREAM.CREATE.>"] } } }
	] }`)
	_, admin := connect(t, strings.Replace(url, "nats://", "nats://admin:a@", 1))
	ctx := ctxT(t)
	if _, err := admin.CreateStream(ctx, jetstream.StreamConfig{Name: fleet.EventsStream, Subjects: []string{fleet.EventsSubjects}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fleet.DeviceInfoBucket}); err != nil {
		t.Fatal(err)
	}

	_, js := connect(t, strings.Replace(url, "nats://", "nats://agent:p@", 1))
	core, logs := observer.New(zap.WarnLevel)
	p := publisher.New(js, publisher.Config{Device: device, Info: info(), PublishTimeout: 300 * time.Millisecond, Log: zap.New(core)})
	run(t, p)
	want := events(1, 3)
	for _, e := range want {
		p.Publish(e)
	}
	waitFor(t, "3 events published", func() bool { return p.Stats().Published == 3 })
	waitFor(t, "device info written", func() bool { return p.Stats().InfoPuts >= 1 })
	checkStored(t, admin, want)
	warns := logs.FilterMessageSnippet("JetStream resources not as wanted").All()
	if len(warns) != 1 {
		t.Fatalf("%d warnings about resources, want 1", len(warns))
	}
	if err, _ := warns[0].ContextMap()["error"].(string); !strings.Contains(err, "create bucket desired-state: publisher: not permitted") || !strings.Contains(err, "duplicate window is 1m0s") {
		t.Errorf("warning error = %q, want the refused bucket and the stream mismatch", err)
	}
}
