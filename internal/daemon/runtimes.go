package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/podman"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
)

// openRuntimes opens the process runtime, and the podman runtime when its
// socket is configured, and returns them with a function that closes
// them. Neither failure is fatal (section 7: the agent keeps reconciling):
// a podman that cannot be reached fails its deployments until it answers;
// a process runtime that cannot open its state directory fails its
// deployments with that error (see unusable).
func openRuntimes(cfg config.Config, log *zap.Logger) (map[fleet.RuntimeKind]runtime.Runtime, func()) {
	rts := make(map[fleet.RuntimeKind]runtime.Runtime)
	var closers []func()
	var proc *process.Runtime
	openProc := func() (runtime.Runtime, error) {
		p, err := process.New(process.Config{
			StateDir:    filepath.Join(cfg.StateDir, "process"),
			DefaultUser: cfg.Runtime.Process.DefaultUser,
			Logf:        log.Named("process").Sugar().Infof,
		})
		if err != nil {
			return nil, fmt.Errorf("process runtime unusable (state_dir %s): %w", cfg.StateDir, err)
		}
		proc = p
		return p, nil
	}
	if _, err := openProc(); err != nil {
		log.Error("process deployments fail until the state directory is usable; retrying", zap.Error(err))
		rts[fleet.RuntimeProcess] = &reopening{open: openProc, log: log.Named("process")}
	} else {
		rts[fleet.RuntimeProcess] = proc
	}
	// proc is set by a later successful open too; the agent has stopped
	// using the runtimes when this closer runs.
	closers = append(closers, func() {
		if proc != nil {
			_ = proc.Close()
		}
	})
	if cfg.Runtime.Podman.Socket != "" {
		pm, err := podman.New(podman.Config{
			Socket:  cfg.Runtime.Podman.Socket,
			Network: cfg.Runtime.Podman.Network,
			Init:    cfg.Runtime.Podman.Init,
			Logf:    log.Named("podman").Sugar().Infof,
		})
		if err != nil {
			log.Warn("podman runtime not reachable yet", zap.Error(err))
		}
		if pm != nil {
			rts[fleet.RuntimePodman] = pm
			closers = append(closers, pm.Close) // its idle connections to the socket
		}
	}
	return rts, func() {
		for _, c := range closers {
			c()
		}
	}
}

// reopening stands for a runtime that could not be opened (a state
// directory not writable yet): every call first tries to open it again.
// Until that works each call fails with why, so its deployments are
// failed with that last_error and retried with backoff, while the other
// runtimes' deployments carry on; once it opens, they converge by
// themselves.
type reopening struct {
	open func() (runtime.Runtime, error)
	log  *zap.Logger

	mu sync.Mutex
	rt runtime.Runtime // nil until open succeeds; guarded by mu
}

var _ runtime.Runtime = (*reopening)(nil)

func (r *reopening) get() (runtime.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rt != nil {
		return r.rt, nil
	}
	rt, err := r.open()
	if err != nil {
		return nil, err
	}
	r.log.Info("runtime usable again")
	r.rt = rt
	return rt, nil
}

func (r *reopening) Apply(ctx context.Context, w runtime.Workload) (runtime.Status, error) {
	rt, err := r.get()
	if err != nil {
		return runtime.Status{}, err
	}
	return rt.Apply(ctx, w)
}

func (r *reopening) Observe(ctx context.Context, d fleet.DeviceID, n fleet.DeploymentName) (runtime.Status, error) {
	rt, err := r.get()
	if err != nil {
		return runtime.Status{}, err
	}
	return rt.Observe(ctx, d, n)
}

func (r *reopening) Remove(ctx context.Context, d fleet.DeviceID, n fleet.DeploymentName, grace time.Duration) error {
	rt, err := r.get()
	if err != nil {
		return err
	}
	return rt.Remove(ctx, d, n, grace)
}

func (r *reopening) List(ctx context.Context, d fleet.DeviceID) ([]runtime.Status, error) {
	rt, err := r.get()
	if err != nil {
		return nil, err
	}
	return rt.List(ctx, d)
}

func (r *reopening) LogTail(ctx context.Context, d fleet.DeviceID, n fleet.DeploymentName, max int) (string, error) {
	rt, err := r.get()
	if err != nil {
		return "", nil
	}
	return rt.LogTail(ctx, d, n, max)
}

// Watch returns the open error at once, so the agent tries again after a
// pause, and follows the runtime's feed once it opens.
func (r *reopening) Watch(ctx context.Context, d fleet.DeviceID, changed func(fleet.DeploymentName)) error {
	rt, err := r.get()
	if err != nil {
		return err
	}
	return rt.Watch(ctx, d, changed)
}
