package podman

import (
	"fmt"
	"slices"
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// Labels read back from podman are untrusted: anyone with the socket can
// label a container by hand. They are validated here, where they enter;
// past this point a fleet.DeploymentName is valid.

// specHashLen is the length of fleet.SpecHash: hex SHA-256.
const specHashLen = 64

// validSpecHash reports whether s looks like a fleet.SpecHash: 64 lowercase
// hex digits.
func validSpecHash(s string) bool {
	if len(s) != specHashLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// listedDeployment returns the deployment a listed container of device is
// the workload of, or why it is not one the agent can report: a device,
// deployment or spec-hash label that does not parse, or a name that is not
// ContainerName of its deployment.
func listedDeployment(device fleet.DeviceID, c ContainerSummary) (fleet.DeploymentName, error) {
	if got := c.Labels[fleet.LabelDevice]; got != string(device) {
		return "", fmt.Errorf("label %s=%q is not %s", fleet.LabelDevice, got, device)
	}
	name, err := fleet.ParseDeploymentName(c.Labels[fleet.LabelDeployment])
	if err != nil {
		return "", fmt.Errorf("label %s: %w", fleet.LabelDeployment, err)
	}
	if h := c.Labels[fleet.LabelSpecHash]; !validSpecHash(h) {
		return "", fmt.Errorf("label %s=%q is not a spec hash", fleet.LabelSpecHash, h)
	}
	if want := ContainerName(name); !slices.Contains(c.Names, want) && !slices.Contains(c.Names, "/"+want) {
		return "", fmt.Errorf("its name %v is not %s", c.Names, want)
	}
	return name, nil
}

// eventDeployment returns the deployment an event of device's containers
// is about, or why its labels are not a workload's.
func eventDeployment(device fleet.DeviceID, ev Event) (fleet.DeploymentName, error) {
	if got := ev.Attributes[fleet.LabelDevice]; got != string(device) {
		return "", fmt.Errorf("label %s=%q is not %s", fleet.LabelDevice, got, device)
	}
	name, err := fleet.ParseDeploymentName(ev.Attributes[fleet.LabelDeployment])
	if err != nil {
		return "", fmt.Errorf("label %s: %w", fleet.LabelDeployment, err)
	}
	return name, nil
}

// maxWarned bounds the containers whose bad labels are remembered as
// logged; past it the set starts again (a container may be logged twice).
const maxWarned = 1024

// warnOnce logs, once per container id, that a container is ignored.
type warnOnce struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// warn calls logf the first time it is asked about id.
func (w *warnOnce) warn(logf func(string, ...any), id string, format string, args ...any) {
	w.mu.Lock()
	_, dup := w.seen[id]
	if !dup {
		if w.seen == nil || len(w.seen) >= maxWarned {
			w.seen = make(map[string]struct{})
		}
		w.seen[id] = struct{}{}
	}
	w.mu.Unlock()
	if !dup {
		logf(format, args...)
	}
}
