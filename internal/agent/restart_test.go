package agent

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
	"go.uber.org/zap"
)

func TestDecideForceRestart(t *testing.T) {
	spec := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"sleep", "60"}}
	avail := map[fleet.RuntimeKind]bool{fleet.RuntimeProcess: true}
	base := facts{Desired: true, HaveFull: true, Spec: spec, Hash: "h1", Where: fleet.RuntimeProcess, Available: avail, Restart: true}
	running := runtime.Status{State: runtime.StateRunning, SpecHash: "h1", ID: "1"}
	tests := []struct {
		name string
		f    func(facts) facts
		want actionKind
	}{
		{"running: restart", func(f facts) facts { f.Observed = &running; return f }, actForceRestart},
		{"not observed yet: observe first", func(f facts) facts { return f }, actObserve},
		{"missing: a plain start", func(f facts) facts { f.Observed = &runtime.Status{State: runtime.StateMissing}; return f }, actStart},
		{"other spec: a replace", func(f facts) facts { s := running; s.SpecHash = "h0"; f.Observed = &s; return f }, actReplace},
		{"after the restart: settle", func(f facts) facts { f.Observed, f.Started = &running, true; return f }, actReport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.f(base), time.Now()); got.Kind != tt.want {
				t.Errorf("decide = %v, want %v", got.Kind, tt.want)
			}
		})
	}
}

// TestRestart restarts a process deployment through the queue: a new pid,
// and the transitions running -> pending -> running.
func TestRestart(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("no sleep binary: %v", err)
	}
	rt, err := process.New(process.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	defer rt.Close()
	pub := &recorder{}
	a, err := New(Config{
		Device: testDevice, Epoch: testEpoch, Publisher: pub, Log: zap.NewNop(),
		Runtimes: map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimeProcess: rt},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	updates := make(chan desired.Update)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, updates) }()
	defer func() { cancel(); <-done }()

	if err := a.Restart("web"); !errors.Is(err, ErrUnknownDeployment) {
		t.Errorf("Restart(web) before it is desired = %v, want ErrUnknownDeployment", err)
	}
	value := fmt.Sprintf(`{"runtime":"process","command":[%q,"600"],"grace_period_seconds":1}`, sleep)
	updates <- desired.Update{Full: true, Entries: []desired.Entry{{Deployment: "web", Value: []byte(value)}}}
	waitFor(t, "web running", 30*time.Second, func() bool { return len(pub.snapshot()) >= 2 })
	before, err := rt.Observe(ctx, testDevice, "web")
	if err != nil || before.State != runtime.StateRunning {
		t.Fatalf("Observe(web) = %+v, %v, want running", before, err)
	}
	if kind, err := a.RuntimeOf("web"); err != nil || kind != fleet.RuntimeProcess {
		t.Errorf("RuntimeOf(web) = %q, %v, want process", kind, err)
	}

	if err := a.Restart("web"); err != nil {
		t.Fatalf("Restart(web) = %v", err)
	}
	waitFor(t, "web restarted", 30*time.Second, func() bool { return len(pub.snapshot()) >= 4 })
	after, err := rt.Observe(ctx, testDevice, "web")
	if err != nil || after.State != runtime.StateRunning {
		t.Fatalf("Observe(web) after restart = %+v, %v, want running", after, err)
	}
	if after.ID == before.ID {
		t.Errorf("pid after restart = %s, want a new one (was %s)", after.ID, before.ID)
	}
	var phases []fleet.Phase
	for _, e := range pub.snapshot() {
		phases = append(phases, e.Transition.To)
	}
	if want := []fleet.Phase{fleet.PhasePending, fleet.PhaseRunning, fleet.PhasePending, fleet.PhaseRunning}; !slices.Equal(phases, want) {
		t.Errorf("phases = %v, want %v", phases, want)
	}
	checkContiguous(t, pub.snapshot())
}
