//go:build embednats

package main

// The harness runs the real agent (run, as main calls it) against a real
// in-process nats-server, with the real process runtime, and reads what it
// did from where the central side would: FLEET_EVENTS and device-info. A
// test that needs podman sets agentConfig.PodmanSocket; by default the
// socket is a path that does not exist, so podman is simply unavailable.
//
// Ownership: every agent a test starts is stopped in t.Cleanup (before the
// workloads are killed, or it would restart them); every workload process
// the agents started is killed in t.Cleanup (stopping the agent leaves
// workloads running by design), and the test process reaps the ones that
// are its children.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

const (
	testDevice fleet.DeviceID = "pi-017"
	// waitTimeout bounds every wait for a result; generous for a loaded
	// two-core box running -race.
	waitTimeout = 30 * time.Second
	// pollInterval is how often a wait looks again.
	pollInterval = 25 * time.Millisecond
	// noPodman is the podman socket of the tests that do not use podman.
	noPodman = "/nonexistent/harmony-agent-test/podman.sock"
)

// harness is one test's NATS server, client connection, state directory
// and workload processes.
type harness struct {
	t        *testing.T
	srv      *natsserver.Server
	js       jetstream.JetStream
	kv       jetstream.KeyValue // desired-state
	device   fleet.DeviceID
	stateDir string
	// procs is every workload process seen: killed and reaped at cleanup.
	procs *procSet
}

// procSet is a set of processes, by pid; the start time tells a reused
// pid apart.
type procSet struct {
	mu    sync.Mutex
	procs map[int]uint64
}

// in returns h for subtest t: its waits fail t, not the parent.
func (h *harness) in(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// newHarness starts a server, creates the stream and buckets as
// harmony-fleet init would, and connects a client that reconnects fast.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, device: testDevice, procs: &procSet{procs: make(map[int]uint64)}}
	// Created first, so removed last: the workloads are killed first.
	h.stateDir = t.TempDir()
	h.srv = natstest.Start(t)
	nc, err := natsconn.Connect(natsconn.ConnOptions{
		URLs: []string{h.srv.ClientURL()}, Name: "test " + t.Name(), ReconnectWait: 50 * time.Millisecond,
	}, zap.NewNop())
	if err != nil {
		t.Fatalf("Connect(%s): %v", h.srv.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	if h.js, err = jetstream.New(nc); err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	ctx := h.ctx()
	if err := natsconn.EnsureResources(ctx, h.js, natsconn.ResourceSettings{}); err != nil {
		t.Fatalf("EnsureResources: %v", err)
	}
	if h.kv, err = h.js.KeyValue(ctx, fleet.DesiredStateBucket); err != nil {
		t.Fatalf("KeyValue(%s): %v", fleet.DesiredStateBucket, err)
	}
	// Registered after the state directory and before any agent: it runs
	// after every agent stopped and before the directory goes.
	t.Cleanup(h.killWorkloads)
	return h
}

// ctx is a context bounded by waitTimeout, cancelled at cleanup.
func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	h.t.Cleanup(cancel)
	return ctx
}

// agentConfig is what a test may change in the agent's configuration; the
// zero value of a field takes the harness default.
type agentConfig struct {
	StateDir string // harness state directory
	// URLs: the harness server's alone when empty.
	URLs []string
	// PodmanSocket: noPodman when empty.
	PodmanSocket string
	// PodmanNetwork is runtime.podman.network: podman's default when
	// empty (the podman tests use none: no network set-up here).
	PodmanNetwork  string
	Workers        int           // 4
	ResyncInterval time.Duration // 1h: tests never wait for a resync
	StopTimeout    time.Duration // 2s
	OutboxCapacity int           // 1000
	// Extra is YAML appended to the file.
	Extra string
}

func (h *harness) fill(c agentConfig) agentConfig {
	if c.StateDir == "" {
		c.StateDir = h.stateDir
	}
	if len(c.URLs) == 0 {
		c.URLs = []string{h.srv.ClientURL()}
	}
	if c.PodmanSocket == "" {
		c.PodmanSocket = noPodman
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = time.Hour
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 2 * time.Second
	}
	if c.OutboxCapacity == 0 {
		c.OutboxCapacity = 1000
	}
	return c
}

// writeConfig writes c (filled with the defaults) as a YAML file and
// returns its path.
func (h *harness) writeConfig(c agentConfig) string {
	h.t.Helper()
	c = h.fill(c)
	text := fmt.Sprintf(`device_id: %s
state_dir: %s
nats:
  urls: [%s]
runtime:
  podman:
    socket: %s
    network: %q
    init: true
reconcile:
  resync_interval: %s
  workers: %d
  stop_timeout: %s
  backoff_initial: 100ms
  backoff_max: 1s
heartbeat_interval: 1s
outbox:
  capacity: %d
log:
  level: debug
%s`, h.device, c.StateDir, quoteAll(c.URLs), c.PodmanSocket, c.PodmanNetwork, c.ResyncInterval, c.Workers, c.StopTimeout, c.OutboxCapacity, c.Extra)
	path := filepath.Join(h.t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// quoteAll quotes each string and joins them with commas: a YAML flow
// list's items.
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// agentRun is one run of the agent: run(ctx, ["run", "--config", ...]) in
// a goroutine the test owns.
type agentRun struct {
	t      *testing.T
	cancel context.CancelFunc
	// done receives run's exit code; size 1 so the goroutine never
	// blocks on a test that has stopped listening.
	done   chan int
	stdout syncBuffer
	logs   syncBuffer

	mu     sync.Mutex
	exited bool
	code   int
}

// start runs the agent with c until the test stops it (or cleanup does).
func (h *harness) start(c agentConfig) *agentRun {
	h.t.Helper()
	args := []string{"run", "--config", h.writeConfig(c)}
	ctx, cancel := context.WithCancel(context.Background())
	a := &agentRun{t: h.t, cancel: cancel, done: make(chan int, 1)}
	go func() { a.done <- run(ctx, args, &a.stdout, &a.logs) }()
	h.t.Cleanup(func() {
		a.stop()
		if h.t.Failed() {
			h.t.Logf("agent log:\n%s", a.logs.String())
		}
	})
	return a
}

// stop cancels the agent's context and returns its exit code. It may be
// called again; it fails the test when the agent does not exit in time.
func (a *agentRun) stop() int {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.exited {
		return a.code
	}
	a.cancel()
	select {
	case a.code = <-a.done:
		a.exited = true
	case <-time.After(waitTimeout):
		a.t.Fatalf("agent did not stop within %v after cancel", waitTimeout)
	}
	return a.code
}

// exitedNow reports whether run returned, and its code.
func (a *agentRun) exitedNow() (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.exited {
		select {
		case a.code = <-a.done:
			a.exited = true
		default:
		}
	}
	return a.code, a.exited
}

// logLine is one JSON log line of the agent.
type logLine struct {
	fields map[string]any
	// end is the log offset after the line: a search from there finds
	// what came later.
	end int
}

func (l logLine) String() string { return fmt.Sprint(l.fields) }

func (l logLine) str(key string) string {
	switch v := l.fields[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// match reports whether l has message msg (or, when msg ends with '*',
// a message that starts with the rest) and every field of kv (key, value
// pairs).
func (l logLine) match(msg string, kv ...string) bool {
	if prefix, ok := strings.CutSuffix(msg, "*"); ok {
		if !strings.HasPrefix(l.str("msg"), prefix) {
			return false
		}
	} else if l.str("msg") != msg {
		return false
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if l.str(kv[i]) != kv[i+1] {
			return false
		}
	}
	return true
}

// lines decodes the agent's log lines from byte offset from on.
func (a *agentRun) lines(from int) []logLine {
	var out []logLine
	text := a.logs.String()
	for from < len(text) {
		line, _, _ := strings.Cut(text[from:], "\n")
		from += len(line) + 1
		l := logLine{end: from}
		if json.Unmarshal([]byte(line), &l.fields) == nil {
			out = append(out, l)
		}
	}
	return out
}

// mark is the current end of the log, for a later search from there.
func (a *agentRun) mark() int { return a.logs.Len() }

// logged returns the lines from offset from that match msg and kv.
func (a *agentRun) logged(from int, msg string, kv ...string) []logLine {
	var out []logLine
	for _, l := range a.lines(from) {
		if l.match(msg, kv...) {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits for a line from offset from matching msg and kv, and
// returns it.
func (a *agentRun) waitLog(from int, msg string, kv ...string) logLine {
	a.t.Helper()
	var got []logLine
	waitFor(a.t, fmt.Sprintf("log %q %v", msg, kv), func() bool {
		got = a.logged(from, msg, kv...)
		return len(got) > 0
	})
	return got[0]
}

// epoch is the agent's epoch, from its "ready" line.
func (a *agentRun) epoch() fleet.AgentEpoch {
	a.t.Helper()
	l := a.waitLog(0, "ready")
	e, err := strconv.ParseUint(l.str("epoch"), 10, 64)
	if err != nil || e == 0 {
		a.t.Fatalf("ready line without an epoch: %v", l)
	}
	return fleet.AgentEpoch(e)
}

// syncBuffer is the shared synchronised buffer.
type syncBuffer = testsupport.SyncBuffer

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll(t, cond, func() string { return what })
}

// poll polls cond every pollInterval until it holds, failing the test
// after waitTimeout with what() as the thing waited for.
func poll(t testing.TB, cond func() bool, what func() string) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, what)
}

// --- desired state ---

// retry calls f until it succeeds (the server may be restarting), failing
// the test after waitTimeout.
func (h *harness) retry(what string, f func(ctx context.Context) error) {
	h.t.Helper()
	var err error
	poll(h.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = f(ctx)
		return err == nil
	}, func() string { return fmt.Sprintf("%s to succeed (last error %v)", what, err) })
}

// put writes the desired value of deployment name.
func (h *harness) put(name fleet.DeploymentName, value string) {
	h.t.Helper()
	h.putKey(fleet.DesiredKey(h.device, name), value)
}

// putKey writes value under a raw key of the desired-state bucket.
func (h *harness) putKey(key, value string) {
	h.t.Helper()
	h.retry("put "+key, func(ctx context.Context) error {
		_, err := h.kv.Put(ctx, key, []byte(value))
		return err
	})
}

// del deletes deployment name's key (a delete marker).
func (h *harness) del(name fleet.DeploymentName) {
	h.t.Helper()
	h.retry("delete "+string(name), func(ctx context.Context) error {
		return h.kv.Delete(ctx, fleet.DesiredKey(h.device, name))
	})
}

// purge purges deployment name's key (a purge marker, history gone).
func (h *harness) purge(name fleet.DeploymentName) {
	h.t.Helper()
	h.retry("purge "+string(name), func(ctx context.Context) error {
		return h.kv.Purge(ctx, fleet.DesiredKey(h.device, name))
	})
}

// spec is the JSON of a process deployment running command.
func spec(restart fleet.RestartPolicy, env map[string]string, command ...string) string {
	b, err := json.Marshal(fleet.DeploymentSpec{
		Runtime: fleet.RuntimeProcess, Command: command, Env: env, Restart: restart, GracePeriodSeconds: 2,
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sleeper is a process deployment that runs until killed.
func sleeper(env map[string]string) string { return spec(fleet.RestartAlways, env, "sleep", "600") }

// --- events and device info ---

// storedEvent is one message of FLEET_EVENTS.
type storedEvent struct {
	fleet.StateChangeEvent
	Subject string
	MsgID   string
}

func (e storedEvent) String() string {
	return fmt.Sprintf("%s#%d %s %s->%s %q", e.Deployment, e.Revision.Sequence, e.Transition.Kind, e.Transition.From, e.Transition.To, e.Transition.LastError)
}

// events reads every stored event on subjects matching filter, in stream
// order, through an ordered consumer.
func (h *harness) events(ctx context.Context, filter string) ([]storedEvent, error) {
	st, err := h.js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, err
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	if n == 0 {
		return nil, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return nil, err
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		return nil, err
	}
	// Tests poll: delete each consumer once read, or they pile up to the
	// server's limit.
	defer func() {
		if ci := cons.CachedInfo(); ci != nil {
			_ = st.DeleteConsumer(context.WithoutCancel(ctx), ci.Name)
		}
	}()
	var out []storedEvent
	for m := range batch.Messages() {
		var e fleet.StateChangeEvent
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			return nil, fmt.Errorf("decode event on %s: %w", m.Subject(), err)
		}
		out = append(out, storedEvent{StateChangeEvent: e, Subject: m.Subject(), MsgID: m.Headers().Get(fleet.MsgIDHeader)})
	}
	if err := batch.Error(); err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("fetched %d events of %d", len(out), n)
	}
	return out, nil
}

// waitEvents waits until the stored events on filter satisfy cond, and
// returns them.
func (h *harness) waitEvents(what, filter string, cond func([]storedEvent) bool) []storedEvent {
	h.t.Helper()
	var evs []storedEvent
	var err error
	poll(h.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		evs, err = h.events(ctx, filter)
		return err == nil && cond(evs)
	}, func() string {
		return fmt.Sprintf("%s; events on %s: %v (last error %v)", what, filter, evs, err)
	})
	return evs
}

// deploymentEvents is the filter for this device's events of name.
func (h *harness) deploymentEvents(name fleet.DeploymentName) string {
	return fleet.EventSubject(h.device, name)
}

// deviceEvents is the filter for all of this device's events.
func (h *harness) deviceEvents() string { return fleet.DeviceEventsSubject(h.device) }

// ofEpoch returns the events of epoch e.
func ofEpoch(evs []storedEvent, e fleet.AgentEpoch) []storedEvent {
	return slices.DeleteFunc(slices.Clone(evs), func(s storedEvent) bool { return s.Revision.AgentEpoch != e })
}

// ofDeployment returns the events of deployment name.
func ofDeployment(evs []storedEvent, name fleet.DeploymentName) []storedEvent {
	return slices.DeleteFunc(slices.Clone(evs), func(s storedEvent) bool { return s.Deployment != name })
}

// hasCount returns a condition: at least n events.
func hasCount(n int) func([]storedEvent) bool {
	return func(evs []storedEvent) bool { return len(evs) >= n }
}

// lastIs returns a condition: the last event is t.
func lastIs(t fleet.LifecycleTransition) func([]storedEvent) bool {
	return func(evs []storedEvent) bool { return len(evs) > 0 && evs[len(evs)-1].Transition == t }
}

// checkTransitions fails the test unless evs carry exactly want, in order.
func checkTransitions(t *testing.T, what string, evs []storedEvent, want ...fleet.LifecycleTransition) {
	t.Helper()
	got := make([]fleet.LifecycleTransition, len(evs))
	for i, e := range evs {
		got[i] = e.Transition
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: transitions = %v, want %v", what, evs, want)
	}
}

// info reads this device's DeviceInfo.
func (h *harness) info(ctx context.Context) (fleet.DeviceInfo, error) {
	kv, err := h.js.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		return fleet.DeviceInfo{}, err
	}
	e, err := kv.Get(ctx, fleet.DeviceInfoKey(h.device))
	if err != nil {
		return fleet.DeviceInfo{}, err
	}
	var i fleet.DeviceInfo
	if err := json.Unmarshal(e.Value(), &i); err != nil {
		return fleet.DeviceInfo{}, fmt.Errorf("decode device info: %w", err)
	}
	return i, nil
}

// waitInfo waits until this device's DeviceInfo satisfies cond, and
// returns it.
func (h *harness) waitInfo(what string, cond func(fleet.DeviceInfo) bool) fleet.DeviceInfo {
	h.t.Helper()
	var i fleet.DeviceInfo
	var err error
	waitFor(h.t, what, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		i, err = h.info(ctx)
		return err == nil && cond(i)
	})
	return i
}

// --- workload processes ---

// pidRecord is what the tests read of the process runtime's pid file,
// <state_dir>/process/<deployment>.json.
type pidRecord struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	ExitCode  *int   `json:"exit_code"`
}

// readPID reads the pid file of name under stateDir; false when absent or
// unreadable (being replaced).
func readPID(stateDir string, name fleet.DeploymentName) (pidRecord, bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, "process", string(name)+".json"))
	if err != nil {
		return pidRecord{}, false
	}
	var r pidRecord
	if json.Unmarshal(b, &r) != nil || r.PID <= 0 {
		return pidRecord{}, false
	}
	return r, true
}

// pid returns the pid of name's workload when it runs, else 0. Every pid
// seen is killed at cleanup.
func (h *harness) pid(name fleet.DeploymentName) int {
	return h.pidIn(h.stateDir, name)
}

func (h *harness) pidIn(stateDir string, name fleet.DeploymentName) int {
	r, ok := readPID(stateDir, name)
	if !ok {
		return 0
	}
	h.track(r.PID, r.StartTime)
	if r.ExitCode != nil || !alive(r.PID, r.StartTime) {
		return 0
	}
	return r.PID
}

// waitPID waits until name's workload runs with a pid other than not, and
// returns the pid.
func (h *harness) waitPID(name fleet.DeploymentName, not int) int {
	h.t.Helper()
	var pid int
	waitFor(h.t, fmt.Sprintf("workload %s running (pid other than %d)", name, not), func() bool {
		pid = h.pid(name)
		return pid != 0 && pid != not
	})
	return pid
}

// waitGone waits until process pid no longer runs.
func (h *harness) waitGone(pid int) {
	h.t.Helper()
	h.procs.mu.Lock()
	start := h.procs.procs[pid]
	h.procs.mu.Unlock()
	waitFor(h.t, fmt.Sprintf("pid %d gone", pid), func() bool { return !alive(pid, start) })
}

func (h *harness) track(pid int, start uint64) {
	h.procs.mu.Lock()
	defer h.procs.mu.Unlock()
	h.procs.procs[pid] = start
}

// kill sends sig to process pid (not its group: by hand).
func (h *harness) kill(pid int, sig unix.Signal) {
	h.t.Helper()
	if err := unix.Kill(pid, sig); err != nil {
		h.t.Fatalf("kill(%d, %v): %v", pid, sig, err)
	}
}

// killWorkloads kills the process group of every workload seen or named
// by a pid file, then reaps those that are the test process's children
// (started by an in-process agent that has stopped since).
func (h *harness) killWorkloads() {
	if entries, err := os.ReadDir(filepath.Join(h.stateDir, "process")); err == nil {
		for _, e := range entries {
			if base, ok := strings.CutSuffix(e.Name(), ".json"); ok {
				if r, ok := readPID(h.stateDir, fleet.DeploymentName(base)); ok {
					h.track(r.PID, r.StartTime)
				}
			}
		}
	}
	h.procs.mu.Lock()
	procs := maps.Clone(h.procs.procs)
	h.procs.mu.Unlock()
	for pid, start := range procs {
		if startTime(pid) == start { // ours, alive or a zombie
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	for pid, start := range procs {
		waitFor(h.t, fmt.Sprintf("workload pid %d gone at cleanup", pid), func() bool {
			// A child of the test process stays a zombie until reaped
			// here; another process's child is reaped by its parent.
			_, _ = unix.Wait4(pid, nil, unix.WNOHANG, nil)
			return !alive(pid, start)
		})
	}
}

// startTime is pid's start time, 0 when there is no such process.
func startTime(pid int) uint64 {
	start, _ := process.StartTime(pid)
	return start
}

// alive reports whether pid is the process started at start and has not
// exited (a zombie has).
func alive(pid int, start uint64) bool { return process.Alive(pid, start) }

// environ returns the environment of process pid.
func environ(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatalf("read environ of %d: %v", pid, err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// --- systemd ---

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET.
type notifySocket struct {
	t    *testing.T
	conn *net.UnixConn
	// seen is every message read so far, in order.
	seen []string
}

// listenNotify opens a notify socket and points NOTIFY_SOCKET at it (so
// the test cannot be parallel).
func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// Short: a socket path has a 108-byte limit.
	dir, err := os.MkdirTemp("", "hn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("ListenUnixgram(%s): %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &notifySocket{t: t, conn: conn}
}

// next returns the next message, or false when none comes within d.
func (n *notifySocket) next(d time.Duration) (string, bool) {
	if err := n.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		n.t.Fatal(err)
	}
	buf := make([]byte, 4096)
	k, err := n.conn.Read(buf)
	if err != nil {
		return "", false
	}
	msg := string(buf[:k])
	n.seen = append(n.seen, msg)
	return msg, true
}

// waitFor reads messages until one satisfies match, and returns it.
func (n *notifySocket) waitFor(what string, match func(string) bool) string {
	n.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if msg, ok := n.next(time.Until(deadline)); ok && match(msg) {
			return msg
		}
	}
	n.t.Fatalf("no sd_notify message %s within %v; got %q", what, waitTimeout, n.seen)
	return ""
}

// --- the built binary ---

var agentBinary struct {
	once sync.Once
	path string
	err  error
}

// buildAgent builds harmony-agent (embednats) once per test binary and
// returns its path.
func buildAgent(t *testing.T) string {
	t.Helper()
	agentBinary.once.Do(func() {
		path := filepath.Join(binDir, "harmony-agent")
		cmd := exec.Command("go", "build", "-tags", "embednats", "-o", path, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			agentBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		agentBinary.path = path
	})
	if agentBinary.err != nil {
		t.Fatal(agentBinary.err)
	}
	return agentBinary.path
}

// nonceRE is a Msg-Id nonce: 16 lower-case hex characters.
var nonceRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// msgIDNonce returns the nonce of e's Msg-Id: what follows its
// <device>.<epoch>.<seq>. prefix.
func msgIDNonce(e storedEvent) string {
	return strings.TrimPrefix(e.MsgID, e.StateChangeEvent.MsgID(""))
}
