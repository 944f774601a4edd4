//go:build embednats

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/harmony-edge/harmony-agent/fleet"
)

var (
	toPending = fleet.Applied("", fleet.PhasePending, "")
	toRunning = fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, "")
)

// TestDesiredPutRuns: a desired put gives a running workload, the events
// pending then running with sequences 1 and 2 and their Msg-Ids, and a
// DeviceInfo that shows it running at the right revision.
func TestDesiredPutRuns(t *testing.T) {
	h := newHarness(t)
	a := h.start(agentConfig{})
	epoch := a.epoch()

	h.put("web", sleeper(nil))
	evs := h.waitEvents("web pending then running", h.deploymentEvents("web"), hasCount(2))
	checkTransitions(t, "web", evs, toPending, toRunning)
	for i, e := range evs {
		seq := uint64(i + 1)
		if e.Subject != "fleet.events.pi-017.web" {
			t.Errorf("event %d subject = %q, want fleet.events.pi-017.web", seq, e.Subject)
		}
		if e.DeviceID != testDevice || e.Deployment != "web" || e.Revision != (fleet.Revision{AgentEpoch: epoch, Sequence: seq}) {
			t.Errorf("event %d = %+v, want device %s, deployment web, revision %d/%d", seq, e.StateChangeEvent, testDevice, epoch, seq)
		}
		// <device>.<epoch>.<seq>.<nonce>, one nonce for the whole run.
		if want := fmt.Sprintf("pi-017.%d.%d.", epoch, seq); !strings.HasPrefix(e.MsgID, want) || !nonceRE.MatchString(e.MsgID[len(want):]) || e.MsgID[len(want):] != msgIDNonce(evs[0]) {
			t.Errorf("event %d %s = %q, want %q followed by the run's 16 hex nonce", seq, fleet.MsgIDHeader, e.MsgID, want)
		}
		if e.At.IsZero() {
			t.Errorf("event %d has no time", seq)
		}
	}
	pid := h.waitPID("web", 0)
	if got := environ(t, pid); !slices.Contains(got, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
		t.Errorf("workload environment = %q, want the base PATH", got)
	}

	want := fleet.Revision{AgentEpoch: epoch, Sequence: 2}
	info := h.waitInfo("device info at revision 2", func(i fleet.DeviceInfo) bool { return i.Revision == want })
	st, ok := info.Deployments["web"]
	if !ok || st.Phase != fleet.PhaseRunning || st.LastError != "" || st.Revision != want {
		t.Errorf("DeviceInfo.deployments[web] = %+v, %v, want running, no error, revision %v", st, ok, want)
	}
	if info.DeviceID != testDevice || info.AgentEpoch != epoch || info.AgentVersion != version || info.OS == "" || info.StartedAt.IsZero() || info.HeartbeatAt.IsZero() {
		t.Errorf("DeviceInfo = %+v, want device %s, epoch %d, version %s, os, started and heartbeat times", info, testDevice, epoch, version)
	}
	if code := a.stop(); code != exitOK {
		t.Errorf("run exit code after stop = %d, want %d", code, exitOK)
	}
	if h.pid("web") != pid {
		t.Errorf("workload pid %d gone after the agent stopped; stopping the agent must leave it running", pid)
	}
	if !strings.Contains(a.logs.String(), "stopped; workloads left running") {
		t.Errorf("no stop line in the log")
	}
}

// TestSpecChangeReplaces: a changed spec replaces the workload gracefully
// (old process gone, new one running with the new env; events pending then
// running), and the same spec put again, even written differently, is a
// no-op: no event, same process.
func TestSpecChangeReplaces(t *testing.T) {
	h := newHarness(t)
	// One worker: desired updates are worked on in the order they come,
	// so once the marker's events are stored, web's re-put has been
	// worked on.
	a := h.start(agentConfig{Workers: 1})
	epoch := a.epoch()

	h.put("web", sleeper(map[string]string{"MODE": "one"}))
	h.waitEvents("web running", h.deploymentEvents("web"), hasCount(2))
	pid1 := h.waitPID("web", 0)

	h.put("web", sleeper(map[string]string{"MODE": "two"}))
	evs := h.waitEvents("web replaced", h.deploymentEvents("web"), hasCount(4))
	checkTransitions(t, "web", evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhasePending, ""), toRunning)
	pid2 := h.waitPID("web", pid1)
	h.waitGone(pid1)
	if env := environ(t, pid2); !slices.Contains(env, "MODE=two") {
		t.Errorf("new workload environment = %q, want MODE=two", env)
	}
	a.waitLog(0, "spec changed; replacing workload", "deployment", "web")
	// The runtime reports the old process's exit; once that is worked on
	// web is idle, and only the put below makes it be worked on again,
	// before the marker (one worker).
	exited := a.waitLog(0, fmt.Sprintf("web exited (pid %d,*", pid1))
	a.waitLog(exited.end, "no change", "deployment", "web", "phase", "running")

	// The same spec again, its fields in another order and spaced out:
	// same hash, nothing to do.
	mark := a.mark()
	h.put("web", `{ "restart": "always", "env": {"MODE": "two"}, "grace_period_seconds": 2,
	  "command": ["sleep", "600"], "runtime": "process" }`)
	h.put("marker", sleeper(nil))
	all := h.waitEvents("marker running", h.deviceEvents(), func(evs []storedEvent) bool {
		return len(ofDeployment(evs, "marker")) == 2
	})
	if got := ofDeployment(all, "web"); !slices.Equal(got, evs) {
		t.Errorf("web events after the same spec = %v, want still %v", got, evs)
	}
	for i, e := range all {
		if want := uint64(i + 1); e.Revision.Sequence != want || e.Revision.AgentEpoch != epoch {
			t.Errorf("device event %d = %v at %v, want sequence %d of epoch %d", i, e, e.Revision, want, epoch)
		}
	}
	if got := a.logged(mark, "no change", "deployment", "web", "phase", "running"); len(got) == 0 {
		t.Errorf("no debug line \"no change\" for web after the same spec was put again")
	}
	if got := a.logged(mark, "spec changed; replacing workload", "deployment", "web"); len(got) != 0 {
		t.Errorf("the same spec replaced the workload: %v", got)
	}
	if pid := h.pid("web"); pid != pid2 {
		t.Errorf("web pid after the same spec = %d, want %d (untouched)", pid, pid2)
	}
}

// TestDeleteAndPurgeRemove: a deleted key and a purged key both remove
// their workload and record removed{from: running}.
func TestDeleteAndPurgeRemove(t *testing.T) {
	h := newHarness(t)
	h.start(agentConfig{})
	for _, name := range []fleet.DeploymentName{"deleted", "purged"} {
		h.put(name, sleeper(nil))
	}
	pids := map[fleet.DeploymentName]int{}
	for _, name := range []fleet.DeploymentName{"deleted", "purged"} {
		h.waitEvents(string(name)+" running", h.deploymentEvents(name), hasCount(2))
		pids[name] = h.waitPID(name, 0)
	}

	h.del("deleted")
	h.purge("purged")
	for _, name := range []fleet.DeploymentName{"deleted", "purged"} {
		evs := h.waitEvents(string(name)+" removed", h.deploymentEvents(name), hasCount(3))
		checkTransitions(t, string(name), evs, toPending, toRunning, fleet.Removed(fleet.PhaseRunning))
		h.waitGone(pids[name])
		if _, ok := readPID(h.stateDir, name); ok {
			t.Errorf("%s: pid file left after removal", name)
		}
	}
	info := h.waitInfo("device info without the removed deployments", func(i fleet.DeviceInfo) bool {
		return i.Revision.Sequence == 6
	})
	if len(info.Deployments) != 0 {
		t.Errorf("DeviceInfo.deployments = %v, want none", info.Deployments)
	}
}

// TestDeleteFailed: a failed deployment that never ran, invalid or with a
// missing binary, is removed when its key is deleted, although podman (a
// runtime it might have been in) cannot be asked: podman's last listing
// failed, but this agent never placed it there.
func TestDeleteFailed(t *testing.T) {
	h := newHarness(t)
	h.start(agentConfig{})
	h.put("invalid", `{"runtime":"docker"}`)
	h.put("nobinary", spec(fleet.RestartAlways, nil, "/nonexistent/bin/server"))
	h.waitEvents("invalid failed", h.deploymentEvents("invalid"), hasCount(1))
	h.waitEvents("nobinary failed", h.deploymentEvents("nobinary"), hasCount(2))
	h.del("invalid")
	h.purge("nobinary")
	evs := h.waitEvents("invalid removed", h.deploymentEvents("invalid"), hasCount(2))
	checkTransitions(t, "invalid", evs[1:], fleet.Removed(fleet.PhaseFailed))
	evs = h.waitEvents("nobinary removed", h.deploymentEvents("nobinary"), hasCount(3))
	checkTransitions(t, "nobinary", evs[2:], fleet.Removed(fleet.PhaseFailed))
}

// TestDeletedBeforeStart: a key deleted before the agent starts (its
// delete marker is in the initial values) gives no event at all, though
// podman, which cannot be asked, might have held its workload.
func TestDeletedBeforeStart(t *testing.T) {
	h := newHarness(t)
	h.put("gone", sleeper(nil))
	h.del("gone")
	h.put("marker", sleeper(nil))
	// One worker: the initial values are worked on in key order, so
	// gone is done before marker.
	h.start(agentConfig{Workers: 1})
	evs := h.waitEvents("marker running", h.deviceEvents(), func(evs []storedEvent) bool {
		return len(ofDeployment(evs, "marker")) == 2
	})
	checkTransitions(t, "device", evs, toPending, toRunning)
}

// TestBadDesiredValues: each broken desired value fails its own
// deployment with a last_error naming the problem, leaves a healthy
// deployment alone, and the agent keeps running; a key that is not
// <device>.<valid name> is logged once and skipped.
func TestBadDesiredValues(t *testing.T) {
	h := newHarness(t)
	a := h.start(agentConfig{})
	h.put("healthy", sleeper(nil))
	healthyEvents := h.waitEvents("healthy running", h.deploymentEvents("healthy"), hasCount(2))
	pid := h.waitPID("healthy", 0)

	tests := []struct {
		name  fleet.DeploymentName
		value string
		// wantErr are substrings of last_error.
		wantErr []string
		// pending: the spec is valid and the start itself fails, so it
		// goes through pending.
		pending bool
	}{
		{"notjson", `{"runtime": "process", "command": ["sleep"`, []string{"not JSON"}, false},
		{"notobject", `["sleep", "1"]`, []string{"want a JSON object"}, false},
		{"unknownfield", `{"runtime":"process","command":["sleep","1"],"comand":["x"]}`, []string{`unknown field "comand"`}, false},
		{"unknownruntime", `{"runtime":"docker","image":"nginx"}`, []string{"runtime:", `unknown runtime "docker"`}, false},
		{"noimage", `{"runtime":"podman","command":["nginx"]}`, []string{"image: required for runtime podman"}, false},
		{"badport", `{"runtime":"podman","image":"nginx","ports":[{"host_port":70000,"container_port":80}]}`, []string{"ports[0].host_port: 70000 out of range"}, false},
		{"relativedir", `{"runtime":"process","command":["sleep","1"],"working_dir":"srv"}`, []string{"working_dir: relative path"}, false},
		{"emptycommand", `{"runtime":"process","command":[]}`, []string{"command: required for runtime process"}, false},
		{"toobig", `{"runtime":"process","command":["sleep","1"],"env":{"X":"` + strings.Repeat("x", fleet.MaxSpecBytes) + `"}}`, []string{"over the 65536-byte limit"}, false},
		{"nobinary", spec(fleet.RestartAlways, nil, "/nonexistent/bin/server"), []string{`"/nonexistent/bin/server"`, "no such file or directory"}, true},
		{"nopodman", `{"runtime":"podman","image":"docker.io/library/nginx:1.27"}`, []string{"observe nopodman: ", "podman socket " + noPodman, "no such file"}, false},
	}
	for _, tt := range tests {
		h.put(tt.name, tt.value)
	}
	// A name with a '.' adds a subject token: the key matches the
	// device's filter but is no deployment of it. Put twice, logged once.
	h.putKey(string(testDevice)+".a.b", sleeper(nil))
	h.putKey(string(testDevice)+".a.b", sleeper(nil))

	for _, tt := range tests {
		t.Run(string(tt.name), func(t *testing.T) {
			h := h.in(t)
			n := 1
			if tt.pending {
				n = 2
			}
			evs := h.waitEvents(string(tt.name)+" failed", h.deploymentEvents(tt.name), hasCount(n))
			last := evs[len(evs)-1].Transition
			if last.Kind != fleet.KindApplied || last.To != fleet.PhaseFailed {
				t.Fatalf("events = %v, want the last applied{to: failed}", evs)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(last.LastError, want) {
					t.Errorf("last_error = %q, want it to contain %q", last.LastError, want)
				}
			}
			want := []fleet.LifecycleTransition{fleet.Applied("", fleet.PhaseFailed, last.LastError)}
			if tt.pending {
				want = []fleet.LifecycleTransition{toPending, fleet.Applied(fleet.PhasePending, fleet.PhaseFailed, last.LastError)}
			}
			checkTransitions(t, string(tt.name), evs, want...)
		})
	}

	// The missing binary is retried with backoff (100ms doubling to 1s)
	// without flapping: still exactly pending, failed.
	a.waitLog(0, "retrying later", "deployment", "nobinary", "failures", "3")
	checkTransitions(t, "nobinary after retries", h.waitEvents("nobinary", h.deploymentEvents("nobinary"), hasCount(2)),
		toPending, fleet.Applied(fleet.PhasePending, fleet.PhaseFailed, `start nobinary: exec: "/nonexistent/bin/server": no such file or directory`))

	if got := h.pid("healthy"); got != pid {
		t.Errorf("healthy pid = %d, want %d (untouched)", got, pid)
	}
	evs := h.waitEvents("healthy", h.deploymentEvents("healthy"), hasCount(0))
	if !slices.Equal(evs, healthyEvents) {
		t.Errorf("healthy events = %v, want still %v", evs, healthyEvents)
	}
	if _, exited := a.exitedNow(); exited {
		t.Fatalf("the agent exited; it must keep running")
	}
	skipped := a.logged(0, "skipping desired-state key")
	if len(skipped) != 1 || !strings.Contains(skipped[0].str("error"), `"pi-017.a.b"`) {
		t.Errorf("skipped-key log lines = %v, want one naming pi-017.a.b", skipped)
	}
	info := h.waitInfo("device info with every deployment", func(i fleet.DeviceInfo) bool { return len(i.Deployments) == len(tests)+1 })
	if _, ok := info.Deployments["a"]; ok {
		t.Errorf("DeviceInfo.deployments has %q from the bad key", "a")
	}
	for _, tt := range tests {
		if st := info.Deployments[tt.name]; st.Phase != fleet.PhaseFailed || st.LastError == "" {
			t.Errorf("DeviceInfo.deployments[%s] = %+v, want failed with an error", tt.name, st)
		}
	}
}

// TestDriftRestartsPerPolicy: a workload killed by hand (SIGKILL), or
// stopped then killed (SIGSTOP, SIGKILL), is started again under restart:
// always, through failed "exited with code 137"; under restart: never an
// exit 0 is succeeded, and an exit 1 is failed with the end of its output.
func TestDriftRestartsPerPolicy(t *testing.T) {
	h := newHarness(t)
	h.start(agentConfig{})
	h.put("killed", sleeper(nil))
	h.put("stopped", sleeper(nil))
	h.put("ok", spec(fleet.RestartNever, nil, "/bin/sh", "-c", "echo done; exit 0"))
	h.put("broken", spec(fleet.RestartNever, nil, "/bin/sh", "-c", "echo config missing: /etc/app.conf >&2; exit 1"))

	for _, tt := range []struct {
		name fleet.DeploymentName
		sigs []unix.Signal
	}{
		{"killed", []unix.Signal{unix.SIGKILL}},
		{"stopped", []unix.Signal{unix.SIGSTOP, unix.SIGKILL}},
	} {
		t.Run(string(tt.name), func(t *testing.T) {
			h := h.in(t)
			h.waitEvents(string(tt.name)+" running", h.deploymentEvents(tt.name), hasCount(2))
			pid := h.waitPID(tt.name, 0)
			for _, sig := range tt.sigs {
				h.kill(pid, sig)
			}
			evs := h.waitEvents(string(tt.name)+" running again", h.deploymentEvents(tt.name), hasCount(4))
			if len(evs) != 4 {
				t.Fatalf("events = %v, want 4", evs)
			}
			failed := evs[2].Transition
			if failed.From != fleet.PhaseRunning || failed.To != fleet.PhaseFailed || !strings.HasPrefix(failed.LastError, "exited with code 137") {
				t.Errorf("third event = %v, want running -> failed \"exited with code 137\"", evs[2])
			}
			checkTransitions(t, string(tt.name), evs, toPending, toRunning, failed, fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, ""))
			h.waitPID(tt.name, pid)
		})
	}

	t.Run("never, exit 0", func(t *testing.T) {
		h := h.in(t)
		evs := h.waitEvents("ok succeeded", h.deploymentEvents("ok"), hasCount(3))
		checkTransitions(t, "ok", evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhaseSucceeded, ""))
	})
	t.Run("never, exit 1", func(t *testing.T) {
		h := h.in(t)
		evs := h.waitEvents("broken failed", h.deploymentEvents("broken"), hasCount(3))
		last := evs[2].Transition
		if !strings.HasPrefix(last.LastError, "exited with code 1") || !strings.Contains(last.LastError, "config missing: /etc/app.conf") {
			t.Errorf("last_error = %q, want the exit code and the output tail", last.LastError)
		}
		checkTransitions(t, "broken", evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, last.LastError))
	})
	info := h.waitInfo("device info with the final phases", func(i fleet.DeviceInfo) bool {
		return i.Deployments["ok"].Phase == fleet.PhaseSucceeded && i.Deployments["broken"].Phase == fleet.PhaseFailed &&
			i.Deployments["killed"].Phase == fleet.PhaseRunning && i.Deployments["stopped"].Phase == fleet.PhaseRunning
	})
	if len(info.Deployments) != 4 {
		t.Errorf("DeviceInfo.deployments = %v, want 4", info.Deployments)
	}
}

// TestMissingBinaryRecovers: a deployment whose program is missing is
// failed with the runtime's error and retried with backoff, and runs by
// itself once the program appears.
func TestMissingBinaryRecovers(t *testing.T) {
	h := newHarness(t)
	h.start(agentConfig{})
	prog := filepath.Join(openDir(t), "server") // the workload's user (nobody) must reach it
	h.put("late", spec(fleet.RestartAlways, nil, prog))
	evs := h.waitEvents("late failed", h.deploymentEvents("late"), hasCount(2))
	last := evs[1].Transition
	if !strings.Contains(last.LastError, prog) || !strings.Contains(last.LastError, "no such file or directory") {
		t.Fatalf("last_error = %q, want the missing program named", last.LastError)
	}
	// Installed under another name and renamed: exec never sees a
	// half-written file.
	if err := os.WriteFile(prog+".tmp", []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(prog+".tmp", prog); err != nil {
		t.Fatal(err)
	}
	evs = h.waitEvents("late running", h.deploymentEvents("late"), hasCount(3))
	checkTransitions(t, "late", evs, toPending, fleet.Applied(fleet.PhasePending, fleet.PhaseFailed, last.LastError),
		fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, ""))
	h.waitPID("late", 0)
}
