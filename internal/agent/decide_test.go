package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// both is a device serving both runtimes; processOnly one without podman.
var (
	both        = map[fleet.RuntimeKind]bool{fleet.RuntimeProcess: true, fleet.RuntimePodman: true}
	processOnly = map[fleet.RuntimeKind]bool{fleet.RuntimeProcess: true}
)

// desiredFacts is a valid desired process deployment with spec hash hashA,
// after the first full snapshot, with the workload last seen in process.
func desiredFacts(policy fleet.RestartPolicy) facts {
	return facts{
		Desired: true, HaveFull: true,
		Spec:      fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/true"}, Restart: policy},
		Hash:      hashA,
		Where:     fleet.RuntimeProcess,
		Available: both,
	}
}

func observed(st runtime.Status) *runtime.Status { return &st }

var (
	finished = t0.Add(-time.Second)
	running  = runtime.Status{Deployment: "web", State: runtime.StateRunning, ID: "41", SpecHash: hashA, StartedAt: t0.Add(-time.Second)}
)

func exited(code int) runtime.Status {
	return runtime.Status{Deployment: "web", State: runtime.StateExited, ID: "42", SpecHash: hashA, ExitCode: code,
		StartedAt: t0.Add(-2 * time.Second), FinishedAt: finished}
}

// exitID is what settle remembers of exited(code).
var exitID = "42@" + finished.String()

type decideTest struct {
	name string
	f    func() facts
	want action
}

func runDecideTests(t *testing.T, tests []decideTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f()
			if got := decide(f, t0); got != tt.want {
				t.Errorf("decide(%+v) =\n\t%+v\nwant\n\t%+v", f, got, tt.want)
			}
		})
	}
}

func TestDecideRemoval(t *testing.T) {
	gone := func(where fleet.RuntimeKind) func() facts {
		return func() facts {
			f := desiredFacts(fleet.RestartAlways)
			f.Desired, f.Where = false, where
			return f
		}
	}
	runDecideTests(t, []decideTest{
		{"not desired after the full snapshot: removed from its runtime", gone(fleet.RuntimeProcess),
			action{Kind: actRemove, Runtime: fleet.RuntimeProcess}},
		{"in no runtime: nothing to delete, recorded removed", gone(""), action{Kind: actRemove}},
		{"in a runtime this device does not serve: recorded removed", func() facts {
			f := gone(fleet.RuntimePodman)()
			f.Available = processOnly
			return f
		}, action{Kind: actRemove}},
		{"in backoff: removal is not held back", func() facts {
			f := gone(fleet.RuntimeProcess)()
			f.Failures, f.BackoffUntil = 3, t0.Add(time.Minute)
			return f
		}, action{Kind: actRemove, Runtime: fleet.RuntimeProcess}},
		{"invalid spec: removed all the same", func() facts {
			f := gone("")()
			f.Hash, f.SpecErr = "", "invalid spec: runtime: required"
			return f
		}, action{Kind: actRemove}},
		{"removal failed: failed, retried", func() facts {
			f := gone(fleet.RuntimeProcess)()
			f.Err = "remove: remove web: busy"
			return f
		}, action{Kind: actReport, Phase: fleet.PhaseFailed, Error: "remove: remove web: busy", Retry: true}},
	})
}

func TestDecideAdoption(t *testing.T) {
	found := func(st *runtime.Status) func() facts {
		return func() facts {
			f := desiredFacts(fleet.RestartAlways)
			f.Desired, f.HaveFull, f.Spec, f.Hash = false, false, fleet.DeploymentSpec{}, ""
			f.Observed = st
			return f
		}
	}
	created := runtime.Status{State: runtime.StateCreated, ID: "43", SpecHash: hashA}
	unknownCode := exited(-1)
	runDecideTests(t, []decideTest{
		{"not desired before the full snapshot: observed where found", found(nil),
			action{Kind: actObserve, Runtime: fleet.RuntimeProcess}},
		{"known to no runtime (a delete marker before the snapshot)", func() facts {
			f := found(nil)()
			f.Where = ""
			return f
		}, action{Kind: actNone}},
		{"found in a runtime this device does not serve", func() facts {
			f := found(nil)()
			f.Where, f.Available = fleet.RuntimePodman, processOnly
			return f
		}, action{Kind: actNone}},
		{"observation failed: left to the desired state", func() facts {
			f := found(nil)()
			f.Err = "observe web: connection refused"
			return f
		}, action{Kind: actNone}},
		{"missing", found(&runtime.Status{State: runtime.StateMissing}), action{Kind: actNone}},
		{"running", found(&running), action{Kind: actAdopt, Phase: fleet.PhaseRunning}},
		{"exited 0", found(observed(exited(0))), action{Kind: actAdopt, Phase: fleet.PhaseSucceeded}},
		{"exited 1", found(observed(exited(1))),
			action{Kind: actAdopt, Phase: fleet.PhaseFailed, Error: "exited with code 1", QuoteLog: true, Runtime: fleet.RuntimeProcess}},
		{"exit code unknown", found(&unknownCode), action{Kind: actAdopt, Phase: fleet.PhaseFailed,
			Error: "exited (code unknown: the process was adopted from an earlier agent run)", QuoteLog: true, Runtime: fleet.RuntimeProcess}},
		{"created, never started", found(&created),
			action{Kind: actAdopt, Phase: fleet.PhaseFailed, Error: "exited with code 0", QuoteLog: true, Runtime: fleet.RuntimeProcess}},
	})
}

func TestDecideBeforeObserving(t *testing.T) {
	with := func(change func(*facts)) func() facts {
		return func() facts {
			f := desiredFacts(fleet.RestartAlways)
			change(&f)
			return f
		}
	}
	podman := func(f *facts) {
		f.Spec = fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "nginx", Restart: fleet.RestartAlways}
	}
	runDecideTests(t, []decideTest{
		{"desired: observed in its runtime, which becomes where it lives", with(func(*facts) {}),
			action{Kind: actObserve, Runtime: fleet.RuntimeProcess, SetWhere: true}},
		{"desired before the full snapshot (cached): converged the same", with(func(f *facts) { f.HaveFull = false }),
			action{Kind: actObserve, Runtime: fleet.RuntimeProcess, SetWhere: true}},
		{"never seen in a runtime", with(func(f *facts) { f.Where = "" }),
			action{Kind: actObserve, Runtime: fleet.RuntimeProcess, SetWhere: true}},
		{"invalid spec: failed, not retried", with(func(f *facts) { f.Hash, f.SpecErr = "", "invalid spec: command: required" }),
			action{Kind: actReport, Phase: fleet.PhaseFailed, Error: "invalid spec: command: required"}},
		{"invalid spec in backoff: failed at once", with(func(f *facts) {
			f.Hash, f.SpecErr, f.Failures, f.BackoffUntil = "", "invalid spec: x", 2, t0.Add(time.Minute)
		}), action{Kind: actReport, Phase: fleet.PhaseFailed, Error: "invalid spec: x"}},
		{"in backoff: wait for the timer", with(func(f *facts) { f.Failures, f.BackoffUntil = 1, t0.Add(time.Nanosecond) }),
			action{Kind: actWait}},
		{"backoff over", with(func(f *facts) { f.Failures, f.BackoffUntil = 1, t0 }),
			action{Kind: actObserve, Runtime: fleet.RuntimeProcess, SetWhere: true}},
		{"runtime unavailable: failed, not retried", with(func(f *facts) { podman(f); f.Available = processOnly; f.Where = "" }),
			action{Kind: actReport, Phase: fleet.PhaseFailed,
				Error: "runtime podman is not available on this device (see runtime.* in the agent config)"}},
		{"moved from process to podman: removed from process first", with(podman),
			action{Kind: actMove, Runtime: fleet.RuntimeProcess}},
		{"moved from podman back to process", with(func(f *facts) { f.Where = fleet.RuntimePodman }),
			action{Kind: actMove, Runtime: fleet.RuntimePodman}},
		{"moved from a runtime no longer served: nothing to remove there", with(func(f *facts) {
			f.Where, f.Available = fleet.RuntimePodman, processOnly
		}), action{Kind: actObserve, Runtime: fleet.RuntimeProcess, SetWhere: true}},
		{"act failed (observe, apply, move): failed, retried", with(func(f *facts) { f.Err = "observe web: boom" }),
			action{Kind: actReport, Phase: fleet.PhaseFailed, Error: "observe web: boom", Retry: true}},
		{"act failed while retrying: failed, retried", with(func(f *facts) {
			f.Err, f.Failures, f.Observed = "apply web: exec: no such file", 4, &runtime.Status{State: runtime.StateMissing}
		}), action{Kind: actReport, Phase: fleet.PhaseFailed, Error: "apply web: exec: no such file", Retry: true}},
	})
}

func TestDecideObserved(t *testing.T) {
	with := func(st runtime.Status, change func(*facts)) func() facts {
		return func() facts {
			f := desiredFacts(fleet.RestartAlways)
			f.Observed = &st
			change(&f)
			return f
		}
	}
	same := func(*facts) {}
	retrying := func(f *facts) { f.Failures = 2 }
	other := func(s runtime.State) runtime.Status {
		return runtime.Status{State: s, ID: "40", SpecHash: hashB, StartedAt: t0.Add(-time.Hour)}
	}
	stable := running
	stable.StartedAt = t0.Add(-stableRunTime - time.Nanosecond)
	justStable := running
	justStable.StartedAt = t0.Add(-stableRunTime)
	noStart := running
	noStart.StartedAt = time.Time{}
	createdSame := runtime.Status{State: runtime.StateCreated, ID: "43", SpecHash: hashA}
	runDecideTests(t, []decideTest{
		{"missing: started, pending first", with(runtime.Status{State: runtime.StateMissing}, same),
			action{Kind: actStart, Runtime: fleet.RuntimeProcess, Pending: true}},
		{"missing while retrying: started, stays failed", with(runtime.Status{State: runtime.StateMissing}, retrying),
			action{Kind: actStart, Runtime: fleet.RuntimeProcess}},
		{"created with this spec: started", with(createdSame, same),
			action{Kind: actStart, Runtime: fleet.RuntimeProcess, Pending: true}},
		{"created with another spec: replaced", with(other(runtime.StateCreated), same),
			action{Kind: actReplace, Runtime: fleet.RuntimeProcess, Pending: true, OldHash: hashB}},
		{"running another spec: replaced", with(other(runtime.StateRunning), same),
			action{Kind: actReplace, Runtime: fleet.RuntimeProcess, Pending: true, OldHash: hashB}},
		{"exited with another spec: replaced", with(other(runtime.StateExited), retrying),
			action{Kind: actReplace, Runtime: fleet.RuntimeProcess, OldHash: hashB}},
		{"running this spec", with(running, same), action{Kind: actReport, Phase: fleet.PhaseRunning}},
		{"running long enough: failures forgotten", with(stable, retrying),
			action{Kind: actReport, Phase: fleet.PhaseRunning, ResetFailures: true}},
		{"running exactly the stable time: not yet", with(justStable, retrying), action{Kind: actReport, Phase: fleet.PhaseRunning}},
		{"running, start time unknown", with(noStart, retrying), action{Kind: actReport, Phase: fleet.PhaseRunning}},
		{"just started: running", with(running, func(f *facts) { f.Started = true }), action{Kind: actReport, Phase: fleet.PhaseRunning}},
		{"just started, status of another hash: settled, not started twice", with(other(runtime.StateRunning), func(f *facts) { f.Started = true }),
			action{Kind: actReport, Phase: fleet.PhaseRunning, ResetFailures: true}},
	})
}

// TestDecideExit covers an exited workload under every restart policy
// and exit code, before and after its exit was handled.
func TestDecideExit(t *testing.T) {
	const (
		always    = fleet.RestartAlways
		onFailure = fleet.RestartOnFailure
		never     = fleet.RestartNever
	)
	failedRetry := func(msg string) action {
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: msg, QuoteLog: true, Runtime: fleet.RuntimeProcess,
			HandledExit: exitID, Retry: true}
	}
	restartPending := action{Kind: actReport, Phase: fleet.PhasePending, Error: "exited with code 0; restarting (restart: always)",
		HandledExit: exitID, Retry: true}
	succeeded := action{Kind: actReport, Phase: fleet.PhaseSucceeded}
	failedFinal := func(msg string) action {
		return action{Kind: actReport, Phase: fleet.PhaseFailed, Error: msg, QuoteLog: true, Runtime: fleet.RuntimeProcess}
	}
	restart := func(pending bool) action {
		return action{Kind: actRestart, Runtime: fleet.RuntimeProcess, Pending: pending}
	}
	oom := exited(137)
	oom.OOMKilled = true
	tests := []struct {
		name     string
		policy   fleet.RestartPolicy
		st       runtime.Status
		handled  string
		failures int
		started  bool
		want     action
	}{
		{"always, 0", always, exited(0), "", 0, false, restartPending},
		{"always, 1", always, exited(1), "", 0, false, failedRetry("exited with code 1")},
		{"always, out of memory", always, oom, "", 0, false, failedRetry("exited with code 137 (killed: out of memory)")},
		{"always, 0, handled", always, exited(0), exitID, 1, false, restart(false)},
		{"always, 1, handled", always, exited(1), exitID, 1, false, restart(false)},
		{"always, 1, handled, failures forgotten since", always, exited(1), exitID, 0, false, restart(true)},
		{"always, 1, another exit handled before", always, exited(1), "41@" + finished.String(), 1, false, failedRetry("exited with code 1")},
		{"always, 1, handled, but just started: reported again", always, exited(1), exitID, 1, true, failedRetry("exited with code 1")},
		{"on-failure, 0", onFailure, exited(0), "", 0, false, succeeded},
		{"on-failure, 0, handled", onFailure, exited(0), exitID, 1, false, succeeded},
		{"on-failure, 1", onFailure, exited(1), "", 0, false, failedRetry("exited with code 1")},
		{"on-failure, 1, handled", onFailure, exited(1), exitID, 2, false, restart(false)},
		{"on-failure, code unknown", onFailure, exited(-1), "", 0, false,
			failedRetry("exited (code unknown: the process was adopted from an earlier agent run)")},
		{"never, 0", never, exited(0), "", 0, false, succeeded},
		{"never, 1", never, exited(1), "", 0, false, failedFinal("exited with code 1")},
		{"never, 1, handled: not restarted", never, exited(1), exitID, 0, false, failedFinal("exited with code 1")},
		{"never, created and not running", never, runtime.Status{State: runtime.StateCreated, ID: "43", SpecHash: hashA}, "", 0, true, succeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := desiredFacts(tt.policy)
			f.Observed, f.HandledExit, f.Failures, f.Started = &tt.st, tt.handled, tt.failures, tt.started
			if got := decide(f, t0); got != tt.want {
				t.Errorf("decide(%+v) =\n\t%+v\nwant\n\t%+v", f, got, tt.want)
			}
		})
	}
}

// TestDecidePassEnds plays whole passes against a model of the acts: every
// pass ends with a final action within maxSteps, whatever the runtime
// answers.
func TestDecidePassEnds(t *testing.T) {
	answers := []runtime.Status{
		{State: runtime.StateMissing}, running, exited(0), exited(1),
		{State: runtime.StateCreated, SpecHash: hashA}, {State: runtime.StateRunning, SpecHash: hashB},
	}
	f := desiredFacts(fleet.RestartAlways)
	moved := f
	moved.Spec.Runtime = fleet.RuntimePodman
	handled := f
	handled.HandledExit, handled.Failures = exitID, 1
	adopting := f
	adopting.Desired, adopting.HaveFull = false, false
	removing := f
	removing.Desired = false
	starts := []facts{f, desiredFacts(fleet.RestartNever), desiredFacts(fleet.RestartOnFailure), moved, handled, adopting, removing}
	for i, start := range starts {
		for _, observe := range answers {
			for _, apply := range answers {
				// fail is the act that fails once; actNone: none does.
				for _, fail := range []actionKind{actNone, actObserve, actMove, actStart, actRemove} {
					f, steps := start, 0
					for {
						act := decide(f, t0)
						steps++
						if steps > maxSteps {
							t.Fatalf("start %d, observe %v, apply %v, fail %v: no final action after %d steps", i, observe.State, apply.State, fail, maxSteps)
						}
						if fail != actNone && (act.Kind == fail || fail == actStart && (act.Kind == actReplace || act.Kind == actRestart)) {
							if f.Err == "" {
								f.Err = "boom"
								continue
							}
						}
						if act.Kind.final() {
							break
						}
						switch act.Kind {
						case actObserve:
							f.Where, f.Observed = act.Runtime, &observe
						case actMove:
							f.Where = ""
						default:
							f.Observed, f.Started = &apply, true
						}
					}
					if steps > 5 {
						t.Errorf("start %d: %d steps, want at most 5 (the act failing included)", i, steps)
					}
				}
			}
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{9, 256 * time.Second}, {10, 5 * time.Minute}, {40, 5 * time.Minute}, {1 << 40, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := backoffDelay(tt.failures, time.Second, 5*time.Minute); got != tt.want {
			t.Errorf("backoffDelay(%d, 1s, 5m) = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

func TestActionKindString(t *testing.T) {
	seen := map[string]bool{}
	for k := actNone; k <= actRemove; k++ {
		s := k.String()
		if strings.HasPrefix(s, "actionKind(") || seen[s] {
			t.Errorf("actionKind(%d).String() = %q, want a name of its own", int(k), s)
		}
		seen[s] = true
	}
	if got := actionKind(99).String(); got != "actionKind(99)" {
		t.Errorf("actionKind(99).String() = %q", got)
	}
}
