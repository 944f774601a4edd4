//go:build embednats

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// agentPkg is the package of the agent binary.
const agentPkg = "github.com/harmony-edge/harmony-agent/cmd/harmony-agent"

// BenchmarkBinarySize builds the agent as a release is built (static,
// -trimpath, stripped, no embednats tag) for each of BENCH_ARCHES (amd64
// arm64 armv7) and reports its size in bytes. Target: <= 10 MB (10^7
// bytes) for arm64. One op is one build; run it with -benchtime=1x.
func BenchmarkBinarySize(b *testing.B) {
	arches := strings.Fields(os.Getenv("BENCH_ARCHES"))
	if len(arches) == 0 {
		arches = []string{"amd64", "arm64", "armv7"}
	}
	for _, arch := range arches {
		b.Run(arch, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "harmony-agent")
			for b.Loop() {
				buildAgent(b, arch, out)
			}
			fi, err := os.Stat(out)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size()), "bytes")
		})
	}
}

// buildAgent builds the release agent binary for arch (a GOARCH, or armv7)
// into out.
func buildAgent(b *testing.B, arch, out string) {
	b.Helper()
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	switch arch {
	case "armv7":
		env = append(env, "GOARCH=arm", "GOARM=7")
	case "armv6":
		env = append(env, "GOARCH=arm", "GOARM=6")
	default:
		env = append(env, "GOARCH="+arch)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, agentPkg)
	cmd.Env = env
	cmd.Dir = moduleDir(b)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s for %s: %v\n%s", agentPkg, arch, err, msg)
	}
}

// moduleDir is the module's root, found from this file's path as compiled
// in: the test binary may run from anywhere.
func moduleDir(b *testing.B) string {
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		b.Fatal("runtime.Caller: no file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BenchmarkAgentIdle runs the real agent binary (release build for this
// machine) as its own process, against the server in this process, with
// the process runtime: once with no deployment, once with
// BENCH_IDLE_DEPLOYMENTS (100) deployments of `/bin/sleep 3600`, all
// running. Once settled it leaves the agent idle for BENCH_IDLE (60s) and
// reports, from /proc/<pid>: VmHWM-MiB (peak resident memory over its
// life), VmRSS-MiB (resident memory at the end), cpu-s (utime+stime over
// the idle window) and cpu-% (of one core); and, to explain them,
// RssAnon-MiB, RssFile-MiB and threads. Targets: RSS <= 16 MiB with
// 100 deployments; idle CPU <= 0.1%. Run it with -benchtime=1x.
func BenchmarkAgentIdle(b *testing.B) {
	idle := envDuration(b, "BENCH_IDLE", 60*time.Second, 10*time.Second)
	loaded := envInt(b, "BENCH_IDLE_DEPLOYMENTS", 100, 100)
	bin := filepath.Join(b.TempDir(), "harmony-agent")
	buildAgent(b, goruntime.GOARCH, bin)
	env := startNATS(b)
	sg := newSigner(b)

	for _, n := range []int{0, loaded} {
		b.Run(fmt.Sprintf("deployments=%d", n), func(b *testing.B) {
			var st procStatus
			var cpu time.Duration
			for b.Loop() {
				device := fleet.DeviceID(fmt.Sprintf("idle-%d", n))
				events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
				p := startAgentProcess(b, bin, env.url, device, agentOptions{trustKeys: []string{sg.pub}})
				p.waitDeviceInfo(b, env.js, device)
				for i := range n {
					env.put(b, device, deployment(i), sg.sign(b, device, deployment(i), processSpec(i)))
				}
				waitAll(b, events, n, fleet.PhaseRunning)
				p.checkFeatures(b, env, device)
				// Settle: the debounced DeviceInfo put and the start-up
				// garbage collections are not idling.
				time.Sleep(3 * time.Second)
				cpu0 := p.cpu(b)
				time.Sleep(idle)
				cpu = p.cpu(b) - cpu0
				st = p.status(b)

				for i := range n {
					env.del(b, device, deployment(i))
				}
				waitAll(b, events, n, "")
				p.stop(b)
			}
			b.ReportMetric(float64(st.hwm)/(1<<20), "VmHWM-MiB")
			b.ReportMetric(float64(st.rss)/(1<<20), "VmRSS-MiB")
			b.ReportMetric(float64(st.anon)/(1<<20), "RssAnon-MiB")
			b.ReportMetric(float64(st.file)/(1<<20), "RssFile-MiB")
			b.ReportMetric(float64(st.threads), "threads")
			b.ReportMetric(cpu.Seconds(), "cpu-s")
			b.ReportMetric(100*cpu.Seconds()/idle.Seconds(), "cpu-%")
		})
	}
}

// checkFeatures fails b unless the agent runs as a field device does with
// the features of the second edition on: it answers device operations
// (a ping) and its DeviceInfo carries host metrics. (That it runs only
// signed values is its trust.keys, checked at each put by the events.)
func (p *agentProcess) checkFeatures(b *testing.B, env *natsEnv, device fleet.DeviceID) {
	b.Helper()
	m, err := env.nc.Request(fleet.DeviceOpSubject(device, fleet.OpPing), []byte("{}"), 10*time.Second)
	if err != nil {
		p.fatalf(b, "ping %s: %v", device, err)
	}
	var pong fleet.PingReply
	if err := fleet.DecodeOpReply(m.Data, &pong); err != nil || pong.DeviceID != device {
		p.fatalf(b, "ping %s = %+v, %v; want its answer", device, pong, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv, err := env.js.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		b.Fatalf("KeyValue(%s): %v", fleet.DeviceInfoBucket, err)
	}
	e, err := kv.Get(ctx, fleet.DeviceInfoKey(device))
	if err != nil {
		b.Fatalf("get %s: %v", fleet.DeviceInfoKey(device), err)
	}
	var info fleet.DeviceInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil || info.Host == nil || info.Host.Memory == nil {
		p.fatalf(b, "DeviceInfo of %s has no host metrics (%v): %s", device, err, e.Value())
	}
}

// agentProcess is a harmony-agent process the benchmark started.
type agentProcess struct {
	cmd      *exec.Cmd
	stateDir string
	logPath  string
	log      *countingWriter // the agent's stdout and stderr, to logPath
	exited   chan struct{}   // closed once cmd.Wait returned
}

// agentOptions are the settings of an agent process beyond the defaults.
type agentOptions struct {
	// trustKeys is trust.keys: with any, only signed desired values run.
	trustKeys []string
	// stateDir is the state directory (default: a temporary directory).
	stateDir string
}

// countingWriter writes to w and counts the bytes: the agent's log goes
// through a pipe, as to journald on a device, so that its bytes are not
// the agent's own disk writes and can be counted apart.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// startAgentProcess starts bin as `harmony-agent run` for device, with a
// config of its own and a minimal environment. It is stopped when b ends,
// if not before.
//
// The config sets what a device needs and leaves the rest to the defaults.
// runtime.podman.socket cannot be empty; it names a socket that does not
// exist, as on a device without podman: the agent keeps the podman
// runtime, whose calls fail, and its event feed retries with a backoff
// growing to reconcile.backoff_max.
//
// opts, at most one, sets more than the defaults (variadic so that the
// callers that need none pass none).
func startAgentProcess(b *testing.B, bin, url string, device fleet.DeviceID, opts ...agentOptions) *agentProcess {
	b.Helper()
	if len(opts) > 1 {
		b.Fatalf("startAgentProcess: %d agentOptions, want at most one", len(opts))
	}
	var o agentOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	dir := b.TempDir()
	p := &agentProcess{
		stateDir: filepath.Join(dir, "state"),
		logPath:  filepath.Join(dir, "agent.log"),
		exited:   make(chan struct{}),
	}
	if o.stateDir != "" {
		p.stateDir = o.stateDir
	}
	if keep := os.Getenv("BENCH_AGENT_LOG_DIR"); keep != "" {
		p.logPath = filepath.Join(keep, "agent-"+string(device)+".log")
	}
	cfg := filepath.Join(dir, "agent.yaml")
	text := fmt.Sprintf("device_id: %s\nstate_dir: %s\nnats:\n  urls: [%q]\nruntime:\n  podman:\n    socket: %s\n",
		device, p.stateDir, url, filepath.Join(dir, "no-podman.sock"))
	if len(o.trustKeys) > 0 {
		text += "trust:\n  keys:\n"
		for _, k := range o.trustKeys {
			text += fmt.Sprintf("    - %s\n", k)
		}
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		b.Fatal(err)
	}
	p.log = &countingWriter{w: logFile}
	p.cmd = exec.Command(bin, "run", "--config", cfg)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, strings.Fields(os.Getenv("BENCH_AGENT_ENV"))...)
	// One writer for both: exec copies them through one pipe.
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.WaitDelay = 5 * time.Second // a pipe held by a stray child does not hang Wait
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		b.Fatalf("start %s: %v", bin, err)
	}
	go func() { // owned by p: stop (or the cleanup) waits for it
		_ = p.cmd.Wait() // returns once the pipe is drained into logFile
		logFile.Close()
		close(p.exited)
	}()
	b.Cleanup(func() { p.stop(b) })
	return p
}

// stop sends SIGTERM, waits for the agent to exit (SIGKILL after 30s),
// then kills the workloads it left running: the process runtime's pid
// files name them. Calling it again does nothing.
func (p *agentProcess) stop(b *testing.B) {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			b.Errorf("agent pid %d ignored SIGTERM for 30s; killing it (log %s)", p.cmd.Process.Pid, p.logPath)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.killWorkloads(b)
}

// killWorkloads kills every process a pid file of the agent's process
// runtime names, if it still runs with the recorded start time.
func (p *agentProcess) killWorkloads(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(p.stateDir, "process", "*.json"))
	killed := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var rec struct {
			PID       int    `json:"pid"`
			StartTime uint64 `json:"start_time"`
		}
		if json.Unmarshal(data, &rec) != nil || rec.PID <= 0 {
			continue
		}
		fields, err := procStatFields(rec.PID)
		if err != nil || len(fields) < 20 || fields[19] != strconv.FormatUint(rec.StartTime, 10) {
			continue // gone, or the pid names another process now
		}
		if syscall.Kill(rec.PID, syscall.SIGKILL) == nil {
			killed++
		}
	}
	if killed > 0 {
		b.Logf("killed %d workloads the agent left running", killed)
	}
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture.
const clockTick = 10 * time.Millisecond

// cpu returns the CPU time (user and system) the agent used so far.
func (p *agentProcess) cpu(b *testing.B) time.Duration {
	b.Helper()
	fields, err := procStatFields(p.cmd.Process.Pid)
	if err != nil {
		p.fatalf(b, "agent: %v", err)
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", p.cmd.Process.Pid, err)
	}
	return time.Duration(utime+stime) * clockTick
}

// procStatFields returns the fields of /proc/<pid>/stat after the command
// name: fields[0] is the state (field 3 of proc(5)), fields[11] utime,
// fields[12] stime, fields[19] starttime.
func procStatFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	return fields, nil
}

// procStatus is what /proc/<pid>/status reports: memory in bytes (VmRSS
// is RssAnon, the heap and stacks, plus RssFile, the binary's pages read
// in), and the number of OS threads.
type procStatus struct {
	hwm, rss, anon, file int64
	threads              int
}

func (p *agentProcess) status(b *testing.B) procStatus {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.fatalf(b, "agent: %v", err)
	}
	var st procStatus
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(value) // "12345 kB"
		if key == "Threads" && len(f) == 1 {
			st.threads, _ = strconv.Atoi(f[0])
			continue
		}
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmHWM":
			st.hwm = kb << 10
		case "VmRSS":
			st.rss = kb << 10
		case "RssAnon":
			st.anon = kb << 10
		case "RssFile":
			st.file = kb << 10
		}
	}
	if st.hwm == 0 || st.rss == 0 {
		b.Fatalf("/proc/%d/status: no VmHWM or VmRSS", p.cmd.Process.Pid)
	}
	return st
}

// waitDeviceInfo waits until device's DeviceInfo is in its bucket: the
// agent is connected and has published.
func (p *agentProcess) waitDeviceInfo(b *testing.B, js jetstream.JetStream, device fleet.DeviceID) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		b.Fatalf("KeyValue(%s): %v", fleet.DeviceInfoBucket, err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := kv.Get(ctx, fleet.DeviceInfoKey(device)); err == nil {
			return
		}
		select {
		case <-p.exited:
			p.fatalf(b, "agent exited before it published a DeviceInfo")
		case <-ctx.Done():
			p.fatalf(b, "no DeviceInfo of %s within %s", device, waitTimeout)
		case <-tick.C:
		}
	}
}

// fatalf fails b with the message and the end of the agent's log.
func (p *agentProcess) fatalf(b *testing.B, format string, args ...any) {
	b.Helper()
	log, _ := os.ReadFile(p.logPath)
	if len(log) > 4096 {
		log = log[len(log)-4096:]
	}
	b.Fatalf("%s\nagent log %s ends:\n%s", fmt.Sprintf(format, args...), p.logPath, log)
}
