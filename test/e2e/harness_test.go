//go:build embednats

package e2e

// The harness owns every process the test starts: the nats-server, the
// agents, the harmony-fleet runs (each waited for before it returns) and,
// through the agents' pid files and the podman CLI, the workloads. One
// cleanup, registered right after the root temporary directory (so it runs
// before the directory goes), dumps the logs when the test failed, then
// kills the agents (first, or they would restart their workloads), the
// workloads, the containers and the server.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
)

const (
	module = "github.com/harmony-edge/harmony-agent"
	// waitTimeout bounds every wait for a convergence; generous for two
	// shared cores that also run the rest of make test under -race.
	waitTimeout = 45 * time.Second
	// pollInterval is how often a wait asks again (each ask is a
	// harmony-fleet process).
	pollInterval = 250 * time.Millisecond
	// cliTimeout bounds one harmony-fleet run.
	cliTimeout = 30 * time.Second
	// stopTimeout bounds a graceful stop before SIGKILL.
	stopTimeout = 10 * time.Second
	// logDumpBytes is how much of the end of each log a failure shows.
	logDumpBytes = 48 << 10
	// noPodman is the podman socket of the agents that run processes only:
	// a path that does not exist, so the agent never touches a podman the
	// host may have.
	noPodman = "/nonexistent/harmony-e2e/podman.sock"
)

// binaries are the programs under test, built once per test run.
type binaries struct {
	agent, fleet, natsServer string
}

// build builds harmony-agent and harmony-fleet (plain, as released: no
// race detector, no embedded server) and test/natsserver (embednats) into
// dir, the two builds at once.
func build(t *testing.T, dir string) binaries {
	t.Helper()
	start := time.Now()
	b := binaries{
		agent:      filepath.Join(dir, "harmony-agent"),
		fleet:      filepath.Join(dir, "harmony-fleet"),
		natsServer: filepath.Join(dir, "natsserver"),
	}
	builds := [][]string{
		{"build", "-o", dir + string(filepath.Separator), module + "/cmd/harmony-agent", module + "/cmd/harmony-fleet"},
		{"build", "-tags", "embednats", "-o", b.natsServer, module + "/test/natsserver"},
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, args := range builds {
		wg.Go(func() {
			cmd := exec.Command("go", args...)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("built harmony-agent, harmony-fleet and natsserver in %v", time.Since(start).Round(time.Millisecond))
	return b
}

// proc is one long-running process of the test: the server or an agent.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string        // stdout and stderr
	done chan struct{} // closed when it has exited and been reaped
	err  error         // Wait's result, set before done closes
}

// startProc starts bin with args, its output appended to logPath. The
// process dies with the test process (Pdeathsig), should a panic or a
// timeout skip the cleanup.
func startProc(t *testing.T, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own copy
	fmt.Fprintf(f, "==== e2e: %s started at %s: %s %s\n", name, time.Now().UTC().Format(time.RFC3339Nano), filepath.Base(bin), strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	// Owned by p: ends when the process has exited; p.done tells.
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// exited reports whether p has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to p and waits at most d for it to exit; it reports
// whether it did.
func (p *proc) signal(sig syscall.Signal, d time.Duration) bool {
	if !p.exited() {
		_ = p.cmd.Process.Signal(sig)
	}
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop ends p: sig, then SIGKILL after stopTimeout. It returns how p
// exited.
func (p *proc) stop(sig syscall.Signal) error {
	if !p.signal(sig, stopTimeout) {
		p.signal(syscall.SIGKILL, stopTimeout)
	}
	<-p.done
	return p.err
}

// agentConf is one agent of the test.
type agentConf struct {
	device   string
	labels   map[string]string
	stateDir string
	podman   string // socket; noPodman for a process-only agent
	config   string // the file, written by writeConfig
	log      string
}

// fleetEnv is one test's system: the binaries, the server, the agents.
type fleetEnv struct {
	t    *testing.T
	bin  binaries
	root string

	serverLog, storeDir, url string
	port                     int

	mu     sync.Mutex
	server *proc
	agents map[string]*proc
	confs  map[string]*agentConf
	// workloads is every workload process seen, by pid, with its start
	// time (a reused pid is never signalled): killed at cleanup.
	workloads map[int]uint64
	podman    bool // a podman agent was started: its containers are removed at cleanup
}

// newFleetEnv builds the binaries and registers the cleanup.
func newFleetEnv(t *testing.T) *fleetEnv {
	t.Helper()
	e := &fleetEnv{
		t:         t,
		root:      t.TempDir(),
		agents:    make(map[string]*proc),
		confs:     make(map[string]*agentConf),
		workloads: make(map[int]uint64),
	}
	// Registered after t.TempDir, so it runs while the logs still exist.
	t.Cleanup(e.cleanup)
	e.bin = build(t, filepath.Join(e.root, "bin"))
	e.storeDir = filepath.Join(e.root, "nats-store")
	e.serverLog = filepath.Join(e.root, "nats-server.log")
	return e
}

// childEnv is the environment of the agents and of harmony-fleet: the
// test's, without any HARMONY_AGENT_* or HARMONY_FLEET_* variable, which
// would override their configuration.
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "HARMONY_AGENT_") || strings.HasPrefix(kv, "HARMONY_FLEET_")
	})
}

// startServer starts the nats-server: on a free port the first time, then
// on the same port and store, and waits until it accepts connections.
func (e *fleetEnv) startServer() {
	e.t.Helper()
	mark := fileSize(e.serverLog)
	p := startProc(e.t, "nats-server", e.serverLog, childEnv(), e.bin.natsServer,
		"-p", strconv.Itoa(e.port), "-sd", e.storeDir)
	e.mu.Lock()
	e.server = p
	e.mu.Unlock()
	var line string
	e.poll("nats-server ready", func() (bool, string) {
		if p.exited() {
			e.t.Fatalf("nats-server exited at start: %v\n%s", p.err, tail(e.serverLog, logDumpBytes))
		}
		data, _ := os.ReadFile(e.serverLog)
		for l := range strings.Lines(string(data[min(mark, int64(len(data))):])) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "ready "); ok {
				line = rest
				return true, ""
			}
		}
		return false, "no ready line in its log yet"
	})
	if e.url == "" {
		e.url = line
		i := strings.LastIndexByte(line, ':')
		port, err := strconv.Atoi(line[i+1:])
		if i < 0 || err != nil {
			e.t.Fatalf("nats-server ready line %q: want a URL with a port", line)
		}
		e.port = port
	} else if line != e.url {
		e.t.Fatalf("nats-server restarted on %s, want %s", line, e.url)
	}
}

// restartServer stops the server with SIGTERM, which must end it cleanly,
// and starts it again on the same port and store.
func (e *fleetEnv) restartServer() {
	e.t.Helper()
	e.mu.Lock()
	p := e.server
	e.mu.Unlock()
	if !p.signal(syscall.SIGTERM, stopTimeout) {
		e.t.Fatalf("nats-server did not exit within %v of SIGTERM", stopTimeout)
	}
	if p.err != nil {
		e.t.Fatalf("nats-server after SIGTERM: %v, want a clean exit", p.err)
	}
	e.startServer()
}

// addAgent writes the configuration of an agent: short intervals so the
// test converges in seconds.
func (e *fleetEnv) addAgent(device string, labels map[string]string, podmanSocket string) *agentConf {
	e.t.Helper()
	c := &agentConf{
		device:   device,
		labels:   labels,
		stateDir: filepath.Join(e.root, "agents", device, "state"),
		podman:   podmanSocket,
		config:   filepath.Join(e.root, "agents", device, "agent.yaml"),
		log:      filepath.Join(e.root, "agents", device, "agent.log"),
	}
	var lbl strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&lbl, "  %s: %q\n", k, labels[k])
	}
	text := fmt.Sprintf(`device_id: %s
labels:
%sstate_dir: %s
nats:
  urls: [%s]
runtime:
  podman:
    socket: %s
    network: none
reconcile:
  resync_interval: 2s
  stop_timeout: 2s
  backoff_initial: 200ms
  backoff_max: 2s
heartbeat_interval: 1s
log:
  level: debug
  format: json
`, device, lbl.String(), c.stateDir, quotedURLs(e.url), c.podman)
	if err := os.MkdirAll(filepath.Dir(c.config), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(c.config, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.confs[device] = c
	if podmanSocket != noPodman {
		e.podman = true
	}
	e.mu.Unlock()
	return c
}

// quotedURLs is urls (separated by commas) as a YAML flow list's items.
func quotedURLs(urls string) string {
	var q []string
	for u := range strings.SplitSeq(urls, ",") {
		q = append(q, strconv.Quote(u))
	}
	return strings.Join(q, ", ")
}

// startAgent starts (or starts again) the agent of device.
func (e *fleetEnv) startAgent(device string) *proc {
	e.t.Helper()
	e.mu.Lock()
	c := e.confs[device]
	e.mu.Unlock()
	p := startProc(e.t, "agent "+device, c.log, childEnv(), e.bin.agent, "run", "--config", c.config)
	e.mu.Lock()
	e.agents[device] = p
	e.mu.Unlock()
	return p
}

// killAgent kills the agent of device with SIGKILL and waits for it.
func (e *fleetEnv) killAgent(device string) {
	e.t.Helper()
	e.mu.Lock()
	p := e.agents[device]
	e.mu.Unlock()
	if !p.signal(syscall.SIGKILL, stopTimeout) {
		e.t.Fatalf("agent %s still running %v after SIGKILL", device, stopTimeout)
	}
}

// checkAgentsRunning fails the test when an agent has exited.
func (e *fleetEnv) checkAgentsRunning() {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for d, p := range e.agents {
		if p.exited() {
			e.t.Fatalf("agent %s exited: %v (see its log below)", d, p.err)
		}
	}
}

// fleet runs harmony-fleet with args and the server's URL, and returns
// its stdout; a non-zero exit is an error carrying stderr.
func (e *fleetEnv) fleet(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin.fleet, append(args, "-s", e.url)...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("harmony-fleet %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	if stderr.Len() > 0 {
		e.t.Logf("harmony-fleet %s: stderr: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// mustFleet is fleet, failing the test on error.
func (e *fleetEnv) mustFleet(args ...string) string {
	e.t.Helper()
	e.t.Logf("$ harmony-fleet %s", strings.Join(args, " "))
	out, err := e.fleet(args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// fleetJSON runs harmony-fleet with -o json and decodes its one line into
// v.
func (e *fleetEnv) fleetJSON(v any, args ...string) error {
	out, err := e.fleet(append(args, "-o", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("harmony-fleet %s -o json: decode %q: %v", strings.Join(args, " "), out, err)
	}
	return nil
}

// poll calls cond every pollInterval until it reports true, and fails
// the test with cond's last description after waitTimeout. An agent that
// exits meanwhile fails the test at once.
func (e *fleetEnv) poll(what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		e.checkAgentsRunning()
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not after %v; last seen: %s", what, waitTimeout, state)
		}
		time.Sleep(pollInterval)
	}
}

// --- what harmony-fleet prints with -o json (its documented shapes) ---

type counts struct {
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

func (c counts) total() int { return c.Pending + c.Running + c.Succeeded + c.Failed }

type revision struct {
	Epoch    uint64 `json:"agent_epoch"`
	Sequence uint64 `json:"sequence"`
}

type failing struct {
	Device    string   `json:"device_id"`
	LastError string   `json:"last_error"`
	Revision  revision `json:"revision"`
}

type deploymentStatus struct {
	Name    string    `json:"name"`
	Counts  counts    `json:"counts"`
	Failing []failing `json:"failing"`
}

type statusOut struct {
	Deployments []deploymentStatus `json:"deployments"`
}

// of returns the status of deployment name; zero counts when it has no
// device.
func (s statusOut) of(name string) deploymentStatus {
	for _, d := range s.Deployments {
		if d.Name == name {
			return d
		}
	}
	return deploymentStatus{Name: name}
}

type deviceDeployment struct {
	Phase     string   `json:"phase"`
	LastError *string  `json:"last_error"`
	Revision  revision `json:"revision"`
}

type device struct {
	ID          string                      `json:"device_id"`
	Epoch       uint64                      `json:"agent_epoch"`
	Labels      map[string]string           `json:"labels"`
	Deployments map[string]deviceDeployment `json:"deployments"`
	Age         int64                       `json:"heartbeat_age_seconds"`
	Stale       bool                        `json:"stale"`
}

type devicesOut struct {
	Devices []device `json:"devices"`
}

func (d devicesOut) byID(id string) (device, bool) {
	for _, dev := range d.Devices {
		if dev.ID == id {
			return dev, true
		}
	}
	return device{}, false
}

type keyResult struct {
	Device string `json:"device_id"`
	Key    string `json:"key"`
	Action string `json:"action"`
	Error  string `json:"error"`
}

type keysOut struct {
	Deployment string      `json:"deployment"`
	Keys       []keyResult `json:"keys"`
}

type event struct {
	Device     string   `json:"device_id"`
	Deployment string   `json:"deployment"`
	Revision   revision `json:"revision"`
	Transition struct {
		Kind      string  `json:"kind"`
		From      *string `json:"from"`
		To        string  `json:"to"`
		LastError *string `json:"last_error"`
	} `json:"transition"`
	At time.Time `json:"at"`
}

func (ev event) String() string {
	from := "-"
	if ev.Transition.From != nil {
		from = *ev.Transition.From
	}
	return fmt.Sprintf("%s/%s %d/%d %s %s->%s", ev.Device, ev.Deployment, ev.Revision.Epoch, ev.Revision.Sequence, ev.Transition.Kind, from, ev.Transition.To)
}

// status returns harmony-fleet status -o json.
func (e *fleetEnv) status() (statusOut, error) {
	var s statusOut
	err := e.fleetJSON(&s, "status")
	return s, err
}

// devices returns harmony-fleet devices -o json.
func (e *fleetEnv) devices() (devicesOut, error) {
	var d devicesOut
	err := e.fleetJSON(&d, "devices")
	return d, err
}

// events returns every event harmony-fleet events -o json prints (one
// JSON object per line).
func (e *fleetEnv) events() []event {
	e.t.Helper()
	out := e.mustFleet("events", "-o", "json")
	var evs []event
	for l := range strings.Lines(out) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			e.t.Fatalf("events -o json: line %q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// waitStatus polls status until cond accepts it, and returns it.
func (e *fleetEnv) waitStatus(what string, cond func(statusOut) bool) statusOut {
	e.t.Helper()
	var got statusOut
	e.poll(what, func() (bool, string) {
		s, err := e.status()
		if err != nil {
			return false, err.Error()
		}
		got = s
		return cond(s), fmt.Sprintf("%+v", s)
	})
	return got
}

// waitDevices polls devices until cond accepts it, and returns it.
func (e *fleetEnv) waitDevices(what string, cond func(devicesOut) bool) devicesOut {
	e.t.Helper()
	var got devicesOut
	e.poll(what, func() (bool, string) {
		d, err := e.devices()
		if err != nil {
			return false, err.Error()
		}
		got = d
		return cond(d), fmt.Sprintf("%+v", d)
	})
	return got
}

// writeSpec writes a spec file under the root and returns its path.
func (e *fleetEnv) writeSpec(name, text string) string {
	e.t.Helper()
	path := filepath.Join(e.root, "specs", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// --- workloads ---

// pidRecord is what the process runtime keeps in
// <state_dir>/process/<deployment>.json.
type pidRecord struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// readPID reads the pid file of deployment name of the agent of device;
// ok is false when there is none.
func (e *fleetEnv) readPID(device, name string) (pidRecord, bool) {
	e.mu.Lock()
	c := e.confs[device]
	e.mu.Unlock()
	data, err := os.ReadFile(filepath.Join(c.stateDir, "process", name+".json"))
	if err != nil {
		return pidRecord{}, false
	}
	var r pidRecord
	if json.Unmarshal(data, &r) != nil || r.PID <= 0 {
		return pidRecord{}, false
	}
	e.track(r)
	return r, true
}

// mustPID is readPID, failing the test when the workload does not run.
func (e *fleetEnv) mustPID(device, name string) pidRecord {
	e.t.Helper()
	r, ok := e.readPID(device, name)
	if !ok {
		e.t.Fatalf("no pid file for %s on %s", name, device)
	}
	if !alive(r) {
		e.t.Fatalf("%s on %s: pid %d is not running", name, device, r.PID)
	}
	return r
}

func (e *fleetEnv) track(r pidRecord) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.workloads[r.PID] = r.StartTime
}

// alive reports whether the process r names runs: same start time, not a
// zombie (an orphan's zombie waits for whoever reaps it).
func alive(r pidRecord) bool { return process.Alive(r.PID, r.StartTime) }

// podmanContainers lists the ids of the containers of device, running or
// not, with the podman CLI (the environment of scripts/podman/env.sh).
func podmanContainers(device string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "podman", "ps", "-a", "--filter", "label=io.harmony.device="+device, "--format", "{{.ID}}").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		return nil, fmt.Errorf("podman ps -a --filter label=io.harmony.device=%s: %v: %s", device, err, stderr)
	}
	return strings.Fields(string(out)), nil
}

// removeContainers removes the containers of device, quietly.
func removeContainers(device string) {
	ids, err := podmanContainers(device)
	if err != nil || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	_ = exec.CommandContext(ctx, "podman", append([]string{"rm", "-f", "-t", "0"}, ids...)...).Run()
}

// --- cleanup ---

// cleanup runs once, at the end of the test, failed or not.
func (e *fleetEnv) cleanup() {
	if e.t.Failed() {
		e.dumpLogs()
	}
	e.mu.Lock()
	agents := make([]*proc, 0, len(e.agents))
	for _, p := range e.agents {
		agents = append(agents, p)
	}
	confs := make([]*agentConf, 0, len(e.confs))
	for _, c := range e.confs {
		confs = append(confs, c)
	}
	server, usePodman := e.server, e.podman
	e.mu.Unlock()

	// Agents first: stopped, they restart nothing.
	for _, p := range agents {
		p.signal(syscall.SIGKILL, stopTimeout)
	}
	// Workloads: those seen, and those the pid files name. Each is the
	// leader of its process group; the group goes with it.
	for _, c := range confs {
		entries, _ := os.ReadDir(filepath.Join(c.stateDir, "process"))
		for _, ent := range entries {
			if name, ok := strings.CutSuffix(ent.Name(), ".json"); ok {
				e.readPID(c.device, name)
			}
		}
	}
	e.mu.Lock()
	workloads := e.workloads
	e.mu.Unlock()
	for pid, start := range workloads {
		if st, ok := process.StartTime(pid); ok && st == start {
			_ = unix.Kill(-pid, unix.SIGKILL)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	if usePodman {
		for _, c := range confs {
			if c.podman != noPodman {
				removeContainers(c.device)
			}
		}
	}
	if server != nil {
		_ = server.stop(syscall.SIGTERM)
	}
	for pid, start := range workloads {
		deadline := time.Now().Add(stopTimeout)
		for alive(pidRecord{PID: pid, StartTime: start}) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// dumpLogs logs the end of the server's and every agent's log.
func (e *fleetEnv) dumpLogs() {
	e.mu.Lock()
	logs := []string{e.serverLog}
	for _, d := range slices.Sorted(maps.Keys(e.confs)) {
		logs = append(logs, e.confs[d].log)
	}
	e.mu.Unlock()
	for _, l := range logs {
		rel, _ := filepath.Rel(e.root, l)
		e.t.Logf("==== %s ====\n%s", rel, tail(l, logDumpBytes))
	}
}

// tail returns up to n bytes of the end of file path.
func tail(path string, n int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	if int64(len(data)) > n {
		data = data[int64(len(data))-n:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
		return fmt.Sprintf("(last %d bytes)\n%s", n, data)
	}
	return string(data)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
