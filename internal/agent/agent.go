package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/reconciler"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"go.uber.org/zap"
)

// Publisher takes every recorded transition, in order, and is told when the
// DeviceInfo snapshot changed. Both calls must not block.
type Publisher interface {
	Publish(fleet.StateChangeEvent)
	InfoChanged()
}

// Defaults for the Config fields left zero.
const (
	DefaultWorkers        = 4
	DefaultResyncInterval = 30 * time.Second
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 5 * time.Minute
	DefaultStopTimeout    = 10 * time.Second
	DefaultHistory        = 256
	// DefaultTickInterval is how often Run calls OnTick.
	DefaultTickInterval = 5 * time.Second
)

// stableRunTime is how long a workload must have run for its failure count
// (and so its restart backoff) to start again from zero.
const stableRunTime = 10 * time.Second

// stallLimit is how long the queue may hold work that no worker finishes
// before the agent calls itself unhealthy (and stops the watchdog).
const stallLimit = 10 * time.Minute

// maxLastError bounds last_error, and logTailBytes how much of a
// workload's output it quotes.
const (
	maxLastError = 1024
	logTailBytes = 512
)

// Config is what New needs.
type Config struct {
	Device  fleet.DeviceID
	Labels  map[string]string
	Epoch   fleet.AgentEpoch
	Version string
	// Runtimes serves each runtime kind a spec may name; a kind missing
	// here makes its deployments fail with a clear error.
	Runtimes  map[fleet.RuntimeKind]runtime.Runtime
	Publisher Publisher
	// Cache, when set, keeps the desired state on disk for an offline
	// boot.
	Cache           *desired.Cache
	Workers         int
	ResyncInterval  time.Duration
	BackoffInitial  time.Duration
	BackoffMax      time.Duration
	StopTimeout     time.Duration
	HistoryCapacity int
	TickInterval    time.Duration
	// OnTick, when set, is called from Run's goroutine every TickInterval
	// while the agent is healthy (the cmd sends WATCHDOG=1 and STATUS=).
	OnTick func(Summary)
	Log    *zap.Logger
}

// Summary is a count of the deployments by phase.
type Summary struct {
	Deployments int
	Phases      map[fleet.Phase]int
}

// Agent converges this device. Create it with New and call Run once.
type Agent struct {
	cfg       Config
	log       *zap.Logger
	hostname  string
	startedAt time.Time
	q         *queue

	mu sync.Mutex
	// rec is the pure state; guarded by mu.
	rec *reconciler.State
	// deps holds every deployment the agent knows of: desired, or found
	// in a runtime; guarded by mu.
	deps map[fleet.DeploymentName]*deployment
	// haveFull reports whether a full desired snapshot came from NATS:
	// until then nothing is removed; guarded by mu.
	haveFull bool
	// stopped is set when Run stops; no retry is scheduled after it.
	stopped bool
	// listErr is the last List error of each runtime ("" none); only
	// Run's goroutine touches it.
	listErr map[fleet.RuntimeKind]string
}

// deployment is the agent's state of one deployment; guarded by Agent.mu.
type deployment struct {
	desired bool   // a desired key asks for it
	raw     []byte // the desired value as received
	spec    fleet.DeploymentSpec
	hash    string
	specErr error
	// where is the runtime its workload was last seen or created in.
	where fleet.RuntimeKind
	// failures counts consecutive failures; it sets the backoff.
	failures int
	// backoffUntil: no new attempt before it; timer queues the next one.
	backoffUntil time.Time
	timer        *time.Timer
	// handledExit identifies the last exit already acted upon.
	handledExit string
}

// New returns an Agent; cfg.Device, cfg.Epoch, cfg.Publisher and cfg.Log
// are required.
func New(cfg Config) (*Agent, error) {
	var errs []error
	if err := cfg.Device.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Epoch == 0 || cfg.Epoch > fleet.MaxEpoch {
		errs = append(errs, fmt.Errorf("agent: epoch %d out of range", cfg.Epoch))
	}
	if cfg.Publisher == nil || cfg.Log == nil {
		errs = append(errs, errors.New("agent: a publisher and a logger are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	setDefault(&cfg.Workers, DefaultWorkers)
	setDefault(&cfg.ResyncInterval, DefaultResyncInterval)
	setDefault(&cfg.BackoffInitial, DefaultBackoffInitial)
	setDefault(&cfg.BackoffMax, DefaultBackoffMax)
	setDefault(&cfg.StopTimeout, DefaultStopTimeout)
	setDefault(&cfg.HistoryCapacity, DefaultHistory)
	setDefault(&cfg.TickInterval, DefaultTickInterval)
	host, _ := os.Hostname()
	return &Agent{
		cfg:       cfg,
		log:       cfg.Log.Named("agent"),
		hostname:  host,
		startedAt: time.Now().UTC(),
		q:         newQueue(time.Now()),
		rec:       reconciler.New(cfg.Epoch, cfg.HistoryCapacity),
		deps:      make(map[fleet.DeploymentName]*deployment),
		listErr:   make(map[fleet.RuntimeKind]string),
	}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Run adopts what the runtimes already run, then converges the device
// toward every Update from updates until ctx is done. It then stops within
// StopTimeout: in-flight work finishes or is abandoned, workloads keep
// running. It returns nil after a stop requested through ctx.
func (a *Agent) Run(ctx context.Context, updates <-chan desired.Update) error {
	// workCtx outlives ctx by up to StopTimeout, so in-flight work can
	// finish; it is cancelled when that bound passes.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for range a.cfg.Workers {
		wg.Go(func() { a.work(workCtx) })
	}
	for kind, rt := range a.cfg.Runtimes {
		wg.Go(func() { a.watchRuntime(ctx, kind, rt) })
	}
	if a.cfg.Cache != nil {
		wg.Go(func() {
			a.cfg.Cache.Run(ctx, func(err error) { a.log.Warn("desired-state cache not saved", zap.Error(err)) })
		})
	}

	if a.cfg.Cache != nil {
		entries, err := a.cfg.Cache.Load()
		if err != nil {
			a.log.Warn("desired-state cache partly unreadable", zap.Error(err))
		}
		if len(entries) > 0 {
			a.log.Info("using cached desired state until NATS answers", zap.Int("deployments", len(entries)))
			a.apply(desired.Update{Entries: entries}, false)
		}
	}
	a.resync(ctx) // adopt what the runtimes run

	resync := time.NewTicker(a.cfg.ResyncInterval)
	defer resync.Stop()
	tick := time.NewTicker(a.cfg.TickInterval)
	defer tick.Stop()
	a.onTick()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case u, ok := <-updates:
			if !ok {
				updates = nil // the watcher stopped; keep converging what we know
				continue
			}
			a.apply(u, true)
		case <-resync.C:
			a.resync(ctx)
		case <-tick.C:
			a.onTick()
		}
	}

	a.log.Info("stopping; workloads keep running", zap.Duration("bound", a.cfg.StopTimeout))
	a.mu.Lock()
	a.stopped = true
	for _, d := range a.deps {
		if d.timer != nil {
			d.timer.Stop()
		}
	}
	a.mu.Unlock()
	a.q.close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(a.cfg.StopTimeout):
		a.log.Warn("in-flight work did not finish in time; abandoning it")
		cancelWork()
		<-done
	}
	return nil
}

func (a *Agent) onTick() {
	if a.cfg.OnTick == nil || a.q.stalled(time.Now(), stallLimit) {
		return
	}
	a.cfg.OnTick(a.Summary())
}

// Summary counts the deployments by phase.
func (a *Agent) Summary() Summary {
	a.mu.Lock()
	snap := a.rec.Snapshot()
	a.mu.Unlock()
	s := Summary{Deployments: len(snap.Deployments), Phases: make(map[fleet.Phase]int)}
	for _, p := range fleet.Phases {
		s.Phases[p] = snap.Count(p)
	}
	return s
}

// Info builds the DeviceInfo snapshot of now (the publisher fills in the
// heartbeat time and the outbox drops).
func (a *Agent) Info() fleet.DeviceInfo {
	a.mu.Lock()
	snap := a.rec.Snapshot()
	a.mu.Unlock()
	return fleet.DeviceInfo{
		DeviceID:     a.cfg.Device,
		AgentEpoch:   a.cfg.Epoch,
		AgentVersion: a.cfg.Version,
		Hostname:     a.hostname,
		OS:           goruntime.GOOS,
		Arch:         goruntime.GOARCH,
		Labels:       a.cfg.Labels,
		StartedAt:    a.startedAt,
		Revision:     snap.Revision,
		Deployments:  snap.Deployments,
	}
}

// Recent returns the last recorded transitions, oldest first.
func (a *Agent) Recent() []reconciler.RecordedTransition {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rec.Recent()
}

// apply takes a desired-state update into deps and queues what changed.
// fromNATS is false for the cached state read at start.
func (a *Agent) apply(u desired.Update, fromNATS bool) {
	if fromNATS && a.cfg.Cache != nil {
		a.cfg.Cache.Apply(u) // no I/O: the cache's own goroutine writes
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[fleet.DeploymentName]bool, len(u.Entries))
	for _, e := range u.Entries {
		seen[e.Deployment] = !e.Deleted
		a.setDesiredLocked(e)
	}
	if u.Full && fromNATS {
		if !a.haveFull {
			a.log.Info("desired state received", zap.Int("deployments", len(u.Entries)))
		}
		a.haveFull = true
		for name, d := range a.deps {
			if !seen[name] {
				d.desired = false
			}
			a.q.add(name) // a full snapshot re-checks everything
		}
	}
}

func (a *Agent) setDesiredLocked(e desired.Entry) {
	d := a.deps[e.Deployment]
	if d == nil {
		d = &deployment{}
		a.deps[e.Deployment] = d
	}
	defer a.q.add(e.Deployment)
	if e.Deleted {
		d.desired = false
		return
	}
	if d.desired && bytes.Equal(d.raw, e.Value) {
		return
	}
	spec, err := fleet.DecodeSpec(e.Value)
	hash := ""
	if err == nil {
		hash = fleet.SpecHash(spec)
		d.spec = spec // an invalid value keeps the last good spec (for its grace period)
	}
	if hash != d.hash || !d.desired {
		a.resetBackoffLocked(d) // a new spec deserves a fresh start
	}
	d.desired, d.raw, d.hash, d.specErr = true, e.Value, hash, err
}

func (a *Agent) resetBackoffLocked(d *deployment) {
	d.failures = 0
	d.backoffUntil = time.Time{}
	d.handledExit = ""
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// resync lists every runtime's workloads (adopting strays into deps) and
// queues every deployment for a fresh look.
func (a *Agent) resync(ctx context.Context) {
	for kind, rt := range a.cfg.Runtimes {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		list, err := rt.List(lctx, a.cfg.Device)
		cancel()
		// A runtime that stays down (no podman on a process-only device)
		// is reported when its error starts or changes, not every resync.
		level := zap.DebugLevel
		if msg := errText(err); msg != a.listErr[kind] {
			level = zap.WarnLevel
			a.listErr[kind] = msg
		}
		if err != nil {
			a.log.Log(level, "list workloads", zap.String("runtime", string(kind)), zap.Error(err))
			continue
		}
		if level == zap.WarnLevel {
			a.log.Info("runtime answers again", zap.String("runtime", string(kind)))
		}
		a.mu.Lock()
		for _, st := range list {
			d := a.deps[st.Deployment]
			if d == nil {
				d = &deployment{}
				a.deps[st.Deployment] = d
			}
			if d.where == "" {
				d.where = kind
			}
		}
		a.mu.Unlock()
	}
	a.mu.Lock()
	for name := range a.deps {
		a.q.add(name)
	}
	a.mu.Unlock()
}

// watchRuntime feeds the runtime's change events into the queue until ctx
// is done, re-opening the feed with a growing pause when it breaks (a
// podman that is down is reported once, not every second).
func (a *Agent) watchRuntime(ctx context.Context, kind fleet.RuntimeKind, rt runtime.Runtime) {
	pause := a.cfg.BackoffInitial
	for {
		start := time.Now()
		err := rt.Watch(ctx, a.cfg.Device, a.q.add)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > a.cfg.ResyncInterval {
			pause = a.cfg.BackoffInitial // it worked for a while
		}
		level := zap.DebugLevel
		if pause == a.cfg.BackoffInitial {
			level = zap.WarnLevel
		}
		a.log.Log(level, "runtime event feed broke; re-opening", zap.String("runtime", string(kind)),
			zap.Duration("in", pause), zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, a.cfg.BackoffMax)
	}
}

func (a *Agent) work(ctx context.Context) {
	for {
		name, ok := a.q.get(time.Now)
		if !ok {
			return
		}
		a.reconcile(ctx, name)
		a.q.done(name, time.Now())
	}
}

// view is a copy of a deployment's state, taken under the lock.
type view struct {
	desired, haveFull bool
	spec              fleet.DeploymentSpec
	hash              string
	specErr           error
	where             fleet.RuntimeKind
	waiting           bool // in backoff
	retrying          bool // the last attempt failed
	handledExit       string
}

func (a *Agent) view(name fleet.DeploymentName) (view, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.deps[name]
	if d == nil {
		return view{}, false
	}
	return view{
		desired: d.desired, haveFull: a.haveFull, spec: d.spec, hash: d.hash, specErr: d.specErr,
		where: d.where, waiting: time.Now().Before(d.backoffUntil), retrying: d.failures > 0,
		handledExit: d.handledExit,
	}, true
}

// reconcile works on one deployment: observe, decide, act, record.
func (a *Agent) reconcile(ctx context.Context, name fleet.DeploymentName) {
	v, ok := a.view(name)
	if !ok {
		return
	}
	log := a.log.With(zap.String("deployment", string(name)))
	switch {
	case !v.desired && v.haveFull:
		a.remove(ctx, name, v, log)
		return
	case !v.desired:
		a.adopt(ctx, name, v)
		return
	case v.specErr != nil:
		a.record(name, fleet.PhaseFailed, v.specErr.Error())
		return
	case v.waiting:
		return // the backoff timer queues the next attempt
	}
	rt := a.cfg.Runtimes[v.spec.Runtime]
	if rt == nil {
		a.record(name, fleet.PhaseFailed, fmt.Sprintf("runtime %s is not available on this device (see runtime.* in the agent config)", v.spec.Runtime))
		return
	}
	if v.where != "" && v.where != v.spec.Runtime {
		if old := a.cfg.Runtimes[v.where]; old != nil {
			if err := a.removeOwn(ctx, old, name, v, log); err != nil {
				a.fail(ctx, name, fmt.Errorf("remove from runtime %s: %w", v.where, err))
				return
			}
		}
	}
	a.setWhere(name, v.spec.Runtime)

	st, err := rt.Observe(ctx, a.cfg.Device, name)
	if err != nil {
		a.fail(ctx, name, err) // the runtime names the operation: "observe web: ..."
		return
	}
	if st.State == runtime.StateMissing || st.State == runtime.StateCreated || st.SpecHash != v.hash {
		if st.State != runtime.StateMissing && st.SpecHash != v.hash {
			log.Info("spec changed; replacing workload", zap.String("old_hash", short(st.SpecHash)), zap.String("new_hash", short(v.hash)))
		}
		st, ok = a.start(ctx, name, rt, v)
		if !ok {
			return
		}
	}
	a.settle(ctx, name, rt, v, st)
}

// start records pending and applies the spec; it reports false after a
// failure (recorded, retry scheduled). A retry after a failure stays
// failed until it succeeds: a deployment failing for hours must not
// flap between failed and pending at every attempt.
func (a *Agent) start(ctx context.Context, name fleet.DeploymentName, rt runtime.Runtime, v view) (runtime.Status, bool) {
	if !v.retrying {
		a.record(name, fleet.PhasePending, "")
	}
	st, err := rt.Apply(ctx, runtime.Workload{Device: a.cfg.Device, Deployment: name, Spec: v.spec, SpecHash: v.hash})
	if err != nil {
		a.fail(ctx, name, err)
		return st, false
	}
	return st, true
}

// settle records what an observed workload's state means, restarting an
// exited one when its policy says so (after its backoff).
func (a *Agent) settle(ctx context.Context, name fleet.DeploymentName, rt runtime.Runtime, v view, st runtime.Status) {
	if st.State == runtime.StateRunning {
		a.record(name, fleet.PhaseRunning, "")
		if !st.StartedAt.IsZero() && time.Since(st.StartedAt) > stableRunTime {
			a.mu.Lock()
			if d := a.deps[name]; d != nil {
				d.failures = 0
			}
			a.mu.Unlock()
		}
		return
	}
	// Exited (or created and never started, after a failed start).
	policy := v.spec.Restart
	restart := policy == fleet.RestartAlways || policy == fleet.RestartOnFailure && st.ExitCode != 0
	exitID := st.ID + "@" + st.FinishedAt.String()
	if restart && v.handledExit == exitID {
		// This exit was reported and its backoff has passed: start again.
		if st, ok := a.start(ctx, name, rt, v); ok {
			a.settle(ctx, name, rt, v, st)
		}
		return
	}
	msg := a.exitMessage(ctx, name, rt, st)
	switch {
	case !restart && st.ExitCode == 0:
		a.record(name, fleet.PhaseSucceeded, "")
	case !restart:
		a.record(name, fleet.PhaseFailed, msg)
	default:
		phase := fleet.PhaseFailed
		if st.ExitCode == 0 {
			phase, msg = fleet.PhasePending, "exited with code 0; restarting (restart: always)"
		}
		a.record(name, phase, msg)
		a.mu.Lock()
		if d := a.deps[name]; d != nil {
			d.handledExit = exitID
			a.backoffLocked(name, d)
		}
		a.mu.Unlock()
	}
}

// exitMessage says how a workload ended, quoting the end of its output.
func (a *Agent) exitMessage(ctx context.Context, name fleet.DeploymentName, rt runtime.Runtime, st runtime.Status) string {
	msg := fmt.Sprintf("exited with code %d", st.ExitCode)
	switch {
	case st.OOMKilled:
		msg += " (killed: out of memory)"
	case st.ExitCode < 0:
		msg = "exited (code unknown: the process was adopted from an earlier agent run)"
	}
	if tail, err := rt.LogTail(ctx, a.cfg.Device, name, logTailBytes); err == nil && tail != "" {
		msg += ": " + tail
	}
	return msg
}

// adopt records the phase of a workload found in a runtime before the
// desired state is known: nothing is started or removed yet.
func (a *Agent) adopt(ctx context.Context, name fleet.DeploymentName, v view) {
	rt := a.cfg.Runtimes[v.where]
	if rt == nil {
		return
	}
	st, err := rt.Observe(ctx, a.cfg.Device, name)
	if err != nil || st.State == runtime.StateMissing {
		return
	}
	switch {
	case st.State == runtime.StateRunning:
		a.record(name, fleet.PhaseRunning, "")
	case st.State == runtime.StateExited && st.ExitCode == 0:
		a.record(name, fleet.PhaseSucceeded, "")
	default:
		a.record(name, fleet.PhaseFailed, a.exitMessage(ctx, name, rt, st))
	}
}

// remove deletes the workload of a deployment no longer desired, then
// records removed. A deployment with no runtime (where is empty) has no
// workload to delete: no runtime listed one and this run never created
// one (its spec was invalid, say). A runtime that could not be listed
// may hold one from an earlier run; the first resync that lists it finds
// it as a stray and removes it, so removal does not wait for that runtime
// to answer.
func (a *Agent) remove(ctx context.Context, name fleet.DeploymentName, v view, log *zap.Logger) {
	if rt := a.cfg.Runtimes[v.where]; rt != nil {
		if err := a.removeOwn(ctx, rt, name, v, log); err != nil {
			a.fail(ctx, name, fmt.Errorf("remove: %w", err))
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.deps[name]
	if d == nil || d.desired {
		return // desired again meanwhile: the queue brings it back
	}
	a.resetBackoffLocked(d)
	delete(a.deps, name)
	if tr, ok := a.rec.RecordRemove(name, time.Now().UTC()); ok {
		a.publishLocked(tr)
	}
}

// removeOwn removes name's workload from rt, the runtime v.where names.
// A workload of that name that is not this agent's (runtime.ErrNotManaged:
// a container made by hand, say) is left alone, and is no error: the
// deployment has nothing in rt to remove, since its workload could only
// have had that name.
func (a *Agent) removeOwn(ctx context.Context, rt runtime.Runtime, name fleet.DeploymentName, v view, log *zap.Logger) error {
	err := rt.Remove(ctx, a.cfg.Device, name, grace(v.spec))
	switch {
	case errors.Is(err, runtime.ErrNotManaged):
		log.Info("workload of that name is not this agent's; left alone", zap.String("runtime", string(v.where)), zap.Error(err))
		return nil
	case err != nil:
		return err
	}
	log.Info("workload removed", zap.String("runtime", string(v.where)))
	return nil
}

func (a *Agent) setWhere(name fleet.DeploymentName, kind fleet.RuntimeKind) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.deps[name]; d != nil {
		d.where = kind
	}
}

// fail records failed with err and schedules a retry after the backoff.
// Cancellation (the agent stopping) is not a failure.
func (a *Agent) fail(ctx context.Context, name fleet.DeploymentName, err error) {
	if ctx.Err() != nil {
		return
	}
	a.record(name, fleet.PhaseFailed, err.Error())
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.deps[name]; d != nil {
		a.backoffLocked(name, d)
	}
}

// backoffLocked counts a failure and queues the next attempt after an
// exponential, capped, jittered delay.
func (a *Agent) backoffLocked(name fleet.DeploymentName, d *deployment) {
	d.failures++
	delay := a.cfg.BackoffInitial << min(d.failures-1, 30)
	if delay <= 0 || delay > a.cfg.BackoffMax {
		delay = a.cfg.BackoffMax
	}
	delay += rand.N(delay/10 + 1) // jitter: a fleet must not retry in step
	d.backoffUntil = time.Now().Add(delay)
	if d.timer != nil {
		d.timer.Stop()
	}
	if a.stopped {
		return
	}
	d.timer = time.AfterFunc(delay, func() { a.q.add(name) })
	a.log.Info("retrying later", zap.String("deployment", string(name)), zap.Int("failures", d.failures), zap.Duration("in", delay))
}

// record records a phase and publishes the transition if it is one.
func (a *Agent) record(name fleet.DeploymentName, phase fleet.Phase, lastError string) {
	if len(lastError) > maxLastError {
		lastError = lastError[:maxLastError-3] + "..."
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	tr, ok := a.rec.RecordApply(name, phase, lastError, time.Now().UTC())
	if !ok {
		a.log.Debug("no change", zap.String("deployment", string(name)), zap.String("phase", string(phase)))
		return
	}
	a.publishLocked(tr)
}

// publishLocked hands tr to the publisher while a.mu is held, so events
// leave in sequence order.
func (a *Agent) publishLocked(tr reconciler.RecordedTransition) {
	fields := []zap.Field{
		zap.String("deployment", string(tr.Deployment)),
		zap.Uint64("seq", tr.Revision.Sequence),
		zap.String("kind", string(tr.Transition.Kind)),
		zap.String("from", string(tr.Transition.From)),
		zap.String("phase", string(tr.Transition.To)),
	}
	if tr.Transition.LastError != "" {
		fields = append(fields, zap.String("error", tr.Transition.LastError))
	}
	a.log.Info("transition", fields...)
	a.cfg.Publisher.Publish(tr.Event(a.cfg.Device))
	a.cfg.Publisher.InfoChanged()
}

func grace(s fleet.DeploymentSpec) time.Duration {
	return time.Duration(s.WithDefaults().GracePeriodSeconds) * time.Second
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func short(hash string) string { return hash[:min(len(hash), 12)] }
