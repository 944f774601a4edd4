package agent

import (
	"github.com/harmony-edge/harmony-agent/fleet"
)

// Decoder turns a desired value into the spec to run. A non-nil error
// refuses the value: its text becomes the deployment's last_error
// (ARCHITECTURE 3.6, 3.8, 8.4), the workload already running for it keeps
// running, and nothing else is touched. The daemon's decoder verifies the
// signature (internal/trust) and checks the device policy
// (internal/policy); without one, Config.Decoder defaults to
// fleet.DecodeSpec. Decode is called from Run's goroutine only, without
// Agent.mu held, once per value that changed.
type Decoder interface {
	Decode(name fleet.DeploymentName, value []byte) (fleet.DeploymentSpec, error)
}

// specDecoder decodes bare specs: no signature, no policy.
type specDecoder struct{}

func (specDecoder) Decode(_ fleet.DeploymentName, value []byte) (fleet.DeploymentSpec, error) {
	return fleet.DecodeSpec(value)
}
