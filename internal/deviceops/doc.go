// Package deviceops answers the device operations of ARCHITECTURE 11 on
// fleet.device.<device_id>.logs|restart|ping: request/reply with the JSON
// bodies of package fleet (fleet/deviceops.go).
//
// It owns the agent's side of those requests: the subscription, the
// bounded concurrency (MaxConcurrent at once, "busy" beyond), the size
// bounds of every answer and the follow streams of logs, which are pulled
// one request per chunk so that every request gets exactly one reply (a
// device's NATS user may only answer, once, the requests it receives).
// What it asks of the agent is declared here, by this package: a
// LogSource, a Restarter and a phase count.
//
// It imports nats.go, zap, fleet, internal/agent (for its sentinels) and
// internal/runtime; never podman or process directly, nor config.
package deviceops
