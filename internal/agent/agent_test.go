package agent

import (
	"context"
	"fmt"
	"os/exec"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const (
	testDevice fleet.DeviceID   = "pi-017"
	testEpoch  fleet.AgentEpoch = 1875123456789012
)

// recorder is a Publisher that keeps every event in the order Publish
// was called. Publish yields the processor, so a publisher called outside
// the agent's order would be overtaken.
type recorder struct {
	mu     sync.Mutex
	events []fleet.StateChangeEvent
	infos  int
}

func (r *recorder) Publish(e fleet.StateChangeEvent) {
	goruntime.Gosched()
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) InfoChanged() {
	r.mu.Lock()
	r.infos++
	r.mu.Unlock()
}

func (r *recorder) snapshot() []fleet.StateChangeEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]fleet.StateChangeEvent(nil), r.events...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, timeout, cond, func() string { return what })
}

// checkContiguous fails unless evs carry sequences 1..len(evs) of the
// test epoch, in that order.
func checkContiguous(t *testing.T, evs []fleet.StateChangeEvent) {
	t.Helper()
	for i, e := range evs {
		if want := (fleet.Revision{AgentEpoch: testEpoch, Sequence: uint64(i) + 1}); e.Revision != want {
			t.Fatalf("event %d (%s %s) has revision %v, want %v: the publisher saw events out of sequence order",
				i, e.Deployment, e.Transition.Kind, e.Revision, want)
		}
	}
}

// TestParallelConvergeInOrder converges many process deployments at once
// with many workers (run it with -race), then removes them all, and checks
// that the publisher saw sequences 1..N contiguous and increasing, every
// deployment's own transitions in order, and one InfoChanged per event.
// It also checks the first full snapshot's log line counts live values
// and delete markers apart (issue 10, defect 8).
func TestParallelConvergeInOrder(t *testing.T) {
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
	core, logs := observer.New(zap.InfoLevel)
	a, err := New(Config{
		Device: testDevice, Epoch: testEpoch, Publisher: pub, Log: zap.New(core),
		Runtimes: map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimeProcess: rt},
		Workers:  8,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	updates := make(chan desired.Update)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, updates) }()

	const n = 40
	value := fmt.Sprintf(`{"runtime":"process","command":[%q,"600"],"grace_period_seconds":1}`, sleep)
	var full desired.Update
	full.Full = true
	for i := range n {
		full.Entries = append(full.Entries, desired.Entry{Deployment: name(i), Value: []byte(value)})
	}
	full.Entries = append(full.Entries, desired.Entry{Deployment: "gone-1", Deleted: true}, desired.Entry{Deployment: "gone-2", Deleted: true})
	updates <- full

	waitFor(t, fmt.Sprintf("%d events (pending, running each)", 2*n), 90*time.Second, func() bool { return len(pub.snapshot()) >= 2*n })
	evs := pub.snapshot()
	checkContiguous(t, evs)
	perDeployment := map[fleet.DeploymentName][]fleet.Phase{}
	for _, e := range evs {
		perDeployment[e.Deployment] = append(perDeployment[e.Deployment], e.Transition.To)
	}
	for i := range n {
		if got := perDeployment[name(i)]; len(got) != 2 || got[0] != fleet.PhasePending || got[1] != fleet.PhaseRunning {
			t.Errorf("%s: phases %v, want [pending running]", name(i), got)
		}
	}

	received := logs.FilterMessage("desired state received").All()
	if len(received) != 1 {
		t.Fatalf("%d 'desired state received' lines, want 1", len(received))
	}
	if got := received[0].ContextMap(); got["deployments"] != int64(n) || got["deleted"] != int64(2) {
		t.Errorf("desired state received %v, want deployments %d, deleted 2", got, n)
	}

	var deletes desired.Update
	for i := range n {
		deletes.Entries = append(deletes.Entries, desired.Entry{Deployment: name(i), Deleted: true})
	}
	updates <- deletes
	waitFor(t, fmt.Sprintf("%d events (removed each)", 3*n), 90*time.Second, func() bool { return len(pub.snapshot()) >= 3*n })
	evs = pub.snapshot()
	checkContiguous(t, evs)
	for _, e := range evs[2*n:] {
		if e.Transition.Kind != fleet.KindRemoved {
			t.Errorf("event %v: %s %s, want removed", e.Revision, e.Deployment, e.Transition.Kind)
		}
	}
	list, err := rt.List(ctx, testDevice)
	if err != nil || len(list) != 0 {
		t.Errorf("List after removal = %d workloads, %v; want none", len(list), err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if len(pub.events) != 3*n || pub.infos != len(pub.events) {
		t.Errorf("after Run: %d events, %d InfoChanged; want %d of each", len(pub.events), pub.infos, 3*n)
	}
}

func name(i int) fleet.DeploymentName { return fleet.DeploymentName(fmt.Sprintf("w-%02d", i)) }
