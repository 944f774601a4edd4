//go:build embednats

package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/daemon"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

const (
	device      fleet.DeviceID = "pi-017"
	waitTimeout                = 30 * time.Second
)

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, func() string { return what })
}

// agentConfig is a configuration for device against url, state in a
// temporary directory, without podman.
func agentConfig(t *testing.T, url string) config.Config {
	cfg := config.Default()
	cfg.DeviceID = device
	cfg.StateDir = t.TempDir()
	cfg.NATS.URLs = []string{url}
	cfg.Runtime.Podman.Socket = ""
	return cfg
}

// start runs daemon.Run in a goroutine; the returned channel gets its
// result.
func start(t *testing.T, ctx context.Context, cfg config.Config, log *zap.Logger) <-chan error {
	done := make(chan error, 1) // never blocks Run's goroutine
	go func() { done <- daemon.Run(ctx, cfg, log, daemon.Options{Version: "test"}) }()
	return done
}

// TestStopBoundWithPermissionsDenied: with NATS refusing every event
// (publish to fleet.events.> denied), events pile up unsent; a stop still
// returns within stop_timeout plus a second.
func TestStopBoundWithPermissionsDenied(t *testing.T) {
	url := natstest.StartConfig(t, `authorization { users = [
		{ user: admin, password: a },
		{ user: agent, password: p, permissions: { publish: { deny: ["fleet.events.>"] } } }
	] }`)
	admin, err := nats.Connect(url, nats.UserInfo("admin", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{}); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, fleet.DesiredKey(device, "job"), []byte(`{"runtime":"process","command":["/bin/true"],"restart":"never"}`)); err != nil {
		t.Fatal(err)
	}

	cfg := agentConfig(t, strings.Replace(url, "nats://", "nats://agent:p@", 1))
	cfg.Reconcile.StopTimeout = 2 * time.Second
	core, logs := observer.New(zap.DebugLevel)
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	done := start(t, runCtx, cfg, zap.New(core))
	// The job ran (pending, running, succeeded) and its events were
	// refused: they wait in the outbox.
	waitFor(t, "a publish refused", func() bool { return logs.FilterMessage("publish failed; keeping the event and retrying").Len() > 0 })
	// Stop while the next attempt (50-100 ms after the first failure) is
	// in flight, waiting its 5 s PublishTimeout for an ack that never
	// comes: the case where a stop used to wait for it, then flush.
	time.Sleep(500 * time.Millisecond)

	stop()
	began := time.Now()
	select {
	case err := <-done:
		took := time.Since(began)
		t.Logf("Run returned %s after the stop", took)
		if took > cfg.Reconcile.StopTimeout+time.Second {
			t.Errorf("Run returned %s after the stop, want within %s", took, cfg.Reconcile.StopTimeout+time.Second)
		}
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Run did not return within %s of the stop", waitTimeout)
	}
	if logs.FilterMessageSnippet("events left unsent at stop").Len() != 1 {
		t.Error("no warning about the events left unsent")
	}
}

// TestEpochLoadFailedSaveWorked: a corrupt saved epoch is a warning that
// says the time-based epoch is used and saved, not an error that it was
// not persisted.
func TestEpochLoadFailedSaveWorked(t *testing.T) {
	srv := natstest.Start(t)
	cfg := agentConfig(t, srv.ClientURL())
	if err := os.WriteFile(filepath.Join(cfg.StateDir, agent.EpochFile), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	ctx, stop := context.WithCancel(context.Background())
	done := start(t, ctx, cfg, zap.New(core))
	waitFor(t, "ready", func() bool { return logs.FilterMessage("ready").Len() == 1 })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	warn := logs.FilterMessage("saved epoch unreadable; using the time-based epoch (saved for the next run)").All()
	if len(warn) != 1 || warn[0].Level != zap.WarnLevel {
		t.Errorf("epoch log lines %v, want one warning", warn)
	}
	if n := logs.FilterMessageSnippet("not saved").Len() + logs.FilterMessageSnippet("not persisted").Len(); n != 0 {
		t.Errorf("%d log lines say the epoch was not saved; it was", n)
	}
}
