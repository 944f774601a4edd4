package podman

// Tests against a real podman: run
//
//	eval "$(scripts/podman/env.sh)"
//
// first (as root). They read HARMONY_PODMAN_SOCKET and HARMONY_TEST_IMAGE;
// without them they skip, or fail when CI is set.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// podmanEnv returns the socket and test image, skipping (or failing in CI)
// when the environment does not provide them.
func podmanEnv(t testing.TB) (socket, image string) {
	t.Helper()
	socket, image = os.Getenv("HARMONY_PODMAN_SOCKET"), os.Getenv("HARMONY_TEST_IMAGE")
	if socket == "" || image == "" {
		msg := "HARMONY_PODMAN_SOCKET and HARMONY_TEST_IMAGE are not set: run, as root, " +
			`eval "$(scripts/podman/env.sh)" to start a private podman service and build the test image`
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("outside CI, skipped: " + msg)
	}
	return socket, image
}

// randomSuffix keeps names of concurrent test runs apart.
func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testRuntime is a Runtime on the test podman, with a device of its own
// whose containers are removed when the test ends.
type testRuntime struct {
	*Runtime
	t      testing.TB
	image  string
	device fleet.DeviceID
	suffix string

	mu   sync.Mutex
	logs []string // what Logf received
}

func newTestRuntime(t testing.TB, modify ...func(*Config)) *testRuntime {
	t.Helper()
	socket, image := podmanEnv(t)
	tr := &testRuntime{t: t, image: image, suffix: randomSuffix()}
	tr.device = fleet.DeviceID("test-" + tr.suffix)
	cfg := Config{
		Socket:  socket,
		Network: "none", // no network set-up needed, none available here
		Init:    true,   // stop takes milliseconds, not the grace period
		Logf: func(format string, args ...any) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.logs = append(tr.logs, format)
		},
	}
	for _, m := range modify {
		m(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s) = %v", socket, err)
	}
	tr.Runtime = r
	t.Cleanup(r.Close)
	t.Cleanup(func() { removeDevice(t, socket, tr.device) })
	return tr
}

// removeDevice removes every container labelled with device.
func removeDevice(t testing.TB, socket string, device fleet.DeviceID) {
	c := NewClient(socket)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.List(ctx, fleet.LabelDevice+"="+string(device))
	if err != nil {
		t.Errorf("clean up %s: %v", device, err)
		return
	}
	for _, ct := range list {
		if err := c.Remove(ctx, ct.ID, true); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("clean up %s: %v", device, err)
		}
	}
}

// name returns a deployment name unique to this runtime.
func (tr *testRuntime) name(base string) fleet.DeploymentName {
	return fleet.DeploymentName(base + "-" + tr.suffix)
}

// workload is the deployment name of tr's device running spec.
func (tr *testRuntime) workload(name fleet.DeploymentName, spec fleet.DeploymentSpec) runtime.Workload {
	return runtime.Workload{Device: tr.device, Deployment: name, Spec: spec, SpecHash: fleet.SpecHash(spec)}
}

// sleepSpec runs the test image's sleep for an hour.
func (tr *testRuntime) sleepSpec() fleet.DeploymentSpec {
	return fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: tr.image, Command: []string{"sleep", "3600"}}
}

func (tr *testRuntime) apply(w runtime.Workload) runtime.Status {
	tr.t.Helper()
	st, err := tr.Apply(ctx(tr.t), w)
	if err != nil {
		tr.t.Fatalf("Apply(%s) = %v", w.Deployment, err)
	}
	return st
}

func (tr *testRuntime) observe(name fleet.DeploymentName) runtime.Status {
	tr.t.Helper()
	st, err := tr.Observe(ctx(tr.t), tr.device, name)
	if err != nil {
		tr.t.Fatalf("Observe(%s) = %v", name, err)
	}
	return st
}

// waitState polls Observe until the workload is in want, or fails after 10s.
func (tr *testRuntime) waitState(name fleet.DeploymentName, want runtime.State) runtime.Status {
	tr.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := tr.observe(name)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			tr.t.Fatalf("Observe(%s).State = %v after 10s, want %v", name, st.State, want)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// ctx is a per-call deadline tied to the test.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// byHand runs a podman command the way an operator would: with the podman
// CLI when it is installed (straight on storage when CONTAINERS_CONF says
// where, else as a remote client of the socket), or through the API.
func byHand(t testing.TB, tr *testRuntime, action, container string) {
	t.Helper()
	if path, err := exec.LookPath("podman"); err == nil {
		args := []string{action}
		if os.Getenv("CONTAINERS_CONF") == "" {
			args = []string{"--remote", "--url", "unix://" + tr.client.Socket(), action}
		}
		if action == "stop" {
			args = append(args, "--time", "5")
		}
		args = append(args, container)
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return
	}
	var err error
	switch action {
	case "kill":
		err = tr.client.Kill(ctx(t), container, "SIGKILL")
	case "stop":
		err = tr.client.Stop(ctx(t), container, 5*time.Second)
	default:
		t.Fatalf("byHand(%s): unknown action", action)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestApplyCreatesLabelledRunningContainer(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("create")
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "greeting"), []byte("hi from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := fleet.DeploymentSpec{
		Runtime:            fleet.RuntimePodman,
		Image:              tr.image,
		Command:            []string{"sh", "-c", `echo "$MODE $(pwd) $(cat /data/greeting)"; touch /data/x 2>/dev/null || echo read-only; sleep 3600`},
		Env:                map[string]string{"MODE": "edge"},
		WorkingDir:         "/tmp",
		Volumes:            []fleet.VolumeMount{{HostPath: data, ContainerPath: "/data", ReadOnly: true}},
		Restart:            fleet.RestartAlways,
		GracePeriodSeconds: 7,
	}
	w := tr.workload(name, spec)

	st := tr.apply(w)
	if st.State != runtime.StateRunning || st.ID == "" || st.SpecHash != w.SpecHash || st.StartedAt.IsZero() || st.Deployment != name {
		t.Errorf("Apply() = %+v, want running with an id, hash %s and a start time", st, w.SpecHash)
	}

	info, err := tr.client.Inspect(ctx(t), ContainerName(name))
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		fleet.LabelDevice:     string(tr.device),
		fleet.LabelDeployment: string(name),
		fleet.LabelSpecHash:   w.SpecHash,
	}
	for k, v := range wantLabels {
		if info.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, info.Labels[k], v)
		}
	}
	if info.RestartPolicy != "" && info.RestartPolicy != "no" {
		t.Errorf("restart policy = %q, want none: the agent restarts", info.RestartPolicy)
	}
	if info.StopTimeout != 7*time.Second {
		t.Errorf("stop timeout = %v, want 7s from grace_period_seconds", info.StopTimeout)
	}
	i := slices.IndexFunc(info.Mounts, func(m MountInfo) bool { return m.Destination == "/data" })
	if i < 0 || info.Mounts[i].RW || info.Mounts[i].Source != data {
		t.Errorf("mounts = %+v, want %s read-only at /data", info.Mounts, data)
	}

	want := "edge /tmp hi from the host\nread-only\n"
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := tr.LogTail(ctx(t), tr.device, name, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LogTail() = %q after 10s, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func TestApplySameHashIsNoop(t *testing.T) {
	tr := newTestRuntime(t)
	w := tr.workload(tr.name("same"), tr.sleepSpec())
	first := tr.apply(w)
	second := tr.apply(w)
	if second.ID != first.ID || !second.StartedAt.Equal(first.StartedAt) || second.State != runtime.StateRunning {
		t.Errorf("second Apply() = %+v, want the same running container as %+v", second, first)
	}
}

func TestApplyHashChangeReplaces(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("replace")
	spec := tr.sleepSpec()
	old := tr.apply(tr.workload(name, spec))

	spec.Env = map[string]string{"VERSION": "2"}
	w := tr.workload(name, spec)
	start := time.Now()
	st := tr.apply(w)
	took := time.Since(start)
	if st.ID == old.ID || st.State != runtime.StateRunning || st.SpecHash != w.SpecHash {
		t.Errorf("Apply(changed spec) = %+v, want a new running container with hash %s", st, w.SpecHash)
	}
	if _, err := tr.client.Inspect(ctx(t), old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Inspect(old id) = %v, want ErrNotFound", err)
	}
	// The old one stops on SIGTERM through catatonit: no waiting for the
	// 10s grace period.
	if took > 5*time.Second {
		t.Errorf("replace took %v, want well under the 10s grace period", took)
	}
	t.Logf("replace took %v", took)
}

func TestApplyRestartsStoppedContainer(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("restart")
	w := tr.workload(name, tr.sleepSpec())
	first := tr.apply(w)

	byHand(t, tr, "stop", ContainerName(name))
	stopped := tr.waitState(name, runtime.StateExited)
	if stopped.ID != first.ID {
		t.Fatalf("stopped container id = %s, want %s", stopped.ID, first.ID)
	}

	st := tr.apply(w)
	if st.ID != first.ID || st.State != runtime.StateRunning || !st.StartedAt.After(first.StartedAt) {
		t.Errorf("Apply(stopped) = %+v, want %s running again, started after %v", st, first.ID, first.StartedAt)
	}
}

func TestObserveMissing(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("never")
	st := tr.observe(name)
	if st.State != runtime.StateMissing || st.Deployment != name {
		t.Errorf("Observe(missing) = %+v, want StateMissing", st)
	}
}

func TestRemove(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("remove")
	tr.apply(tr.workload(name, tr.sleepSpec()))

	start := time.Now()
	if err := tr.Remove(ctx(t), tr.device, name, 10*time.Second); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Remove() took %v, want well under the grace period", took)
	}
	if st := tr.observe(name); st.State != runtime.StateMissing {
		t.Errorf("Observe(removed) = %+v, want StateMissing", st)
	}
	if err := tr.Remove(ctx(t), tr.device, name, time.Second); err != nil {
		t.Errorf("Remove(missing) = %v, want nil", err)
	}
}

func TestListByDevice(t *testing.T) {
	a := newTestRuntime(t)
	b := newTestRuntime(t)
	wa1 := a.workload(a.name("a1"), a.sleepSpec())
	wa2 := a.workload(a.name("a2"), a.sleepSpec())
	wb := b.workload(b.name("b1"), b.sleepSpec())
	for _, w := range []runtime.Workload{wa1, wa2} {
		a.apply(w)
	}
	b.apply(wb)

	tests := []struct {
		tr   *testRuntime
		want []runtime.Workload
	}{
		{a, []runtime.Workload{wa1, wa2}},
		{b, []runtime.Workload{wb}},
	}
	for _, tt := range tests {
		got, err := tt.tr.List(ctx(t), tt.tr.device)
		if err != nil {
			t.Fatalf("List(%s) = %v", tt.tr.device, err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("List(%s) = %+v, want %d workloads", tt.tr.device, got, len(tt.want))
		}
		for i, w := range tt.want {
			if got[i].Deployment != w.Deployment || got[i].SpecHash != w.SpecHash || got[i].State != runtime.StateRunning {
				t.Errorf("List(%s)[%d] = %+v, want %s running with hash %s", tt.tr.device, i, got[i], w.Deployment, w.SpecHash)
			}
		}
	}
}

func TestLogTailOfFailedContainer(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("fails")
	spec := tr.sleepSpec()
	spec.Command = []string{"sh", "-c", "echo hello; echo oops >&2; exit 1"}
	tr.apply(tr.workload(name, spec))

	st := tr.waitState(name, runtime.StateExited)
	if st.ExitCode != 1 || st.FinishedAt.IsZero() {
		t.Errorf("Observe(exited) = %+v, want exit code 1 and a finish time", st)
	}
	full, err := tr.LogTail(ctx(t), tr.device, name, 4096)
	if err != nil {
		t.Fatal(err)
	}
	// stdout and stderr are separate pipes: their order is conmon's.
	if !strings.Contains(full, "hello\n") || !strings.Contains(full, "oops\n") || len(full) != len("hello\noops\n") {
		t.Errorf("LogTail(4096) = %q, want hello and oops lines", full)
	}
	short, err := tr.LogTail(ctx(t), tr.device, name, 5)
	if err != nil || short != full[len(full)-5:] {
		t.Errorf("LogTail(5) = %q, %v, want %q", short, err, full[len(full)-5:])
	}
	if got, err := tr.LogTail(ctx(t), tr.device, tr.name("nothing"), 4096); got != "" || err != nil {
		t.Errorf("LogTail(missing) = %q, %v, want empty and nil", got, err)
	}
}

func TestWatchSeesKill(t *testing.T) {
	tr := newTestRuntime(t)
	target := tr.name("watched")
	probe := tr.name("probe")
	tr.apply(tr.workload(target, tr.sleepSpec()))
	probeSpec := tr.sleepSpec()
	probeSpec.Command = []string{"true"}
	tr.apply(tr.workload(probe, probeSpec))

	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Buffered so that changed never blocks; a full buffer drops, which
	// only this test's bookkeeping would notice.
	changes := make(chan fleet.DeploymentName, 256)
	done := make(chan error, 1)
	go func() {
		done <- tr.Watch(wctx, tr.device, func(n fleet.DeploymentName) {
			select {
			case changes <- n:
			default:
			}
		})
	}()

	// Podman gives no sign that the subscription is in place: start the
	// probe until its events come through.
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
primed:
	for {
		select {
		case n := <-changes:
			if n == probe {
				break primed
			}
		case <-tick.C:
			if err := tr.client.Start(ctx(t), ContainerName(probe)); err != nil {
				t.Fatal(err)
			}
		case err := <-done:
			t.Fatalf("Watch() = %v before any event", err)
		case <-deadline:
			t.Fatal("Watch() reported no event of the probe within 15s")
		}
	}
	tick.Stop()

	start := time.Now()
	byHand(t, tr, "kill", ContainerName(target))
	killed := time.Now()
	timeout := time.After(time.Second)
	for seen := false; !seen; {
		select {
		case n := <-changes:
			seen = n == target
		case err := <-done:
			t.Fatalf("Watch() = %v before the kill was seen", err)
		case <-timeout:
			t.Fatalf("Watch() did not report %s within a second of podman kill", target)
		}
	}
	t.Logf("kill seen %v after podman kill returned (%v after it started)", time.Since(killed), time.Since(start))

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch() after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch() did not return within 5s of cancel")
	}
}

func TestNotManaged(t *testing.T) {
	tests := []struct {
		name   string
		labels func(tr *testRuntime) map[string]string
		want   string
	}{
		{"unlabelled", func(*testRuntime) map[string]string { return nil }, "it has no io.harmony.device label"},
		{"other device", func(tr *testRuntime) map[string]string {
			return map[string]string{fleet.LabelDevice: "someone-else", fleet.LabelDeployment: string(tr.name("taken"))}
		}, `it belongs to device "someone-else"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestRuntime(t)
			name := tr.name("taken")
			cname := ContainerName(name)
			id, _, err := tr.client.CreateContainer(ctx(t), ContainerSpec{
				Name: cname, Image: tr.image, Command: []string{"sleep", "3600"}, NetNS: "none", Labels: tt.labels(tr),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tr.client.Remove(context.Background(), id, true) })

			_, err = tr.Apply(ctx(t), tr.workload(name, tr.sleepSpec()))
			if !errors.Is(err, runtime.ErrNotManaged) {
				t.Fatalf("Apply() = %v, want ErrNotManaged", err)
			}
			for _, s := range []string{tt.want, "podman rm -f " + cname} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Apply() = %q, want it to contain %q", err, s)
				}
			}
			if _, err := tr.Observe(ctx(t), tr.device, name); !errors.Is(err, runtime.ErrNotManaged) {
				t.Errorf("Observe() = %v, want ErrNotManaged", err)
			}
			if err := tr.Remove(ctx(t), tr.device, name, time.Second); !errors.Is(err, runtime.ErrNotManaged) {
				t.Errorf("Remove() = %v, want ErrNotManaged", err)
			}
			info, err := tr.client.Inspect(ctx(t), cname)
			if err != nil || info.ID != id || info.Status != "created" {
				t.Errorf("foreign container after Apply and Remove = %+v, %v, want it untouched", info, err)
			}
		})
	}
}

func TestApplyImageThatCannotBePulled(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("nope")
	spec := tr.sleepSpec()
	spec.Image = "localhost/nope:1"
	_, err := tr.Apply(ctx(t), tr.workload(name, spec))
	if !errors.Is(err, ErrPull) {
		t.Fatalf("Apply() = %v, want ErrPull", err)
	}
	prefix := "apply " + string(name) + ": pull localhost/nope:1: "
	if msg := err.Error(); !strings.HasPrefix(msg, prefix) || len(msg) < len(prefix)+10 {
		t.Errorf("Apply() = %q, want %q and podman's reason", msg, prefix)
	}
	t.Logf("Apply() = %v", err)
	if st := tr.observe(name); st.State != runtime.StateMissing {
		t.Errorf("Observe() = %+v, want StateMissing after a failed pull", st)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !slices.ContainsFunc(tr.logs, func(s string) bool { return strings.HasPrefix(s, "pull %s:") }) {
		t.Errorf("Logf calls = %q, want pull progress", tr.logs)
	}
}

func TestApplyRefusesPullOnLowDisk(t *testing.T) {
	tr := newTestRuntime(t, func(c *Config) { c.MinFreeDiskBytes = 1 << 62 })
	spec := tr.sleepSpec()
	spec.Image = "localhost/nope:1"
	_, err := tr.Apply(ctx(t), tr.workload(tr.name("disk"), spec))
	if !errors.Is(err, ErrLowDisk) {
		t.Fatalf("Apply() = %v, want ErrLowDisk", err)
	}
	info, err2 := tr.client.Info(ctx(t))
	if err2 != nil {
		t.Fatal(err2)
	}
	if want := " free under " + info.GraphRoot + ", need 4096 PiB"; !strings.Contains(err.Error(), want) {
		t.Errorf("Apply() = %q, want it to contain %q", err, want)
	}
	// A local image needs no disk check.
	if _, err := tr.Apply(ctx(t), tr.workload(tr.name("local"), tr.sleepSpec())); err != nil {
		t.Errorf("Apply(local image) = %v, want nil", err)
	}
}

// BenchmarkApply measures Apply of a new deployment to running.
func BenchmarkApply(b *testing.B) {
	tr := newTestRuntime(b)
	spec := tr.sleepSpec()
	for i := 0; b.Loop(); i++ {
		name := fleet.DeploymentName("bench-" + tr.suffix + "-" + strconv.Itoa(i))
		if _, err := tr.Apply(ctx(b), tr.workload(name, spec)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := tr.Remove(ctx(b), tr.device, name, time.Second); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkPodmanRun measures `podman run -d` of the same container, for
// comparison with BenchmarkApply.
func BenchmarkPodmanRun(b *testing.B) {
	_, image := podmanEnv(b)
	path, err := exec.LookPath("podman")
	if err != nil || os.Getenv("CONTAINERS_CONF") == "" {
		b.Skip("needs the podman CLI and CONTAINERS_CONF from scripts/podman/env.sh")
	}
	suffix := randomSuffix()
	for i := 0; b.Loop(); i++ {
		name := "harmony-bench-run-" + suffix + "-" + strconv.Itoa(i)
		out, err := exec.Command(path, "run", "-d", "--name", name, "--network", "none", "--init",
			"--label", fleet.LabelDevice+"=bench-"+suffix, image, "sleep", "3600").CombinedOutput()
		if err != nil {
			b.Fatalf("podman run: %v\n%s", err, out)
		}
		b.StopTimer()
		if out, err := exec.Command(path, "rm", "-f", "-t", "0", name).CombinedOutput(); err != nil {
			b.Fatalf("podman rm: %v\n%s", err, out)
		}
		b.StartTimer()
	}
}

func TestApplyPublishesPorts(t *testing.T) {
	tr := newTestRuntime(t, func(c *Config) { c.Network = "" })
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("harmony\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	spec := tr.sleepSpec()
	spec.Command = []string{"httpd", "-f", "-p", "8080", "-h", "/www"}
	spec.Ports = []fleet.PortMapping{{HostPort: port, ContainerPort: 8080, Protocol: "tcp"}}
	spec.Volumes = []fleet.VolumeMount{{HostPath: www, ContainerPath: "/www", ReadOnly: true}}
	tr.apply(tr.workload(tr.name("web"), spec))

	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "harmony\n" {
				t.Fatalf("GET %s = %q, want %q", url, body, "harmony\n")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v after 10s", url, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

func TestApplyRefusesPortsWithoutNetwork(t *testing.T) {
	tr := newTestRuntime(t)
	spec := tr.sleepSpec()
	spec.Ports = []fleet.PortMapping{{HostPort: 8080, ContainerPort: 80}}
	_, err := tr.Apply(ctx(t), tr.workload(tr.name("ports"), spec))
	if !errors.Is(err, fleet.ErrInvalidSpec) || !strings.Contains(err.Error(), "ports need a bridge network") {
		t.Errorf("Apply(ports, network none) = %v, want ErrInvalidSpec saying ports need a bridge network", err)
	}
}

func TestApplyFailedPullKeepsOldRunning(t *testing.T) {
	tr := newTestRuntime(t)
	name := tr.name("keep")
	old := tr.apply(tr.workload(name, tr.sleepSpec()))

	spec := tr.sleepSpec()
	spec.Image = "localhost/nope:2"
	st, err := tr.Apply(ctx(t), tr.workload(name, spec))
	if !errors.Is(err, ErrPull) {
		t.Fatalf("Apply(unpullable image) = %v, want ErrPull", err)
	}
	if st.ID != old.ID || st.State != runtime.StateRunning {
		t.Errorf("Apply(unpullable image) status = %+v, want the old container %s", st, old.ID)
	}
	if now := tr.observe(name); now.ID != old.ID || now.State != runtime.StateRunning {
		t.Errorf("Observe() = %+v, want the old container still running", now)
	}
}
