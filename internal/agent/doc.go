// Package agent is the loop that does the I/O: it takes this device's
// desired state (internal/desired), observes and drives the runtimes
// (internal/runtime), records every phase change in the pure reconciler
// (internal/reconciler) and hands each recorded transition to the
// publisher, in order.
//
// Concurrency: one goroutine (Run's) owns the desired state and the resync
// tick; a fixed pool of workers takes deployments from a de-duplicating
// queue, so one deployment is worked on by one worker at a time and
// different deployments in parallel, and a slow image pull never holds the
// others back. Shared state sits behind Agent.mu; I/O is never done while
// holding it. Stopping the agent never stops the workloads.
//
// agent must not import nats.go, viper or go-systemd: the cmd wires those.
package agent
