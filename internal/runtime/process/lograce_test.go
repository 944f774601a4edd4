package process

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// blockedCapper caps r's logs in a goroutine held at step of capLog until
// release is called; the test then races a start or a removal with it.
type blockedCapper struct {
	release func()
	done    chan struct{}
}

func holdCapper(t *testing.T, r *Runtime, step string) blockedCapper {
	t.Helper()
	reached, release := make(chan struct{}), make(chan struct{})
	r.capHook = func(_ fleet.DeploymentName, s string) {
		if s == step {
			close(reached)
			<-release
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.capAll()
	}()
	select {
	case <-reached:
	case <-time.After(waitTimeout):
		t.Fatalf("the capper did not reach step %q", step)
	}
	return blockedCapper{release: sync1(func() { close(release) }), done: done}
}

// sync1 returns f to be called once, whatever the number of calls.
func sync1(f func()) func() {
	called := false
	return func() {
		if !called {
			called = true
			f()
		}
	}
}

// lockWait is how long a racing start or removal is given to complete
// while the capper is held. With the log lock it cannot complete (it
// waits for the capper): this is the time that proves it waits, not a
// wait for a result.
const lockWait = 500 * time.Millisecond

// TestLogCapRacingStart: a capper between its steps when a new run starts
// neither truncates the new run's log nor leaves the old run's tail to be
// quoted: LogTail is the new run's output only.
func TestLogCapRacingStart(t *testing.T) {
	for _, step := range []string{"read", "truncated"} {
		t.Run(step, func(t *testing.T) {
			h := newHarness(t)
			const maxBytes = 4096
			r := h.runtime(Config{MaxLogBytes: maxBytes, LogCheckInterval: time.Hour})
			const name = fleet.DeploymentName("web")
			// What the old run left: a log over the cap.
			if err := os.WriteFile(r.logPath(name), []byte(strings.Repeat("old run\n", 2*maxBytes/8)), 0o640); err != nil {
				t.Fatal(err)
			}
			c := holdCapper(t, r, step)
			defer c.release()

			type result struct {
				pid int
				err error
			}
			applied := make(chan result, 1) // read once below
			go func() {
				st, err := r.Apply(context.Background(), workload(name, shell(`echo new run; exec sleep 1000`)))
				res := result{err: err}
				if err == nil {
					res.pid = pidOfStatus(st.ID)
				}
				applied <- res
			}()
			var res result
			select {
			case res = <-applied:
				// The start did not wait for the capper: let the new
				// run write before the capper goes on.
				if res.err == nil {
					h.track(res.pid)
					waitLog(t, r, name, "new run")
				}
			case <-time.After(lockWait):
				// It waits for the capper.
			}
			c.release()
			<-c.done
			if res.pid == 0 && res.err == nil {
				res = <-applied
				if res.err == nil {
					h.track(res.pid)
				}
			}
			if res.err != nil {
				t.Fatalf("Apply() = %v", res.err)
			}
			waitLog(t, r, name, "new run")
			tail, err := r.LogTail(context.Background(), dev, name, maxBytes)
			if err != nil || tail != "new run\n" {
				t.Errorf("LogTail() = %.60q, %v; want %q, the new run's output only", tail, err, "new run\n")
			}
		})
	}
}

// TestLogCapRacingRemove: a capper between its steps when the deployment
// is removed leaves no file of it behind.
func TestLogCapRacingRemove(t *testing.T) {
	for _, step := range []string{"read", "truncated"} {
		t.Run(step, func(t *testing.T) {
			h := newHarness(t)
			const maxBytes = 4096
			r := h.runtime(Config{MaxLogBytes: maxBytes, LogCheckInterval: time.Hour})
			const name = fleet.DeploymentName("web")
			h.apply(r, workload(name, shell(`echo started; exec sleep 1000`)))
			waitLog(t, r, name, "started")
			f, err := os.OpenFile(r.logPath(name), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteString(strings.Repeat("chatter\n", 2*maxBytes/8))
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			c := holdCapper(t, r, step)
			defer c.release()

			removed := make(chan error, 1) // read once below
			go func() { removed <- r.Remove(context.Background(), dev, name, 2*time.Second) }()
			var rmErr error
			got := false
			select {
			case rmErr = <-removed:
				got = true
			case <-time.After(lockWait):
			}
			c.release()
			<-c.done
			if !got {
				rmErr = <-removed
			}
			if rmErr != nil {
				t.Fatalf("Remove() = %v", rmErr)
			}
			left, _ := filepath.Glob(filepath.Join(h.dir, string(name)+".*"))
			if len(left) > 0 {
				t.Errorf("files left after Remove: %v, want none", left)
			}
		})
	}
}

// pidOfStatus parses a Status.ID; 0 when it is not a pid.
func pidOfStatus(id string) int {
	n := 0
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
