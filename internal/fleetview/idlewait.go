package fleetview

import (
	"context"
	"time"
)

// idleWait bounds each of a run of waits (one per stored message) by idle,
// under a parent context: one context and one timer for the run, re-armed
// per wait, rather than a timer (NextMaxWait) or a context.WithTimeout per
// message, which cost a reader of many stored messages a tenth of its
// time. Not safe for concurrent use.
type idleWait struct {
	idle   time.Duration
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

// arm returns the context of one wait under parent, done idle from now;
// call disarm once the wait is over. The context is made again when
// parent is another or the last wait ran out.
func (w *idleWait) arm(parent context.Context) context.Context {
	if w.ctx == nil || w.parent != parent || w.ctx.Err() != nil {
		w.stop()
		w.parent = parent
		w.ctx, w.cancel = context.WithCancel(parent)
		w.timer = time.AfterFunc(w.idle, w.cancel)
		return w.ctx
	}
	w.timer.Reset(w.idle)
	return w.ctx
}

// disarm ends the wait arm began.
func (w *idleWait) disarm() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// expired reports whether the last wait ran out (or its parent is done).
func (w *idleWait) expired() bool { return w.ctx != nil && w.ctx.Err() != nil }

// stop releases the context and the timer.
func (w *idleWait) stop() {
	if w.ctx != nil {
		w.timer.Stop()
		w.cancel()
	}
}
