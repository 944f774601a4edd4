// Package agent is the loop that does the I/O: it takes this device's
// desired state (internal/desired), observes and drives the runtimes
// (internal/runtime), records every phase change in the pure reconciler
// (internal/reconciler) and hands each recorded transition to the
// publisher, in sequence order.
//
// Decide, then act. What to do next with one deployment is the pure
// function decide (decide.go): from facts (a copy of the deployment's
// state taken under Agent.mu, plus what the current pass has observed)
// and the time, it returns an action: observe, move to another runtime,
// start, replace, restart after the backoff, wait, adopt, report a phase,
// remove, or nothing. It does no I/O, reads no clock and never logs. A
// worker's pass (reconcile) copies the facts, then alternates decide and
// act without the lock until decide returns a final action; each act
// feeds what it did or saw (a status, an error) back into its copy. The
// copy shares the spec's slices and maps with the agent's state: a spec is
// replaced whole, never changed in place.
//
// Desired values are turned into specs by the Config.Decoder (decoder.go)
// on Run's goroutine, without Agent.mu, once per value that changed: the
// daemon's verifies the signature and checks the device policy. A refused
// value keeps the last good spec (its workload runs on, roll forward only)
// and the deployment is failed with the refusal's text. Text quoted from a
// workload into last_error (its log tail, its runtime's errors) has the
// values of the spec's env masked (mask.go).
//
// Ownership and locks:
//   - Agent.mu guards the reconciler state, the deployments (desired value,
//     where the workload lives, failures, backoff, handled exit) and
//     haveFull. No I/O, no logging and no publishing happen while it is
//     held; helpers that need it end in Locked.
//   - Recording a transition and emitting its effects (the log line, the
//     event for the Publisher) happen in one critical section of Agent.mu,
//     so effects are queued in sequence order. Whoever recorded then calls
//     effects.flush after releasing Agent.mu: one goroutine at a time (the
//     effects.order lock) performs every queued effect, oldest first, so the
//     Publisher receives events in exactly sequence order, never two calls
//     at once, and by the time a worker's flush returns its own events have
//     been handed over. Lock order: Agent.mu, then effects.mu; effects.order
//     is never taken with Agent.mu held.
//   - The queue (queue.go) has its own lock and is safe to call under
//     Agent.mu.
//
// Goroutines, all owned and waited for by Run: Run's own (desired updates,
// the resync tick, OnTick, listing the runtimes), a fixed pool of workers
// taking deployments from a de-duplicating queue (one deployment is worked
// on by one worker at a time, different deployments in parallel, so a slow
// image pull never holds the others back), one Watch per runtime, and the
// desired cache's writer. Backoff timers (time.AfterFunc) only queue a name;
// Run stops them. Stopping the agent never stops the workloads.
//
// agent must not import nats.go, viper or go-systemd: the daemon wires those.
package agent
