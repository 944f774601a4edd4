package agent

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
	"go.uber.org/zap"
)

// refuser is a Decoder that refuses values containing "refuse-me" with
// that exact reason, and decodes the others as bare specs.
type refuser struct{}

func (refuser) Decode(_ fleet.DeploymentName, value []byte) (fleet.DeploymentSpec, error) {
	if strings.Contains(string(value), "refuse-me") {
		return fleet.DeploymentSpec{}, errors.New("untrusted key AREFUSED")
	}
	return fleet.DecodeSpec(value)
}

// runAgent starts an agent over a real process runtime with dec and
// returns its updates channel, publisher and runtime; Run is stopped at
// cleanup.
func runAgent(t *testing.T, dec Decoder) (chan<- desired.Update, *recorder, *process.Runtime) {
	t.Helper()
	rt, err := process.New(process.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	pub := &recorder{}
	a, err := New(Config{
		Device: testDevice, Epoch: testEpoch, Publisher: pub, Log: zap.NewNop(), Decoder: dec,
		Runtimes:       map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimeProcess: rt},
		BackoffInitial: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	updates := make(chan desired.Update)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, updates) }()
	t.Cleanup(func() {
		cancel()
		<-done
		list, _ := rt.List(context.Background(), testDevice)
		for _, st := range list {
			_ = rt.Remove(context.Background(), testDevice, st.Deployment, time.Second)
		}
		_ = rt.Close()
	})
	return updates, pub, rt
}

// lastOf returns the last event of name, if any.
func lastOf(evs []fleet.StateChangeEvent, name fleet.DeploymentName) (fleet.LifecycleTransition, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Deployment == name {
			return evs[i].Transition, true
		}
	}
	return fleet.LifecycleTransition{}, false
}

// TestRefusedValueKeepsWorkload: a value the Decoder refuses makes the
// deployment failed with the refusal's text; the workload started from
// the previous value keeps running, and the other deployment is not
// touched.
func TestRefusedValueKeepsWorkload(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	updates, pub, rt := runAgent(t, refuser{})
	good := fmt.Sprintf(`{"runtime":"process","command":[%q,"600"],"grace_period_seconds":1}`, sleep)
	updates <- desired.Update{Full: true, Entries: []desired.Entry{
		{Deployment: "web", Value: []byte(good)}, {Deployment: "other", Value: []byte(good)},
	}}
	waitFor(t, "web and other running", 30*time.Second, func() bool {
		w, _ := lastOf(pub.snapshot(), "web")
		o, _ := lastOf(pub.snapshot(), "other")
		return w.To == fleet.PhaseRunning && o.To == fleet.PhaseRunning
	})
	before, err := rt.Observe(context.Background(), testDevice, "web")
	if err != nil || before.State != runtime.StateRunning {
		t.Fatalf("Observe(web) = %+v, %v; want running", before, err)
	}
	n := len(pub.snapshot())

	refused := fmt.Sprintf(`{"runtime":"process","command":[%q,"601"],"env":{"X":"refuse-me"}}`, sleep)
	updates <- desired.Update{Entries: []desired.Entry{{Deployment: "web", Value: []byte(refused)}}}
	waitFor(t, "web failed", 30*time.Second, func() bool {
		tr, _ := lastOf(pub.snapshot(), "web")
		return tr.To == fleet.PhaseFailed
	})
	if tr, _ := lastOf(pub.snapshot(), "web"); tr.LastError != "untrusted key AREFUSED" {
		t.Errorf("web last_error = %q, want the refusal's text exactly", tr.LastError)
	}
	after, err := rt.Observe(context.Background(), testDevice, "web")
	if err != nil || after.State != runtime.StateRunning || after.ID != before.ID || after.SpecHash != before.SpecHash {
		t.Errorf("web after the refusal = %+v, %v; want the same process (%s) still running", after, err, before.ID)
	}
	for _, e := range pub.snapshot()[n:] {
		if e.Deployment != "web" {
			t.Errorf("event for %s after web's refusal: %v", e.Deployment, e.Transition)
		}
	}
}

// TestMaskedLogTail: a workload printing its secret env value and exiting
// 1 is failed with its output quoted, the value replaced by ***.
func TestMaskedLogTail(t *testing.T) {
	updates, pub, _ := runAgent(t, nil)
	const secret = "s3cr3t-Pa55"
	value := fmt.Sprintf(`{"runtime":"process","command":["/bin/sh","-c","echo connecting with $DB_PASSWORD; exit 1"],"env":{"DB_PASSWORD":%q},"restart":"never"}`, secret)
	updates <- desired.Update{Full: true, Entries: []desired.Entry{{Deployment: "db", Value: []byte(value)}}}
	var tr fleet.LifecycleTransition
	waitFor(t, "db failed", 30*time.Second, func() bool {
		tr, _ = lastOf(pub.snapshot(), "db")
		return tr.To == fleet.PhaseFailed
	})
	if strings.Contains(tr.LastError, secret) || !strings.Contains(tr.LastError, "connecting with ***") {
		t.Errorf("last_error = %q, want the output quoted with the password masked", tr.LastError)
	}
}
