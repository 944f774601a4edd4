// Package reconciler owns the pure per-agent state: the phase, last error
// and revision of every deployment, the sequencing of revisions within the
// agent's epoch, and the ring of recent transitions. It decides what
// changed; internal/agent acts on it (runtime, publish, log).
//
// Nothing here does I/O, reads the clock (time is an argument), starts a
// goroutine or logs. A State is not safe for concurrent use: the agent holds
// a lock around every call.
//
// reconciler imports the standard library, fleet and internal/ringbuf only;
// it must not import nats, zap, viper, the runtimes or internal/agent.
package reconciler
