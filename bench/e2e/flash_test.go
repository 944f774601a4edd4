//go:build embednats

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/trust"
)

// BenchmarkFlashWrites measures what the agent writes to disk, the figure
// that decides how long an SD card lives. It runs the release agent as
// its own process (as BenchmarkAgentIdle does: trust.keys set, every
// desired value signed, device operations and host metrics on) with its
// state directory on a block device (BENCH_FLASH_DIR, default the
// temporary directory; tmpfs is refused: write_bytes counts only writes
// bound for a block device), and BENCH_FLASH_DEPLOYMENTS (100)
// deployments of `/bin/sleep 3600`, all running. It reads /proc/<pid>/io
// at both ends of:
//
//   - an idle window of BENCH_FLASH_IDLE (10m; quick 30s), reported per
//     hour: idle-write-B/h (write_bytes: bytes sent to the block layer,
//     whole pages), idle-wchar-B/h and idle-syscw/h (what write calls
//     asked for, to any file or socket);
//   - BENCH_FLASH_CHANGES (50; quick 10) changes of one deployment's spec,
//     each waited for to `running` and, after the last, until the state
//     files hold it, reported per change: write-B/change, wchar-B/change,
//     syscw/change.
//
// The agent's own log goes through a pipe (to journald on a device), so
// it is not in write_bytes; its bytes are reported apart, as log-B/h and
// log-B/change: what journald receives, which it may or may not store on
// the same disk. Also reported from the idle window: cpu-% (of one core)
// and VmRSS-MiB at its end. Targets (issue 16): <= 4 KiB per idle hour
// and <= 16 KiB per desired change. Run it with -benchtime=1x; bench/run.sh
// runs it in the background beside the other steps (see there).
func BenchmarkFlashWrites(b *testing.B) {
	idle := envDuration(b, "BENCH_FLASH_IDLE", 10*time.Minute, 30*time.Second)
	n := envInt(b, "BENCH_FLASH_DEPLOYMENTS", 100, 100)
	changes := envInt(b, "BENCH_FLASH_CHANGES", 50, 10)
	if n == 0 || changes == 0 {
		b.Fatal("BENCH_FLASH_DEPLOYMENTS and BENCH_FLASH_CHANGES must be at least 1")
	}
	parent := os.Getenv("BENCH_FLASH_DIR")
	if parent == "" {
		parent = os.TempDir()
	}
	if err := checkBlockBacked(parent); err != nil {
		b.Fatalf("BENCH_FLASH_DIR: %v", err)
	}
	bin := filepath.Join(b.TempDir(), "harmony-agent")
	buildAgent(b, goruntime.GOARCH, bin)
	env := startNATS(b)
	sg := newSigner(b)

	var idleIO, changeIO procIO
	var idleLog, changeLog int64
	var cpu time.Duration
	var st procStatus
	for b.Loop() {
		stateDir, err := os.MkdirTemp(parent, "harmony-flash-state-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(stateDir) })
		device := fleet.DeviceID("flash")
		events := readEvents(b, env.js, fleet.DeviceEventsSubject(device))
		p := startAgentProcess(b, bin, env.url, device, agentOptions{trustKeys: []string{sg.pub}, stateDir: stateDir})
		p.waitDeviceInfo(b, env.js, device)
		var last []byte
		for i := range n {
			last = sg.sign(b, device, deployment(i), processSpec(i))
			env.put(b, device, deployment(i), last)
		}
		waitAll(b, events, n, fleet.PhaseRunning)
		p.checkFeatures(b, env, device)
		p.waitStateFiles(b, deployment(n-1), last, sg.last)
		// Settle: the debounced DeviceInfo put and the start-up garbage
		// collections are not idling.
		time.Sleep(3 * time.Second)

		io0, log0, cpu0 := p.io(b), p.log.n.Load(), p.cpu(b)
		time.Sleep(idle)
		io1, log1 := p.io(b), p.log.n.Load()
		cpu = p.cpu(b) - cpu0
		st = p.status(b)
		idleIO, idleLog = io1.minus(io0), log1-log0

		name := deployment(0)
		for i := range changes {
			last = sg.sign(b, device, name, processSpec(n+i))
			env.put(b, device, name, last)
			waitEvent(b, events, name, fleet.PhaseRunning)
		}
		p.waitStateFiles(b, name, last, sg.last)
		io2, log2 := p.io(b), p.log.n.Load()
		changeIO, changeLog = io2.minus(io1), log2-log1

		p.stop(b)
	}
	hours := idle.Hours()
	b.ReportMetric(float64(idleIO.writeBytes)/hours, "idle-write-B/h")
	b.ReportMetric(float64(idleIO.wchar)/hours, "idle-wchar-B/h")
	b.ReportMetric(float64(idleIO.syscw)/hours, "idle-syscw/h")
	b.ReportMetric(float64(idleLog)/hours, "log-B/h")
	b.ReportMetric(float64(changeIO.writeBytes)/float64(changes), "write-B/change")
	b.ReportMetric(float64(changeIO.wchar)/float64(changes), "wchar-B/change")
	b.ReportMetric(float64(changeIO.syscw)/float64(changes), "syscw/change")
	b.ReportMetric(float64(changeLog)/float64(changes), "log-B/change")
	b.ReportMetric(100*cpu.Seconds()/idle.Seconds(), "cpu-%")
	b.ReportMetric(float64(st.rss)/(1<<20), "VmRSS-MiB")
	b.ReportMetric(float64(n), "deployments")
	b.ReportMetric(idle.Seconds(), "idle-s")
}

// checkBlockBacked returns an error when dir is on a file system held in
// memory, whose writes /proc/<pid>/io write_bytes does not count.
func checkBlockBacked(dir string) error {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	const tmpfsMagic, ramfsMagic = 0x01021994, 0x858458f6
	switch uint64(fs.Type) {
	case tmpfsMagic, ramfsMagic:
		return fmt.Errorf("%s is in memory (tmpfs or ramfs): its writes are not disk writes; name a directory on a disk", dir)
	}
	return nil
}

// procIO is what /proc/<pid>/io reports: rchar/wchar and syscr/syscw
// count read and write calls and their bytes (any file, pipe or socket);
// writeBytes the bytes the process caused to be sent to a block device
// (whole pages, counted when they are dirtied), cancelledWriteBytes
// those of pages truncated or deleted before they were written back.
type procIO struct {
	wchar, syscw, writeBytes, cancelledWriteBytes int64
}

func (a procIO) minus(b procIO) procIO {
	return procIO{a.wchar - b.wchar, a.syscw - b.syscw, a.writeBytes - b.writeBytes, a.cancelledWriteBytes - b.cancelledWriteBytes}
}

// io reads /proc/<pid>/io of the agent.
func (p *agentProcess) io(b *testing.B) procIO {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.cmd.Process.Pid))
	if err != nil {
		p.fatalf(b, "agent: %v", err)
	}
	var io procIO
	seen := 0
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "wchar":
			io.wchar = v
		case "syscw":
			io.syscw = v
		case "write_bytes":
			io.writeBytes = v
		case "cancelled_write_bytes":
			io.cancelledWriteBytes = v
		default:
			continue
		}
		seen++
	}
	if seen != 4 {
		b.Fatalf("/proc/%d/io: %d of wchar, syscw, write_bytes, cancelled_write_bytes:\n%s", p.cmd.Process.Pid, seen, data)
	}
	return io
}

// waitStateFiles waits until the agent's state files hold what it was
// last sent: the desired cache's file of deployment the signature of
// value (the last put), the trust store generation gen. The cache is
// written in the background, after the put's events may be stored.
func (p *agentProcess) waitStateFiles(b *testing.B, deployment fleet.DeploymentName, value []byte, gen uint64) {
	b.Helper()
	var env struct {
		Signatures []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(value, &env); err != nil || len(env.Signatures) == 0 {
		b.Fatalf("not a signed value (%v): %s", err, value)
	}
	sig := []byte(env.Signatures[0].Sig)
	genText := []byte(strconv.FormatUint(gen, 10))
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		cache, _ := os.ReadFile(filepath.Join(p.stateDir, "desired", string(deployment)+".desired"))
		store, _ := os.ReadFile(filepath.Join(p.stateDir, trust.StoreFile))
		if bytes.Contains(cache, sig) && bytes.Contains(store, genText) {
			return
		}
		if time.Now().After(deadline) {
			p.fatalf(b, "the state files in %s do not hold the last value within %s", p.stateDir, waitTimeout)
		}
		select {
		case <-p.exited:
			p.fatalf(b, "agent exited")
		case <-tick.C:
		}
	}
}
