//go:build embednats

package natsconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

func TestEnsureResourcesIdempotent(t *testing.T) {
	_, js := setup(t)
	ctx := ctxT(t)
	for i := range 2 {
		if err := natsconn.EnsureResources(ctx, js, natsconn.DefaultResourceSettings()); err != nil {
			t.Fatalf("EnsureResources call %d: %v", i+1, err)
		}
	}
	// Zero settings mean the defaults: no mismatch either.
	if err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{}); err != nil {
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
	for bucket, history := range map[string]int64{fleet.DesiredStateBucket: 5, fleet.DeviceInfoBucket: 1, fleet.DeviceRegistryBucket: 1} {
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
	err := natsconn.EnsureResources(ctx, js, natsconn.DefaultResourceSettings())
	if !errors.Is(err, natsconn.ErrResourceMismatch) {
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
	err = natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{DuplicateWindow: 2 * time.Minute, DesiredHistory: 3})
	if !errors.Is(err, natsconn.ErrResourceMismatch) || !strings.Contains(err.Error(), "bucket desired-state") || !strings.Contains(err.Error(), "history is 5, want 3") {
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
			_, js := natstest.ConnectAgent(t, strings.Replace(url, "nats://", "nats://u:p@", 1))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{})
			if !errors.Is(err, natsconn.ErrNotPermitted) {
				t.Fatalf("EnsureResources = %v, want ErrNotPermitted", err)
			}
			for _, what := range []string{"stream FLEET_EVENTS: natsconn: not permitted", "bucket desired-state: natsconn: not permitted", "bucket device-info: natsconn: not permitted"} {
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
