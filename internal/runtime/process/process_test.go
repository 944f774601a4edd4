package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

func TestNewWithoutStateDir(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrNoStateDir) {
		t.Fatalf("New(Config{}) = %v, want %v", err, ErrNoStateDir)
	}
}

func TestApplyStartsProcess(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	w := workload("web", spec("/bin/sleep", "1000"))
	st := h.apply(r, w)
	pid := pidOf(t, st)
	if st.State != runtime.StateRunning || st.SpecHash != w.SpecHash || st.StartedAt.IsZero() {
		t.Fatalf("Apply(web) = %+v, want running with hash %s and a start time", st, w.SpecHash)
	}

	got, err := r.Observe(context.Background(), dev, "web")
	if err != nil || got.State != runtime.StateRunning || got.ID != st.ID {
		t.Fatalf("Observe(web) = %+v, %v, want running pid %s", got, err, st.ID)
	}

	// The pid file records what adoption needs.
	b, err := os.ReadFile(filepath.Join(h.dir, "web.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("pid file is not JSON: %v", err)
	}
	want := map[string]any{
		"device":               "dev-1",
		"deployment":           "web",
		"pid":                  float64(pid),
		"start_time":           float64(startTimeOf(t, pid)),
		"spec_hash":            w.SpecHash,
		"grace_period_seconds": float64(2),
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("pid file %s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["started_at"]; !ok {
		t.Errorf("pid file has no started_at: %s", b)
	}

	// Its own session: it leads its process group, apart from ours.
	ps, err := readStat(pid)
	if err != nil || ps.PGrp != pid {
		t.Errorf("process group of %d = %d, %v, want its own", pid, ps.PGrp, err)
	}

	list, err := r.List(context.Background(), dev)
	if err != nil || len(list) != 1 || list[0].Deployment != "web" || list[0].ID != st.ID {
		t.Errorf("List(dev-1) = %+v, %v, want web only", list, err)
	}
	other, err := r.List(context.Background(), "dev-2")
	if err != nil || len(other) != 0 {
		t.Errorf("List(dev-2) = %+v, %v, want none", other, err)
	}
	if st, err := r.Observe(context.Background(), "dev-2", "web"); err != nil || st.State != runtime.StateMissing {
		t.Errorf("Observe(dev-2, web) = %+v, %v, want missing", st, err)
	}
	if tail, err := r.LogTail(context.Background(), "dev-2", "web", 100); err != nil || tail != "" {
		t.Errorf("LogTail(dev-2, web) = %q, %v, want empty", tail, err)
	}
	w2 := w
	w2.Device = "dev-2"
	if _, err := r.Apply(context.Background(), w2); !errors.Is(err, runtime.ErrNotManaged) {
		t.Errorf("Apply(dev-2, web) = %v, want %v", err, runtime.ErrNotManaged)
	}
	if err := r.Remove(context.Background(), "dev-2", "web", time.Second); err != nil || !alive(pid, startTimeOf(t, pid)) {
		t.Errorf("Remove(dev-2, web) = %v; it must leave dev-1's process alone", err)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   int
	}{
		{"zero", "exit 0", 0},
		{"one", "exit 1", 1},
		{"three", "exit 3", 3},
		{"killed", "kill -KILL $$", 128 + 9},
		{"terminated", "kill -TERM $$", 128 + 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{})
			h.apply(r, workload("job", shell(tt.script)))
			st := waitState(t, r, "job", runtime.StateExited)
			if st.ExitCode != tt.want || st.FinishedAt.IsZero() {
				t.Fatalf("Observe(job) = %+v, want exit code %d and a finish time", st, tt.want)
			}
			// Recorded in the pid file: a later runtime knows it too.
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r2 := h.runtime(Config{})
			st2, err := r2.Observe(context.Background(), dev, "job")
			if err != nil || st2.State != runtime.StateExited || st2.ExitCode != tt.want || !st2.FinishedAt.Equal(st.FinishedAt) {
				t.Fatalf("Observe(job) after restart = %+v, %v, want exit code %d at %v", st2, err, tt.want, st.FinishedAt)
			}
		})
	}
}

func TestLogTailOfFailedProcess(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	h.apply(r, workload("job", shell("echo starting; echo 'config: bad port' >&2; echo giving up; exit 1")))
	if st := waitState(t, r, "job", runtime.StateExited); st.ExitCode != 1 {
		t.Fatalf("exit code = %d, want 1", st.ExitCode)
	}
	// The log is 36 bytes: "starting\n" (9), "config: bad port\n" (17),
	// "giving up\n" (10).
	tests := []struct {
		max  int
		want string
	}{
		{1000, "starting\nconfig: bad port\ngiving up\n"},
		{36, "starting\nconfig: bad port\ngiving up\n"}, // exactly all
		{35, "config: bad port\ngiving up\n"},           // cut in the first line
		{27, "config: bad port\ngiving up\n"},           // cut on a line boundary
		{26, "giving up\n"},                             // cut in the second line
		{11, "giving up\n"},
		{10, "giving up\n"},
		{5, "g up\n"}, // no whole line fits
		{0, ""},
		{-1, ""},
	}
	for _, tt := range tests {
		got, err := r.LogTail(context.Background(), dev, "job", tt.max)
		if err != nil || got != tt.want {
			t.Errorf("LogTail(job, %d) = %q, %v, want %q", tt.max, got, err, tt.want)
		}
	}
	if got, err := r.LogTail(context.Background(), dev, "nothing", 100); err != nil || got != "" {
		t.Errorf("LogTail(nothing) = %q, %v, want empty", got, err)
	}
}

func TestApplySameHash(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	w := workload("web", spec("/bin/sleep", "1000"))
	first := h.apply(r, w)
	second := h.apply(r, w)
	if second.ID != first.ID || second.State != runtime.StateRunning {
		t.Fatalf("second Apply(web) = %+v, want the running pid %s untouched", second, first.ID)
	}

	// Same hash but exited: started again, with a fresh log.
	job := workload("job", shell("echo run; exit 2"))
	old := h.apply(r, job)
	waitState(t, r, "job", runtime.StateExited)
	again := h.apply(r, job)
	if again.ID == old.ID || again.State != runtime.StateRunning {
		t.Fatalf("Apply(job) after exit = %+v, want a new running pid (old %s)", again, old.ID)
	}
	st := waitState(t, r, "job", runtime.StateExited)
	if st.ID != again.ID || st.ExitCode != 2 {
		t.Fatalf("Observe(job) = %+v, want pid %s exited 2", st, again.ID)
	}
	if tail, _ := r.LogTail(context.Background(), dev, "job", 100); tail != "run\n" {
		t.Errorf("LogTail(job) = %q, want one run's output", tail)
	}
}

func TestApplyNewHashReplacesGracefully(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	mark := filepath.Join(t.TempDir(), "term")
	s := shell(`trap 'echo got-term > "$MARK"; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	s.Env = map[string]string{"MARK": mark, "V": "1"}
	old := h.apply(r, workload("web", s))
	oldPID := pidOf(t, old)
	oldStart := startTimeOf(t, oldPID)
	waitLog(t, r, "web", "ready") // the trap is set

	w := watchFor(t, r)
	s.Env = map[string]string{"MARK": mark, "V": "2"}
	next := h.apply(r, workload("web", s))
	if next.ID == old.ID || next.State != runtime.StateRunning || next.SpecHash != fleet.SpecHash(s) {
		t.Fatalf("Apply(web, v2) = %+v, want a new running pid with the new hash (old %s)", next, old.ID)
	}
	if alive(oldPID, oldStart) {
		t.Errorf("old pid %d still alive after the replace", oldPID)
	}
	b, err := os.ReadFile(mark)
	if err != nil || string(b) != "got-term\n" {
		t.Errorf("the old process's trap wrote %q, %v, want got-term: it must get SIGTERM first", b, err)
	}
	w.expect(t, "web", waitTimeout)
	if st, err := r.Observe(context.Background(), dev, "web"); err != nil || st.ID != next.ID || st.State != runtime.StateRunning {
		t.Errorf("Observe(web) = %+v, %v, want the new pid %s running", st, err, next.ID)
	}
}

// watchFor starts a watch on dev.
func watchFor(t *testing.T, r *Runtime) *watcher { return startWatch(t, r, dev) }

func TestStopEscalatesToSIGKILL(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	// Ignoring TERM is inherited by the sleeps.
	st := h.apply(r, workload("stubborn", shell(`trap '' TERM; echo ready; while :; do sleep 0.05; done`)))
	pid := pidOf(t, st)
	waitLog(t, r, "stubborn", "ready")
	const grace = 300 * time.Millisecond
	began := time.Now()
	if err := r.Remove(context.Background(), dev, "stubborn", grace); err != nil {
		t.Fatalf("Remove(stubborn) = %v", err)
	}
	if took := time.Since(began); took < grace {
		t.Errorf("Remove took %v, want at least the grace %v before SIGKILL", took, grace)
	}
	if groupAlive(pid) {
		t.Errorf("process group %d alive after Remove", pid)
	}
}

func TestKilledByHand(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	w := watchFor(t, r)
	st := h.apply(r, workload("web", spec("/bin/sleep", "1000")))
	w.expect(t, "web", waitTimeout) // started
	if err := unix.Kill(pidOf(t, st), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "web", 2*time.Second) // exited
	got, err := r.Observe(context.Background(), dev, "web")
	if err != nil || got.State != runtime.StateExited || got.ExitCode != 137 {
		t.Fatalf("Observe(web) = %+v, %v, want exited 137", got, err)
	}
}

func TestStoppedProcessIsRunning(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	st := h.apply(r, workload("web", spec("/bin/sleep", "1000")))
	pid := pidOf(t, st)
	if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "state T", func() bool {
		ps, err := readStat(pid)
		return err == nil && ps.State == 'T'
	})
	got, err := r.Observe(context.Background(), dev, "web")
	if err != nil || got.State != runtime.StateRunning || got.ID != st.ID {
		t.Fatalf("Observe(web) of a stopped process = %+v, %v, want running", got, err)
	}
	// Stopping a stopped process: SIGCONT lets the SIGTERM through, no
	// need to wait for the grace period.
	began := time.Now()
	if err := r.Remove(context.Background(), dev, "web", waitTimeout); err != nil {
		t.Fatalf("Remove(web) = %v", err)
	}
	if took := time.Since(began); took >= waitTimeout {
		t.Errorf("Remove of a stopped process took %v: SIGTERM was not delivered", took)
	}
}

func TestRemove(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	w := watchFor(t, r)
	childFile := filepath.Join(t.TempDir(), "child")
	s := shell(`sleep 1000 & echo $! > "$CHILD"; wait`)
	s.Env = map[string]string{"CHILD": childFile}
	st := h.apply(r, workload("web", s))
	w.expect(t, "web", waitTimeout)
	child, err := strconv.Atoi(waitFile(t, childFile))
	if err != nil {
		t.Fatal(err)
	}
	childStart := startTimeOf(t, child)
	pid := pidOf(t, st)
	start := startTimeOf(t, pid)

	if err := r.Remove(context.Background(), dev, "web", 2*time.Second); err != nil {
		t.Fatalf("Remove(web) = %v", err)
	}
	if alive(pid, start) {
		t.Errorf("shell %d alive after Remove", pid)
	}
	if alive(child, childStart) {
		t.Errorf("the shell's child %d alive after Remove: the group was not signalled", child)
	}
	for _, f := range []string{"web.json", "web.log", "web.log.1"} {
		if exists(filepath.Join(h.dir, f)) {
			t.Errorf("%s still exists after Remove", f)
		}
	}
	w.expect(t, "web", waitTimeout)
	if got, err := r.Observe(context.Background(), dev, "web"); err != nil || got.State != runtime.StateMissing {
		t.Errorf("Observe(web) after Remove = %+v, %v, want missing", got, err)
	}
	for range 2 {
		if err := r.Remove(context.Background(), dev, "web", time.Second); err != nil {
			t.Errorf("Remove(web) of a missing deployment = %v, want nil", err)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	missingDir := filepath.Join(t.TempDir(), "missing")
	notExec := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	withDir := spec("/bin/true")
	withDir.WorkingDir = missingDir
	fileDir := spec("/bin/true")
	fileDir.WorkingDir = notExec
	podman := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "nginx"}
	tests := []struct {
		name     string
		w        runtime.Workload
		wantText string
		wantErr  error
	}{
		{"missing binary", workload("web", spec("/nope")), `start web: exec: "/nope": no such file or directory`, nil},
		{"not in PATH", workload("web", spec("no-such-program-harmony")), `start web: exec: "no-such-program-harmony": executable file not found in $PATH`, exec.ErrNotFound},
		{"not executable", workload("web", spec(notExec)), "permission denied", os.ErrPermission},
		{"a directory", workload("web", spec("/tmp")), "is a directory", syscall.EISDIR},
		{"missing working dir", workload("web", withDir), "start web: working_dir " + missingDir + ": no such file or directory", os.ErrNotExist},
		{"working dir a file", workload("web", fileDir), "working_dir " + notExec + ": not a directory", syscall.ENOTDIR},
		{"podman spec", workload("web", podman), "start web: process: spec is not for runtime process", ErrWrongRuntime},
		{"empty command", workload("web", spec()), "command: required", fleet.ErrInvalidSpec},
		{"bad name", workload("../etc", spec("/bin/true")), "invalid", fleet.ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{})
			st, err := r.Apply(context.Background(), tt.w)
			if err == nil {
				h.track(pidOf(t, st))
				t.Fatalf("Apply(%s) = %+v, want an error", tt.name, st)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Apply(%s) = %q, want it to contain %q", tt.name, err, tt.wantText)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Apply(%s) = %v, want errors.Is %v", tt.name, err, tt.wantErr)
			}
			if exists(filepath.Join(h.dir, "web.json")) {
				t.Errorf("a failed Apply left a pid file")
			}
			if got, err := r.Observe(context.Background(), dev, "web"); err != nil || got.State != runtime.StateMissing {
				t.Errorf("Observe(web) after a failed Apply = %+v, %v, want missing", got, err)
			}
		})
	}
}

func TestAdoption(t *testing.T) {
	h := newHarness(t)
	a := h.runtime(Config{})
	w := workload("web", spec("/bin/sleep", "1000"))
	st := h.apply(a, w)
	pid := pidOf(t, st)
	start := startTimeOf(t, pid)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !alive(pid, start) {
		t.Fatalf("pid %d died with its runtime's Close", pid)
	}

	b := h.runtime(Config{})
	got, err := b.Observe(context.Background(), dev, "web")
	if err != nil || got.State != runtime.StateRunning || got.ID != st.ID || got.SpecHash != w.SpecHash || !got.StartedAt.Equal(st.StartedAt) {
		t.Fatalf("Observe(web) on the new runtime = %+v, %v, want %+v", got, err, st)
	}
	if !h.logged("adopted web") {
		t.Errorf("adoption was not logged")
	}
	if again := h.apply(b, w); again.ID != st.ID {
		t.Fatalf("Apply(web) with the same hash on the new runtime = %+v, want the adopted pid %s", again, st.ID)
	}

	watch := watchFor(t, b)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	watch.expect(t, "web", 2*time.Second)
	got, err = b.Observe(context.Background(), dev, "web")
	if err != nil || got.State != runtime.StateExited || got.ExitCode != -1 || got.FinishedAt.IsZero() {
		t.Fatalf("Observe(web) after the adopted process died = %+v, %v, want exited -1", got, err)
	}
}

func TestAdoptedProcessExitedWhileAway(t *testing.T) {
	h := newHarness(t)
	a := h.runtime(Config{})
	st := h.apply(a, workload("web", spec("/bin/sleep", "1000")))
	pid := pidOf(t, st)
	start := startTimeOf(t, pid)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the process to die", func() bool { return !alive(pid, start) })

	b := h.runtime(Config{})
	got, err := b.Observe(context.Background(), dev, "web")
	if err != nil || got.State != runtime.StateExited || got.ExitCode != -1 || got.ID != st.ID {
		t.Fatalf("Observe(web) = %+v, %v, want pid %s exited -1", got, err, st.ID)
	}
}

func TestPidReuseGuard(t *testing.T) {
	h := newHarness(t)
	// A process that is not the workload holds the recorded pid.
	other := exec.Command("/bin/sleep", "1000")
	other.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	pid := other.Process.Pid
	h.track(pid)
	start := startTimeOf(t, pid)
	rec := pidRecord{
		Device: dev, Deployment: "web", PID: pid, StartTime: start + 1,
		SpecHash: "abc", GracePeriodSeconds: 1, StartedAt: time.Now().UTC(),
	}
	if err := writePidRecord(filepath.Join(h.dir, "web.json"), rec); err != nil {
		t.Fatal(err)
	}
	r := h.runtime(Config{})
	if h.logged("adopted web") {
		t.Errorf("a reused pid was adopted")
	}
	got, err := r.Observe(context.Background(), dev, "web")
	if err != nil || got.State == runtime.StateRunning || got.ExitCode != -1 {
		t.Fatalf("Observe(web) with a reused pid = %+v, %v, want not running, exit code -1", got, err)
	}
	// Replacing or removing it must not signal the stranger.
	if err := r.Remove(context.Background(), dev, "web", time.Second); err != nil {
		t.Fatalf("Remove(web) = %v", err)
	}
	if !alive(pid, start) {
		t.Fatalf("Remove signalled pid %d, which is not the workload", pid)
	}
	if exists(filepath.Join(h.dir, "web.json")) {
		t.Errorf("Remove left the pid file")
	}
	_ = other.Process.Kill()
	_ = other.Wait()
}

func TestCorruptPidFile(t *testing.T) {
	valid := `{"device":"dev-1","deployment":"web","pid":1,"start_time":1,"spec_hash":"h","started_at":"2025-01-01T00:00:00Z"}`
	tests := []struct {
		name, content, why string
	}{
		{"garbage", "not json at all", "invalid character"},
		{"empty", "", "unexpected end of JSON input"},
		{"truncated", valid[:40], "unexpected end of JSON input"},
		{"other deployment", strings.Replace(valid, `"web"`, `"api"`, 1), `deployment "api"`},
		{"bad device", strings.Replace(valid, `"dev-1"`, `"dev 1"`, 1), "invalid name"},
		{"no pid", strings.Replace(valid, `"pid":1`, `"pid":0`, 1), "pid 0"},
		{"negative pid", strings.Replace(valid, `"pid":1`, `"pid":-5`, 1), "pid -5"},
		{"no start time", strings.Replace(valid, `"start_time":1`, `"start_time":0`, 1), "no start_time"},
		{"no hash", strings.Replace(valid, `"spec_hash":"h"`, `"spec_hash":""`, 1), "no spec_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			path := filepath.Join(h.dir, "web.json")
			write := func() {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write()
			r := h.runtime(Config{}) // adoption sees it first
			if exists(path) || !h.logged(tt.why) {
				t.Fatalf("New over a corrupt pid file: removed %v, logged %q %v", !exists(path), tt.why, h.logged(tt.why))
			}
			write()
			got, err := r.Observe(context.Background(), dev, "web")
			if err != nil || got.State != runtime.StateMissing {
				t.Errorf("Observe(web) = %+v, %v, want missing", got, err)
			}
			if exists(path) {
				t.Errorf("Observe left the corrupt pid file")
			}
			write()
			if list, err := r.List(context.Background(), dev); err != nil || len(list) != 0 {
				t.Errorf("List = %+v, %v, want empty", list, err)
			}
			// A new process takes the name.
			write()
			h.apply(r, workload("web", spec("/bin/sleep", "1000")))
			waitState(t, r, "web", runtime.StateRunning)
		})
	}
	if _, err := decodePidRecord("web", []byte(valid)); err != nil {
		t.Errorf("decodePidRecord(valid) = %v", err)
	}
}

func TestEnvAndWorkingDir(t *testing.T) {
	t.Setenv("HARMONY_AGENT_SECRET", "leaked")
	dir := t.TempDir()
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	script := `pwd; echo "VAR=$VAR"; echo "PATH=$PATH"; echo "SECRET=${HARMONY_AGENT_SECRET:-unset}"`
	base := spec("sh", "-c", script) // a bare name, found in the child's PATH
	base.WorkingDir = dir
	base.Env = map[string]string{"VAR": "edge mode"}
	custom := base
	custom.Env = map[string]string{"VAR": "x", "PATH": "/bin:/usr/bin"}
	tests := []struct {
		name string
		spec fleet.DeploymentSpec
		want string
	}{
		{"base path", base, realDir + "\nVAR=edge mode\nPATH=" + BasePath + "\nSECRET=unset\n"},
		{"spec path", custom, realDir + "\nVAR=x\nPATH=/bin:/usr/bin\nSECRET=unset\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{})
			h.apply(r, workload("env", tt.spec))
			if st := waitState(t, r, "env", runtime.StateExited); st.ExitCode != 0 {
				t.Fatalf("exit code = %d, want 0", st.ExitCode)
			}
			got, err := r.LogTail(context.Background(), dev, "env", 4096)
			if err != nil || got != tt.want {
				t.Errorf("output = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestLogCap(t *testing.T) {
	h := newHarness(t)
	const maxBytes = 4096
	r := h.runtime(Config{MaxLogBytes: maxBytes, LogCheckInterval: 10 * time.Millisecond})
	// About 20 KiB at once, then, once capped, one more line.
	h.apply(r, workload("chatty", shell(`i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; sleep 0.3; echo done; exec sleep 1000`)))
	log := filepath.Join(h.dir, "chatty.log")
	waitFor(t, "the log to be capped", func() bool {
		fi, err := os.Stat(log)
		tail, _ := r.LogTail(context.Background(), dev, "chatty", 100)
		return err == nil && fi.Size() <= maxBytes && exists(log+".1") && strings.HasSuffix(tail, "\ndone\n")
	})
	prev, err := os.Stat(log + ".1")
	if err != nil || prev.Size() > maxBytes/2 {
		t.Errorf("previous segment: %v, %v, want at most %d bytes", prev, err, maxBytes/2)
	}
	b, _ := os.ReadFile(log + ".1")
	if !strings.HasPrefix(string(b), "line ") {
		t.Errorf("previous segment starts %.20q, want a line start", b)
	}
}

func TestWatch(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	other := startWatch(t, r, "dev-2")
	w := watchFor(t, r)
	// Changes not yet delivered are coalesced, so the exit is caused only
	// after the start was seen.
	st := h.apply(r, workload("job", spec("/bin/sleep", "1000")))
	w.expect(t, "job", waitTimeout)
	if err := unix.Kill(pidOf(t, st), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "job", waitTimeout)
	if st := waitState(t, r, "job", runtime.StateExited); st.ExitCode != 143 {
		t.Errorf("exit code after SIGTERM = %d, want 143", st.ExitCode)
	}
	if err := r.Remove(context.Background(), dev, "job", time.Second); err != nil {
		t.Fatal(err)
	}
	w.expect(t, "job", waitTimeout)
	select {
	case n := <-other.names:
		t.Errorf("the watch of dev-2 got %s of dev-1", n)
	default:
	}
	if err := w.stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Watch after cancel = %v, want %v", err, context.Canceled)
	}

	// A slow changed does not hold the reaper back.
	block := make(chan struct{})
	slowDone := make(chan error, 1)
	called := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		slowDone <- r.Watch(ctx, dev, func(fleet.DeploymentName) {
			select {
			case called <- struct{}{}:
			default:
			}
			<-block
		})
	}()
	waitFor(t, "the slow watch to subscribe", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.subs) == 2
	})
	h.apply(r, workload("a", shell("exit 4")))
	<-called
	h.apply(r, workload("b", shell("exit 5")))
	if st := waitState(t, r, "b", runtime.StateExited); st.ExitCode != 5 {
		t.Errorf("exit code of b = %d, want 5", st.ExitCode)
	}
	close(block)
	cancel()
	if err := <-slowDone; !errors.Is(err, context.Canceled) {
		t.Errorf("slow Watch = %v, want %v", err, context.Canceled)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.stop(t); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch when the runtime closed = %v, want %v", err, ErrClosed)
	}
	if err := r.Watch(context.Background(), dev, func(fleet.DeploymentName) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch after Close = %v, want %v", err, ErrClosed)
	}
	if _, err := r.Apply(context.Background(), workload("late", spec("/bin/true"))); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close = %v, want %v", err, ErrClosed)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// TestPollExit covers the /proc fallback used where pidfd_open fails.
func TestPollExit(t *testing.T) {
	tests := []struct {
		name string
		end  func(r *Runtime, pid int)
		want bool
	}{
		{"process killed", func(_ *Runtime, pid int) { _ = unix.Kill(pid, unix.SIGKILL) }, true},
		{"runtime closed", func(r *Runtime, _ int) { _ = r.Close() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{})
			pid := pidOf(t, h.apply(r, workload("web", spec("/bin/sleep", "1000"))))
			start := startTimeOf(t, pid)
			got := make(chan bool, 1) // one result; the goroutine never blocks
			go func() { got <- r.pollExit(pid, start) }()
			tt.end(r, pid)
			select {
			case g := <-got:
				if g != tt.want {
					t.Errorf("pollExit = %v, want %v", g, tt.want)
				}
			case <-time.After(waitTimeout):
				t.Fatal("pollExit did not return")
			}
		})
	}
}

// threads returns how many OS threads this process has.
func threads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

// TestWaitingCostsNoThread: a supervised process is waited for through the
// poller, so 50 of them do not park 50 OS threads (they did when each
// waiter blocked in poll(2)).
func TestWaitingCostsNoThread(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	before := threads(t)
	const n = 50
	for i := range n {
		h.apply(r, workload(fleet.DeploymentName(fmt.Sprintf("sleep%d", i)), spec("/bin/sleep", "3600")))
	}
	if got := threads(t) - before; got >= n/2 {
		t.Fatalf("%d supervised processes added %d OS threads, want far fewer than %d", n, got, n)
	}
}
