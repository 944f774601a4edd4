package podman

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// NamePrefix starts the name of every container the agent creates:
// "harmony-<deployment>".
const NamePrefix = "harmony-"

// DefaultMinFreeDiskBytes is the free space under the image store below
// which Apply refuses to pull.
const DefaultMinFreeDiskBytes = 512 << 20

// DefaultConnectTimeout bounds New's ping.
const DefaultConnectTimeout = 10 * time.Second

// ErrLowDisk is returned by Apply when an image must be pulled and less than
// Config.MinFreeDiskBytes is free under the image store.
var ErrLowDisk = errors.New("podman: not enough free disk to pull")

// ErrWrongRuntime is returned by Apply for a spec whose runtime is not
// podman.
var ErrWrongRuntime = errors.New("podman: spec is not for the podman runtime")

// Config configures a Runtime.
type Config struct {
	// Socket is the libpod API socket; DefaultSocket when empty.
	Socket string
	// Network is the network namespace mode of created containers: "" for
	// podman's default (bridge when rootful, needed for Ports), "none",
	// "host".
	Network string
	// Init runs catatonit as PID 1 in created containers: it forwards the
	// stop signal to the workload and reaps zombies, so a workload that is
	// PID 1-unaware still stops within its grace period.
	Init bool
	// MinFreeDiskBytes is the free space under the image store that a pull
	// needs; 0 means DefaultMinFreeDiskBytes, negative disables the check.
	MinFreeDiskBytes int64
	// ConnectTimeout bounds New's ping; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logf logs what Apply does beyond the obvious: image pulls with their
	// progress, replacements. Nil discards.
	Logf func(format string, args ...any)
}

// Runtime runs each deployment as one podman container. It is safe for
// concurrent use; it keeps no state of its own, podman's labels are the
// record.
type Runtime struct {
	client *Client
	cfg    Config
	// ignored remembers the containers with bad labels already logged.
	ignored warnOnce
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a Runtime for cfg once the API on cfg.Socket answers with a
// libpod API of at least MinAPIMajor.
func New(cfg Config) (*Runtime, error) {
	if cfg.MinFreeDiskBytes == 0 {
		cfg.MinFreeDiskBytes = DefaultMinFreeDiskBytes
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	c := NewClient(cfg.Socket)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout)
	defer cancel()
	err := c.Check(ctx)
	if errors.Is(err, ErrAPIVersion) {
		c.Close()
		return nil, err
	}
	// Podman may come up after the agent (boot order, a restarted
	// socket): the Runtime is usable, its calls fail until podman answers.
	return &Runtime{client: c, cfg: cfg}, err
}

// Close releases the Runtime's idle connections. Containers keep running.
func (r *Runtime) Close() { r.client.Close() }

// ContainerName returns the name of the container of deployment name.
func ContainerName(name fleet.DeploymentName) string { return NamePrefix + string(name) }

// Apply implements runtime.Runtime.
func (r *Runtime) Apply(ctx context.Context, w runtime.Workload) (runtime.Status, error) {
	st, err := r.apply(ctx, w)
	if err != nil {
		return st, fmt.Errorf("apply %s: %w", w.Deployment, err)
	}
	return st, nil
}

func (r *Runtime) apply(ctx context.Context, w runtime.Workload) (runtime.Status, error) {
	// before is the status returned with an error: what exists until the
	// new container does.
	before := runtime.Status{Deployment: w.Deployment, State: runtime.StateMissing}
	if w.Spec.Runtime != "" && w.Spec.Runtime != fleet.RuntimePodman {
		return before, fmt.Errorf("runtime %q: %w", w.Spec.Runtime, ErrWrongRuntime)
	}
	if w.Spec.Image == "" {
		return before, fmt.Errorf("%w: podman needs an image", fleet.ErrInvalidSpec)
	}
	if len(w.Spec.Ports) > 0 && (r.cfg.Network == "none" || r.cfg.Network == "host") {
		return before, fmt.Errorf("%w: ports need a bridge network, and this agent runs containers with network %q", fleet.ErrInvalidSpec, r.cfg.Network)
	}
	name := ContainerName(w.Deployment)
	cur, err := r.client.Inspect(ctx, name)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return before, err
	}
	if exists {
		if err := managed(cur, w.Device, w.Deployment); err != nil {
			return before, err
		}
	}
	if exists && cur.Status == stateRemoving {
		// Someone removes it (podman rm -f): the name is free once
		// podman is done.
		if err := r.waitRemoved(ctx, cur.ID); err != nil {
			return before, err
		}
		exists = false
	}
	if exists {
		st := status(w.Deployment, cur)
		if cur.Labels[fleet.LabelSpecHash] == w.SpecHash {
			if st.State == runtime.StateRunning {
				return st, nil
			}
			if err := r.client.Start(ctx, cur.ID); err != nil {
				return st, err
			}
			return r.observeID(ctx, w.Deployment, cur.ID)
		}
		before = st // until it is replaced, the old one is what there is
	}
	// Pull before stopping the old one: a pull that fails leaves it running.
	if err := r.ensureImage(ctx, w.Spec.Image); err != nil {
		return before, err
	}
	if exists {
		grace := cur.StopTimeout
		if grace <= 0 {
			grace = w.Spec.GracePeriod()
		}
		r.cfg.Logf("replace container %s (spec hash %s -> %s), stopping it within %s",
			name, fleet.ShortHash(cur.Labels[fleet.LabelSpecHash]), fleet.ShortHash(w.SpecHash), grace)
		if err := r.stopRemove(ctx, cur.ID, grace); err != nil {
			return before, err
		}
		before = runtime.Status{Deployment: w.Deployment, State: runtime.StateMissing}
	}
	spec := containerSpec(w, r.cfg)
	id, warnings, err := r.client.CreateContainer(ctx, spec)
	if err != nil {
		return before, err
	}
	for _, warning := range warnings {
		r.cfg.Logf("create container %s: podman warns: %s", spec.Name, warning)
	}
	if err := r.client.Start(ctx, id); err != nil {
		st, _ := r.observeID(ctx, w.Deployment, id)
		return st, err
	}
	return r.observeID(ctx, w.Deployment, id)
}

// containerSpec is the container w runs as.
func containerSpec(w runtime.Workload, cfg Config) ContainerSpec {
	s := ContainerSpec{
		Name:    ContainerName(w.Deployment),
		Image:   w.Spec.Image,
		Command: w.Spec.Command,
		Env:     w.Spec.Env,
		WorkDir: w.Spec.WorkingDir,
		Labels: map[string]string{
			fleet.LabelDevice:     string(w.Device),
			fleet.LabelDeployment: string(w.Deployment),
			fleet.LabelSpecHash:   w.SpecHash,
		},
		StopTimeout: w.Spec.GracePeriod(),
		NetNS:       cfg.Network,
		Init:        cfg.Init,
		// The agent applies the deployment's restart policy itself.
		RestartPolicy: "no",
	}
	for _, p := range w.Spec.Ports {
		s.Ports = append(s.Ports, PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
	}
	for _, v := range w.Spec.Volumes {
		s.Mounts = append(s.Mounts, Mount{Source: v.HostPath, Destination: v.ContainerPath, ReadOnly: v.ReadOnly})
	}
	return s
}

// ensureImage makes image present locally: it pulls it when missing and
// enough disk is free.
func (r *Runtime) ensureImage(ctx context.Context, image string) error {
	ok, err := r.client.ImageExists(ctx, image)
	if err != nil || ok {
		return err
	}
	if r.cfg.MinFreeDiskBytes > 0 {
		free, root, err := r.client.FreeDiskBytes(ctx)
		if err != nil {
			return fmt.Errorf("pull %s: %w", image, err)
		}
		if free < uint64(r.cfg.MinFreeDiskBytes) {
			return fmt.Errorf("pull %s: %w", image, tagged(fmt.Sprintf("only %s free under %s, need %s",
				formatBytes(free), root, formatBytes(uint64(r.cfg.MinFreeDiskBytes))), ErrLowDisk))
		}
	}
	r.cfg.Logf("pull %s: image not present, pulling", image)
	start := time.Now()
	err = r.client.Pull(ctx, image, func(line string) { r.cfg.Logf("pull %s: %s", image, line) })
	if err != nil {
		return err
	}
	r.cfg.Logf("pull %s: done in %s", image, time.Since(start).Round(time.Millisecond))
	return nil
}

// stateRemoving is podman's state of a container being removed: it is
// treated as gone.
const stateRemoving = "removing"

// removalPollInterval is how often waitRemoved inspects the container.
const removalPollInterval = 50 * time.Millisecond

// maxRemovalWait bounds how long waitRemoved waits for a removal podman
// has begun.
const maxRemovalWait = 30 * time.Second

// waitRemoved waits until the container id, which podman is removing, is
// gone.
func (r *Runtime) waitRemoved(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, maxRemovalWait)
	defer cancel()
	t := time.NewTicker(removalPollInterval)
	defer t.Stop()
	for {
		info, err := r.client.Inspect(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("wait for the removal of container %s: %w", fleet.ShortHash(id), ctx.Err())
		case err != nil:
			return err
		case info.Status != stateRemoving:
			// Podman gave up removing it (a failed removal).
			return r.stopRemove(ctx, id, info.StopTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the removal of container %s: %w", fleet.ShortHash(id), ctx.Err())
		case <-t.C:
		}
	}
}

// stopRemove stops the container within grace and removes it; a container
// that is already gone is not an error.
func (r *Runtime) stopRemove(ctx context.Context, id string, grace time.Duration) error {
	if err := r.client.Stop(ctx, id, grace); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := r.client.Remove(ctx, id, true); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Observe implements runtime.Runtime. A container of the deployment's name
// that is not this device's is reported as runtime.ErrNotManaged.
func (r *Runtime) Observe(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName) (runtime.Status, error) {
	info, err := r.client.Inspect(ctx, ContainerName(name))
	switch {
	case errors.Is(err, ErrNotFound):
		return runtime.Status{Deployment: name, State: runtime.StateMissing}, nil
	case err != nil:
		return runtime.Status{}, fmt.Errorf("observe %s: %w", name, err)
	}
	if err := managed(info, device, name); err != nil {
		return runtime.Status{}, fmt.Errorf("observe %s: %w", name, err)
	}
	return status(name, info), nil
}

// observeID reports the container id as deployment name's status.
func (r *Runtime) observeID(ctx context.Context, name fleet.DeploymentName, id string) (runtime.Status, error) {
	info, err := r.client.Inspect(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return runtime.Status{Deployment: name, State: runtime.StateMissing}, nil
	}
	if err != nil {
		return runtime.Status{Deployment: name, ID: id}, err
	}
	return status(name, info), nil
}

// Remove implements runtime.Runtime. It refuses (runtime.ErrNotManaged) a
// container of that name that is not this device's.
func (r *Runtime) Remove(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, grace time.Duration) error {
	info, err := r.client.Inspect(ctx, ContainerName(name))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := managed(info, device, name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if info.Status == stateRemoving {
		if err := r.waitRemoved(ctx, info.ID); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		return nil
	}
	if err := r.stopRemove(ctx, info.ID, grace); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// List implements runtime.Runtime, sorted by deployment. Containers that
// carry the device label but no deployment label are left out, and so are,
// logged once each, those whose labels do not parse (a deployment name
// that is not a fleet.DeploymentName, a spec hash that is not a hash) or
// whose name is not their deployment's container name: hand-made, they
// are not workloads of this agent. Containers being removed are gone.
func (r *Runtime) List(ctx context.Context, device fleet.DeviceID) ([]runtime.Status, error) {
	list, err := r.client.List(ctx, fleet.LabelDevice+"="+string(device))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", device, err)
	}
	out := make([]runtime.Status, 0, len(list))
	for _, c := range list {
		if c.Labels[fleet.LabelDeployment] == "" {
			continue
		}
		name, err := listedDeployment(device, c)
		if err != nil {
			r.ignored.warn(r.cfg.Logf, c.ID, "list %s: ignoring container %s (id %s): %v", device, c.Names, fleet.ShortHash(c.ID), err)
			continue
		}
		info, err := r.client.Inspect(ctx, c.ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", device, err)
		}
		if info.Status == stateRemoving {
			continue
		}
		out = append(out, status(name, info))
	}
	slices.SortFunc(out, func(a, b runtime.Status) int { return strings.Compare(string(a.Deployment), string(b.Deployment)) })
	return out, nil
}

// maxTailLines bounds the lines LogTail asks podman for.
const maxTailLines = 10000

// LogTail implements runtime.Runtime: stdout and stderr interleaved.
func (r *Runtime) LogTail(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, maxBytes int) (string, error) {
	if maxBytes <= 0 {
		return "", nil
	}
	info, err := r.client.Inspect(ctx, ContainerName(name))
	switch {
	case errors.Is(err, ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("log tail %s: %w", name, err)
	}
	if err := managed(info, device, name); err != nil {
		return "", fmt.Errorf("log tail %s: %w", name, err)
	}
	// Every line holds at least one byte, so maxBytes lines hold the
	// last maxBytes bytes.
	b, err := r.client.Logs(ctx, info.ID, min(maxBytes, maxTailLines), maxBytes)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("log tail %s: %w", name, err)
	}
	return string(b), nil
}

// watchedActions are the container events that change a workload's state.
var watchedActions = map[string]bool{
	"create":  true,
	"start":   true,
	"restart": true,
	"died":    true,
	"stop":    true,
	"remove":  true,
}

// Watch implements runtime.Runtime over podman's event stream, filtered on
// the device label.
func (r *Runtime) Watch(ctx context.Context, device fleet.DeviceID, changed func(fleet.DeploymentName)) error {
	filter := EventFilter{Types: []string{"container"}, Labels: []string{fleet.LabelDevice + "=" + string(device)}}
	err := r.client.Events(ctx, filter, func(ev Event) {
		if !watchedActions[ev.Action] || ev.Attributes[fleet.LabelDeployment] == "" {
			return
		}
		name, err := eventDeployment(device, ev)
		if err != nil {
			r.ignored.warn(r.cfg.Logf, ev.ID, "watch %s: ignoring events of container %s (id %s): %v", device, ev.Name, fleet.ShortHash(ev.ID), err)
			return
		}
		changed(name)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("watch %s: %w", device, err)
}

// managed returns runtime.ErrNotManaged, with what to do, unless info is
// the container of device's deployment name.
func managed(info ContainerInfo, device fleet.DeviceID, name fleet.DeploymentName) error {
	gotDevice, hasDevice := info.Labels[fleet.LabelDevice]
	gotName := info.Labels[fleet.LabelDeployment]
	if gotDevice == string(device) && gotName == string(name) {
		return nil
	}
	var why string
	switch {
	case !hasDevice:
		why = "it has no " + fleet.LabelDevice + " label"
	case gotDevice != string(device):
		why = fmt.Sprintf("it belongs to device %q", gotDevice)
	default:
		why = fmt.Sprintf("its %s label is %q", fleet.LabelDeployment, gotName)
	}
	cname := strings.TrimPrefix(info.Name, "/")
	return tagged(fmt.Sprintf("container %s (id %s) is not managed by device %s: %s; "+
		"remove or rename it (podman rm -f %s, or podman rename %s <other-name>) so the agent can run deployment %s",
		cname, fleet.ShortHash(info.ID), device, why, cname, cname, name), runtime.ErrNotManaged)
}

// status converts an inspected container to the Status of deployment name.
// A spec-hash label that is not a hash is reported as none.
func status(name fleet.DeploymentName, info ContainerInfo) runtime.Status {
	hash := info.Labels[fleet.LabelSpecHash]
	if !validSpecHash(hash) {
		hash = ""
	}
	return runtime.Status{
		Deployment: name,
		State:      state(info.Status),
		ID:         info.ID,
		SpecHash:   hash,
		ExitCode:   info.ExitCode,
		StartedAt:  info.StartedAt,
		FinishedAt: info.FinishedAt,
		OOMKilled:  info.OOMKilled,
	}
}

// state maps podman's state names to runtime.State.
func state(s string) runtime.State {
	switch s {
	case "running", "paused", "stopping":
		return runtime.StateRunning
	case "created", "configured", "initialized":
		return runtime.StateCreated
	case stateRemoving:
		// podman rm -f is under way: the container is as good as gone.
		return runtime.StateMissing
	}
	// exited, stopped, unknown.
	return runtime.StateExited
}

// formatBytes renders n in binary units, like "100 MiB".
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 10 || v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTP"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}
