package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/podman"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
	"github.com/harmony-edge/harmony-agent/internal/systemd"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("run", runHelp, args, stdout, withConfig, withDev)
	if err != nil {
		return err
	}
	cfg, _, err := loadConfig(f)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return usageErrorf("%v", err)
	}
	defer log.Sync() //nolint:errcheck // stderr may not sync
	return daemon(ctx, cfg, log)
}

func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	if c.Format == "console" {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}

// daemon runs the agent until ctx is done.
func daemon(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	notify := systemd.New()
	log = log.With(zap.String("device", string(cfg.DeviceID)))
	log.Info("starting", zap.String("version", version), zap.String("commit", commit))

	// The state directory: a problem is reported, never fatal (section 7).
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		log.Error("state directory unusable; running without persisted state", zap.String("dir", cfg.StateDir), zap.Error(err))
	}
	epoch, err := agent.NewEpoch(cfg.StateDir, time.Now())
	if err != nil {
		log.Error("epoch not persisted; using the time-based epoch", zap.Error(err))
	}
	log = log.With(zap.Uint64("epoch", uint64(epoch)))

	urls := cfg.NATS.URLs
	if cfg.NATS.Embedded {
		srv, err := natsserver.Start(natsserver.Options{
			Port:     natsserver.DefaultPort,
			StoreDir: filepath.Join(cfg.StateDir, "nats"),
			Log:      log.Named("nats-server").WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
		})
		if errors.Is(err, natsserver.ErrNotCompiled) {
			return usageErrorf("--dev / nats.embedded: %v", err)
		}
		if err != nil {
			return fmt.Errorf("embedded nats server: %w", err)
		}
		defer srv.Shutdown()
		urls = []string{srv.ClientURL()}
		log.Info("embedded NATS server running", zap.String("url", srv.ClientURL()))
	}

	runtimes, closeRuntimes := openRuntimes(cfg, log)
	defer closeRuntimes()

	var cache *desired.Cache
	if c, err := desired.OpenCache(filepath.Join(cfg.StateDir, "desired.json")); err != nil {
		log.Error("desired-state cache unusable; an offline boot will wait for NATS", zap.Error(err))
	} else {
		cache = c
	}

	// The watcher needs the connection, and the connection's reconnect
	// handler (a nats.go goroutine, which may run before the watcher
	// exists when a device boots offline) needs the watcher: it finds it
	// through an atomic pointer. A reconnect before the watcher exists
	// needs no restart: the watcher's first watch is yet to come.
	var watcher atomic.Pointer[desired.Watcher]
	nc, err := natsconn.Connect(natsconn.ConnOptions{
		URLs:         urls,
		Name:         "harmony-agent " + string(cfg.DeviceID),
		CredsFile:    cfg.NATS.CredsFile,
		NKeyFile:     cfg.NATS.NKeyFile,
		User:         cfg.NATS.User,
		PasswordFile: cfg.NATS.PasswordFile,
		TokenFile:    cfg.NATS.TokenFile,
		TLSCAFile:    cfg.NATS.TLS.CAFile,
		TLSCertFile:  cfg.NATS.TLS.CertFile,
		TLSKeyFile:   cfg.NATS.TLS.KeyFile,
		OnReconnect: func() {
			if w := watcher.Load(); w != nil {
				w.Restart()
			}
		},
	}, log)
	if err != nil {
		return usageErrorf("nats: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	w := desired.New(js, cfg.DeviceID, log)
	watcher.Store(w)

	var a *agent.Agent
	pub := publisher.New(js, publisher.Config{
		Device:            cfg.DeviceID,
		OutboxCapacity:    cfg.Outbox.Capacity,
		HeartbeatInterval: cfg.HeartbeatInterval,
		Info:              func() fleet.DeviceInfo { return a.Info() },
		Resources:         resources(js, cfg.NATS.CreateResources || cfg.NATS.Embedded),
		Log:               log,
	})
	a, err = agent.New(agent.Config{
		Device:          cfg.DeviceID,
		Labels:          cfg.Labels,
		Epoch:           epoch,
		Version:         version,
		Runtimes:        runtimes,
		Publisher:       pub,
		Cache:           cache,
		Workers:         cfg.Reconcile.Workers,
		ResyncInterval:  cfg.Reconcile.ResyncInterval,
		BackoffInitial:  cfg.Reconcile.BackoffInitial,
		BackoffMax:      cfg.Reconcile.BackoffMax,
		StopTimeout:     cfg.Reconcile.StopTimeout,
		HistoryCapacity: cfg.History.Capacity,
		TickInterval:    tickInterval(notify),
		OnTick:          statusReporter(notify, nc.IsConnected, pub, log),
		Log:             log,
	})
	if err != nil {
		return err
	}

	if err := notify.Ready(); err != nil {
		log.Warn("sd_notify READY", zap.Error(err))
	}
	log.Info("ready", zap.Strings("nats", urls))

	// Each goroutine below is owned here and waited for before returning.
	var wg sync.WaitGroup
	pubCtx, stopPub := context.WithCancel(context.Background())
	wg.Go(func() { _ = pub.Run(pubCtx) })
	watchCtx, stopWatch := context.WithCancel(ctx)
	// updates carries desired-state changes to the agent. Unbuffered: the
	// watcher waits for the agent to take each one, which keeps order.
	updates := make(chan desired.Update)
	wg.Go(func() { _ = w.Run(watchCtx, updates) })

	runErr := a.Run(ctx, updates)

	// Stopping: STOPPING=1, the agent already finished or abandoned its
	// in-flight work within its bound; flush what can be flushed.
	_ = notify.Stopping()
	stopWatch()
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), cfg.Reconcile.StopTimeout)
	if err := pub.Flush(flushCtx); err != nil {
		log.Warn("events left unsent at stop; the next start's DeviceInfo repairs the view", zap.Error(err))
	}
	cancelFlush()
	stopPub()
	wg.Wait()
	log.Info("stopped; workloads left running")
	return runErr
}

// resources is the publisher's Resources: the agent's stream and buckets,
// created when create is set, else waited for; replica counts are the
// operator's business either way.
func resources(js jetstream.JetStream, create bool) func(context.Context) error {
	all := natsconn.AgentResources(natsconn.DefaultResourceSettings())
	return func(ctx context.Context) error {
		return natsconn.Ensure(ctx, js, all, natsconn.EnsureOptions{Create: create, IgnoreReplicas: true})
	}
}

// tickInterval is how often the agent reports health: half the watchdog
// interval when systemd set one.
func tickInterval(n *systemd.Notifier) time.Duration {
	if d, ok := n.WatchdogInterval(); ok {
		return min(d/2, agent.DefaultTickInterval)
	}
	return agent.DefaultTickInterval
}

// statusReporter returns the agent's OnTick: WATCHDOG=1 every tick, and a
// STATUS= line whenever it changes.
func statusReporter(n *systemd.Notifier, connected func() bool, pub *publisher.NATS, log *zap.Logger) func(agent.Summary) {
	last := ""
	return func(s agent.Summary) {
		if err := n.Watchdog(); err != nil {
			log.Debug("sd_notify WATCHDOG", zap.Error(err))
		}
		line := statusLine(connected(), s, pub.Stats())
		if line == last {
			return
		}
		last = line
		if err := n.Status("%s", line); err != nil {
			log.Debug("sd_notify STATUS", zap.Error(err))
		}
	}
}

// statusLine is the STATUS= text: "connected; 3 deployments running" or
// "offline; 12 events queued".
func statusLine(connected bool, s agent.Summary, st publisher.Stats) string {
	state := "connected"
	if !connected {
		state = "offline"
	}
	line := fmt.Sprintf("%s; %d deployments running", state, s.Phases[fleet.PhaseRunning])
	if n := s.Phases[fleet.PhaseFailed]; n > 0 {
		line += fmt.Sprintf(", %d failed", n)
	}
	if n := s.Phases[fleet.PhasePending]; n > 0 {
		line += fmt.Sprintf(", %d pending", n)
	}
	if st.Queued > 0 {
		line += fmt.Sprintf("; %d events queued", st.Queued)
	}
	if st.Dropped > 0 {
		line += fmt.Sprintf("; %d events dropped", st.Dropped)
	}
	return line
}

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
		p, err := process.New(process.Config{StateDir: filepath.Join(cfg.StateDir, "process"), Logf: log.Named("process").Sugar().Infof})
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
