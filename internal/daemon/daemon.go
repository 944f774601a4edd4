package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/metrics"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/systemd"
)

// ErrConfig is wrapped by Run's error when the configuration cannot work
// (unusable credential files, --dev on a build without the embedded
// server): the command exits with its usage code.
var ErrConfig = errors.New("daemon: configuration")

// configError keeps the text of err and is also ErrConfig.
type configError struct{ err error }

func (e configError) Error() string   { return e.err.Error() }
func (e configError) Unwrap() []error { return []error{e.err, ErrConfig} }

func configErrorf(format string, args ...any) error {
	return configError{fmt.Errorf(format, args...)}
}

// closeGrace bounds what Run still does after its stop bound: waiting for
// its goroutines and closing the connection.
const closeGrace = 500 * time.Millisecond

// Options is what a caller injects besides the configuration.
type Options struct {
	// Version and Commit identify the build, in logs and DeviceInfo.
	Version, Commit string
	// Runtimes, when set, serves the deployments instead of the runtimes
	// the configuration opens (tests and benchmarks: a runtime that runs
	// nothing). Run does not close them.
	Runtimes map[fleet.RuntimeKind]runtime.Runtime
	// Refused, when set, is called with the reason (Refused* constants)
	// of every desired value refused by the trust check or the policy: a
	// metrics counter's hook. It must not block.
	Refused func(reason string)
}

// Run runs the agent of cfg until ctx is done and returns within
// cfg.Reconcile.StopTimeout (plus about a second) of that, whatever NATS
// or the runtimes do. Stopping never stops the workloads. Problems of the
// host (state directory, runtimes, NATS down) are logged, not returned:
// the agent keeps reconciling. The error wraps ErrConfig when cfg cannot
// work.
func Run(ctx context.Context, cfg config.Config, log *zap.Logger, o Options) error {
	// stopBy is when Run must be done: StopTimeout after ctx ends.
	var stopBy atomic.Pointer[time.Time]
	defer context.AfterFunc(ctx, func() {
		t := time.Now().Add(cfg.Reconcile.StopTimeout)
		stopBy.Store(&t)
	})()
	deadline := func() time.Time {
		if t := stopBy.Load(); t != nil {
			return *t
		}
		return time.Now().Add(cfg.Reconcile.StopTimeout)
	}

	notify := systemd.New()
	log = log.With(zap.String("device", string(cfg.DeviceID)))
	log.Info("starting", zap.String("version", o.Version), zap.String("commit", o.Commit))

	// The state directory: a problem is reported, never fatal (section 7).
	secureStateDir(cfg.StateDir, log)
	epoch := newEpoch(cfg.StateDir, log)
	log = log.With(zap.Uint64("epoch", uint64(epoch)))

	urls := cfg.NATS.URLs
	if cfg.NATS.Embedded {
		srv, err := natsserver.Start(natsserver.Options{
			Port:     natsserver.DefaultPort,
			StoreDir: filepath.Join(cfg.StateDir, "nats"),
			Log:      log.Named("nats-server").WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
		})
		if errors.Is(err, natsserver.ErrNotCompiled) {
			return configErrorf("--dev / nats.embedded: %w", err)
		}
		if err != nil {
			return fmt.Errorf("embedded nats server: %w", err)
		}
		defer srv.Shutdown()
		urls = []string{srv.ClientURL()}
		log.Info("embedded NATS server running", zap.String("url", srv.ClientURL()))
	}

	runtimes := o.Runtimes
	if runtimes == nil {
		rts, closeRuntimes := openRuntimes(cfg, log)
		defer closeRuntimes()
		runtimes = rts
	}

	var cache *desired.Cache
	if c, err := desired.OpenCache(filepath.Join(cfg.StateDir, "desired")); err != nil {
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
		InboxPrefix:  fleet.InboxPrefix(cfg.DeviceID),
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
		return configErrorf("nats: %w", err)
	}
	// Closed without waiting past the stop bound: nats.go's Close flushes.
	defer closeWithin(nc, closeGrace, log)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	w := desired.New(js, cfg.DeviceID, log)
	watcher.Store(w)

	var a *agent.Agent
	mets := newAgentMetrics()
	pub := publisher.New(js, publisher.Config{
		Device:            cfg.DeviceID,
		MsgIDNonce:        fleet.NewMsgIDNonce(), // once per run, published nowhere else
		OutboxCapacity:    cfg.Outbox.Capacity,
		HeartbeatInterval: cfg.HeartbeatInterval,
		Info:              func() fleet.DeviceInfo { return a.Info() },
		Host:              newHostSampler(cfg.StateDir, runtimes).Sample,
		OnPublished:       mets.latency.ObserveDuration,
		Resources:         resources(js, cfg.NATS.CreateResources || cfg.NATS.Embedded),
		Log:               log,
	})
	a, err = agent.New(agent.Config{
		Device:          cfg.DeviceID,
		Labels:          cfg.Labels,
		Epoch:           epoch,
		Version:         o.Version,
		Runtimes:        runtimes,
		Publisher:       pub,
		Cache:           cache,
		Decoder:         newDecoder(cfg, mets.refusedHook(o.Refused), log),
		Workers:         cfg.Reconcile.Workers,
		ResyncInterval:  cfg.Reconcile.ResyncInterval,
		BackoffInitial:  cfg.Reconcile.BackoffInitial,
		BackoffMax:      cfg.Reconcile.BackoffMax,
		StopTimeout:     cfg.Reconcile.StopTimeout,
		HistoryCapacity: cfg.History.Capacity,
		TickInterval:    tickInterval(notify),
		OnTick:          statusReporter(notify, nc.IsConnected, pub, log),
		Metrics:         mets,
		Log:             log,
	})
	if err != nil {
		return err
	}

	ops := startDeviceOps(nc, cfg.DeviceID, o.Version, epoch, a, runtimes, log)
	defer stopDeviceOps(ops)
	mets.observe(a, pub, nc)
	if addr, _ := cfg.Metrics.ListenAddr(); addr != "" { // validated by config
		if srv, err := metrics.Listen(addr, mets.reg); err != nil {
			log.Error("metrics listener unavailable; running without it", zap.Error(err))
		} else {
			log.Info("serving metrics", zap.String("url", "http://"+srv.Addr()+"/metrics"))
			defer srv.Close()
		}
	}

	if err := notify.Ready(); err != nil {
		log.Warn("sd_notify READY", zap.Error(err))
	}
	log.Info("ready", zap.String("nats", natsconn.RedactURLs(urls)))

	// Each goroutine below is owned here and waited for before returning
	// (within the stop bound; see waitWithin).
	var wg sync.WaitGroup
	pubCtx, stopPub := context.WithCancel(context.Background())
	wg.Go(func() { _ = pub.Run(pubCtx) })
	watchCtx, stopWatch := context.WithCancel(ctx)
	// updates carries desired-state changes to the agent. Unbuffered: the
	// watcher waits for the agent to take each one, which keeps order.
	updates := make(chan desired.Update)
	wg.Go(func() { _ = w.Run(watchCtx, updates) })

	runErr := a.Run(ctx, updates)

	// Stopping: STOPPING=1; the agent already finished or abandoned its
	// in-flight work within its bound. The publisher's loop stops first
	// (its in-flight publish is abandoned, so the flush need not wait for
	// it), then what can be flushed is, on a fresh context ending at the
	// stop bound.
	_ = notify.Stopping()
	stopWatch()
	stopPub()
	flushCtx, cancelFlush := context.WithDeadline(context.Background(), deadline())
	if err := pub.Flush(flushCtx); err != nil {
		log.Warn("events left unsent at stop; the next start's DeviceInfo repairs the view", zap.Error(err))
	}
	cancelFlush()
	if !waitWithin(&wg, time.Until(deadline())+closeGrace) {
		log.Warn("stopping without waiting any longer for the watcher or the publisher")
	}
	log.Info("stopped; workloads left running")
	return runErr
}

// newEpoch returns this run's epoch and logs what went wrong, if anything,
// as it happened: the saved epoch unreadable (the time-based epoch is used
// and saved), or the new one not saved.
func newEpoch(stateDir string, log *zap.Logger) fleet.AgentEpoch {
	epoch, err := agent.NewEpoch(stateDir, time.Now())
	unreadable, notSaved := errors.Is(err, agent.ErrEpochUnreadable), errors.Is(err, agent.ErrEpochNotSaved)
	switch {
	case err == nil:
	case unreadable && notSaved:
		log.Error("epoch neither loaded nor saved; using the time-based epoch", zap.Error(err))
	case notSaved:
		log.Error("epoch not saved; the next run falls back to the time-based epoch", zap.Error(err))
	case unreadable:
		log.Warn("saved epoch unreadable; using the time-based epoch (saved for the next run)", zap.Error(err))
	default:
		log.Error("epoch", zap.Error(err))
	}
	return epoch
}

// resources is the publisher's Resources: the agent's stream and buckets,
// created when create is set, else waited for; replica counts are the
// operator's business either way. Without create only the buckets are
// looked up: a device's own user may not look up the events stream
// (ARCHITECTURE 8.1: its info would name every device's subjects), and a
// missing stream shows as its publishes failing, retried.
func resources(js jetstream.JetStream, create bool) func(context.Context) error {
	all := natsconn.AgentResources(natsconn.DefaultResourceSettings())
	if !create {
		all = slices.DeleteFunc(all, func(r natsconn.Resource) bool { return r.Bucket == nil })
	}
	return func(ctx context.Context) error {
		return natsconn.Ensure(ctx, js, all, natsconn.EnsureOptions{Create: create, IgnoreReplicas: true})
	}
}

// waitWithin waits for wg at most d and reports whether it finished.
func waitWithin(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { // ends with wg; the process ends soon after anyway
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// closeWithin closes nc, waiting at most d for nats.go to finish.
func closeWithin(nc *nats.Conn, d time.Duration, log *zap.Logger) {
	done := make(chan struct{})
	go func() { // ends when Close does
		nc.Close()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		log.Warn("NATS connection still closing; not waiting for it")
	}
}
