package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// DefaultMaxLogBytes caps a deployment's log when Config.MaxLogBytes is 0.
const DefaultMaxLogBytes = 1 << 20

// DefaultLogCheckInterval is how often log sizes are checked when
// Config.LogCheckInterval is 0.
const DefaultLogCheckInterval = 5 * time.Second

const (
	// procPollInterval is how often /proc is read to notice an exit where
	// pidfd_open is unavailable (Linux before 5.3, a seccomp filter).
	procPollInterval = 500 * time.Millisecond
	// stopPollInterval is how often a stopping process group is checked.
	stopPollInterval = 20 * time.Millisecond
	// killTimeout bounds the wait for a process group after SIGKILL.
	killTimeout = 5 * time.Second
	// reapTimeout bounds how long Observe waits for the reaper of a child
	// it has just seen exit, to report the real exit code.
	reapTimeout = 2 * time.Second
)

var (
	// ErrNoStateDir is returned by New without a Config.StateDir.
	ErrNoStateDir = errors.New("process: no state directory")
	// ErrClosed is returned by Apply and Watch after Close.
	ErrClosed = errors.New("process: runtime closed")
	// ErrWrongRuntime is returned by Apply for a spec whose runtime is not
	// "process".
	ErrWrongRuntime = errors.New("process: spec is not for runtime process")
	// ErrStillRunning is returned when a process group outlives SIGKILL
	// (a process stuck in the kernel).
	ErrStillRunning = errors.New("process: process group still running after SIGKILL")
)

var _ runtime.Runtime = (*Runtime)(nil)

// Config configures a Runtime.
type Config struct {
	// StateDir holds the pid files and logs, e.g. <state_dir>/process. It
	// is created when missing.
	StateDir string
	// MaxLogBytes caps each deployment's log; 0 means DefaultMaxLogBytes.
	MaxLogBytes int64
	// LogCheckInterval is how often log sizes are checked; 0 means
	// DefaultLogCheckInterval.
	LogCheckInterval time.Duration
	// DefaultUser is who a workload whose spec names no user runs as: a
	// user name or "uid:gid" (runtime.process.default_user). "" runs it
	// as the agent's own user. An agent running as root switches to the
	// user (its uid, gid and supplementary groups); an unprivileged agent
	// can run workloads only as itself and fails the others with
	// ErrCannotSwitchUser.
	DefaultUser string
	// Logf, when set, receives the runtime's transitions (start, stop,
	// exit, adoption) and the problems it recovers from (a corrupt pid
	// file). It must be safe for concurrent use.
	Logf func(format string, args ...any)
}

// Runtime supervises plain processes. See the package documentation.
type Runtime struct {
	dir              string
	maxLogBytes      int64
	logCheckInterval time.Duration
	logf             func(string, ...any)
	defaultUser      string

	// logs serialise the log files of each deployment.
	logs logLocks
	// capHook, when set (by tests, before the capper's first tick), is
	// called by capLog after each of its steps.
	capHook func(name fleet.DeploymentName, step string)

	// closing is closed by Close.
	closing chan struct{}
	// wg counts the reapers, the adopted-process watchers and the log
	// capper; Close waits for it.
	wg sync.WaitGroup

	// mu guards the fields below, and serialises writing and deleting pid
	// files with changes to procs, so that the reaper of a replaced
	// process never overwrites its successor's pid file.
	mu     sync.Mutex
	closed bool
	procs  map[fleet.DeploymentName]*proc
	subs   map[*subscriber]struct{}
}

// proc is a process this Runtime watches: its child, or one adopted from a
// pid file.
type proc struct {
	rec pidRecord
	// cmd is nil for an adopted process.
	cmd *exec.Cmd
	// done is closed once exitCode and finishedAt are set.
	done       chan struct{}
	exitCode   int
	finishedAt time.Time
	// replaced, guarded by Runtime.mu, says Apply is stopping p to start
	// its successor, whose record follows: p's exit is not written to the
	// pid file (a page written to the disk for a record about to be
	// overwritten). A crash in between leaves p's record without an exit,
	// read at the next start as a process gone (exit code unknown), while
	// the desired state starts the successor again.
	replaced bool
}

// is reports whether p is the process rec describes.
func (p *proc) is(rec pidRecord) bool {
	return p != nil && p.rec.PID == rec.PID && p.rec.StartTime == rec.StartTime
}

// exited returns the recorded exit, if any.
func (p *proc) exited() (int, time.Time, bool) {
	select {
	case <-p.done:
		return p.exitCode, p.finishedAt, true
	default:
		return 0, time.Time{}, false
	}
}

// subscriber is one running Watch.
type subscriber struct {
	device fleet.DeviceID
	// wake holds one pending wake-up; the names wait in pending, so one
	// slot is enough and a notifier never blocks.
	wake chan struct{}

	mu      sync.Mutex
	pending map[fleet.DeploymentName]struct{}
}

// take returns the pending names, sorted, and clears them.
func (s *subscriber) take() []fleet.DeploymentName {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]fleet.DeploymentName, 0, len(s.pending))
	for n := range s.pending {
		names = append(names, n)
	}
	clear(s.pending)
	slices.Sort(names)
	return names
}

// New returns a Runtime over cfg.StateDir, creating it when missing, and
// adopts the processes its pid files name that still run.
func New(cfg Config) (*Runtime, error) {
	if cfg.StateDir == "" {
		return nil, ErrNoStateDir
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("create process state dir: %w", err)
	}
	r := &Runtime{
		dir:              cfg.StateDir,
		maxLogBytes:      cfg.MaxLogBytes,
		logCheckInterval: cfg.LogCheckInterval,
		logf:             cfg.Logf,
		defaultUser:      cfg.DefaultUser,
		closing:          make(chan struct{}),
		procs:            make(map[fleet.DeploymentName]*proc),
		subs:             make(map[*subscriber]struct{}),
	}
	if r.maxLogBytes <= 0 {
		r.maxLogBytes = DefaultMaxLogBytes
	}
	if r.logCheckInterval <= 0 {
		r.logCheckInterval = DefaultLogCheckInterval
	}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	if err := r.adopt(); err != nil {
		_ = r.Close()
		return nil, err
	}
	r.wg.Add(1)
	go r.capLogs()
	return r, nil
}

// adopt removes leftover temporary files and watches every process a pid
// file names that still runs.
func (r *Runtime) adopt() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("read process state dir: %w", err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			_ = os.Remove(filepath.Join(r.dir, e.Name()))
		}
	}
	for _, name := range pidFileNames(entries) {
		rec, ok, err := r.load(name)
		if err != nil {
			r.logf("adopt %s: %v", name, err)
			continue
		}
		if !ok || rec.ExitCode != nil || !alive(rec.PID, rec.StartTime) {
			continue
		}
		p := &proc{rec: rec, done: make(chan struct{})}
		r.procs[name] = p
		r.wg.Add(1)
		go r.watchAdopted(p)
		r.logf("adopted %s of device %s (pid %d)", name, rec.Device, rec.PID)
	}
	return nil
}

// pidFileNames returns the deployments whose pid files are among entries.
func pidFileNames(entries []os.DirEntry) []fleet.DeploymentName {
	var names []fleet.DeploymentName
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		if n := fleet.DeploymentName(base); n.Validate() == nil {
			names = append(names, n)
		}
	}
	return names
}

// Close stops the runtime's goroutines and waits for them. It never signals
// a process: the workloads keep running, and a later Runtime over the same
// state directory adopts them.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.closing)
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

func (r *Runtime) pidPath(name fleet.DeploymentName) string {
	return filepath.Join(r.dir, string(name)+".json")
}

func (r *Runtime) logPath(name fleet.DeploymentName) string {
	return filepath.Join(r.dir, string(name)+".log")
}

// load reads the pid file of name; false when there is none. A corrupt one
// is logged, removed and reported missing.
func (r *Runtime) load(name fleet.DeploymentName) (pidRecord, bool, error) {
	path := r.pidPath(name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return pidRecord{}, false, nil
	}
	if err != nil {
		return pidRecord{}, false, fmt.Errorf("read pid file: %w", err)
	}
	rec, err := decodePidRecord(name, data)
	if err != nil {
		r.logf("%s: %v; removing it", path, err)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.logf("remove %s: %v", path, err)
		}
		return pidRecord{}, false, nil
	}
	return rec, true, nil
}

// checkIDs validates the names that become file names.
func checkIDs(device fleet.DeviceID, name fleet.DeploymentName) error {
	return errors.Join(device.Validate(), name.Validate())
}

// current returns the proc watched for rec, or nil.
func (r *Runtime) current(rec pidRecord) *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.procs[rec.Deployment]; p.is(rec) {
		return p
	}
	return nil
}

// status observes the process rec describes.
func (r *Runtime) status(ctx context.Context, rec pidRecord) runtime.Status {
	st := runtime.Status{
		Deployment: rec.Deployment,
		State:      runtime.StateRunning,
		ID:         strconv.Itoa(rec.PID),
		SpecHash:   rec.SpecHash,
		StartedAt:  rec.StartedAt,
	}
	exited := func(code int, at time.Time) runtime.Status {
		st.State, st.ExitCode, st.FinishedAt = runtime.StateExited, code, at
		return st
	}
	p := r.current(rec)
	if p != nil {
		if code, at, ok := p.exited(); ok {
			return exited(code, at)
		}
	}
	if rec.ExitCode != nil {
		var at time.Time
		if rec.FinishedAt != nil {
			at = *rec.FinishedAt
		}
		return exited(*rec.ExitCode, at)
	}
	if alive(rec.PID, rec.StartTime) {
		return st
	}
	if p != nil && p.cmd != nil {
		// Our child has just exited: its reaper is about to record how.
		t := time.NewTimer(reapTimeout)
		defer t.Stop()
		select {
		case <-p.done:
			return exited(p.exitCode, p.finishedAt)
		case <-ctx.Done():
		case <-t.C:
		}
	}
	return exited(-1, time.Time{})
}

// Observe reports the deployment's process. A deployment without a pid
// file, or whose pid file belongs to another device, is StateMissing.
func (r *Runtime) Observe(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName) (runtime.Status, error) {
	if err := checkIDs(device, name); err != nil {
		return runtime.Status{}, fmt.Errorf("observe %s: %w", name, err)
	}
	rec, ok, err := r.load(name)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("observe %s: %w", name, err)
	}
	if !ok || rec.Device != device {
		return runtime.Status{Deployment: name, State: runtime.StateMissing}, nil
	}
	return r.status(ctx, rec), nil
}

// List reports the processes of device's pid files, by deployment name.
func (r *Runtime) List(ctx context.Context, device fleet.DeviceID) ([]runtime.Status, error) {
	if err := device.Validate(); err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []runtime.Status
	for _, name := range pidFileNames(entries) {
		rec, ok, err := r.load(name)
		if err != nil {
			return nil, fmt.Errorf("list processes: %s: %w", name, err)
		}
		if ok && rec.Device == device {
			out = append(out, r.status(ctx, rec))
		}
	}
	return out, nil
}

// Apply makes w's process run: a running process with the same spec hash
// is left alone; otherwise what a previous run left (a process with
// another spec, or the rest of an exited one's process group) is stopped
// within its grace period and a new process started. A pid file of another
// device is runtime.ErrNotManaged.
func (r *Runtime) Apply(ctx context.Context, w runtime.Workload) (runtime.Status, error) {
	name := w.Deployment
	if err := checkIDs(w.Device, name); err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	if w.Spec.Runtime != fleet.RuntimeProcess {
		return runtime.Status{}, fmt.Errorf("start %s: %w (runtime %q)", name, ErrWrongRuntime, w.Spec.Runtime)
	}
	if err := w.Spec.Validate(); err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	hash := w.SpecHash
	if hash == "" {
		hash = fleet.SpecHash(w.Spec)
	}
	if r.isClosed() {
		return runtime.Status{}, fmt.Errorf("start %s: %w", name, ErrClosed)
	}
	rec, ok, err := r.load(name)
	if err != nil {
		return runtime.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	var old runtime.Status
	if ok {
		if rec.Device != w.Device {
			return runtime.Status{}, fmt.Errorf("start %s: %w (its pid file belongs to device %q)", name, runtime.ErrNotManaged, rec.Device)
		}
		old = r.status(ctx, rec)
		if old.State == runtime.StateRunning && rec.SpecHash == hash {
			return old, nil
		}
	}
	// Nothing running is stopped unless its replacement can be recorded:
	// the room for the new pid file is taken first.
	res, err := reservePidFile(r.pidPath(name))
	if err != nil {
		if old.State == runtime.StateRunning {
			return old, fmt.Errorf("replace %s: reserve its pid file: %w; the running process (pid %s) is left as it was", name, err, old.ID)
		}
		return old, fmt.Errorf("start %s: reserve its pid file: %w", name, err)
	}
	defer res.discard()
	if ok {
		r.markReplaced(rec, true)
		if err := r.stop(ctx, rec, rec.grace()); err != nil {
			r.markReplaced(rec, false) // it may run on: its exit is to be recorded
			return runtime.Status{}, fmt.Errorf("replace %s: %w", name, err)
		}
	}
	st, err := r.start(w.Device, name, w.Spec.WithDefaults(), hash, res)
	if err != nil {
		if ok {
			r.recordReplacedExit(rec) // no successor: the old exit is the record
		}
		return runtime.Status{}, fmt.Errorf("start %s: %w", name, err)
	}
	return st, nil
}

// recordReplacedExit writes the exit of the replaced process rec describes
// to its pid file, which finish skipped, once its successor failed to
// start.
func (r *Runtime) recordReplacedExit(rec pidRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.procs[rec.Deployment]
	if !p.is(rec) || !p.replaced {
		return
	}
	p.replaced = false
	if code, at, done := p.exited(); done {
		if err := writePidRecord(r.pidPath(rec.Deployment), p.rec.withExit(code, at)); err != nil {
			r.logf("record exit of %s: %v", rec.Deployment, err)
		}
	}
}

func (r *Runtime) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// start starts a process for spec, records it in the reserved pid file and
// starts its reaper.
func (r *Runtime) start(device fleet.DeviceID, name fleet.DeploymentName, spec fleet.DeploymentSpec, hash string, res *pidReservation) (runtime.Status, error) {
	env := buildEnv(spec.Env)
	path, err := lookPath(spec.Command[0], envPath(env))
	if err != nil {
		return runtime.Status{}, err
	}
	// Checked here: exec would blame the program ("fork/exec /bin/x: no
	// such file or directory") for a missing working directory.
	if err := checkDir(spec.WorkingDir); err != nil {
		return runtime.Status{}, err
	}
	who := spec.User
	if who == "" {
		who = r.defaultUser
	}
	cred, id, err := credential(who)
	if err != nil {
		return runtime.Status{}, err
	}
	// The log is opened here, by the agent, and handed over as fds 1 and
	// 2: the workload's user needs no access to it or its directory.
	lock := r.logs.of(name)
	lock.Lock()
	logFile, err := openLog(r.logPath(name))
	lock.Unlock()
	if err != nil {
		return runtime.Status{}, fmt.Errorf("open log: %w", err)
	}
	// The child holds its own descriptors once started.
	defer logFile.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.Command,
		Env:         env,
		Dir:         spec.WorkingDir,
		Stdout:      logFile,
		Stderr:      logFile,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Credential: cred},
	}
	if err := cmd.Start(); err != nil {
		// The child enters working_dir after switching user: exec then
		// blames the program ("fork/exec /bin/x: permission denied").
		if id != nil && spec.WorkingDir != "" && errors.Is(err, syscall.EACCES) && !searchable(spec.WorkingDir, *id) {
			return runtime.Status{}, fmt.Errorf("working_dir %s: not accessible to user %s (uid %d): %w", spec.WorkingDir, id.name, id.uid, syscall.EACCES)
		}
		return runtime.Status{}, err
	}
	pid := cmd.Process.Pid
	// Until the reaper runs the child cannot vanish: a zombie keeps its
	// /proc entry.
	ps, err := readStat(pid)
	if err != nil {
		abandon(cmd)
		return runtime.Status{}, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	rec := pidRecord{
		Device:             device,
		Deployment:         name,
		PID:                pid,
		StartTime:          ps.StartTime,
		SpecHash:           hash,
		GracePeriodSeconds: spec.GracePeriodSeconds,
		StartedAt:          time.Now().UTC(),
	}
	p := &proc{rec: rec, cmd: cmd, done: make(chan struct{})}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		abandon(cmd)
		return runtime.Status{}, ErrClosed
	}
	if err := res.commit(rec); err != nil {
		r.mu.Unlock()
		abandon(cmd)
		return runtime.Status{}, fmt.Errorf("write pid file: %w", err)
	}
	r.procs[name] = p
	r.wg.Add(1)
	r.mu.Unlock()
	go r.reap(p)
	if id != nil {
		r.logf("started %s (pid %d, spec %.12s, user %s uid %d)", name, pid, hash, id.name, id.uid)
	} else {
		r.logf("started %s (pid %d, spec %.12s)", name, pid, hash)
	}
	r.notify(device, name)
	return runtime.Status{
		Deployment: name,
		State:      runtime.StateRunning,
		ID:         strconv.Itoa(pid),
		SpecHash:   hash,
		StartedAt:  rec.StartedAt,
	}, nil
}

// abandon kills and reaps a child the runtime could not record: an
// unrecorded process would run unsupervised.
func abandon(cmd *exec.Cmd) {
	_ = signalGroup(cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// reap waits for a child to exit, reaps it and records the exit. When Close
// comes first it returns without reaping: the process runs on.
func (r *Runtime) reap(p *proc) {
	defer r.wg.Done()
	if !r.waitExit(p.rec.PID, p.rec.StartTime) {
		return
	}
	_ = p.cmd.Wait() // the error repeats what ProcessState says
	r.finish(p, exitCode(p.cmd.ProcessState))
}

// watchAdopted waits for an adopted process to exit and records it, with
// exit code -1: it is not our child, so how it exited is unknown.
func (r *Runtime) watchAdopted(p *proc) {
	defer r.wg.Done()
	if r.waitExit(p.rec.PID, p.rec.StartTime) {
		r.finish(p, -1)
	}
}

// markReplaced sets whether the watched process rec describes, if any,
// is being replaced (proc.replaced).
func (r *Runtime) markReplaced(rec pidRecord, replaced bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.procs[rec.Deployment]; p.is(rec) {
		p.replaced = replaced
	}
}

// finish records p's exit in memory and, when p is still the deployment's
// process and not being replaced, in its pid file, then tells the
// watchers.
func (r *Runtime) finish(p *proc, code int) {
	at := time.Now().UTC()
	name := p.rec.Deployment
	r.mu.Lock()
	p.exitCode, p.finishedAt = code, at
	close(p.done)
	if r.procs[name] == p && !p.replaced {
		if err := writePidRecord(r.pidPath(name), p.rec.withExit(code, at)); err != nil {
			r.logf("record exit of %s: %v", name, err)
		}
	}
	r.mu.Unlock()
	r.logf("%s exited (pid %d, exit code %d)", name, p.rec.PID, code)
	r.notify(p.rec.Device, name)
}

// waitExit blocks until the process exits (true) or the runtime closes
// (false). It waits on a non-blocking pidfd through Go's poller, so a
// supervised process costs a goroutine, not a parked OS thread (100
// processes were 100 threads and ~2 MiB of RSS); it polls /proc where
// pidfd_open fails.
func (r *Runtime) waitExit(pid int, startTime uint64) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil {
		return r.pollExit(pid, startTime)
	}
	f := os.NewFile(uintptr(fd), "pidfd") // non-blocking: registered with the poller
	defer f.Close()
	// The pidfd pins the pid: if it is still ours now, the pidfd is ours.
	if !alive(pid, startTime) {
		return true
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return r.pollExit(pid, startTime)
	}
	// Close wakes the wait below through a read deadline; this goroutine
	// is waited for before waitExit returns.
	var wg sync.WaitGroup
	done := make(chan struct{})
	defer func() { close(done); wg.Wait() }()
	wg.Go(func() {
		select {
		case <-r.closing:
			_ = f.SetReadDeadline(time.Unix(1, 0))
		case <-done:
		}
	})
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		// A pidfd is readable once the process has exited; until then
		// returning false parks this goroutine in the poller.
		n, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		exited = perr == nil && n > 0
		return exited
	})
	switch {
	case exited:
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false
	default:
		r.logf("wait for pid %d on its pidfd: %v; polling /proc instead", pid, err)
		return r.pollExit(pid, startTime)
	}
}

// pollExit checks /proc every procPollInterval until the process exits
// (true) or the runtime closes (false).
func (r *Runtime) pollExit(pid int, startTime uint64) bool {
	t := time.NewTicker(procPollInterval)
	defer t.Stop()
	for alive(pid, startTime) {
		select {
		case <-r.closing:
			return false
		case <-t.C:
		}
	}
	return true
}

// stop ends the process group rec describes: SIGTERM (and SIGCONT, so a
// stopped group sees it), up to grace for the group to be gone, then
// SIGKILL. It does nothing when the group is gone or rec's pid now names
// another process.
func (r *Runtime) stop(ctx context.Context, rec pidRecord, grace time.Duration) error {
	pgid := rec.PID
	if !pidIsOurs(rec.PID, rec.StartTime) || !groupAlive(pgid) {
		return nil
	}
	r.logf("stopping %s (process group %d): SIGTERM, SIGKILL after %v", rec.Deployment, pgid, grace)
	if err := signalGroup(pgid, syscall.SIGTERM); err != nil {
		return err
	}
	if err := signalGroup(pgid, syscall.SIGCONT); err != nil {
		return err
	}
	gone, err := waitGroupGone(ctx, pgid, grace)
	if gone || err != nil {
		return err
	}
	r.logf("killing %s (process group %d): still running after %v", rec.Deployment, pgid, grace)
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	gone, err = waitGroupGone(ctx, pgid, killTimeout)
	if err != nil {
		return err
	}
	if !gone {
		return fmt.Errorf("%w (process group %d)", ErrStillRunning, pgid)
	}
	return nil
}

// waitGroupGone reports whether the process group pgid is gone within d.
func waitGroupGone(ctx context.Context, pgid int, d time.Duration) (bool, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(stopPollInterval)
	defer tick.Stop()
	for groupAlive(pgid) {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-tick.C:
		}
	}
	return true, nil
}

// Remove stops the deployment's process group (SIGTERM, SIGKILL after
// grace) and deletes its pid file and logs. A missing deployment, or one
// whose pid file belongs to another device, is not an error.
func (r *Runtime) Remove(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, grace time.Duration) error {
	if err := checkIDs(device, name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	rec, ok, err := r.load(name)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if ok && rec.Device != device {
		return nil
	}
	if ok {
		if err := r.stop(ctx, rec, grace); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	var errs []error
	lock := r.logs.of(name)
	lock.Lock()
	r.mu.Lock()
	delete(r.procs, name)
	for _, path := range []string{r.pidPath(name), r.logPath(name), r.logPath(name) + prevSuffix} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	r.mu.Unlock()
	lock.Unlock()
	if ok {
		r.logf("removed %s", name)
		r.notify(device, name)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// LogTail returns up to maxBytes of the end of the deployment's output,
// from a line start when the output was cut and a line fits.
func (r *Runtime) LogTail(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, maxBytes int) (string, error) {
	if err := checkIDs(device, name); err != nil {
		return "", fmt.Errorf("log tail %s: %w", name, err)
	}
	if rec, ok, err := r.load(name); err == nil && ok && rec.Device != device {
		return "", nil
	}
	lock := r.logs.of(name)
	lock.Lock()
	s, err := tailLog(r.logPath(name), maxBytes)
	lock.Unlock()
	if err != nil {
		return "", fmt.Errorf("log tail %s: %w", name, err)
	}
	return s, nil
}

// Watch calls changed, in the caller's goroutine, with the name of each of
// device's deployments whose process started, exited or was removed, until
// ctx is done (ctx.Err()) or the runtime closes (ErrClosed). Names that
// change while changed runs are delivered once afterwards.
func (r *Runtime) Watch(ctx context.Context, device fleet.DeviceID, changed func(fleet.DeploymentName)) error {
	s := &subscriber{
		device:  device,
		wake:    make(chan struct{}, 1),
		pending: make(map[fleet.DeploymentName]struct{}),
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.subs, s)
		r.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closing:
			return ErrClosed
		case <-s.wake:
			for _, name := range s.take() {
				changed(name)
			}
		}
	}
}

// notify tells device's watchers that name changed. It never blocks.
func (r *Runtime) notify(device fleet.DeviceID, name fleet.DeploymentName) {
	r.mu.Lock()
	var subs []*subscriber
	for s := range r.subs {
		if s.device == device {
			subs = append(subs, s)
		}
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.pending[name] = struct{}{}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// capLogs keeps every log under maxLogBytes until Close.
func (r *Runtime) capLogs() {
	defer r.wg.Done()
	t := time.NewTicker(r.logCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-r.closing:
			return
		case <-t.C:
		}
		r.capAll()
	}
}

// capAll caps every log once.
func (r *Runtime) capAll() {
	names, err := logNames(r.dir)
	if err != nil {
		r.logf("cap logs: %v", err)
		return
	}
	for _, name := range names {
		var hook func(string)
		if r.capHook != nil {
			hook = func(step string) { r.capHook(name, step) }
		}
		lock := r.logs.of(name)
		lock.Lock()
		err := capLog(r.logPath(name), r.maxLogBytes, hook)
		lock.Unlock()
		if err != nil {
			r.logf("cap log %s: %v", r.logPath(name), err)
		}
	}
}
