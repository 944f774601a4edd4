package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// Nop is a runtime.Runtime that runs nothing: Apply records the workload as
// running at once, Observe and List report what Apply recorded, Remove
// forgets it, and Watch has no events to give. With it, what a benchmark
// measures is the agent's own path: watch, decide, record, publish. It is
// safe for concurrent use.
type Nop struct {
	mu        sync.Mutex
	workloads map[nopKey]runtime.Status // guarded by mu
}

type nopKey struct {
	device fleet.DeviceID
	name   fleet.DeploymentName
}

var _ runtime.Runtime = (*Nop)(nil)

// NewNop returns a Nop that runs no workload yet.
func NewNop() *Nop { return &Nop{workloads: make(map[nopKey]runtime.Status)} }

// Apply implements runtime.Runtime: the workload runs from now on.
func (n *Nop) Apply(_ context.Context, w runtime.Workload) (runtime.Status, error) {
	st := runtime.Status{
		Deployment: w.Deployment,
		State:      runtime.StateRunning,
		ID:         string(w.Deployment),
		SpecHash:   w.SpecHash,
		StartedAt:  time.Now(),
	}
	n.mu.Lock()
	n.workloads[nopKey{w.Device, w.Deployment}] = st
	n.mu.Unlock()
	return st, nil
}

// Observe implements runtime.Runtime.
func (n *Nop) Observe(_ context.Context, device fleet.DeviceID, name fleet.DeploymentName) (runtime.Status, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if st, ok := n.workloads[nopKey{device, name}]; ok {
		return st, nil
	}
	return runtime.Status{Deployment: name, State: runtime.StateMissing}, nil
}

// Remove implements runtime.Runtime.
func (n *Nop) Remove(_ context.Context, device fleet.DeviceID, name fleet.DeploymentName, _ time.Duration) error {
	n.mu.Lock()
	delete(n.workloads, nopKey{device, name})
	n.mu.Unlock()
	return nil
}

// List implements runtime.Runtime, sorted by deployment.
func (n *Nop) List(_ context.Context, device fleet.DeviceID) ([]runtime.Status, error) {
	n.mu.Lock()
	var out []runtime.Status
	for k, st := range n.workloads {
		if k.device == device {
			out = append(out, st)
		}
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b runtime.Status) int { return strings.Compare(string(a.Deployment), string(b.Deployment)) })
	return out, nil
}

// LogTail implements runtime.Runtime: a Nop workload writes nothing.
func (n *Nop) LogTail(context.Context, fleet.DeviceID, fleet.DeploymentName, int) (string, error) {
	return "", nil
}

// Watch implements runtime.Runtime: no workload ever changes by itself, so
// it blocks until ctx is done.
func (n *Nop) Watch(ctx context.Context, _ fleet.DeviceID, _ func(fleet.DeploymentName)) error {
	<-ctx.Done()
	return ctx.Err()
}
