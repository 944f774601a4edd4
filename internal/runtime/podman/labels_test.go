package podman

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// TestBadLabelsIgnored: containers labelled by hand as this device's, with
// labels that do not parse, never come out of List or Watch, are logged
// once each, and the runtime goes on with its own workloads.
func TestBadLabelsIgnored(t *testing.T) {
	tr := newTestRuntime(t)
	good, probe := tr.name("good"), tr.name("probe")
	tr.apply(tr.workload(good, tr.sleepSpec()))
	probeSpec := tr.sleepSpec()
	probeSpec.Command = []string{"true"}
	tr.apply(tr.workload(probe, probeSpec))

	hash := fleet.SpecHash(tr.sleepSpec())
	bad := []struct {
		container  string
		deployment string
		hash       string
	}{
		{"bad-dot-" + tr.suffix, "bad.name", hash},
		{"bad-space-" + tr.suffix, "a b", hash},
		{"bad-slash-" + tr.suffix, "x/y", hash},
		// A valid name, but not a workload of this agent's making.
		{"bad-hash-" + tr.suffix, string(tr.name("hash")), "not-a-hash"},
		{"bad-cname-" + tr.suffix, string(tr.name("cname")), hash},
	}
	var ids []string
	for _, b := range bad {
		id, _, err := tr.client.CreateContainer(ctx(t), ContainerSpec{
			Name: b.container, Image: tr.image, Command: []string{"sleep", "3600"}, NetNS: "none",
			Labels: map[string]string{fleet.LabelDevice: string(tr.device), fleet.LabelDeployment: b.deployment, fleet.LabelSpecHash: b.hash},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Buffered so that changed never blocks; this test reads every name.
	changes := make(chan fleet.DeploymentName, 1024)
	done := make(chan error, 1)
	go func() {
		done <- tr.Watch(wctx, tr.device, func(n fleet.DeploymentName) { changes <- n })
	}()
	// waitProbe starts the probe until one of its events arrives, and
	// returns every name seen meanwhile. Podman's stream keeps order, so
	// events of containers started before the probe come before it.
	waitProbe := func() []fleet.DeploymentName {
		t.Helper()
		var seen []fleet.DeploymentName
		deadline := time.After(15 * time.Second)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case n := <-changes:
				seen = append(seen, n)
				if n == probe {
					return seen
				}
			case <-tick.C:
				if err := tr.client.Start(ctx(t), ContainerName(probe)); err != nil {
					t.Fatal(err)
				}
			case err := <-done:
				t.Fatalf("Watch() = %v", err)
			case <-deadline:
				t.Fatal("Watch() reported no event of the probe within 15s")
			}
		}
	}
	waitProbe()

	for _, id := range ids {
		if err := tr.client.Start(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if err := tr.client.Kill(ctx(t), id, "SIGKILL"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range waitProbe() {
		if n != probe {
			t.Errorf("Watch() reported %q, want only the probe's events", n)
		}
	}

	for range 2 {
		list, err := tr.List(ctx(t), tr.device)
		if err != nil {
			t.Fatalf("List() = %v", err)
		}
		var names []fleet.DeploymentName
		for _, st := range list {
			names = append(names, st.Deployment)
		}
		if len(names) != 2 || names[0] != good || names[1] != probe {
			t.Errorf("List() = %v, want [%s %s]", names, good, probe)
		}
	}
	// Logged once each, although listed twice and seen in events.
	tr.mu.Lock()
	var ignored int
	for _, l := range tr.logs {
		if strings.Contains(l, "ignoring") {
			ignored++
		}
	}
	tr.mu.Unlock()
	if ignored != len(bad) {
		t.Errorf("logged %d ignored containers, want %d (once each)", ignored, len(bad))
	}

	// The runtime keeps working: a replace and a removal of its own.
	spec := tr.sleepSpec()
	spec.Command = []string{"sleep", "3601"}
	if st := tr.apply(tr.workload(good, spec)); st.State != runtime.StateRunning || st.SpecHash != fleet.SpecHash(spec) {
		t.Errorf("Apply(changed spec) = %+v, want running with the new hash", st)
	}
	if err := tr.Remove(ctx(t), tr.device, probe, time.Second); err != nil {
		t.Errorf("Remove(%s) = %v", probe, err)
	}
	// The hand-made ones are left as they were.
	for _, id := range ids {
		if _, err := tr.client.Inspect(ctx(t), id); errors.Is(err, ErrNotFound) {
			t.Errorf("hand-made container %s was removed", fleet.ShortHash(id))
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch() after cancel = %v, want context.Canceled", err)
	}
}
