//go:build embednats

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/deviceops"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// opsSource is an in-memory deviceops.LogSource: "web" printed three
// lines, and prints one more every 50 ms while followed.
type opsSource struct{}

func (opsSource) Logs(_ context.Context, name fleet.DeploymentName, tail, _ int) ([]byte, bool, error) {
	if name != "web" {
		return nil, false, agent.ErrUnknownDeployment
	}
	lines := []string{"one\n", "two\n", "three\n"}
	return []byte(strings.Join(lines[max(0, len(lines)-tail):], "")), false, nil
}

func (opsSource) Follow(ctx context.Context, _ fleet.DeploymentName) (<-chan []byte, error) {
	ch := make(chan []byte)
	go func() {
		defer close(ch)
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			select {
			case ch <- fmt.Appendf(nil, "new-%d\n", i):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

type opsRestarter struct{ n atomic.Int32 }

func (r *opsRestarter) Restart(name fleet.DeploymentName) error {
	if name != "web" {
		return agent.ErrUnknownDeployment
	}
	r.n.Add(1)
	return nil
}

func startOps(t *testing.T) (string, *opsRestarter) {
	t.Helper()
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := &opsRestarter{}
	ops, err := deviceops.Start(deviceops.Config{
		Conn: nc, Device: "pi-1", Version: "9.9.9", Epoch: 1234, StartedAt: time.Now(),
		Logs: opsSource{}, Restarter: r,
		Phases: func() map[fleet.Phase]int { return map[fleet.Phase]int{fleet.PhaseRunning: 1} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ops.Close)
	return srv.ClientURL(), r
}

func TestDeviceOpsCommands(t *testing.T) {
	url, restarter := startOps(t)
	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantErrOut string
	}{
		{"logs", []string{"logs", "pi-1", "web"}, exitOK, "one\ntwo\nthree\n", ""},
		{"logs --tail 1", []string{"logs", "pi-1", "web", "--tail", "1"}, exitOK, "three\n", ""},
		{"logs unknown", []string{"logs", "pi-1", "db"}, exitFailure, "", "unknown deployment"},
		{"logs no agent", []string{"logs", "pi-2", "web"}, exitFailure, "", "no agent answers for this device"},
		{"logs bad tail", []string{"logs", "pi-1", "web", "--tail", "-1"}, exitUsage, "", "--tail -1"},
		{"restart", []string{"restart", "web", "--device", "pi-1"}, exitOK, "web on pi-1: restart queued\n", ""},
		{"restart no device", []string{"restart", "web"}, exitUsage, "", "--device: required"},
		{"ping", []string{"ping", "pi-1", "--count", "2", "--interval", "10ms"}, exitOK, "2 sent, 2 received\nrtt min/avg/max = ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append(tt.args, "-s", url)...)
			if code != tt.code || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErrOut) {
				t.Errorf("run(%q) = %d, %q, %q; want %d, %q, %q", tt.args, code, out, errOut, tt.code, tt.wantOut, tt.wantErrOut)
			}
		})
	}
	if n := restarter.n.Load(); n != 1 {
		t.Errorf("restarts = %d, want 1", n)
	}
	_, out, _ := runCmd(t, "ping", "pi-1", "--count", "1", "-s", url)
	if !strings.Contains(out, "version=9.9.9 epoch=1234") || !strings.Contains(out, "deployments=running=1") {
		t.Errorf("ping = %q, want version, epoch and phases", out)
	}
}

// TestLogsFollowInterrupt follows until new lines come, then cancels the
// context (Ctrl-C): the command returns 0 at once, leaving no goroutine
// (goleak, in TestMain).
func TestLogsFollowInterrupt(t *testing.T) {
	url, _ := startOps(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testsupport.SyncBuffer
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"logs", "pi-1", "web", "--follow", "--timestamps", "-s", url}, &out, &errOut)
	}()
	testsupport.Poll(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "new-1\n") },
		func() string { return fmt.Sprintf("a followed line; stdout %q", out.String()) })
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("follow interrupted = %d, stderr %q; want 0", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not stop within 5s of the interrupt")
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(first)[0]); err != nil || !strings.HasSuffix(first, " one") {
		t.Errorf("first line %q, want a timestamp then one (%v)", first, errors.Unwrap(err))
	}
}
