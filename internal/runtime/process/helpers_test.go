package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	dev         fleet.DeviceID = "dev-1"
	waitTimeout                = 10 * time.Second
)

// harness owns the runtimes and processes of one test and, in t.Cleanup,
// kills every process group it started, closes the runtimes and reaps the
// zombies left by runtimes closed before their children exited.
type harness struct {
	t   *testing.T
	dir string

	mu       sync.Mutex
	runtimes []*Runtime
	pids     []int
	logs     []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir()}
	t.Cleanup(h.cleanup)
	return h
}

// runtime returns a new Runtime over the harness's state directory.
func (h *harness) runtime(cfg Config) *Runtime {
	h.t.Helper()
	cfg.StateDir = h.dir
	cfg.Logf = h.logf
	r, err := New(cfg)
	if err != nil {
		h.t.Fatalf("New() = %v", err)
	}
	h.mu.Lock()
	h.runtimes = append(h.runtimes, r)
	h.mu.Unlock()
	return r
}

// logf records the runtime's log lines and passes them to t.Logf.
func (h *harness) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	h.mu.Lock()
	h.logs = append(h.logs, msg)
	h.mu.Unlock()
	h.t.Log(msg)
}

// logged reports whether a log line contains s.
func (h *harness) logged(s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// track makes cleanup kill the process group pid.
func (h *harness) track(pid int) {
	h.mu.Lock()
	h.pids = append(h.pids, pid)
	h.mu.Unlock()
}

// apply calls r.Apply, fails the test on error and tracks the process.
func (h *harness) apply(r *Runtime, w runtime.Workload) runtime.Status {
	h.t.Helper()
	st, err := r.Apply(context.Background(), w)
	if err != nil {
		h.t.Fatalf("Apply(%s) = %v", w.Deployment, err)
	}
	h.track(pidOf(h.t, st))
	return st
}

func (h *harness) cleanup() {
	h.mu.Lock()
	pids, runtimes := h.pids, h.runtimes
	h.mu.Unlock()
	for _, pid := range pids {
		_ = unix.Kill(-pid, unix.SIGKILL)
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	deadline := time.Now().Add(waitTimeout)
	for _, pid := range pids {
		for groupAlive(pid) && time.Now().Before(deadline) {
			<-time.After(10 * time.Millisecond)
		}
		if groupAlive(pid) {
			h.t.Errorf("process group %d still alive after cleanup", pid)
		}
	}
	for _, r := range runtimes {
		if err := r.Close(); err != nil {
			h.t.Errorf("Close() = %v", err)
		}
	}
	// Children of a runtime closed before they exited are zombies of the
	// test process; a live runtime's reaper has reaped the others.
	for _, pid := range pids {
		_, _ = unix.Wait4(pid, nil, unix.WNOHANG, nil)
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, func() string { return what })
}

// waitState polls Observe until the deployment is in state want.
func waitState(t *testing.T, r *Runtime, name fleet.DeploymentName, want runtime.State) runtime.Status {
	t.Helper()
	var st runtime.Status
	waitFor(t, fmt.Sprintf("%s to be %v", name, want), func() bool {
		var err error
		st, err = r.Observe(context.Background(), dev, name)
		if err != nil {
			t.Fatalf("Observe(%s) = %v", name, err)
		}
		return st.State == want
	})
	return st
}

// watcher runs r.Watch in a goroutine it owns and collects the names.
type watcher struct {
	names  chan fleet.DeploymentName
	cancel context.CancelFunc
	done   chan error
}

func startWatch(t *testing.T, r *Runtime, device fleet.DeviceID) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{
		// Big enough for every event of a test; changed must not block.
		names:  make(chan fleet.DeploymentName, 64),
		cancel: cancel,
		// One result, kept for a second stop.
		done: make(chan error, 1),
	}
	go func() {
		w.done <- r.Watch(ctx, device, func(n fleet.DeploymentName) {
			select {
			case w.names <- n:
			default:
				t.Errorf("watcher channel full, dropped %s", n)
			}
		})
	}()
	t.Cleanup(func() { w.stop(t) })
	// Subscribed once the runtime counts it.
	waitFor(t, "Watch to subscribe", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.subs) > 0 || r.closed
	})
	return w
}

// stop cancels the watch and waits for it; it returns Watch's error.
func (w *watcher) stop(t *testing.T) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err // keep it for a second stop
		return err
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not return after cancel")
		return nil
	}
}

// expect waits for name to be reported within d.
func (w *watcher) expect(t *testing.T, name fleet.DeploymentName, d time.Duration) {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		select {
		case n := <-w.names:
			if n == name {
				return
			}
		case <-timeout.C:
			t.Fatalf("Watch did not report %s within %v", name, d)
		}
	}
}

func spec(command ...string) fleet.DeploymentSpec {
	return fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: command, GracePeriodSeconds: 2}
}

func shell(script string) fleet.DeploymentSpec { return spec("/bin/sh", "-c", script) }

func workload(name fleet.DeploymentName, s fleet.DeploymentSpec) runtime.Workload {
	return runtime.Workload{Device: dev, Deployment: name, Spec: s, SpecHash: fleet.SpecHash(s)}
}

func pidOf(t *testing.T, st runtime.Status) int {
	t.Helper()
	pid, err := strconv.Atoi(st.ID)
	if err != nil || pid <= 0 {
		t.Fatalf("Status.ID = %q, want a pid", st.ID)
	}
	return pid
}

func startTimeOf(t *testing.T, pid int) uint64 {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		t.Fatalf("readStat(%d) = %v", pid, err)
	}
	return st.StartTime
}

// waitFile waits until the file at path holds a whole line and returns it
// trimmed.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	var s string
	waitFor(t, path, func() bool {
		b, err := os.ReadFile(path)
		s = string(b)
		return err == nil && strings.HasSuffix(s, "\n")
	})
	return strings.TrimSpace(s)
}

// waitLog waits until the deployment's log contains s.
func waitLog(t *testing.T, r *Runtime, name fleet.DeploymentName, s string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("log of %s to contain %q", name, s), func() bool {
		b, err := os.ReadFile(filepath.Join(r.dir, string(name)+".log"))
		return err == nil && strings.Contains(string(b), s)
	})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
