// Package api is harmony-fleet serve's HTTP side: the JSON API under
// /api/v1, server-sent events of state changes, Prometheus /metrics,
// /healthz and /readyz, and the web dashboard at /, served from files
// embedded in the binary (ARCHITECTURE section 10).
//
// It owns no fleet state: it reads a View and acts through Rollouts, both
// declared here and implemented by the central read side and the
// controller. It is the only package that runs an HTTP server (apart from
// the agent's optional metrics listener) and the only one that imports the
// Prometheus client. It must not import nats.go: what it shows comes
// through View.
package api
