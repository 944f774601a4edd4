package fleetview

import (
	"context"
	"testing"
	"time"
)

// TestIdleWait: a wait is done once idle passes without disarm, not
// before; a re-armed wait after one ran out is a fresh one; a wait under
// a parent that is done is done.
func TestIdleWait(t *testing.T) {
	t.Run("runs out", func(t *testing.T) {
		w := idleWait{idle: 10 * time.Millisecond}
		defer w.stop()
		ctx := w.arm(context.Background())
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("arm(10ms): not done after 10s")
		}
		if !w.expired() {
			t.Error("expired() = false after the wait ran out, want true")
		}
		ctx = w.arm(context.Background())
		if ctx.Err() != nil || w.expired() {
			t.Errorf("arm after a wait ran out: ctx.Err() = %v, expired() = %v, want a fresh wait", ctx.Err(), w.expired())
		}
	})
	t.Run("disarmed", func(t *testing.T) {
		w := idleWait{idle: time.Hour}
		defer w.stop()
		for range 3 {
			if ctx := w.arm(context.Background()); ctx.Err() != nil {
				t.Fatalf("arm(1h) = a context done at once: %v", ctx.Err())
			}
			w.disarm()
		}
		if w.expired() {
			t.Error("expired() = true after disarmed waits, want false")
		}
	})
	t.Run("parent done", func(t *testing.T) {
		w := idleWait{idle: time.Hour}
		defer w.stop()
		parent, cancel := context.WithCancel(context.Background())
		ctx := w.arm(parent)
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("wait under a cancelled parent: not done after 10s")
		}
	})
}
