//go:build embednats

package publisher_test

import (
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
)

// TestDeviceInfoHost: each put carries a fresh host sample.
func TestDeviceInfoHost(t *testing.T) {
	_, js := setup(t)
	var samples int
	host := func() fleet.HostInfo {
		samples++ // Run's goroutine only
		up := uint64(100 + samples)
		return fleet.HostInfo{UptimeSeconds: &up, Throttled: []fleet.ThrottleFlag{}}
	}
	p := publisher.New(js, publisher.Config{Device: device, Info: info(), Host: host,
		HeartbeatInterval: 50 * time.Millisecond, InfoDebounce: time.Millisecond})
	run(t, p)
	waitFor(t, "two device info puts", func() bool { return p.Stats().InfoPuts >= 2 })
	got, _ := storedInfo(t, js)
	if got.Host == nil || got.Host.UptimeSeconds == nil || *got.Host.UptimeSeconds < 102 {
		t.Fatalf("device info host = %+v, want a sample newer than the first", got.Host)
	}
}
