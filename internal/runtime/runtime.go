// Package runtime declares what the agent's loop needs from a workload
// runtime (podman containers, supervised processes) and the types the two
// sides exchange. Implementations live in the podman and process
// subpackages; the agent depends only on this package.
//
// It imports the standard library and fleet only.
package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// ErrNotManaged is returned when a workload with the name the agent would use
// exists but does not carry this agent's labels: the agent never touches it.
var ErrNotManaged = errors.New("runtime: workload exists but is not managed by this agent")

// Workload is one deployment as the runtime must run it.
type Workload struct {
	Device     fleet.DeviceID
	Deployment fleet.DeploymentName
	Spec       fleet.DeploymentSpec
	// SpecHash is fleet.SpecHash(Spec); the runtime stores it with the
	// workload (label, pid file) and reports it back in Status.
	SpecHash string
}

// State is the observed state of a workload. It is in-memory only.
type State int

const (
	// StateMissing: no workload of that deployment exists.
	StateMissing State = iota
	// StateCreated: it exists but was never started.
	StateCreated
	// StateRunning: it runs (a paused or SIGSTOPped one counts as running).
	StateRunning
	// StateExited: it ran and stopped; ExitCode says how.
	StateExited
)

// String names every State.
func (s State) String() string {
	switch s {
	case StateMissing:
		return "missing"
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	}
	return "unknown"
}

// Status is what the runtime observed of one workload.
type Status struct {
	Deployment fleet.DeploymentName
	State      State
	// ID is the container id or the process id, as text.
	ID string
	// SpecHash is the hash the workload was created with.
	SpecHash string
	// ExitCode is meaningful when State is StateExited; -1 when unknown
	// (an adopted process that is not our child).
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	OOMKilled  bool
}

// Runtime converges workloads. Every method is safe for concurrent use on
// different deployments; the agent never calls two methods for the same
// deployment at once.
type Runtime interface {
	// Apply makes the workload run with w's spec: it creates and starts it
	// when missing, starts it when it exists with the same spec hash but is
	// not running, and when it exists with another spec hash stops it within
	// grace, removes it, then creates and starts the new one. It returns the
	// status after starting. ErrNotManaged when the name is taken by a
	// workload without this agent's labels.
	Apply(ctx context.Context, w Workload) (Status, error)
	// Observe reports the workload's current status; StateMissing (and no
	// error) when there is none.
	Observe(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName) (Status, error)
	// Remove stops the workload (SIGTERM, then SIGKILL after grace) and
	// deletes it. Removing a missing workload is not an error.
	Remove(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, grace time.Duration) error
	// List reports every workload that carries this device's labels.
	List(ctx context.Context, device fleet.DeviceID) ([]Status, error)
	// LogTail returns up to maxBytes of the end of the workload's output,
	// for last_error. Empty, not an error, when there is none.
	LogTail(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, maxBytes int) (string, error)
	// Watch calls changed with a deployment's name whenever its workload
	// changes state (started, exited, removed), until ctx is done; then it
	// returns ctx.Err(). Callers run it in a goroutine they own; changed
	// must not block. A runtime without an event feed blocks until ctx is
	// done. Any other returned error means the feed broke; the caller may
	// call Watch again after a pause.
	Watch(ctx context.Context, device fleet.DeviceID, changed func(fleet.DeploymentName)) error
}
