//go:build embednats

package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSystemdNotify speaks the sd_notify protocol to a unixgram socket, as
// systemd would with Type=notify and WatchdogSec=2: READY=1 first, STATUS=
// lines saying what runs, WATCHDOG=1 every second, STOPPING=1 last.
func TestSystemdNotify(t *testing.T) {
	notify := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "2000000")
	h := newHarness(t)
	a := h.start(agentConfig{})

	if first := notify.waitFor("any", func(string) bool { return true }); first != "READY=1" {
		t.Fatalf("first sd_notify message = %q, want READY=1", first)
	}
	h.put("web", sleeper(nil))
	notify.waitFor("STATUS= with web running", func(m string) bool { return m == "STATUS=connected; 1 deployments running" })
	// Pings keep coming: two more, about a second apart.
	var pings []time.Time
	for len(pings) < 2 {
		notify.waitFor("WATCHDOG=1", func(m string) bool { return m == "WATCHDOG=1" })
		pings = append(pings, time.Now())
	}
	if gap := pings[1].Sub(pings[0]); gap < 500*time.Millisecond || gap >= 2*time.Second {
		t.Errorf("WATCHDOG=1 pings %v apart, want about 1s (half of WATCHDOG_USEC), surely under 2s", gap)
	}
	if code := a.stop(); code != exitOK {
		t.Errorf("exit code = %d, want %d", code, exitOK)
	}
	notify.waitFor("STOPPING=1", func(m string) bool { return m == "STOPPING=1" })
	if msg, ok := notify.next(200 * time.Millisecond); ok {
		t.Errorf("sd_notify message %q after STOPPING=1", msg)
	}

	seen := notify.seen
	index := func(pred func(string) bool) int { return slices.IndexFunc(seen, pred) }
	ready := index(func(m string) bool { return m == "READY=1" })
	status := index(func(m string) bool { return strings.HasPrefix(m, "STATUS=") })
	ping := index(func(m string) bool { return m == "WATCHDOG=1" })
	stopping := index(func(m string) bool { return m == "STOPPING=1" })
	if !(ready == 0 && ready < status && ready < ping && stopping == len(seen)-1) {
		t.Errorf("sd_notify messages %q: want READY=1 first, then STATUS= and WATCHDOG=1, STOPPING=1 last", seen)
	}
	for _, m := range seen {
		if strings.HasPrefix(m, "STATUS=") && !strings.Contains(m, "deployments running") {
			t.Errorf("STATUS line %q does not say what runs", m)
		}
	}
}
