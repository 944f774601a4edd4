package daemon

import (
	"github.com/nats-io/nats.go"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/metrics"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
)

// The agent's own metrics (metrics.listen, ARCHITECTURE 11).
const (
	metricTransitions   = "harmony_agent_transitions_total"
	metricRestarts      = "harmony_agent_workload_restarts_total"
	metricRefused       = "harmony_agent_desired_refused_total"
	metricLatency       = "harmony_agent_publish_latency_seconds"
	metricDeployments   = "harmony_agent_deployments"
	metricOutboxDepth   = "harmony_agent_outbox_events"
	metricOutboxDropped = "harmony_agent_outbox_dropped_total"
	metricPublished     = "harmony_agent_events_published_total"
	metricReconnects    = "harmony_agent_reconnects_total"
)

// agentMetrics is the agent's registry; it is the agent's
// agent.Metrics and feeds the publisher's latency.
type agentMetrics struct {
	reg         *metrics.Registry
	transitions *metrics.CounterVec
	restarts    *metrics.CounterVec
	refused     *metrics.CounterVec
	latency     *metrics.Histogram
}

var _ agent.Metrics = (*agentMetrics)(nil)

func newAgentMetrics() *agentMetrics {
	reg := &metrics.Registry{}
	phases := []string{"removed"}
	for _, p := range fleet.Phases {
		phases = append(phases, string(p))
	}
	return &agentMetrics{
		reg:         reg,
		transitions: reg.CounterVec(metricTransitions, "Recorded transitions, by the phase entered (removed: a removal).", "phase", phases...),
		restarts:    reg.CounterVec(metricRestarts, "Workloads started again: by their restart policy, or on request (harmony-fleet restart).", "reason", "policy", "requested"),
		refused: reg.CounterVec(metricRefused, "Desired values refused by the trust check, the device policy or the spec's rules, by reason.", "reason",
			RefusedInvalid, RefusedUnsigned, RefusedUntrusted, RefusedSignature, RefusedDevice, RefusedDeployment, RefusedReplay, RefusedPolicy, RefusedStore),
		latency: reg.Histogram(metricLatency, "Time from publishing an event to its JetStream ack.", metrics.DefaultLatencyBuckets),
	}
}

func (m *agentMetrics) Transition(to string)          { m.transitions.With(to).Inc() }
func (m *agentMetrics) WorkloadRestart(reason string) { m.restarts.With(reason).Inc() }

// refusedHook counts a refusal, then tells next (Options.Refused), if set.
func (m *agentMetrics) refusedHook(next func(string)) func(string) {
	return func(reason string) {
		m.refused.With(reason).Inc()
		if next != nil {
			next(reason)
		}
	}
}

// observe adds the metrics read at scrape time from the agent, the
// publisher and the connection.
func (m *agentMetrics) observe(a *agent.Agent, pub *publisher.NATS, nc *nats.Conn) {
	m.reg.GaugeVecFunc(metricDeployments, "Deployments by phase.", "phase", func() map[string]float64 {
		out := make(map[string]float64)
		for p, n := range a.Summary().Phases {
			out[string(p)] = float64(n)
		}
		return out
	})
	m.reg.GaugeFunc(metricOutboxDepth, "Events waiting in the outbox.", func() float64 { return float64(pub.Stats().Queued) })
	m.reg.CounterFunc(metricOutboxDropped, "Events that will never be sent: dropped from a full outbox, or rejected.", func() float64 { return float64(pub.Stats().Dropped) })
	m.reg.CounterFunc(metricPublished, "Events JetStream acknowledged.", func() float64 { return float64(pub.Stats().Published) })
	m.reg.CounterFunc(metricReconnects, "Reconnections to NATS.", func() float64 { return float64(nc.Stats().Reconnects) })
}
