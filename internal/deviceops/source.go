package deviceops

import (
	"context"
	"errors"
	"fmt"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// ErrRuntimeUnavailable is returned when the runtime a deployment names
// does not run on this device.
var ErrRuntimeUnavailable = errors.New("runtime unavailable on this device")

// RuntimeLogs is what a runtime offers to read a workload's output
// (*process.Runtime and *podman.Runtime do).
type RuntimeLogs interface {
	Logs(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, tailLines, maxBytes int) ([]byte, bool, error)
	Follow(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName) (<-chan []byte, error)
}

// Runtimes is a LogSource over the device's runtimes: Locate says which
// runtime a deployment is in ((*agent.Agent).RuntimeOf does).
type Runtimes struct {
	Device fleet.DeviceID
	Locate func(fleet.DeploymentName) (fleet.RuntimeKind, error)
	ByKind map[fleet.RuntimeKind]RuntimeLogs
}

var _ LogSource = Runtimes{}

func (r Runtimes) runtime(name fleet.DeploymentName) (RuntimeLogs, error) {
	kind, err := r.Locate(name)
	if err != nil {
		return nil, err
	}
	rt := r.ByKind[kind]
	if rt == nil {
		return nil, fmt.Errorf("%w: %s", ErrRuntimeUnavailable, kind)
	}
	return rt, nil
}

// Logs implements LogSource.
func (r Runtimes) Logs(ctx context.Context, name fleet.DeploymentName, tailLines, maxBytes int) ([]byte, bool, error) {
	rt, err := r.runtime(name)
	if err != nil {
		return nil, false, err
	}
	return rt.Logs(ctx, r.Device, name, tailLines, maxBytes)
}

// Follow implements LogSource.
func (r Runtimes) Follow(ctx context.Context, name fleet.DeploymentName) (<-chan []byte, error) {
	rt, err := r.runtime(name)
	if err != nil {
		return nil, err
	}
	return rt.Follow(ctx, r.Device, name)
}
