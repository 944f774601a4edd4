//go:build embednats

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// A count is taken as settled once status reads agree on it for
// stableFor (longer than a heartbeat and a resync of the agents' short
// intervals) and at least stableReads times in a row.
const (
	stableFor   = 3 * time.Second
	stableReads = 4
)

// defaultTestImage is the image scripts/podman/env.sh imports.
const defaultTestImage = "localhost/harmony-test/busybox:latest"

// TestFleet drives a nats-server, three process agents and a podman agent,
// all real processes, through harmony-fleet alone: issue 5's scenario.
func TestFleet(t *testing.T) {
	podmanSocket := os.Getenv("HARMONY_PODMAN_SOCKET")
	image := os.Getenv("HARMONY_TEST_IMAGE")
	if image == "" {
		image = defaultTestImage
	}
	switch {
	case podmanSocket != "":
	case os.Getenv("CI") != "":
		t.Fatal(`podman is required in CI: HARMONY_PODMAN_SOCKET is unset; run through make test, or eval "$(scripts/podman/env.sh /tmp/harmony-podman)" first`)
	default:
		t.Log(`HARMONY_PODMAN_SOCKET is unset: skipping the podman agent (e2e-pod) and its checks; eval "$(scripts/podman/env.sh /tmp/harmony-podman)" (or make test) to include them`)
	}
	begin := time.Now()
	step := func(what string) { t.Logf("---- %6.1fs %s", time.Since(begin).Seconds(), what) }

	e := newFleetEnv(t)
	step("start nats-server and the agents")
	e.startServer()
	t.Logf("nats-server at %s, store %s", e.url, e.storeDir)
	devices := []string{"e2e-a", "e2e-b", "e2e-c"}
	e.addAgent("e2e-a", map[string]string{"role": "web"}, noPodman)
	e.addAgent("e2e-b", map[string]string{"role": "web"}, noPodman)
	e.addAgent("e2e-c", map[string]string{"role": "db"}, noPodman)
	if podmanSocket != "" {
		removeContainers("e2e-pod") // left by an earlier run that was killed
		e.addAgent("e2e-pod", map[string]string{"role": "edge"}, podmanSocket)
		devices = append(devices, "e2e-pod")
	}
	for _, d := range devices {
		e.startAgent(d)
	}

	step("init; every agent reports")
	e.mustFleet("init")
	e.mustFleet("init") // idempotent
	// Selectors match the operator-owned labels of device-registry, not
	// the ones agents report: enrol each device with its labels.
	for _, d := range devices {
		args := []string{"device", "add", d}
		for k, v := range e.confs[d].labels {
			args = append(args, "--label", k+"="+v)
		}
		e.mustFleet(args...)
	}
	e.waitDevices(fmt.Sprintf("devices lists %v", devices), func(d devicesOut) bool {
		return len(d.Devices) == len(devices) && !slices.ContainsFunc(d.Devices, func(dev device) bool {
			return !slices.Contains(devices, dev.ID) || dev.Stale
		})
	})

	step("apply web --selector role=web")
	web := e.writeSpec("web.yaml", "runtime: process\ncommand: [/bin/sleep, \"3600\"]\nrestart: always\n")
	var applied keysOut
	if err := e.fleetJSON(&applied, "apply", "web", "-f", web, "--selector", "role=web"); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "apply web --selector role=web", applied, map[string]string{"e2e-a": "created", "e2e-b": "created"})
	e.waitStatus("web running on 2 devices", func(s statusOut) bool {
		return s.of("web").Counts == counts{Running: 2}
	})
	devs := e.waitDevices("devices shows web running on e2e-a and e2e-b", func(d devicesOut) bool {
		a, _ := d.byID("e2e-a")
		b, _ := d.byID("e2e-b")
		return a.Deployments["web"].Phase == "running" && b.Deployments["web"].Phase == "running"
	})
	if len(devs.Devices) != len(devices) {
		t.Fatalf("devices -o json lists %d devices, want %d (%v): %+v", len(devs.Devices), len(devices), devices, devs)
	}
	for _, id := range devices {
		dev, ok := devs.byID(id)
		if !ok {
			t.Fatalf("devices -o json: no %s in %+v", id, devs)
		}
		if dev.Stale || dev.Age < 0 || dev.Epoch == 0 || len(dev.Labels) == 0 {
			t.Errorf("devices -o json: %s = %+v, want a live heartbeat, an epoch and its labels", id, dev)
		}
	}
	if c, _ := devs.byID("e2e-c"); len(c.Deployments) != 0 {
		t.Errorf("devices -o json: e2e-c (role=db) has deployments %v, want none", c.Deployments)
	}

	step("SIGKILL e2e-a and start it again")
	webA := e.mustPID("e2e-a", "web")
	webB := e.mustPID("e2e-b", "web")
	oldA, _ := devs.byID("e2e-a")
	e.killAgent("e2e-a")
	e.startAgent("e2e-a")
	e.waitDevices("e2e-a back with a larger epoch, web running", func(d devicesOut) bool {
		a, _ := d.byID("e2e-a")
		return a.Epoch > oldA.Epoch && a.Deployments["web"].Phase == "running"
	})
	e.waitStable("web exactly 2 running after the restart of e2e-a", "web", counts{Running: 2})
	if got := e.mustPID("e2e-a", "web"); got != webA {
		t.Errorf("web on e2e-a after the agent's SIGKILL and restart: pid %d (start %d), want %d (start %d): adopted, not restarted", got.PID, got.StartTime, webA.PID, webA.StartTime)
	}

	step("restart nats-server (SIGTERM, same port and store); apply api --device e2e-c")
	e.restartServer()
	api := e.writeSpec("api.json", `{"runtime":"process","command":["/bin/sleep","3601"],"restart":"always"}`)
	if err := e.fleetJSON(&applied, "apply", "api", "-f", api, "--device", "e2e-c"); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "apply api --device e2e-c", applied, map[string]string{"e2e-c": "created"})
	e.waitStatus("api running on e2e-c, web still on 2", func(s statusOut) bool {
		return s.of("api").Counts == counts{Running: 1} && s.of("web").Counts == counts{Running: 2}
	})
	apiC := e.mustPID("e2e-c", "api")
	if got := e.mustPID("e2e-b", "web"); got != webB {
		t.Errorf("web on e2e-b after the server restart: pid %d, want %d unchanged", got.PID, webB.PID)
	}

	step("apply boom (exits 1, restart never) --device e2e-b")
	boom := e.writeSpec("boom.yaml", "runtime: process\ncommand: [/bin/sh, -c, \"echo boom >&2; exit 1\"]\nrestart: never\n")
	e.mustFleet("apply", "boom", "-f", boom, "--device", "e2e-b")
	st := e.waitStatus("boom failed on e2e-b", func(s statusOut) bool {
		return s.of("boom").Counts == counts{Failed: 1} && len(s.of("boom").Failing) == 1
	})
	f := st.of("boom").Failing[0]
	if f.Device != "e2e-b" || !(strings.Contains(f.LastError, "boom") || strings.Contains(f.LastError, "exited with code 1")) {
		t.Errorf("status: boom failing = %+v, want device e2e-b with an error that says boom or exited with code 1", f)
	}

	if podmanSocket != "" {
		step("apply ctr (podman) --device e2e-pod; delete it")
		ctr := e.writeSpec("ctr.yaml", fmt.Sprintf("runtime: podman\nimage: %s\ncommand: [sleep, \"3600\"]\n", image))
		e.mustFleet("apply", "ctr", "-f", ctr, "--device", "e2e-pod")
		e.waitStatus("ctr running on e2e-pod", func(s statusOut) bool {
			return s.of("ctr").Counts == counts{Running: 1}
		})
		if ids, err := podmanContainers("e2e-pod"); err != nil || len(ids) != 1 {
			t.Errorf("podman ps -a --filter label=io.harmony.device=e2e-pod = %v, %v; want one container", ids, err)
		}
		var deleted keysOut
		if err := e.fleetJSON(&deleted, "delete", "ctr", "--device", "e2e-pod"); err != nil {
			t.Fatal(err)
		}
		checkKeys(t, "delete ctr --device e2e-pod", deleted, map[string]string{"e2e-pod": "deleted"})
		e.waitStatus("ctr gone from status", func(s statusOut) bool { return s.of("ctr").Counts.total() == 0 })
		e.poll("the container of ctr removed", func() (bool, string) {
			ids, err := podmanContainers("e2e-pod")
			if err != nil {
				return false, err.Error()
			}
			return len(ids) == 0, fmt.Sprintf("containers %v", ids)
		})
	}

	step("delete web --selector role=web, api, boom")
	var deleted keysOut
	if err := e.fleetJSON(&deleted, "delete", "web", "--selector", "role=web"); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "delete web --selector role=web", deleted, map[string]string{"e2e-a": "deleted", "e2e-b": "deleted"})
	e.mustFleet("delete", "api", "--device", "e2e-c")
	e.mustFleet("delete", "boom", "--device", "e2e-b")
	e.waitStatus("every count back to zero", func(s statusOut) bool {
		for _, d := range s.Deployments {
			if d.Counts.total() != 0 {
				return false
			}
		}
		return true
	})
	for what, r := range map[string]pidRecord{"web on e2e-a": webA, "web on e2e-b": webB, "api on e2e-c": apiC} {
		e.poll(fmt.Sprintf("%s (pid %d) gone", what, r.PID), func() (bool, string) {
			return !alive(r), "still running"
		})
	}
	e.waitDevices("no device reports a deployment", func(d devicesOut) bool {
		return !slices.ContainsFunc(d.Devices, func(dev device) bool { return len(dev.Deployments) > 0 })
	})

	step("events: contiguous sequences per (device, epoch), no duplicate Msg-Id")
	evs := e.events()
	checkEvents(t, evs)
	epochsA := map[uint64]bool{}
	for _, ev := range evs {
		if ev.Device == "e2e-a" {
			epochsA[ev.Revision.Epoch] = true
		}
	}
	if len(epochsA) != 2 {
		t.Errorf("events of e2e-a come from %d epochs, want 2 (before and after its SIGKILL)", len(epochsA))
	}
	for _, want := range []struct{ device, deployment, kind, to string }{
		{"e2e-a", "web", "applied", "running"},
		{"e2e-b", "web", "applied", "running"},
		{"e2e-c", "api", "applied", "running"},
		{"e2e-b", "boom", "applied", "failed"},
		{"e2e-a", "web", "removed", ""},
		{"e2e-b", "web", "removed", ""},
		{"e2e-c", "api", "removed", ""},
		{"e2e-b", "boom", "removed", ""},
	} {
		if !slices.ContainsFunc(evs, func(ev event) bool {
			return ev.Device == want.device && ev.Deployment == want.deployment && ev.Transition.Kind == want.kind && ev.Transition.To == want.to
		}) {
			t.Errorf("events: no %s %s of %s on %s", want.kind, want.to, want.deployment, want.device)
		}
	}
	if t.Failed() {
		for _, ev := range evs {
			t.Logf("event %v", ev)
		}
	}
	step(fmt.Sprintf("done: %d events", len(evs)))
}

// waitStable polls status until deployment name has had want counts for
// stableFor and stableReads reads in a row. A count above want on the way is a double count and
// fails the test at once.
func (e *fleetEnv) waitStable(what, name string, want counts) {
	e.t.Helper()
	var (
		streak int
		since  time.Time // of the first read of the streak
	)
	e.poll(what, func() (bool, string) {
		s, err := e.status()
		if err != nil {
			streak = 0
			return false, err.Error()
		}
		got := s.of(name).Counts
		if got.Running > want.Running || got.total() > want.total() {
			e.t.Fatalf("%s: status counts %+v, over %+v: a device counted twice", what, got, want)
		}
		if got != want {
			streak = 0
			return false, fmt.Sprintf("%+v", got)
		}
		if streak == 0 {
			since = time.Now()
		}
		streak++
		return streak >= stableReads && time.Since(since) >= stableFor, fmt.Sprintf("%+v (%d reads in a row)", got, streak)
	})
}

// checkKeys checks the -o json output of apply or delete: one key per
// device of want, with want's action.
func checkKeys(t *testing.T, what string, got keysOut, want map[string]string) {
	t.Helper()
	actions := map[string]string{}
	for _, k := range got.Keys {
		actions[k.Device] = k.Action
	}
	if len(actions) != len(want) || len(got.Keys) != len(want) {
		t.Fatalf("%s: keys %+v, want one per device of %v", what, got.Keys, want)
	}
	for d, a := range want {
		if actions[d] != a {
			t.Fatalf("%s: keys %+v, want %s %s", what, got.Keys, d, a)
		}
	}
}

// checkEvents checks what every agent published: per (device, epoch) the
// sequences, in stream order, are 1, 2, 3... with no gap, no repeat (a
// repeat is a Msg-Id stored twice) and no reordering.
func checkEvents(t *testing.T, evs []event) {
	t.Helper()
	type run struct {
		device string
		epoch  uint64
	}
	type msgID struct {
		run
		seq uint64
	}
	seen := map[msgID]bool{}
	last := map[run]uint64{}
	for _, ev := range evs {
		r := run{ev.Device, ev.Revision.Epoch}
		id := msgID{r, ev.Revision.Sequence}
		switch {
		case seen[id]:
			t.Errorf("events: Msg-Id %s.%d.%d stored twice (%v)", r.device, r.epoch, id.seq, ev)
		case id.seq != last[r]+1:
			t.Errorf("events: %v follows sequence %d of %s epoch %d, want sequence %d", ev, last[r], r.device, r.epoch, last[r]+1)
		}
		seen[id] = true
		last[r] = max(last[r], id.seq)
	}
	if len(evs) == 0 {
		t.Error("events: none")
	}
}
