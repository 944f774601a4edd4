//go:build embednats

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/controller"
)

// fleetServe is a `harmony-fleet serve` process the benchmark started,
// with the sd_notify socket it sends its STATUS lines to: "standby: ..."
// once its controller runs without the lease, "acting: ..." with it.
type fleetServe struct {
	id      string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once cmd.Wait returned
	notify  *net.UnixConn
	read    chan struct{} // closed once the notify reader returned

	mu     sync.Mutex
	status string // the last STATUS= line
}

// startFleetServe starts bin (harmony-fleet) as `serve --id id --http ""` (no HTTP)
// against url, with the flags in extra, NOTIFY_SOCKET set to a socket of
// its own and a minimal environment. Its log goes to a temporary file, or
// to BENCH_SERVE_LOG_DIR/<id>.log. It is stopped when b ends, if not
// before.
func startFleetServe(b *testing.B, bin, url, id string, extra ...string) *fleetServe {
	b.Helper()
	dir := b.TempDir()
	s := &fleetServe{id: id, logPath: filepath.Join(dir, "serve.log"), exited: make(chan struct{}), read: make(chan struct{})}
	if keep := os.Getenv("BENCH_SERVE_LOG_DIR"); keep != "" {
		s.logPath = filepath.Join(keep, id+".log")
	}
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		b.Fatalf("listen %s: %v", sock, err)
	}
	s.notify = conn
	go s.readNotify() // owned by s: stop closes the socket and waits for it
	logFile, err := os.Create(s.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close() // the child holds its own descriptor
	s.cmd = exec.Command(bin, append([]string{"serve", "--id", id, "--http", "", "-s", url}, extra...)...)
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NOTIFY_SOCKET=" + sock}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		_ = conn.Close()
		<-s.read
		b.Fatalf("start %s serve: %v", bin, err)
	}
	go func() { // owned by s: stop (or the cleanup) waits for it
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	b.Cleanup(func() { s.stop(b) })
	return s
}

// readNotify keeps the last STATUS= line the process sent, until the
// socket is closed.
func (s *fleetServe) readNotify() {
	defer close(s.read)
	buf := make([]byte, 4096)
	for {
		n, err := s.notify.Read(buf)
		if err != nil {
			return
		}
		for line := range strings.Lines(string(buf[:n])) {
			if v, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "STATUS="); ok {
				s.mu.Lock()
				s.status = v
				s.mu.Unlock()
			}
		}
	}
}

// waitStatus waits until the process's last STATUS line starts with
// prefix ("standby", "acting").
func (s *fleetServe) waitStatus(b *testing.B, prefix string) {
	b.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		st := s.status
		s.mu.Unlock()
		if strings.HasPrefix(st, prefix) {
			return
		}
		select {
		case <-s.exited:
			s.fatalf(b, "serve %s exited before it reported %q", s.id, prefix)
		case <-deadline.C:
			s.fatalf(b, "serve %s: status %q, not %q within %s", s.id, st, prefix, waitTimeout)
		case <-tick.C:
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *fleetServe) kill(b *testing.B) {
	b.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		b.Fatalf("kill -9 serve %s: %v", s.id, err)
	}
	select {
	case <-s.exited:
	case <-time.After(waitTimeout):
		b.Fatalf("serve %s (pid %d) still running %s after SIGKILL", s.id, s.cmd.Process.Pid, waitTimeout)
	}
}

// stop sends SIGTERM, waits for the process to exit (SIGKILL after
// 30s) and closes its notify socket. Calling it again does nothing.
func (s *fleetServe) stop(b *testing.B) {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			b.Errorf("serve %s (pid %d) ignored SIGTERM for 30s; killing it (log %s)", s.id, s.cmd.Process.Pid, s.logPath)
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	_ = s.notify.Close()
	<-s.read
}

// alive fails b if the process exited, with its log's tail.
func (s *fleetServe) alive(b *testing.B) {
	b.Helper()
	select {
	case <-s.exited:
		s.fatalf(b, "serve %s exited: %s", s.id, s.cmd.ProcessState)
	default:
	}
}

// cpu returns the CPU time (user and system) the process used so far.
func (s *fleetServe) cpu(b *testing.B) time.Duration {
	b.Helper()
	s.alive(b)
	fields, err := procStatFields(s.cmd.Process.Pid)
	if err != nil {
		b.Fatalf("serve %s: %v", s.id, err)
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: utime %q, stime %q", s.cmd.Process.Pid, fields[11], fields[12])
	}
	return time.Duration(utime+stime) * clockTick
}

// hwm returns the process's peak resident memory so far (VmHWM).
func (s *fleetServe) hwm(b *testing.B) int64 {
	b.Helper()
	s.alive(b)
	v, ok := readVmHWM(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if !ok {
		b.Fatalf("serve %s: no VmHWM in /proc/%d/status", s.id, s.cmd.Process.Pid)
	}
	return v
}

// fatalf fails b with the message and the end of the process's log.
func (s *fleetServe) fatalf(b *testing.B, format string, args ...any) {
	b.Helper()
	log, _ := os.ReadFile(s.logPath)
	if len(log) > 4096 {
		log = log[len(log)-4096:]
	}
	b.Fatalf(format+"\nserve log %s ends:\n%s", append(args, s.logPath, log)...)
}

// keyValue opens bucket.
func keyValue(b *testing.B, js jetstream.JetStream, bucket string) jetstream.KeyValue {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		b.Fatalf("KeyValue(%s): %v", bucket, err)
	}
	return kv
}

// putJSON puts v, as JSON, under key of kv and returns the revision.
func putJSON(b *testing.B, kv jetstream.KeyValue, key string, v any) uint64 {
	b.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	rev, err := kv.Put(ctx, key, data)
	if err != nil {
		b.Fatalf("put %s %s: %v", kv.Bucket(), key, err)
	}
	return rev
}

// watchKeys watches the keys of kv matching filter from now on (puts and
// deletes, no history), until b ends.
func watchKeys(b *testing.B, kv jetstream.KeyValue, filter string) <-chan jetstream.KeyValueEntry {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := kv.Watch(ctx, filter, jetstream.UpdatesOnly())
	if err != nil {
		cancel()
		b.Fatalf("watch %s %s: %v", kv.Bucket(), filter, err)
	}
	b.Cleanup(func() { _ = w.Stop(); cancel() })
	return w.Updates()
}

// nextEntry returns the next entry of updates for which match reports
// true, or fails b after waitTimeout.
func nextEntry(b *testing.B, updates <-chan jetstream.KeyValueEntry, what string, match func(jetstream.KeyValueEntry) bool) jetstream.KeyValueEntry {
	b.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-updates:
			if !ok {
				b.Fatalf("%s: watch closed", what)
			}
			if e != nil && match(e) {
				return e
			}
		case <-timeout.C:
			b.Fatalf("%s: not within %s", what, waitTimeout)
		}
	}
}

// specHashOf returns the hash of the spec a desired value holds (bare:
// the benchmarks' serves sign nothing), "" if it holds none.
func specHashOf(e jetstream.KeyValueEntry) string {
	if e.Operation() != jetstream.KeyValuePut {
		return ""
	}
	s, err := fleet.DecodeSpec(e.Value())
	if err != nil {
		return ""
	}
	return fleet.SpecHash(s)
}

// leaseHolder returns who a lease entry names ("" for a delete or a value
// that does not decode).
func leaseHolder(e jetstream.KeyValueEntry) string {
	if e.Operation() != jetstream.KeyValuePut {
		return ""
	}
	var v controller.LeaseValue
	if json.Unmarshal(e.Value(), &v) != nil {
		return ""
	}
	return v.Holder
}

// hashOf returns the hash of spec, which must be valid.
func hashOf(b *testing.B, spec []byte) string {
	b.Helper()
	s, err := fleet.DecodeSpec(spec)
	if err != nil {
		b.Fatalf("spec %s: %v", spec, err)
	}
	return fleet.SpecHash(s)
}

// deployFleet runs `harmony-fleet deploy name -f FILE --selector selector`
// with spec written to FILE, and extra flags.
func deployFleet(b *testing.B, bin, url string, name fleet.DeploymentName, spec []byte, selector string, extra ...string) {
	b.Helper()
	file := filepath.Join(b.TempDir(), "spec.json")
	if err := os.WriteFile(file, spec, 0o600); err != nil {
		b.Fatal(err)
	}
	args := append([]string{"deploy", string(name), "-f", file, "--selector", selector, "-s", url}, extra...)
	var errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.Stderr = &errOut
	if out, err := cmd.Output(); err != nil {
		b.Fatalf("harmony-fleet %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut.Bytes())
	}
}

// reportAs adds the p50, p99 and max of l, in milliseconds, to b's
// result as prefix-p50-ms, prefix-p99-ms and prefix-max-ms.
func (l latencies) reportAs(b *testing.B, prefix string) {
	if len(l) == 0 {
		return
	}
	s := l.sorted()
	b.ReportMetric(ms(percentile(s, 50)), prefix+"-p50-ms")
	b.ReportMetric(ms(percentile(s, 99)), prefix+"-p99-ms")
	b.ReportMetric(ms(s[len(s)-1]), prefix+"-max-ms")
}
