package daemon

import (
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/policy"
	"github.com/harmony-edge/harmony-agent/internal/trust"
)

// Refusal reasons, as Options.Refused receives them (a metrics counter's
// label): one per kind of refusal.
const (
	RefusedUnsigned   = "unsigned"
	RefusedUntrusted  = "untrusted_key"
	RefusedSignature  = "bad_signature"
	RefusedDevice     = "wrong_device"
	RefusedDeployment = "wrong_deployment"
	RefusedReplay     = "older_generation"
	RefusedPolicy     = "policy"
	RefusedStore      = "trust_store_unreadable"
	RefusedInvalid    = "invalid"
)

// decoder is the agent's Decoder: the signature and generation checks of
// ARCHITECTURE 3.8 (internal/trust), then the device policy of 8.4
// (internal/policy). A refusal's text is the deployment's last_error.
type decoder struct {
	device fleet.DeviceID
	// verifier is nil when the generation store could not be read:
	// storeErr says why, and every value is refused.
	verifier *trust.Verifier
	storeErr error
	policy   policy.Policy
	log      *zap.Logger
	// refused, when set, is told the reason of each refusal.
	refused func(reason string)
}

var _ agent.Decoder = (*decoder)(nil)

// newDecoder builds the decoder of cfg. A generation store (trust.StoreFile
// in the state directory) that exists but cannot be read or decoded is
// logged at error and makes the decoder refuse every value until it is
// repaired (or removed) and the agent restarted: starting with no memory
// would let an old signed value be replayed, and refusing leaves the
// workloads running as they are, while crashing would stop the device
// from reporting anything. A missing store is a fresh start.
func newDecoder(cfg config.Config, refused func(reason string), log *zap.Logger) *decoder {
	d := &decoder{
		device:  cfg.DeviceID,
		policy:  devicePolicy(cfg),
		log:     log.Named("trust"),
		refused: refused,
	}
	v, err := trust.New(cfg.Trust.Keys, cfg.StateDir)
	if err != nil {
		d.storeErr = err
		d.log.Error("signed values are refused until the trust store is repaired or removed and the agent restarted",
			zap.Error(err))
		return d
	}
	d.verifier = v
	if v.Signed() {
		d.log.Info("only signed desired values run", zap.Int("trusted_keys", len(cfg.Trust.Keys)))
	} else {
		d.log.Info("trust.keys is empty: bare specs run, and signed values unchecked")
	}
	return d
}

// devicePolicy returns the device policy of cfg (ARCHITECTURE 8.4).
func devicePolicy(cfg config.Config) policy.Policy {
	return policy.Policy{
		DefaultUser:  cfg.Runtime.Process.DefaultUser,
		ProcessUsers: cfg.ProcessUsers(),
		VolumePaths:  cfg.Policy.Podman.VolumePaths,
		PodmanSocket: cfg.Runtime.Podman.Socket,
		Registries:   cfg.Policy.Podman.Registries,
		LowPorts:     cfg.Policy.Podman.LowPorts,
	}
}

// Decode returns the spec value holds for deployment name, or why it is
// refused. A generation accepted but not saved (trust.ErrNotSaved, a full
// disk) is logged at warn and the spec runs.
func (d *decoder) Decode(name fleet.DeploymentName, value []byte) (fleet.DeploymentSpec, error) {
	if d.verifier == nil {
		d.refuse(name, RefusedStore, d.storeErr)
		return fleet.DeploymentSpec{}, fmt.Errorf("value refused: the trust store is unreadable (%w); repair or remove it and restart the agent", d.storeErr)
	}
	spec, err := d.verifier.Check(d.device, name, value)
	switch {
	case errors.Is(err, trust.ErrNotSaved):
		d.log.Warn("signed value accepted; its generation is not saved", zap.String("deployment", string(name)), zap.Error(err))
	case err != nil:
		d.refuse(name, reason(err), err)
		return fleet.DeploymentSpec{}, err
	}
	if err := d.policy.Check(spec); err != nil {
		d.refuse(name, RefusedPolicy, err)
		return fleet.DeploymentSpec{}, err
	}
	return spec, nil
}

// refuse logs a refusal (a value that changed: once per value) and counts it.
func (d *decoder) refuse(name fleet.DeploymentName, why string, err error) {
	level := zap.WarnLevel
	if why == RefusedInvalid {
		level = zap.InfoLevel // a typo, not a security event
	}
	d.log.Log(level, "desired value refused", zap.String("deployment", string(name)), zap.String("reason", why), zap.Error(err))
	if d.refused != nil {
		d.refused(why)
	}
}

// reason names the kind of a refusal of trust.Check.
func reason(err error) string {
	switch {
	case errors.Is(err, trust.ErrUnsigned):
		return RefusedUnsigned
	case errors.Is(err, signed.ErrUntrustedKey):
		return RefusedUntrusted
	case errors.Is(err, signed.ErrBadSignature):
		return RefusedSignature
	case errors.Is(err, signed.ErrWrongDevice):
		return RefusedDevice
	case errors.Is(err, signed.ErrWrongDeployment):
		return RefusedDeployment
	case errors.Is(err, trust.ErrOlder):
		return RefusedReplay
	}
	return RefusedInvalid
}

// secureStateDir creates the state directory 0700 (it holds the
// desired-state cache, with the specs' environment, the generation store
// and the workloads' logs: no workload user may read it) and tightens an
// existing one that is group- or world-accessible. A problem is reported,
// never fatal (section 7).
func secureStateDir(dir string, log *zap.Logger) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Error("state directory unusable; running without persisted state", zap.String("dir", dir), zap.Error(err))
		return
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		log.Warn("state directory is open to others and could not be made private; workloads may read it",
			zap.String("dir", dir), zap.String("mode", fmt.Sprintf("%04o", fi.Mode().Perm())), zap.Error(err))
		return
	}
	log.Info("state directory made private (0700)", zap.String("dir", dir), zap.String("was", fmt.Sprintf("%04o", fi.Mode().Perm())))
}
