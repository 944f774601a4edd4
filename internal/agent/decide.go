package agent

import (
	"fmt"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// facts is everything decide knows of one deployment: a copy of the
// agent's state taken under Agent.mu at the start of a pass, and what
// this pass has done and observed since. The pass changes only the last
// block of fields; the rest stays the copy it started from.
type facts struct {
	// Desired reports whether a desired key asks for the deployment.
	Desired bool
	// HaveFull reports whether a full desired snapshot came from NATS:
	// until then nothing is removed.
	HaveFull bool
	// Spec and Hash are the desired spec and its fleet.SpecHash; Hash is
	// empty when the desired value is invalid (SpecErr), Spec then being
	// the last good one (for its grace period).
	Spec    fleet.DeploymentSpec
	Hash    string
	SpecErr string
	// Where is the runtime the workload was last seen or created in; ""
	// when none holds it.
	Where fleet.RuntimeKind
	// Available reports which runtimes this device serves; shared,
	// read-only.
	Available map[fleet.RuntimeKind]bool
	// Failures counts consecutive failures; BackoffUntil is when the next
	// attempt may start; HandledExit identifies the last exit acted upon.
	Failures     int
	BackoffUntil time.Time
	HandledExit  string
	// Restart reports whether a restart was asked for (Agent.Restart)
	// since the last pass.
	Restart bool

	// Set by the pass: Observed is what the runtime reported (by Observe,
	// or by Apply when Started); Err is the error of the last act.
	Observed *runtime.Status
	Started  bool
	Err      string
}

// actionKind says what the loop does next with one deployment.
type actionKind int

const (
	// actNone: nothing to do (no workload to adopt, or its observation
	// failed before the desired state is known).
	actNone actionKind = iota
	// actWait: in backoff; the retry timer queues the next attempt.
	actWait
	// actObserve: observe the workload in Runtime, then decide again.
	actObserve
	// actMove: the spec moved to another runtime; remove the workload
	// from Runtime (the old one), then decide again.
	actMove
	// actStart: apply the spec in Runtime (no workload, or one created
	// and never started), then decide again with the status it returns.
	actStart
	// actReplace: the workload runs another spec (OldHash); apply the
	// new one, then decide again.
	actReplace
	// actRestart: the exit was reported and its backoff passed; apply
	// again, then decide again.
	actRestart
	// actReport: record Phase with Error.
	actReport
	// actAdopt: record the phase of a workload found in a runtime before
	// the desired state is known; nothing is started or removed.
	actAdopt
	// actForceRestart: a restart was asked for; stop and remove the
	// workload in Runtime, apply the spec again, then decide again.
	actForceRestart
	// actRemove: no longer desired; remove the workload from Runtime (""
	// when no runtime holds it), then record removed.
	actRemove
)

// String names every actionKind.
func (k actionKind) String() string {
	switch k {
	case actNone:
		return "none"
	case actWait:
		return "wait"
	case actObserve:
		return "observe"
	case actMove:
		return "move"
	case actStart:
		return "start"
	case actReplace:
		return "replace"
	case actRestart:
		return "restart"
	case actReport:
		return "report"
	case actAdopt:
		return "adopt"
	case actForceRestart:
		return "force-restart"
	case actRemove:
		return "remove"
	}
	return fmt.Sprintf("actionKind(%d)", int(k))
}

// final reports whether the pass ends with this action: the others feed
// what they did back into facts for another decision.
func (k actionKind) final() bool {
	switch k {
	case actObserve, actMove, actStart, actReplace, actRestart, actForceRestart:
		return false
	}
	return true
}

// action is what decide returns: one step of a pass.
type action struct {
	Kind actionKind
	// Runtime is the runtime the step acts on (observe, move, start,
	// replace, restart, remove), or whose log a report quotes.
	Runtime fleet.RuntimeKind
	// SetWhere (observe): record Runtime as where the workload lives.
	SetWhere bool
	// Pending (start, replace, restart): record pending before applying.
	// A retry after a failure stays failed until it succeeds: a deployment
	// failing for hours must not flap between failed and pending.
	Pending bool
	// OldHash (replace) is the spec hash the workload runs.
	OldHash string
	// Phase and Error (report, adopt) are what to record; when QuoteLog
	// is set the end of the workload's output in Runtime is appended to
	// Error.
	Phase    fleet.Phase
	Error    string
	QuoteLog bool
	// Retry (report): count a failure and queue the next attempt after
	// the backoff (backoffDelay of the new failure count).
	Retry bool
	// HandledExit (report), when set, marks that exit as acted upon: once
	// its backoff passes, the next pass restarts the workload.
	HandledExit string
	// ResetFailures (report): the workload ran long enough for its
	// failure count, and so its backoff, to start again from zero.
	ResetFailures bool
}

// decide says what to do next with one deployment, from what is desired,
// what the runtime observed and the time. It is pure: no I/O, no clock,
// no logging. A pass calls it until it returns a final action; every
// non-final one moves the pass forward (Where emptied, Observed or
// Started set, or Err set), so a pass takes at most four steps.
func decide(f facts, now time.Time) action {
	switch {
	case !f.Desired && f.HaveFull:
		return decideRemoval(f)
	case !f.Desired:
		return decideAdoption(f)
	case f.Err != "":
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: f.Err, Retry: true}
	case f.SpecErr != "":
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: f.SpecErr}
	case now.Before(f.BackoffUntil):
		return action{Kind: actWait}
	case !f.Available[f.Spec.Runtime]:
		return action{Kind: actReport, Phase: fleet.PhaseFailed,
			Error: fmt.Sprintf("runtime %s is not available on this device (see runtime.* in the agent config)", f.Spec.Runtime)}
	case f.Where != "" && f.Where != f.Spec.Runtime && f.Available[f.Where]:
		return action{Kind: actMove, Runtime: f.Where}
	case f.Observed == nil:
		return action{Kind: actObserve, Runtime: f.Spec.Runtime, SetWhere: true}
	}
	st := *f.Observed
	if f.Restart && !f.Started && st.State != runtime.StateMissing && st.SpecHash == f.Hash {
		return action{Kind: actForceRestart, Runtime: f.Spec.Runtime, Pending: true}
	}
	if !f.Started && (st.State == runtime.StateMissing || st.State == runtime.StateCreated || st.SpecHash != f.Hash) {
		a := action{Kind: actStart, Runtime: f.Spec.Runtime, Pending: f.Failures == 0}
		if st.State != runtime.StateMissing && st.SpecHash != f.Hash {
			a.Kind, a.OldHash = actReplace, st.SpecHash
		}
		return a
	}
	return settle(f, st, now)
}

// settle says what an observed workload's state means, restarting an
// exited one when its policy says so and its exit was already reported.
// A created workload that is not running (after a failed start) counts as
// exited.
func settle(f facts, st runtime.Status, now time.Time) action {
	if st.State == runtime.StateRunning {
		return action{Kind: actReport, Phase: fleet.PhaseRunning,
			ResetFailures: !st.StartedAt.IsZero() && now.Sub(st.StartedAt) > stableRunTime}
	}
	policy := f.Spec.Restart
	restart := policy == fleet.RestartAlways || policy == fleet.RestartOnFailure && st.ExitCode != 0
	exitID := st.ID + "@" + st.FinishedAt.String()
	switch {
	case restart && f.HandledExit == exitID && !f.Started:
		// This exit was reported and its backoff has passed: start again.
		return action{Kind: actRestart, Runtime: f.Spec.Runtime, Pending: f.Failures == 0}
	case !restart && st.ExitCode == 0:
		return action{Kind: actReport, Phase: fleet.PhaseSucceeded}
	case !restart:
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: exitText(st), QuoteLog: true, Runtime: f.Spec.Runtime}
	case st.ExitCode == 0:
		return action{Kind: actReport, Phase: fleet.PhasePending, Error: "exited with code 0; restarting (restart: always)",
			HandledExit: exitID, Retry: true}
	default:
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: exitText(st), QuoteLog: true, Runtime: f.Spec.Runtime,
			HandledExit: exitID, Retry: true}
	}
}

// decideRemoval: no desired key asks for the deployment and the full
// desired state is known. A deployment no runtime holds (Where empty, or
// a runtime this device does not serve) has no workload to delete: no
// runtime listed one and this run never created one. A runtime that could
// not be listed may hold one from an earlier run; the first resync that
// lists it finds it as a stray and removes it, so removal does not wait
// for that runtime to answer. Removal is not held back by a backoff.
func decideRemoval(f facts) action {
	if f.Err != "" {
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: f.Err, Retry: true}
	}
	a := action{Kind: actRemove}
	if f.Available[f.Where] {
		a.Runtime = f.Where
	}
	return a
}

// decideAdoption: a workload found in a runtime before the desired state
// is known gets its phase recorded; an error observing it is ignored (the
// desired state will decide).
func decideAdoption(f facts) action {
	switch {
	case !f.Available[f.Where], f.Err != "":
		return action{Kind: actNone}
	case f.Observed == nil:
		return action{Kind: actObserve, Runtime: f.Where}
	}
	st := *f.Observed
	switch {
	case st.State == runtime.StateMissing:
		return action{Kind: actNone}
	case st.State == runtime.StateRunning:
		return action{Kind: actAdopt, Phase: fleet.PhaseRunning}
	case st.State == runtime.StateExited && st.ExitCode == 0:
		return action{Kind: actAdopt, Phase: fleet.PhaseSucceeded}
	default:
		return action{Kind: actAdopt, Phase: fleet.PhaseFailed, Error: exitText(st), QuoteLog: true, Runtime: f.Where}
	}
}

// exitText says how a workload ended.
func exitText(st runtime.Status) string {
	msg := fmt.Sprintf("exited with code %d", st.ExitCode)
	switch {
	case st.OOMKilled:
		msg += " (killed: out of memory)"
	case st.ExitCode < 0:
		msg = "exited (code unknown: the process was adopted from an earlier agent run)"
	}
	return msg
}

// backoffDelay is the pause before the next attempt after failures
// consecutive failures (at least one): initial, doubling, capped at
// ceiling. The caller adds jitter.
func backoffDelay(failures int, initial, ceiling time.Duration) time.Duration {
	delay := initial << min(max(failures-1, 0), 30)
	if delay <= 0 || delay > ceiling {
		delay = ceiling
	}
	return delay
}
