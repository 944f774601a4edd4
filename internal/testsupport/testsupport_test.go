package testsupport

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	var n atomic.Int32
	if !Until(time.Second, func() bool { return n.Add(1) >= 3 }) {
		t.Errorf("Until(cond true on the third call) = false, want true")
	}
	start := time.Now()
	if Until(50*time.Millisecond, func() bool { return false }) {
		t.Errorf("Until(never) = true, want false")
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("Until(never, 50ms) returned after %v, want >= 50ms", took)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "%d\n", i) })
	}
	wg.Wait()
	if got := b.Len(); got != 20 {
		t.Errorf("Len() after 10 writes of 2 bytes = %d, want 20", got)
	}
	b.Reset()
	if got := b.String(); got != "" {
		t.Errorf("String() after Reset = %q, want empty", got)
	}
}
