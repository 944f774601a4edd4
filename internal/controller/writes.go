package controller

import (
	"context"
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet/rollout"
)

// writeConcurrency is how many desired-key writes a step keeps in flight.
// Each is a compare-and-set on its own key (a plan never puts one key
// twice), so their order does not matter; one at a time, a wave of 1,000
// devices waited for 1,000 round trips in a row, each longer on a server
// busy with the wave's events.
const writeConcurrency = 32

// putAll performs puts, up to writeConcurrency at once, and returns when
// every write it started is done. It starts none once the lease is lost
// or ctx is done: at most writeConcurrency writes planned under the lease
// are still in flight then, each fenced by its compare-and-set.
func (c *Controller) putAll(ctx context.Context, puts []rollout.Put) {
	if len(puts) == 0 {
		return
	}
	// next is unbuffered: the lease is checked before each hand-off.
	next := make(chan rollout.Put)
	var wg sync.WaitGroup
	for range min(writeConcurrency, len(puts)) {
		wg.Go(func() {
			for p := range next {
				c.put(ctx, p)
			}
		})
	}
	for _, p := range puts {
		if !c.lease.held() || ctx.Err() != nil {
			break
		}
		next <- p
	}
	close(next)
	wg.Wait()
}
