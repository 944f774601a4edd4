package daemon

import (
	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/deviceops"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// startDeviceOps answers fleet.device.<device>.logs|restart|ping for a
// (ARCHITECTURE 11). A runtime that cannot read logs (one still being
// reopened) answers "runtime unavailable". Its failure to subscribe is
// logged, not fatal: the agent keeps reconciling without it. The caller
// closes the server (nil-safe through stopDeviceOps).
func startDeviceOps(nc *nats.Conn, device fleet.DeviceID, version string, epoch fleet.AgentEpoch, a *agent.Agent,
	runtimes map[fleet.RuntimeKind]runtime.Runtime, log *zap.Logger) *deviceops.Server {
	byKind := make(map[fleet.RuntimeKind]deviceops.RuntimeLogs)
	for kind, rt := range runtimes {
		if l, ok := rt.(deviceops.RuntimeLogs); ok {
			byKind[kind] = l
		}
	}
	srv, err := deviceops.Start(deviceops.Config{
		Conn:      nc,
		Device:    device,
		Version:   version,
		Epoch:     epoch,
		StartedAt: a.Info().StartedAt,
		Logs:      deviceops.Runtimes{Device: device, Locate: a.RuntimeOf, ByKind: byKind},
		Restarter: a,
		Phases:    func() map[fleet.Phase]int { return a.Summary().Phases },
		Log:       log.Named("deviceops"),
	})
	if err != nil {
		log.Error("device operations unavailable (logs, restart, ping)", zap.Error(err))
		return nil
	}
	return srv
}

func stopDeviceOps(s *deviceops.Server) {
	if s != nil {
		s.Close()
	}
}
