package podman

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// TestLogsAndFollow: Logs returns both streams, in order, cut by lines;
// Follow shows a new line, and ends when its context does.
func TestLogsAndFollow(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("logs")
	spec := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: tr.image, Command: []string{"sh", "-c",
		`echo out-1; echo err-1 >&2; echo out-2; while true; do sleep 0.2; echo tick; done`}}
	tr.apply(tr.workload(name, spec))

	var out []byte
	testsupport.WaitFor(t, "three lines of output", func() bool {
		var err error
		out, _, err = tr.Logs(ctx(t), tr.device, name, 3, fleet.MaxLogsBytes)
		return err == nil && strings.HasPrefix(string(out), "out-1\n")
	})
	if !strings.Contains(string(out), "err-1\n") || strings.Count(string(out), "\n") != 3 {
		t.Errorf("Logs(tail 3) = %q, want out-1, err-1, out-2 (stdout and stderr)", out)
	}
	testsupport.WaitFor(t, "the last line", func() bool {
		b, _, err := tr.Logs(ctx(t), tr.device, name, 1, fleet.MaxLogsBytes)
		return err == nil && string(b) == "tick\n"
	})
	b, truncated, err := tr.Logs(ctx(t), tr.device, name, 100, 5)
	if err != nil || !truncated || len(b) > 5 {
		t.Errorf("Logs(max 5 bytes) = %q, %v, %v; want at most 5 bytes, truncated", b, truncated, err)
	}
	if _, _, err := tr.Logs(ctx(t), tr.device, tr.name("nope"), 10, 100); !errors.Is(err, runtime.ErrNoOutput) {
		t.Errorf("Logs(missing) = %v, want ErrNoOutput", err)
	}

	fctx, cancel := context.WithCancel(context.Background())
	ch, err := tr.Follow(fctx, tr.device, name)
	if err != nil {
		t.Fatalf("Follow = %v", err)
	}
	select {
	case b := <-ch:
		if !strings.Contains(string(b), "tick") {
			t.Errorf("Follow sent %q, want a tick", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow sent nothing within 5s")
	}
	cancel()
	for range ch { // drains until Follow closes it
	}

	root, err := tr.GraphRoot(ctx(t))
	if err != nil || root == "" {
		t.Errorf("GraphRoot = %q, %v", root, err)
	}
}
