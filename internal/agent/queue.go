package agent

import (
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// queue hands deployment names to workers: a name is queued at most once,
// and a name added while a worker holds it is queued again when that
// worker is done, so no two workers ever hold the same name.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []fleet.DeploymentName
	queued map[fleet.DeploymentName]bool
	active map[fleet.DeploymentName]bool
	again  map[fleet.DeploymentName]bool
	closed bool
	// progress is when a worker last took or finished a name: work that
	// waits behind busy workers is stuck only if none moved since.
	progress time.Time
}

func newQueue(now time.Time) *queue {
	q := &queue{
		queued:   make(map[fleet.DeploymentName]bool),
		active:   make(map[fleet.DeploymentName]bool),
		again:    make(map[fleet.DeploymentName]bool),
		progress: now,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues name unless it is already queued; a no-op once closed.
func (q *queue) add(name fleet.DeploymentName) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(name)
}

func (q *queue) addLocked(name fleet.DeploymentName) {
	switch {
	case q.closed, q.queued[name]:
	case q.active[name]:
		q.again[name] = true
	default:
		q.queued[name] = true
		q.items = append(q.items, name)
		q.cond.Signal()
	}
}

// get blocks until a name is queued, and marks it active at now(). It
// reports false once the queue is closed.
func (q *queue) get(now func() time.Time) (fleet.DeploymentName, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	name := q.items[0]
	q.items[0] = ""
	q.items = q.items[1:]
	delete(q.queued, name)
	q.active[name] = true
	q.progress = now()
	return name, true
}

// done releases name, queueing it again if it was added meanwhile.
func (q *queue) done(name fleet.DeploymentName, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, name)
	q.progress = now
	if q.again[name] {
		delete(q.again, name)
		q.addLocked(name)
	}
}

// close wakes every worker; queued names are dropped (the next start
// reconciles everything anyway).
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// stalled reports whether names wait while no worker took or finished one
// since before now-limit: every worker is stuck. A burst of work after a
// long idle time is not a stall.
func (q *queue) stalled(now time.Time, limit time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) > 0 && len(q.active) > 0 && now.Sub(q.progress) > limit
}
