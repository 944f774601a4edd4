//go:build embednats

package controller

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// TestLeaseFollowsBucketTTL: a controller configured with a longer TTL
// than the lease bucket's (a bucket made by a release with another
// ControllerLeaseTTL) renews within the bucket's TTL: its key never
// expires under it, and a standby never leads beside it.
func TestLeaseFollowsBucketTTL(t *testing.T) {
	e := newEnv(t) // the bucket's TTL is 2 s
	a, err := New(Config{JS: e.js, ID: "a", Log: zaptest.NewLogger(t), LeaseTTL: 10 * time.Second,
		RenewEvery: 5 * time.Second, AcquireEvery: 100 * time.Millisecond, Tick: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	testsupport.WaitFor(t, "a leads", func() bool { return a.Status().Leader })
	b, _ := e.start("b")
	// Past the bucket's TTL: with a renewal every 5 s, a's key would
	// expire after 2 s and b would take it while a still counts itself
	// the holder.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if b.Status().Leader {
			t.Fatal("b leads beside a: a's key expired before a renewed it")
		}
		if !a.Status().Leader {
			t.Fatal("a lost the lease")
		}
		time.Sleep(100 * time.Millisecond) // observing a steady state, not waiting for one
	}
}
