package agent

import (
	"slices"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// t0 is the queue's creation time in these tests.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

// items returns what is queued, in order.
func (q *queue) itemsNow() []fleet.DeploymentName {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.items)
}

func TestQueueDedup(t *testing.T) {
	q := newQueue(t0)
	for _, n := range []fleet.DeploymentName{"web", "db", "web", "web", "db", "cache"} {
		q.add(n)
	}
	want := []fleet.DeploymentName{"web", "db", "cache"}
	if got := q.itemsNow(); !slices.Equal(got, want) {
		t.Fatalf("queued after adds = %v, want %v", got, want)
	}
	for _, w := range want {
		got, ok := q.get(at(0))
		if !ok || got != w {
			t.Fatalf("get() = %q, %v, want %q, true", got, ok, w)
		}
	}
}

func TestQueueAgainAfterDone(t *testing.T) {
	q := newQueue(t0)
	q.add("web")
	name, _ := q.get(at(0))
	// Added while a worker holds it: not handed to another worker...
	q.add("web")
	q.add("web")
	q.add("db")
	if got, want := q.itemsNow(), []fleet.DeploymentName{"db"}; !slices.Equal(got, want) {
		t.Fatalf("queued while web is active = %v, want %v", got, want)
	}
	// ...but queued once more when the worker is done.
	q.done(name, t0)
	if got, want := q.itemsNow(), []fleet.DeploymentName{"db", "web"}; !slices.Equal(got, want) {
		t.Fatalf("queued after done(web) = %v, want %v", got, want)
	}
	// Done without an add meanwhile: not queued again.
	for range 2 {
		n, _ := q.get(at(0))
		q.done(n, t0)
	}
	if got := q.itemsNow(); len(got) != 0 {
		t.Fatalf("queued after both done = %v, want none", got)
	}
}

func TestQueueClose(t *testing.T) {
	q := newQueue(t0)
	got := make(chan bool) // unbuffered: the test receives each result
	for range 2 {
		go func() {
			_, ok := q.get(at(0))
			got <- ok
		}()
	}
	q.close()
	for range 2 {
		select {
		case ok := <-got:
			if ok {
				t.Errorf("get() after close reported true")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("get() still blocked 10s after close")
		}
	}
	q.add("web")
	if items := q.itemsNow(); len(items) != 0 {
		t.Errorf("add after close queued %v, want nothing", items)
	}
	if _, ok := q.get(at(0)); ok {
		t.Errorf("get() on a closed queue reported true")
	}
}

func TestQueueCloseDropsQueued(t *testing.T) {
	q := newQueue(t0)
	q.add("web")
	q.close()
	if name, ok := q.get(at(0)); ok {
		t.Errorf("get() after close = %q, true, want false", name)
	}
}

func TestQueueStalled(t *testing.T) {
	const limit = 10 * time.Minute
	tests := []struct {
		name string
		// steps run on a new queue created at t0
		steps func(q *queue)
		now   time.Duration
		want  bool
	}{
		{"empty", func(q *queue) {}, time.Hour, false},
		{"queued, no worker busy", func(q *queue) { q.add("a") }, time.Hour, false},
		{"busy, nothing waits", func(q *queue) { q.add("a"); q.get(at(0)) }, time.Hour, false},
		{"waits behind a busy worker, within limit", func(q *queue) {
			q.add("a")
			q.get(at(0))
			q.add("b")
		}, limit - time.Second, false},
		{"waits behind a busy worker, past limit", func(q *queue) {
			q.add("a")
			q.get(at(0))
			q.add("b")
		}, limit + time.Second, true},
		{"burst after a long idle time", func(q *queue) {
			q.add("a")
			n, _ := q.get(at(0))
			q.done(n, t0)
			// An hour later, more work than workers arrives.
			q.add("b")
			q.get(at(time.Hour))
			q.add("c")
		}, time.Hour + time.Minute, false},
		{"a finished item is progress", func(q *queue) {
			q.add("a")
			q.add("b")
			n, _ := q.get(at(0))
			q.done(n, t0.Add(20*time.Minute))
			q.get(at(20 * time.Minute))
			q.add("c")
		}, 25 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(t0)
			tt.steps(q)
			if got := q.stalled(t0.Add(tt.now), limit); got != tt.want {
				t.Errorf("stalled(t0+%v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}
