package agent

import (
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// effect is one thing to do outside Agent.mu, in order: a log line and,
// for a recorded transition, the event to publish.
type effect struct {
	level  zapcore.Level
	msg    string
	fields []zap.Field
	// event, when set, goes to Publisher.Publish, followed by InfoChanged.
	event *fleet.StateChangeEvent
}

// effects performs effects in the order they were emitted, outside
// Agent.mu. Effects are emitted while Agent.mu is held (so in the order
// the reconciler recorded them: sequence order) and performed by whichever
// goroutine calls flush, one at a time (order), so events reach the
// Publisher in exactly sequence order however many workers record at once.
type effects struct {
	log *zap.Logger
	pub Publisher

	mu sync.Mutex // guards pending
	// pending is what was emitted and not yet taken by a flush, oldest
	// first.
	pending []effect
	// order is held by the goroutine performing effects: a second flush
	// waits, so by the time flush returns every effect emitted before it
	// was called has been performed.
	order sync.Mutex
}

// emit queues e. Call it with Agent.mu held: the order of the calls is
// the order of the effects.
func (q *effects) emit(e effect) {
	q.mu.Lock()
	q.pending = append(q.pending, e)
	q.mu.Unlock()
}

// flush performs every pending effect, in order. Call it without
// Agent.mu held.
func (q *effects) flush() {
	q.order.Lock()
	defer q.order.Unlock()
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, e := range batch {
			q.log.Log(e.level, e.msg, e.fields...)
			if e.event != nil {
				q.pub.Publish(*e.event)
				q.pub.InfoChanged()
			}
		}
	}
}
