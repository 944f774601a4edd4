//go:build embednats

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// plainWatcherDelay is how long a plain KV watcher takes to notice that
// its consumer is gone after a server restart; the agent must not wait
// for it.
const plainWatcherDelay = 14 * time.Second

// TestServerRestartRecreatesWatch: after the NATS server restarts on the
// same store, the agent recreates its desired-state watch at once, so a
// change made after the restart converges in seconds.
func TestServerRestartRecreatesWatch(t *testing.T) {
	h := newHarness(t)
	a := h.start(agentConfig{})
	h.put("web", sleeper(nil))
	h.waitEvents("web running", h.deploymentEvents("web"), hasCount(2))
	pid := h.waitPID("web", 0)

	mark := a.mark()
	if err := h.srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	restarted := time.Now()
	h.put("api", sleeper(nil))
	h.waitEvents("api running", h.deploymentEvents("api"), hasCount(2))
	took := time.Since(restarted)
	h.waitPID("api", 0)
	a.waitLog(mark, "recreating desired-state watch")
	if took >= plainWatcherDelay/2 {
		t.Errorf("a change after the restart took %v to converge, want well under %v", took, plainWatcherDelay)
	}
	t.Logf("converged %v after the restart", took)
	if got := h.pid("web"); got != pid {
		t.Errorf("web pid = %d, want %d (untouched by the restart)", got, pid)
	}
	evs := h.waitEvents("device events", h.deviceEvents(), hasCount(4))
	checkTransitions(t, "device", evs, toPending, toRunning, toPending, toRunning)
	checkContiguous(t, evs, a.epoch())
}

// checkContiguous fails the test unless evs are sequences 1..n of epoch,
// each once, with unique Msg-Ids.
func checkContiguous(t *testing.T, evs []storedEvent, epoch fleet.AgentEpoch) {
	t.Helper()
	ids := map[string]bool{}
	for i, e := range evs {
		if want := (fleet.Revision{AgentEpoch: epoch, Sequence: uint64(i + 1)}); e.Revision != want {
			t.Errorf("event %d = %v at %v, want revision %v", i, e, e.Revision, want)
		}
		if ids[e.MsgID] {
			t.Errorf("event %d: Msg-Id %s stored twice", i, e.MsgID)
		}
		ids[e.MsgID] = true
		if want := e.StateChangeEvent.MsgID(msgIDNonce(evs[0])); e.MsgID != want || !nonceRE.MatchString(msgIDNonce(e)) {
			t.Errorf("event %d: Msg-Id %s, want %s (one 16 hex nonce per run)", i, e.MsgID, want)
		}
	}
}

// TestOfflineBoot: an agent that starts with NATS down tells systemd
// READY=1 anyway, adopts the workload the last run left (same process),
// restarts it from the on-disk desired state when it dies, and once NATS
// is back every event of its epoch arrives once, in order.
func TestOfflineBoot(t *testing.T) {
	h := newHarness(t)
	a := h.start(agentConfig{})
	h.put("web", sleeper(nil))
	h.waitEvents("web running", h.deploymentEvents("web"), hasCount(2))
	pid := h.waitPID("web", 0)
	epochA := a.epoch()
	if code := a.stop(); code != exitOK {
		t.Fatalf("agent A exit code = %d, want %d", code, exitOK)
	}
	h.srv.Shutdown()

	notify := listenNotify(t)
	b := h.start(agentConfig{})
	notify.waitFor("READY=1", func(m string) bool { return m == "READY=1" })
	epochB := b.epoch()
	if epochB <= epochA {
		t.Fatalf("epoch B = %d, want > epoch A %d", epochB, epochA)
	}
	b.waitLog(0, "using cached desired state until NATS answers", "deployments", "1")
	adopted := b.waitLog(0, "transition", "deployment", "web", "seq", "1")
	if adopted.str("from") != "" || adopted.str("phase") != "running" {
		t.Errorf("first transition of B = %v, want applied{null -> running}", adopted)
	}
	if got := h.pid("web"); got != pid {
		t.Fatalf("web pid after an offline start = %d, want %d (adopted, not restarted)", got, pid)
	}

	// Killed while offline: started again from the cached desired state.
	h.kill(pid, syscall.SIGKILL)
	h.waitPID("web", pid)
	b.waitLog(0, "transition", "deployment", "web", "seq", "3", "phase", "running")

	if err := h.srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	info := h.waitInfo("device info of epoch B", func(i fleet.DeviceInfo) bool { return i.AgentEpoch == epochB })
	evs := h.waitEvents("every event of epoch B", h.deviceEvents(), func(evs []storedEvent) bool {
		return len(ofEpoch(evs, epochB)) >= int(info.Revision.Sequence)
	})
	evsB := ofEpoch(evs, epochB)
	checkContiguous(t, evsB, epochB)
	if len(evsB) != 3 {
		t.Fatalf("events of epoch B = %v, want 3", evsB)
	}
	checkTransitions(t, "epoch B", evsB[:1], fleet.Applied("", fleet.PhaseRunning, ""))
	if tr := evsB[1].Transition; tr.From != fleet.PhaseRunning || tr.To != fleet.PhaseFailed || tr.LastError == "" {
		t.Errorf("second event of B = %v, want running -> failed with an error", evsB[1])
	}
	if tr := evsB[2].Transition; tr != fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, "") {
		t.Errorf("third event of B = %v, want failed -> running", evsB[2])
	}
}

// TestRestartAdopts: an agent stopped and started again has a larger
// epoch and adopts the healthy workload (same process); in the new epoch
// the only event is applied{null -> running}.
func TestRestartAdopts(t *testing.T) {
	h := newHarness(t)
	a := h.start(agentConfig{})
	h.put("web", sleeper(nil))
	h.waitEvents("web running", h.deploymentEvents("web"), hasCount(2))
	pid := h.waitPID("web", 0)
	epochA := a.epoch()
	a.stop()

	// Started again with a cluster's list of URLs, one of them down.
	b := h.start(agentConfig{URLs: []string{"nats://127.0.0.1:1", h.srv.ClientURL()}})
	epochB := b.epoch()
	if epochB <= epochA {
		t.Fatalf("epoch after restart = %d, want > %d", epochB, epochA)
	}
	evs := h.waitEvents("web adopted", h.deploymentEvents("web"), func(evs []storedEvent) bool { return len(ofEpoch(evs, epochB)) >= 1 })
	// Adoption is recorded as soon as the runtime is listed; make sure
	// nothing else followed by waiting for the full desired state to be
	// worked on (DeviceInfo carries the latest revision).
	h.waitInfo("device info of the new epoch", func(i fleet.DeviceInfo) bool { return i.AgentEpoch == epochB && i.Revision.Sequence >= 1 })
	b.waitLog(0, "desired state received")
	b.waitLog(0, "no change", "deployment", "web", "phase", "running")
	evs = h.waitEvents("web events", h.deploymentEvents("web"), hasCount(len(evs)))
	checkTransitions(t, "new epoch", ofEpoch(evs, epochB), fleet.Applied("", fleet.PhaseRunning, ""))
	if got := h.pid("web"); got != pid {
		t.Errorf("web pid after restart = %d, want %d (adopted)", got, pid)
	}
}

// TestKilledAgentAdopts runs the built binary: killed with SIGKILL and
// started again, it has a larger epoch and adopts the workload.
func TestKilledAgentAdopts(t *testing.T) {
	bin := buildAgent(t)
	h := newHarness(t)
	cfg := h.writeConfig(agentConfig{})

	startBin := func() (*exec.Cmd, *syncBuffer) {
		var logs syncBuffer
		cmd := exec.Command(bin, "run", "--config", cfg)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		// No NOTIFY_SOCKET or HARMONY_AGENT_ variable from the test's
		// environment.
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "HARMONY_AGENT_")
		})
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("agent binary log:\n%s", logs.String())
			}
		})
		return cmd, &logs
	}
	epochOf := func(evs []storedEvent) fleet.AgentEpoch { return evs[len(evs)-1].Revision.AgentEpoch }

	first, _ := startBin()
	h.put("web", sleeper(nil))
	evs := h.waitEvents("web running", h.deploymentEvents("web"), hasCount(2))
	epochA := epochOf(evs)
	pid := h.waitPID("web", 0)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("agent after SIGKILL: %v, want killed", err)
	}

	second, logs := startBin()
	evs = h.waitEvents("web adopted by the second run", h.deploymentEvents("web"), hasCount(3))
	epochB := epochOf(evs)
	if epochB <= epochA {
		t.Fatalf("epoch after SIGKILL and start = %d, want > %d", epochB, epochA)
	}
	checkTransitions(t, "second run", ofEpoch(evs, epochB), fleet.Applied("", fleet.PhaseRunning, ""))
	if got := h.pid("web"); got != pid {
		t.Errorf("web pid after the agent was killed and started = %d, want %d (adopted)", got, pid)
	}

	// SIGTERM: a graceful stop, exit 0, the workload left running.
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("agent after SIGTERM: %v, want exit 0", err)
	}
	if !strings.Contains(logs.String(), "stopped; workloads left running") {
		t.Errorf("no stop line in the log of the SIGTERMed agent")
	}
	if got := h.pid("web"); got != pid {
		t.Errorf("web pid after SIGTERM = %d, want %d still running", got, pid)
	}
}

// TestOutboxOverflow: with a tiny outbox and NATS down, more transitions
// than it holds are recorded; once NATS is back, DeviceInfo counts the
// dropped events and its deployments tell the truth.
func TestOutboxOverflow(t *testing.T) {
	h := newHarness(t)
	cfg := agentConfig{OutboxCapacity: 2}
	a := h.start(cfg)
	names := []fleet.DeploymentName{"w1", "w2", "w3"}
	for _, n := range names {
		h.put(n, sleeper(nil))
	}
	h.put("done", spec(fleet.RestartNever, nil, "/bin/sh", "-c", "exit 0"))
	h.waitInfo("every deployment settled", func(i fleet.DeviceInfo) bool {
		return i.Deployments["w1"].Phase == fleet.PhaseRunning && i.Deployments["w2"].Phase == fleet.PhaseRunning &&
			i.Deployments["w3"].Phase == fleet.PhaseRunning && i.Deployments["done"].Phase == fleet.PhaseSucceeded
	})
	pids := map[fleet.DeploymentName]int{}
	for _, n := range names {
		pids[n] = h.waitPID(n, 0)
	}
	a.stop()
	h.srv.Shutdown()

	// Offline: four adoptions and a kill (failed, then running again) are
	// six transitions for an outbox of two.
	b := h.start(cfg)
	epochB := b.epoch()
	b.waitLog(0, "transition", "seq", "4")
	h.kill(pids["w2"], syscall.SIGKILL)
	pids["w2"] = h.waitPID("w2", pids["w2"])
	b.waitLog(0, "transition", "deployment", "w2", "phase", "running", "from", "failed")

	if err := h.srv.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	info := h.waitInfo("device info of the offline epoch", func(i fleet.DeviceInfo) bool {
		return i.AgentEpoch == epochB && i.Revision.Sequence == 6
	})
	if info.OutboxDropped != 4 {
		t.Errorf("DeviceInfo.outbox_dropped = %d, want 4 (6 transitions, outbox of 2)", info.OutboxDropped)
	}
	for _, n := range names {
		if st := info.Deployments[n]; st.Phase != fleet.PhaseRunning || h.pid(n) != pids[n] {
			t.Errorf("DeviceInfo.deployments[%s] = %+v with pid %d running, want running with pid %d", n, st, h.pid(n), pids[n])
		}
	}
	if st := info.Deployments["done"]; st.Phase != fleet.PhaseSucceeded {
		t.Errorf("DeviceInfo.deployments[done] = %+v, want succeeded", st)
	}
	if len(info.Deployments) != 4 {
		t.Errorf("DeviceInfo.deployments = %v, want 4", info.Deployments)
	}
	// The two newest events were kept and sent.
	evs := h.waitEvents("the kept events", h.deviceEvents(), func(evs []storedEvent) bool { return len(ofEpoch(evs, epochB)) >= 2 })
	var seqs []uint64
	for _, e := range ofEpoch(evs, epochB) {
		seqs = append(seqs, e.Revision.Sequence)
	}
	if !slices.Equal(seqs, []uint64{5, 6}) {
		t.Errorf("stored sequences of the offline epoch = %v, want [5 6]", seqs)
	}
}

// TestStrayRemoved: a workload that no desired key asks for any more (its
// key was deleted while the agent was stopped) is adopted at start, then
// removed once the desired state from NATS says so.
func TestStrayRemoved(t *testing.T) {
	h := newHarness(t)
	a := h.start(agentConfig{})
	h.put("stray", sleeper(nil))
	h.put("kept", sleeper(nil))
	h.waitEvents("stray running", h.deploymentEvents("stray"), hasCount(2))
	h.waitEvents("kept running", h.deploymentEvents("kept"), hasCount(2))
	stray, kept := h.waitPID("stray", 0), h.waitPID("kept", 0)
	a.stop()
	h.del("stray")

	b := h.start(agentConfig{})
	epochB := b.epoch()
	evs := h.waitEvents("stray removed", h.deploymentEvents("stray"), lastIs(fleet.Removed(fleet.PhaseRunning)))
	h.waitGone(stray)
	checkTransitions(t, "stray in the new epoch", ofEpoch(evs, epochB), fleet.Applied("", fleet.PhaseRunning, ""), fleet.Removed(fleet.PhaseRunning))
	if got := h.pid("kept"); got != kept {
		t.Errorf("kept pid = %d, want %d (adopted)", got, kept)
	}
	info := h.waitInfo("device info without the stray", func(i fleet.DeviceInfo) bool {
		_, ok := i.Deployments["stray"]
		return i.AgentEpoch == epochB && !ok && i.Deployments["kept"].Phase == fleet.PhaseRunning
	})
	if len(info.Deployments) != 1 {
		t.Errorf("DeviceInfo.deployments = %v, want only kept", info.Deployments)
	}
}

// TestStateDirUnusable: with a state directory that can be neither
// created nor written, the agent says so, takes the time-based epoch and
// keeps reconciling: process deployments are failed with the reason, and
// events and DeviceInfo still flow.
func TestStateDirUnusable(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(file, "state") // under a regular file: even root cannot create it
	before := time.Now()
	a := h.start(agentConfig{StateDir: state})
	epoch := a.epoch()
	a.waitLog(0, "epoch neither loaded nor saved; using the time-based epoch")
	if ms := int64(epoch >> 10); ms < before.UnixMilli() || ms > time.Now().UnixMilli() {
		t.Errorf("epoch %d is not the time-based epoch of the start (ms %d)", epoch, ms)
	}

	h.put("web", sleeper(nil))
	evs := h.waitEvents("web failed", h.deploymentEvents("web"), hasCount(1))
	last := evs[0].Transition
	if last.To != fleet.PhaseFailed || !strings.Contains(last.LastError, "process runtime unusable (state_dir "+state+")") || !strings.Contains(last.LastError, "not a directory") {
		t.Errorf("web events = %v, want failed naming the state directory and the reason", evs)
	}
	h.waitInfo("device info of the run", func(i fleet.DeviceInfo) bool {
		return i.AgentEpoch == epoch && i.Deployments["web"].Phase == fleet.PhaseFailed
	})
	if _, exited := a.exitedNow(); exited {
		t.Fatal("the agent exited; it must keep reconciling")
	}

	// The state directory becomes usable (say a disk was mounted): the
	// runtime opens on a retry and web runs, with no agent restart.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(file, 0o700); err != nil {
		t.Fatal(err)
	}
	h.waitEvents("web running once the state directory is usable", h.deploymentEvents("web"),
		lastIs(fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, "")))
	if h.pidIn(state, "web") == 0 { // also tracks it: killed at cleanup
		t.Fatal("web reported running, but its pid file under the state directory names no live process")
	}
	if code := a.stop(); code != exitOK {
		t.Errorf("exit code = %d, want %d", code, exitOK)
	}
}
