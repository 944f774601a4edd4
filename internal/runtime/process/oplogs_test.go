package process

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// TestLogsWithPreviousSegment: Logs reads the previous segment (.1) when
// the log itself is short, counting lines across both, under the log's
// lock; a missing log is ErrNoOutput.
func TestLogsWithPreviousSegment(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{LogCheckInterval: time.Hour})
	ctx := context.Background()
	if _, _, err := r.Logs(ctx, dev, "web", 10, 1000); !errors.Is(err, runtime.ErrNoOutput) {
		t.Errorf("Logs(no log) = %v, want ErrNoOutput", err)
	}
	h.apply(r, workload("web", shell(`echo out-1; echo err-1 >&2; echo out-2; exec sleep 600`)))
	waitLog(t, r, "web", "out-2\n")
	// As the capper leaves it: older lines in web.log.1.
	if err := os.WriteFile(r.logPath("web")+prevSuffix, []byte("old-1\nold-2\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		tail, max int
		want      string
		truncated bool
	}{
		{"from the log alone", 2, 1000, "err-1\nout-2\n", false},
		{"into the previous segment", 4, 1000, "old-2\nout-1\nerr-1\nout-2\n", false},
		{"all", 100, 1000, "old-1\nold-2\nout-1\nerr-1\nout-2\n", false},
		{"cut by bytes at a line", 100, 13, "err-1\nout-2\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated, err := r.Logs(ctx, dev, "web", tt.tail, tt.max)
			if err != nil || string(got) != tt.want || truncated != tt.truncated {
				t.Errorf("Logs(%d, %d) = %q, %v, %v; want %q, %v", tt.tail, tt.max, got, truncated, err, tt.want, tt.truncated)
			}
		})
	}
}

// TestFollow: Follow sends new output, goes on from the start after the
// log was cut, and ends with its context.
func TestFollow(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{LogCheckInterval: time.Hour})
	h.apply(r, workload("tick", shell(`i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done`)))
	waitLog(t, r, "tick", "tick-1\n")
	fctx, cancel := context.WithCancel(context.Background())
	ch, err := r.Follow(fctx, dev, "tick")
	if err != nil {
		t.Fatal(err)
	}
	next := func() string {
		select {
		case b := <-ch:
			return string(b)
		case <-time.After(5 * time.Second):
			t.Fatal("Follow sent nothing within 5s")
			return ""
		}
	}
	if got := next(); !strings.Contains(got, "tick-") || strings.Contains(got, "tick-1\n") {
		t.Errorf("Follow sent %q, want new ticks only", got)
	}
	lock := r.logs.of("tick")
	lock.Lock()
	err = os.Truncate(r.logPath("tick"), 0) // as capLog does
	lock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got := next(); !strings.Contains(got, "tick-") {
		t.Errorf("Follow after the cut sent %q, want ticks", got)
	}
	cancel()
	for range ch { // until Follow closes it
	}
}
