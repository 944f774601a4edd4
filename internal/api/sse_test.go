package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// sseStream reads server-sent events from one response.
type sseStream struct {
	lines chan string // one reader goroutine's lines; buffered so it never blocks long
	done  chan struct{}
}

func openSSE(t *testing.T, ctx context.Context, url string) (*http.Response, *sseStream) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseStream{lines: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-s.done })
	return resp, s
}

// next returns the next line that has prefix, within timeout.
func (s *sseStream) next(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("stream ended waiting for a line %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within %v", prefix, timeout)
		}
	}
}

func TestEventsStream(t *testing.T) {
	v := smallFleet()
	_, hs := newTestServer(t, Options{View: v, KeepAlive: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, all := openSSE(t, ctx, hs.URL+"/api/v1/events")
	_, onlyPi3 := openSSE(t, ctx, hs.URL+"/api/v1/events?device=pi-3")
	all.next(t, ": connected", 5*time.Second)
	onlyPi3.next(t, ": connected", 5*time.Second)
	testsupport.WaitFor(t, "two subscribers", func() bool { return v.subscribers() == 2 })

	// A keep-alive comment while idle.
	all.next(t, ": keep-alive", 5*time.Second)

	// A new event arrives within a second.
	e := event("pi-2", "web", 2, fleet.PhaseFailed, fleet.PhaseRunning, "")
	start := time.Now()
	v.apply(e)
	if l := all.next(t, "event: ", time.Second); l != "event: "+EventName {
		t.Fatalf("event line = %q", l)
	}
	data := all.next(t, "data: ", time.Second)
	t.Logf("event delivered in %v", time.Since(start))
	var got fleet.StateChangeEvent
	if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &got); err != nil {
		t.Fatalf("data %q: %v", data, err)
	}
	if got.DeviceID != e.DeviceID || got.Deployment != e.Deployment || got.Revision != e.Revision || got.Transition.To != fleet.PhaseRunning {
		t.Errorf("event = %+v, want %+v", got, e)
	}

	// The filtered stream skips it and gets pi-3's.
	v.apply(event("pi-3", "job", 2, fleet.PhaseRunning, fleet.PhaseFailed, "exit 1"))
	data = onlyPi3.next(t, "data: ", time.Second)
	if !strings.Contains(data, `"device_id":"pi-3"`) {
		t.Errorf("filtered stream got %s, want pi-3's event", data)
	}

	// The client goes: its subscription ends.
	cancel()
	testsupport.WaitFor(t, "the subscriptions to end after the clients left", func() bool { return v.subscribers() == 0 })
}
