package testsupport

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds WaitFor: generous, since CI machines are shared and
// a loaded two-core machine runs the race detector.
const DefaultTimeout = 30 * time.Second

// PollInterval is how often WaitFor and Poll check their condition.
const PollInterval = 10 * time.Millisecond

// WaitFor polls cond until it holds, failing the test after DefaultTimeout
// with what as the thing waited for.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Poll(t, DefaultTimeout, cond, func() string { return what })
}

// Poll polls cond every PollInterval until it holds, failing the test after
// timeout with what() (evaluated then, so it can describe the last state
// seen) as the thing waited for.
func Poll(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what())
	}
}

// Until polls cond every PollInterval until it holds or timeout passes, and
// reports whether it held.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes (a logger, a
// process's output) and the test's reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Len returns the number of bytes written so far.
func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// Reset discards everything written so far.
func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// SkipOutsideCI skips t, saying why, when CI is unset; in CI (CI set) a
// test that cannot run is a failure, since a skipped test proves nothing.
func SkipOutsideCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot run in CI: "+format, args...)
	}
	t.Skipf(format+" (skipped outside CI only)", args...)
}
