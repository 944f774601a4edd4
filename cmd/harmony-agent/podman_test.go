//go:build embednats

package main

// Tests of the agent against a real podman (issue 4): run, as root,
//
//	eval "$(scripts/podman/env.sh)"
//
// first (make test does). They read HARMONY_PODMAN_SOCKET and
// HARMONY_TEST_IMAGE; without them they skip, or fail when CI is set. The
// podman CLI, with the CONTAINERS_CONF and CONTAINERS_STORAGE_CONF env.sh
// exports, plays the operator: it makes drift by hand and checks what the
// agent did.
//
// Each test has a device and deployment names of its own (container names
// are global to podman's storage, which other packages' tests share), and
// removes every container of its device, and those it made by hand, at
// cleanup, after its agents stopped.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime/podman"
)

// podmanHarness is a harness whose agents run containers on the test
// podman.
type podmanHarness struct {
	*harness
	socket string // HARMONY_PODMAN_SOCKET
	image  string // HARMONY_TEST_IMAGE
	suffix string // of the device and deployment names
	// handMade are containers the test created by hand, removed at
	// cleanup.
	handMade *[]string
}

// podmanTestEnv returns the socket and test image, skipping (or failing in
// CI) when the environment does not provide them.
func podmanTestEnv(t *testing.T) (socket, image string) {
	t.Helper()
	socket, image = os.Getenv("HARMONY_PODMAN_SOCKET"), os.Getenv("HARMONY_TEST_IMAGE")
	if socket != "" && image != "" {
		return socket, image
	}
	const how = `run, as root, eval "$(scripts/podman/env.sh)" (or make test) to start a private podman service and build the test image`
	if os.Getenv("CI") != "" {
		t.Fatal("podman is required in CI: HARMONY_PODMAN_SOCKET and HARMONY_TEST_IMAGE are not set; " + how)
	}
	t.Skip("outside CI, skipped: HARMONY_PODMAN_SOCKET and HARMONY_TEST_IMAGE are not set: " + how)
	return "", ""
}

// newPodmanHarness starts a harness with a device of its own.
func newPodmanHarness(t *testing.T) *podmanHarness {
	t.Helper()
	socket, image := podmanTestEnv(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("the podman CLI is needed to check and disturb containers by hand: %v", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := &podmanHarness{harness: newHarness(t), socket: socket, image: image, suffix: hex.EncodeToString(b), handMade: new([]string)}
	p.device = fleet.DeviceID("pm-" + p.suffix)
	// Registered before any agent starts, so it runs after they stopped
	// (an agent would put back what it removes).
	t.Cleanup(p.removeContainers)
	return p
}

// in returns p for subtest t: its waits fail t, not the parent.
func (p *podmanHarness) in(t *testing.T) *podmanHarness {
	c := *p
	c.harness = p.harness.in(t)
	return &c
}

// name returns deployment base of this test.
func (p *podmanHarness) name(base string) fleet.DeploymentName {
	return fleet.DeploymentName(base + "-" + p.suffix)
}

// start runs an agent on the test podman, network none.
func (p *podmanHarness) start(c agentConfig) *agentRun {
	p.t.Helper()
	if c.PodmanSocket == "" {
		c.PodmanSocket = p.socket
	}
	if c.PodmanNetwork == "" {
		c.PodmanNetwork = "none"
	}
	return p.harness.start(c)
}

// spec is the JSON of a podman deployment of the test image running
// command.
func (p *podmanHarness) spec(restart fleet.RestartPolicy, env map[string]string, command ...string) string {
	b, err := json.Marshal(fleet.DeploymentSpec{
		Runtime: fleet.RuntimePodman, Image: p.image, Command: command, Env: env, Restart: restart, GracePeriodSeconds: 2,
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sleeper is a podman deployment that runs for an hour.
func (p *podmanHarness) sleeper(env map[string]string) string {
	return p.spec(fleet.RestartAlways, env, "sleep", "3600")
}

// podmanCLI runs the podman CLI with args and returns its trimmed stdout:
// straight on the test storage when CONTAINERS_CONF says where (as env.sh
// exports), else as a remote client of socket.
func podmanCLI(socket string, args ...string) (string, error) {
	if os.Getenv("CONTAINERS_CONF") == "" {
		args = append([]string{"--remote", "--url", "unix://" + socket}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("podman %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// podman runs the podman CLI, failing the test on an error.
func (p *podmanHarness) podman(args ...string) string {
	p.t.Helper()
	out, err := podmanCLI(p.socket, args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// removeContainers removes every container of the device and every one
// made by hand.
func (p *podmanHarness) removeContainers() {
	out, err := podmanCLI(p.socket, "ps", "-a", "-q", "--filter", "label="+fleet.LabelDevice+"="+string(p.device))
	if err != nil {
		p.t.Errorf("clean up: %v", err)
	}
	ids := append(strings.Fields(out), *p.handMade...)
	if len(ids) == 0 {
		return
	}
	if _, err := podmanCLI(p.socket, append([]string{"rm", "-f", "-t", "0", "--ignore"}, ids...)...); err != nil {
		p.t.Errorf("clean up: %v", err)
	}
}

// container is what the tests read of `podman container inspect`.
type container struct {
	ID    string `json:"Id"`
	State struct {
		Status    string
		ExitCode  int
		StartedAt time.Time
	}
	Config struct {
		Labels map[string]string
		Env    []string
	}
}

// inspect returns the container named (or with the id) ref; false when
// there is none.
func (p *podmanHarness) inspect(ref string) (container, bool) {
	p.t.Helper()
	out, err := podmanCLI(p.socket, "container", "inspect", ref)
	if err != nil {
		if strings.Contains(err.Error(), "no such container") {
			return container{}, false
		}
		p.t.Fatal(err)
	}
	var cs []container
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 1 {
		p.t.Fatalf("podman container inspect %s: %v; got %s", ref, err, out)
	}
	return cs[0], true
}

// waitContainer waits until the container named ref satisfies cond, and
// returns it.
func (p *podmanHarness) waitContainer(ref, what string, cond func(c container, ok bool) bool) container {
	p.t.Helper()
	var c container
	var ok bool
	poll(p.t, func() bool {
		c, ok = p.inspect(ref)
		return cond(c, ok)
	}, func() string { return fmt.Sprintf("container %s %s (now %+v, exists %v)", ref, what, c.State, ok) })
	return c
}

// waitRunning waits until deployment name's container runs with an id
// other than not, and returns it.
func (p *podmanHarness) waitRunning(name fleet.DeploymentName, not string) container {
	p.t.Helper()
	return p.waitContainer(podman.ContainerName(name), "running with an id other than "+not, func(c container, ok bool) bool {
		return ok && c.State.Status == "running" && c.ID != not
	})
}

// running lists the names of the device's running containers, as
// `podman ps` shows them.
func (p *podmanHarness) running() []string {
	p.t.Helper()
	return strings.Fields(p.podman("ps", "--filter", "label="+fleet.LabelDevice+"="+string(p.device), "--format", "{{.Names}}"))
}

// lastTo returns a condition: the last event is applied{to: phase}.
func lastTo(phase fleet.Phase) func([]storedEvent) bool {
	return func(evs []storedEvent) bool {
		return len(evs) > 0 && evs[len(evs)-1].Transition.Kind == fleet.KindApplied && evs[len(evs)-1].Transition.To == phase
	}
}

// primeFeed waits until agent a hears podman's events. Podman gives no
// sign that an event subscription is in place, so a probe deployment
// (one that exits 0 at once, restart never) is started by hand until the
// agent reacts to it: the only other thing that could make it look at the
// probe is a resync, and the tests that prime keep it far away.
func (p *podmanHarness) primeFeed(a *agentRun) {
	p.t.Helper()
	probe := p.name("probe")
	p.put(probe, p.spec(fleet.RestartNever, nil, "true"))
	p.waitEvents("probe succeeded", p.deploymentEvents(probe), lastTo(fleet.PhaseSucceeded))
	deadline := time.Now().Add(waitTimeout)
	for {
		mark := a.mark()
		p.podman("start", podman.ContainerName(probe))
		for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); {
			if len(a.logged(mark, "*", "deployment", string(probe))) > 0 {
				return
			}
			time.Sleep(pollInterval) // poll interval
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the agent did not react to podman events of %s within %v", probe, waitTimeout)
		}
	}
}

// TestPodmanPutRuns: a desired put gives a running container
// harmony-<name> with the device, deployment and spec-hash labels, events
// pending then running, a DeviceInfo showing it, and podman ps listing
// it; stopping the agent leaves it running. It logs the time from the put
// to the running event, over a few deployments.
func TestPodmanPutRuns(t *testing.T) {
	p := newPodmanHarness(t)
	a := p.start(agentConfig{})
	epoch := a.epoch()

	web := p.name("web")
	value := p.sleeper(nil)
	put := time.Now()
	p.put(web, value)
	evs := p.waitEvents("web pending then running", p.deploymentEvents(web), hasCount(2))
	checkTransitions(t, "web", evs, toPending, toRunning)
	took := []time.Duration{evs[1].At.Sub(put)}
	t.Logf("put -> pending %v, put -> running %v (first container of the agent)", evs[0].At.Sub(put), took[0])

	c := p.waitRunning(web, "")
	decoded, err := fleet.DecodeSpec([]byte(value))
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{
		fleet.LabelDevice:     string(p.device),
		fleet.LabelDeployment: string(web),
		fleet.LabelSpecHash:   fleet.SpecHash(decoded),
	}
	for k, v := range wantLabels {
		if got := c.Config.Labels[k]; got != v {
			t.Errorf("container %s label %s = %q, want %q", podman.ContainerName(web), k, got, v)
		}
	}
	if got := p.running(); !slices.Contains(got, podman.ContainerName(web)) {
		t.Errorf("podman ps = %q, want %s", got, podman.ContainerName(web))
	}
	want := fleet.Revision{AgentEpoch: epoch, Sequence: 2}
	info := p.waitInfo("device info at revision 2", func(i fleet.DeviceInfo) bool { return i.Revision == want })
	if st := info.Deployments[web]; st.Phase != fleet.PhaseRunning || st.LastError != "" || st.Revision != want {
		t.Errorf("DeviceInfo.deployments[%s] = %+v, want running, no error, revision %v", web, st, want)
	}

	// A few more, one after the other, for the timing.
	for i := range 3 {
		name := p.name(fmt.Sprintf("m%d", i))
		put := time.Now()
		p.put(name, p.sleeper(nil))
		evs := p.waitEvents(string(name)+" running", p.deploymentEvents(name), hasCount(2))
		checkTransitions(t, string(name), evs, toPending, toRunning)
		took = append(took, evs[1].At.Sub(put))
	}
	t.Logf("put -> running event, busybox sleep 3600: %v", took)

	if code := a.stop(); code != exitOK {
		t.Errorf("run exit code after stop = %d, want %d", code, exitOK)
	}
	if after, ok := p.inspect(podman.ContainerName(web)); !ok || after.ID != c.ID || after.State.Status != "running" {
		t.Errorf("container after the agent stopped = %+v, exists %v; want %s still running", after, ok, c.ID)
	}
}

// TestPodmanSpecChangeReplaces: a changed env replaces the container
// gracefully (a new id with the new env, the old one gone; events pending
// then running), and the same spec put again, written differently, is a
// no-op: no event, same container.
func TestPodmanSpecChangeReplaces(t *testing.T) {
	p := newPodmanHarness(t)
	// One worker: names are worked on in the order they are queued (see
	// the markers below).
	a := p.start(agentConfig{Workers: 1})
	epoch := a.epoch()
	web := p.name("web")

	p.put(web, p.sleeper(map[string]string{"MODE": "one"}))
	p.waitEvents("web running", p.deploymentEvents(web), hasCount(2))
	old := p.waitRunning(web, "")

	p.put(web, p.sleeper(map[string]string{"MODE": "two"}))
	evs := p.waitEvents("web replaced", p.deploymentEvents(web), hasCount(4))
	checkTransitions(t, "web", evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhasePending, ""), toRunning)
	cur := p.waitRunning(web, old.ID)
	if !slices.Contains(cur.Config.Env, "MODE=two") {
		t.Errorf("new container env = %q, want MODE=two", cur.Config.Env)
	}
	if c, ok := p.inspect(old.ID); ok {
		t.Errorf("old container %s still exists: %+v", old.ID, c.State)
	}
	a.waitLog(0, "spec changed; replacing workload", "deployment", string(web))

	// The same spec again, its fields in another order and spaced out.
	// With one worker, a name queued before another is worked on first,
	// unless a worker holds it then: it is queued again when that worker
	// is done, maybe after marker1. So once marker1 runs, web's re-put is
	// at worst queued, and marker2, put after that, comes after it.
	mark := a.mark()
	p.put(web, fmt.Sprintf(`{ "restart": "always", "grace_period_seconds": 2, "env": {"MODE": "two"},
	  "command": ["sleep", "3600"], "image": %q, "runtime": "podman" }`, p.image))
	for _, marker := range []fleet.DeploymentName{p.name("marker1"), p.name("marker2")} {
		p.put(marker, p.sleeper(nil))
		p.waitEvents(string(marker)+" running", p.deploymentEvents(marker), hasCount(2))
	}
	all := p.waitEvents("device events", p.deviceEvents(), hasCount(8))
	if got := ofDeployment(all, web); !slices.Equal(got, evs) {
		t.Errorf("web events after the same spec = %v, want still %v", got, evs)
	}
	for i, e := range all {
		if want := uint64(i + 1); e.Revision.Sequence != want || e.Revision.AgentEpoch != epoch {
			t.Errorf("device event %d = %v at %v, want sequence %d of epoch %d", i, e, e.Revision, want, epoch)
		}
	}
	if got := a.logged(mark, "no change", "deployment", string(web), "phase", "running"); len(got) == 0 {
		t.Errorf("no debug line \"no change\" for web after the same spec was put again")
	}
	if got := a.logged(mark, "spec changed; replacing workload", "deployment", string(web)); len(got) != 0 {
		t.Errorf("the same spec replaced the container: %v", got)
	}
	if c, ok := p.inspect(podman.ContainerName(web)); !ok || c.ID != cur.ID || !c.State.StartedAt.Equal(cur.State.StartedAt) {
		t.Errorf("web container after the same spec = %s started %v (exists %v), want %s started %v, untouched",
			c.ID, c.State.StartedAt, ok, cur.ID, cur.State.StartedAt)
	}
}

// TestPodmanDriftRepaired: a container killed, stopped or removed by hand
// is put back, each with its transitions. The resync tick is ten minutes
// away, so only podman's event feed can explain the repair.
func TestPodmanDriftRepaired(t *testing.T) {
	p := newPodmanHarness(t)
	a := p.start(agentConfig{ResyncInterval: 10 * time.Minute})
	p.primeFeed(a)

	tests := []struct {
		base string
		// by is the podman command, before the container name.
		by []string
		// wantFailed is the start of last_error of running -> failed
		// when the agent sees the container exited: SIGKILL; SIGTERM
		// forwarded by catatonit.
		wantFailed string
		// removed: the container is gone, so a new one is made.
		removed bool
	}{
		{"killed", []string{"kill"}, "exited with code 137", false},
		{"stopped", []string{"stop", "-t", "5"}, "exited with code 143", false},
		{"removed", []string{"rm", "-f", "-t", "0"}, "exited with code 137", true},
	}
	for _, tt := range tests {
		p.put(p.name(tt.base), p.sleeper(nil))
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			p := p.in(t)
			name := p.name(tt.base)
			cname := podman.ContainerName(name)
			p.waitEvents(tt.base+" running", p.deploymentEvents(name), hasCount(2))
			before := p.waitRunning(name, "")

			start := time.Now()
			p.podman(append(tt.by, cname)...)
			evs := p.waitEvents(tt.base+" running again", p.deploymentEvents(name), func(evs []storedEvent) bool {
				return len(evs) >= 4 && evs[len(evs)-1].Transition.To == fleet.PhaseRunning
			})
			t.Logf("podman %s -> running event: %v; events %v", strings.Join(tt.by, " "), evs[len(evs)-1].At.Sub(start), evs)
			// The agent sees an exited container (failed, then started
			// again after the backoff) or, for rm, maybe none at all
			// (pending, a new one).
			failed := evs[2].Transition
			switch {
			case tt.removed && failed.To == fleet.PhasePending:
				checkTransitions(t, tt.base, evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhasePending, ""), toRunning)
			case strings.HasPrefix(failed.LastError, tt.wantFailed):
				checkTransitions(t, tt.base, evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, failed.LastError),
					fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, ""))
			default:
				t.Fatalf("events = %v, want running -> failed %q (or, for rm, running -> pending), then running", evs, tt.wantFailed)
			}
			after := p.waitRunning(name, "")
			switch {
			case tt.removed && after.ID == before.ID:
				t.Errorf("container after podman rm = %s, want a new one", after.ID)
			case !tt.removed && after.ID != before.ID:
				t.Errorf("container after podman %s = %s, want %s started again", tt.by[0], after.ID, before.ID)
			case !after.State.StartedAt.After(before.State.StartedAt):
				t.Errorf("container started at %v, want after %v", after.State.StartedAt, before.State.StartedAt)
			}
		})
	}
}

// TestPodmanRestartAdopts: an agent stopped and started again adopts the
// healthy container (same id, not restarted). A container made by hand
// with a deployment's name but no labels is never touched: the deployment
// is failed with an error naming it; once its key is deleted, or its spec
// moves to the process runtime, the agent has nothing of it in podman and
// goes on (removed, or running as a process), the container still as it
// was.
func TestPodmanRestartAdopts(t *testing.T) {
	p := newPodmanHarness(t)
	a := p.start(agentConfig{})
	web := p.name("web")
	p.put(web, p.sleeper(nil))
	p.waitEvents("web running", p.deploymentEvents(web), hasCount(2))
	before := p.waitRunning(web, "")
	epochA := a.epoch()
	a.stop()

	// x is deleted later, y moved to the process runtime.
	x, y := p.name("x"), p.name("y")
	foreign := map[fleet.DeploymentName]string{}
	for _, name := range []fleet.DeploymentName{x, y} {
		cname := podman.ContainerName(name)
		*p.handMade = append(*p.handMade, cname)
		foreign[name] = p.podman("create", "--name", cname, "--network", "none", p.image, "sleep", "3600")
		p.put(name, p.sleeper(nil))
	}
	checkForeign := func(when string) {
		t.Helper()
		for name, id := range foreign {
			if c, ok := p.inspect(id); !ok || c.State.Status != "created" || len(c.Config.Labels) != 0 {
				t.Errorf("container by hand of %s %s = %s %s labels %v (exists %v), want %s created without labels, untouched",
					name, when, c.ID, c.State.Status, c.Config.Labels, ok, id)
			}
		}
	}

	b := p.start(agentConfig{})
	epochB := b.epoch()
	if epochB <= epochA {
		t.Fatalf("epoch after restart = %d, want > %d", epochB, epochA)
	}
	b.waitLog(0, "desired state received")
	b.waitLog(0, "no change", "deployment", string(web), "phase", "running")
	evs := p.waitEvents("web adopted", p.deploymentEvents(web), func(evs []storedEvent) bool { return len(ofEpoch(evs, epochB)) >= 1 })
	checkTransitions(t, "web, new epoch", ofEpoch(evs, epochB), fleet.Applied("", fleet.PhaseRunning, ""))
	if c, ok := p.inspect(podman.ContainerName(web)); !ok || c.ID != before.ID || !c.State.StartedAt.Equal(before.State.StartedAt) {
		t.Errorf("web container after restart = %s started %v (exists %v), want %s started %v: adopted",
			c.ID, c.State.StartedAt, ok, before.ID, before.State.StartedAt)
	}

	// x and y fail, and stay failed through their retries without
	// flapping.
	failed := map[fleet.DeploymentName]fleet.LifecycleTransition{}
	for _, name := range []fleet.DeploymentName{x, y} {
		b.waitLog(0, "retrying later", "deployment", string(name), "failures", "3")
		evs := p.waitEvents(string(name)+" failed", p.deploymentEvents(name), hasCount(1))
		last := evs[0].Transition
		checkTransitions(t, string(name), evs, fleet.Applied("", fleet.PhaseFailed, last.LastError))
		cname := podman.ContainerName(name)
		for _, want := range []string{
			fmt.Sprintf("container %s (id %s) is not managed by device %s", cname, foreign[name][:12], p.device),
			"it has no " + fleet.LabelDevice + " label",
			"podman rm -f " + cname,
		} {
			if !strings.Contains(last.LastError, want) {
				t.Errorf("%s last_error = %q, want it to contain %q", name, last.LastError, want)
			}
		}
		failed[name] = last
	}
	t.Logf("x last_error: %s", failed[x].LastError)
	checkForeign("after the deployments failed")

	p.del(x)
	checkTransitions(t, "x", p.waitEvents("x removed", p.deploymentEvents(x), hasCount(2)), failed[x], fleet.Removed(fleet.PhaseFailed))
	p.put(y, sleeper(nil)) // the process runtime
	checkTransitions(t, "y", p.waitEvents("y running", p.deploymentEvents(y), hasCount(3)),
		failed[y], fleet.Applied(fleet.PhaseFailed, fleet.PhasePending, ""), toRunning)
	p.waitPID(y, 0)
	checkForeign("after x was deleted and y moved to the process runtime")
}

// TestPodmanImageMissing: an image that cannot be pulled fails its
// deployment with the pull error, retried without flapping; another
// deployment runs.
func TestPodmanImageMissing(t *testing.T) {
	p := newPodmanHarness(t)
	a := p.start(agentConfig{})
	nope, fine := p.name("nope"), p.name("fine")
	value, err := json.Marshal(fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "localhost/nope:1", Command: []string{"sleep", "3600"}})
	if err != nil {
		t.Fatal(err)
	}
	p.put(nope, string(value))
	p.put(fine, p.sleeper(nil))

	evs := p.waitEvents("nope failed", p.deploymentEvents(nope), hasCount(2))
	last := evs[1].Transition
	checkTransitions(t, "nope", evs, toPending, fleet.Applied(fleet.PhasePending, fleet.PhaseFailed, last.LastError))
	t.Logf("nope last_error: %s", last.LastError)
	prefix := "apply " + string(nope) + ": pull localhost/nope:1: "
	if !strings.HasPrefix(last.LastError, prefix) || len(last.LastError) < len(prefix)+10 {
		t.Errorf("nope last_error = %q, want %q and podman's reason", last.LastError, prefix)
	}
	checkTransitions(t, "fine", p.waitEvents("fine running", p.deploymentEvents(fine), hasCount(2)), toPending, toRunning)
	p.waitRunning(fine, "")

	a.waitLog(0, "retrying later", "deployment", string(nope), "failures", "2")
	checkTransitions(t, "nope after a retry", p.waitEvents("nope", p.deploymentEvents(nope), hasCount(2)), evs[0].Transition, evs[1].Transition)
	if c, ok := p.inspect(podman.ContainerName(nope)); ok {
		t.Errorf("nope has a container: %+v", c)
	}
	info := p.waitInfo("device info with both", func(i fleet.DeviceInfo) bool { return len(i.Deployments) == 2 })
	if st := info.Deployments[nope]; st.Phase != fleet.PhaseFailed || string(st.LastError) != last.LastError {
		t.Errorf("DeviceInfo.deployments[%s] = %+v, want failed with %q", nope, st, last.LastError)
	}
	if st := info.Deployments[fine]; st.Phase != fleet.PhaseRunning {
		t.Errorf("DeviceInfo.deployments[%s] = %+v, want running", fine, st)
	}
}

// TestPodmanExitPerPolicy: under restart: never, a container that exits 1
// is failed with the end of its output in last_error, one that exits 0 is
// succeeded.
func TestPodmanExitPerPolicy(t *testing.T) {
	p := newPodmanHarness(t)
	p.start(agentConfig{})
	canary := "harmony-canary-" + p.suffix + ": config missing /etc/app.conf"
	broken, done := p.name("broken"), p.name("done")
	p.put(broken, p.spec(fleet.RestartNever, nil, "sh", "-c", "echo starting; echo "+canary+" >&2; exit 1"))
	p.put(done, p.spec(fleet.RestartNever, nil, "sh", "-c", "echo done; exit 0"))

	// checkEnd checks evs are pending, maybe running (a container that
	// exits at once may be seen exited by the start already), then end.
	checkEnd := func(t *testing.T, name fleet.DeploymentName, evs []storedEvent, end fleet.Phase, lastError string) {
		t.Helper()
		if len(evs) == 2 {
			checkTransitions(t, string(name), evs, toPending, fleet.Applied(fleet.PhasePending, end, lastError))
		} else {
			checkTransitions(t, string(name), evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, end, lastError))
		}
	}
	t.Run("exit 1", func(t *testing.T) {
		p := p.in(t)
		evs := p.waitEvents("broken failed", p.deploymentEvents(broken), lastTo(fleet.PhaseFailed))
		last := evs[len(evs)-1].Transition
		t.Logf("broken: %v", evs)
		if !strings.HasPrefix(last.LastError, "exited with code 1") || !strings.Contains(last.LastError, canary) {
			t.Errorf("last_error = %q, want the exit code and the output tail with %q", last.LastError, canary)
		}
		checkEnd(t, broken, evs, fleet.PhaseFailed, last.LastError)
		if c := p.waitContainer(podman.ContainerName(broken), "exited", func(c container, ok bool) bool { return ok && c.State.Status == "exited" }); c.State.ExitCode != 1 {
			t.Errorf("container exit code = %d, want 1", c.State.ExitCode)
		}
	})
	t.Run("exit 0", func(t *testing.T) {
		p := p.in(t)
		evs := p.waitEvents("done succeeded", p.deploymentEvents(done), lastTo(fleet.PhaseSucceeded))
		checkEnd(t, done, evs, fleet.PhaseSucceeded, "")
	})
	info := p.waitInfo("device info with the final phases", func(i fleet.DeviceInfo) bool {
		return i.Deployments[broken].Phase == fleet.PhaseFailed && i.Deployments[done].Phase == fleet.PhaseSucceeded
	})
	if len(info.Deployments) != 2 {
		t.Errorf("DeviceInfo.deployments = %v, want 2", info.Deployments)
	}
}

// TestPodmanDeleteRemoves: a deleted key removes the container and
// records removed{from: running}.
func TestPodmanDeleteRemoves(t *testing.T) {
	p := newPodmanHarness(t)
	p.start(agentConfig{})
	web := p.name("web")
	p.put(web, p.sleeper(nil))
	p.waitEvents("web running", p.deploymentEvents(web), hasCount(2))
	c := p.waitRunning(web, "")

	p.del(web)
	evs := p.waitEvents("web removed", p.deploymentEvents(web), hasCount(3))
	checkTransitions(t, "web", evs, toPending, toRunning, fleet.Removed(fleet.PhaseRunning))
	if after, ok := p.inspect(c.ID); ok {
		t.Errorf("container %s after delete: %+v, want it gone", c.ID, after.State)
	}
	if got := p.running(); len(got) != 0 {
		t.Errorf("podman ps = %q, want nothing of this device", got)
	}
	info := p.waitInfo("device info without web", func(i fleet.DeviceInfo) bool { return i.Revision.Sequence == 3 })
	if len(info.Deployments) != 0 {
		t.Errorf("DeviceInfo.deployments = %v, want none", info.Deployments)
	}
}

// podmanService is a podman API service of a test's own, on the test
// storage, so that stopping it disturbs no other test.
type podmanService struct {
	t      *testing.T
	socket string
	log    *os.File
	cmd    *exec.Cmd
}

// startPodmanService starts a private podman service on a socket of its
// own; it is stopped at cleanup. It needs the podman CLI straight on the
// test storage (CONTAINERS_CONF, from env.sh).
func startPodmanService(t *testing.T) *podmanService {
	t.Helper()
	if os.Getenv("CONTAINERS_CONF") == "" || os.Getenv("CONTAINERS_STORAGE_CONF") == "" {
		const msg = `CONTAINERS_CONF and CONTAINERS_STORAGE_CONF are not set, and a private podman service needs them: run, as root, eval "$(scripts/podman/env.sh)" (or make test)`
		if os.Getenv("CI") != "" {
			t.Fatal("podman is required in CI: " + msg)
		}
		t.Skip("outside CI, skipped: " + msg)
	}
	// Short: a socket path has a 108-byte limit.
	dir, err := os.MkdirTemp("", "hp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	log, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &podmanService{t: t, socket: filepath.Join(dir, "podman.sock"), log: log}
	t.Cleanup(func() {
		s.stop()
		log.Close()
	})
	s.start()
	return s
}

// start starts the service and waits until it answers.
func (s *podmanService) start() {
	s.t.Helper()
	s.cmd = exec.Command("podman", "system", "service", "--time=0", "unix://"+s.socket)
	// A file, not a buffer: no copying goroutine to wait for.
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start podman system service: %v", err)
	}
	c := podman.NewClient(s.socket)
	defer c.Close()
	var err error
	poll(s.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = c.Ping(ctx)
		return err == nil
	}, func() string { return fmt.Sprintf("podman service on %s to answer (last error %v)", s.socket, err) })
}

// stop stops the service (SIGTERM, SIGKILL after 10s) and waits for it.
// Its containers keep running: conmon holds them, not the service.
func (s *podmanService) stop() {
	if s.cmd == nil {
		return
	}
	cmd := s.cmd
	s.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// TestPodmanSocketDown: while the podman service is down, the agent keeps
// running, a running container keeps running, and a deployment put then is
// failed with an error naming the socket; once the service is back, it
// runs, without restarting the agent, and podman's events are heard
// again.
func TestPodmanSocketDown(t *testing.T) {
	svc := startPodmanService(t)
	p := newPodmanHarness(t)
	a := p.start(agentConfig{PodmanSocket: svc.socket, ResyncInterval: 10 * time.Minute})
	up, late := p.name("up"), p.name("late")
	p.put(up, p.sleeper(nil))
	p.waitEvents("up running", p.deploymentEvents(up), hasCount(2))
	before := p.waitRunning(up, "")

	svc.stop()
	p.put(late, p.sleeper(nil))
	evs := p.waitEvents("late failed", p.deploymentEvents(late), hasCount(1))
	last := evs[0].Transition
	t.Logf("late last_error: %s", last.LastError)
	checkTransitions(t, "late", evs, fleet.Applied("", fleet.PhaseFailed, last.LastError))
	if !strings.Contains(last.LastError, "podman socket "+svc.socket) {
		t.Errorf("late last_error = %q, want it to name the socket %s", last.LastError, svc.socket)
	}
	a.waitLog(0, "retrying later", "deployment", string(late), "failures", "2")
	if _, exited := a.exitedNow(); exited {
		t.Fatal("the agent exited while podman was down; it must keep running")
	}
	if c, ok := p.inspect(podman.ContainerName(up)); !ok || c.ID != before.ID || c.State.Status != "running" {
		t.Errorf("up container while podman's service is down = %+v (exists %v), want %s running", c.State, ok, before.ID)
	}

	svc.start()
	evs = p.waitEvents("late running", p.deploymentEvents(late), lastTo(fleet.PhaseRunning))
	checkTransitions(t, "late", evs, fleet.Applied("", fleet.PhaseFailed, last.LastError), fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, ""))
	p.waitRunning(late, "")
	info := p.waitInfo("device info with both running", func(i fleet.DeviceInfo) bool {
		return i.Deployments[up].Phase == fleet.PhaseRunning && i.Deployments[late].Phase == fleet.PhaseRunning
	})
	if len(info.Deployments) != 2 {
		t.Errorf("DeviceInfo.deployments = %v, want up and late", info.Deployments)
	}
	// up is looked at again only if an event of its start came in as the
	// service went down: then it failed with the socket's error until the
	// service was back. Its container was never touched.
	if evs := p.waitEvents("up running", p.deploymentEvents(up), lastTo(fleet.PhaseRunning)); len(evs) != 2 {
		failed := evs[2].Transition
		if !strings.Contains(failed.LastError, "podman socket "+svc.socket) {
			t.Errorf("up failed with %q, want the socket %s named", failed.LastError, svc.socket)
		}
		checkTransitions(t, "up", evs, toPending, toRunning, fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, failed.LastError),
			fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, ""))
	}
	if c := p.waitRunning(up, ""); c.ID != before.ID || !c.State.StartedAt.Equal(before.State.StartedAt) {
		t.Errorf("up container after the outage = %s started %v, want %s started %v, untouched", c.ID, c.State.StartedAt, before.ID, before.State.StartedAt)
	}
	upEvents := p.waitEvents("up", p.deploymentEvents(up), hasCount(2))

	// The event feed is back: a container killed by hand is put back
	// (failed, then running) with the resync ten minutes away.
	p.primeFeed(a)
	p.podman("kill", podman.ContainerName(up))
	evs = p.waitEvents("up running again", p.deploymentEvents(up), func(evs []storedEvent) bool {
		return len(evs) >= len(upEvents)+2 && evs[len(evs)-1].Transition.To == fleet.PhaseRunning
	})
	checkTransitions(t, "up after the kill", evs[len(upEvents):], fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, evs[len(upEvents)].Transition.LastError),
		fleet.Applied(fleet.PhaseFailed, fleet.PhaseRunning, ""))
	if _, exited := a.exitedNow(); exited {
		t.Fatal("the agent exited; it must keep running")
	}
}
