package daemon

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
	"github.com/harmony-edge/harmony-agent/internal/systemd"
)

// tickInterval is how often the agent reports health: half the watchdog
// interval when systemd set one.
func tickInterval(n *systemd.Notifier) time.Duration {
	if d, ok := n.WatchdogInterval(); ok {
		return min(d/2, agent.DefaultTickInterval)
	}
	return agent.DefaultTickInterval
}

// statusReporter returns the agent's OnTick: WATCHDOG=1 every tick, and a
// STATUS= line whenever it changes.
func statusReporter(n *systemd.Notifier, connected func() bool, pub *publisher.NATS, log *zap.Logger) func(agent.Summary) {
	last := ""
	return func(s agent.Summary) {
		if err := n.Watchdog(); err != nil {
			log.Debug("sd_notify WATCHDOG", zap.Error(err))
		}
		line := statusLine(connected(), s, pub.Stats())
		if line == last {
			return
		}
		last = line
		if err := n.Status("%s", line); err != nil {
			log.Debug("sd_notify STATUS", zap.Error(err))
		}
	}
}

// statusLine is the STATUS= text: "connected; 3 deployments running" or
// "offline; 12 events queued".
func statusLine(connected bool, s agent.Summary, st publisher.Stats) string {
	state := "connected"
	if !connected {
		state = "offline"
	}
	line := fmt.Sprintf("%s; %d deployments running", state, s.Phases[fleet.PhaseRunning])
	if n := s.Phases[fleet.PhaseFailed]; n > 0 {
		line += fmt.Sprintf(", %d failed", n)
	}
	if n := s.Phases[fleet.PhasePending]; n > 0 {
		line += fmt.Sprintf(", %d pending", n)
	}
	if st.Queued > 0 {
		line += fmt.Sprintf("; %d events queued", st.Queued)
	}
	if st.Dropped > 0 {
		line += fmt.Sprintf("; %d events dropped", st.Dropped)
	}
	return line
}
