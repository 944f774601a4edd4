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
// DeviceInfo snapshot changed. Both calls must not block; the agent never
// makes two of them at once.
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
	Cache *desired.Cache
	// Decoder turns each desired value into a spec or refuses it; nil
	// decodes bare specs (fleet.DecodeSpec).
	Decoder         Decoder
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
	// Metrics, when set, is told what the agent does, for its own
	// metrics (metrics.listen).
	Metrics Metrics
	Log     *zap.Logger
}

// Metrics counts what the agent does. Its methods are called with the
// agent's lock held: they must be quick and never block.
type Metrics interface {
	// Transition counts a recorded transition into phase to ("removed"
	// for a removal).
	Transition(to string)
	// WorkloadRestart counts a workload started again: reason is
	// "policy" (its restart policy, after an exit) or "requested"
	// (Restart).
	WorkloadRestart(reason string)
}

// nopMetrics counts nothing.
type nopMetrics struct{}

func (nopMetrics) Transition(string)      {}
func (nopMetrics) WorkloadRestart(string) {}

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
	// available reports which runtime kinds cfg.Runtimes serves; it is
	// never written after New.
	available map[fleet.RuntimeKind]bool
	// out performs logging and publishing outside mu, in sequence order.
	out *effects

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
	// restart is set by Restart and taken by the next pass.
	restart bool
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
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	setDefault(&cfg.Workers, DefaultWorkers)
	setDefault(&cfg.ResyncInterval, DefaultResyncInterval)
	setDefault(&cfg.BackoffInitial, DefaultBackoffInitial)
	setDefault(&cfg.BackoffMax, DefaultBackoffMax)
	setDefault(&cfg.StopTimeout, DefaultStopTimeout)
	setDefault(&cfg.HistoryCapacity, DefaultHistory)
	setDefault(&cfg.TickInterval, DefaultTickInterval)
	if cfg.Decoder == nil {
		cfg.Decoder = specDecoder{}
	}
	host, _ := os.Hostname()
	available := make(map[fleet.RuntimeKind]bool, len(cfg.Runtimes))
	for kind, rt := range cfg.Runtimes {
		available[kind] = rt != nil
	}
	log := cfg.Log.Named("agent")
	return &Agent{
		cfg:       cfg,
		log:       log,
		hostname:  host,
		startedAt: time.Now().UTC(),
		q:         newQueue(time.Now()),
		available: available,
		out:       &effects{log: log, pub: cfg.Publisher},
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
	decoded := a.decodeChanged(u.Entries)
	a.mu.Lock()
	seen := make(map[fleet.DeploymentName]bool, len(u.Entries))
	for i, e := range u.Entries {
		seen[e.Deployment] = !e.Deleted
		a.setDesiredLocked(e, decoded[i])
	}
	first := false
	if u.Full && fromNATS {
		first = !a.haveFull
		a.haveFull = true
		for name, d := range a.deps {
			if !seen[name] {
				d.desired = false
			}
			a.q.add(name) // a full snapshot re-checks everything
		}
	}
	a.mu.Unlock()
	if first {
		// A full snapshot carries the delete markers of removed keys too:
		// deployments counts the live values only.
		live, deleted := countEntries(u.Entries)
		a.log.Info("desired state received", zap.Int("deployments", live), zap.Int("deleted", deleted))
	}
}

// countEntries counts the live values and the delete markers in entries.
func countEntries(entries []desired.Entry) (live, deleted int) {
	for _, e := range entries {
		if e.Deleted {
			deleted++
		} else {
			live++
		}
	}
	return live, deleted
}

// decodeResult is what the Decoder made of one entry's value; nil for an
// entry that needs no decoding (a delete, or the value already held).
type decodeResult struct {
	spec fleet.DeploymentSpec
	err  error
}

// decodeChanged decodes the values of entries that differ from the ones
// held, without Agent.mu: verifying a signature and remembering its
// generation (a file write) must not hold up the workers. Only Run's
// goroutine changes the held values, so what it reads here is still true
// when setDesiredLocked runs.
func (a *Agent) decodeChanged(entries []desired.Entry) []*decodeResult {
	out := make([]*decodeResult, len(entries))
	a.mu.Lock()
	for i, e := range entries {
		if d := a.deps[e.Deployment]; !e.Deleted && (d == nil || !d.desired || !bytes.Equal(d.raw, e.Value)) {
			out[i] = &decodeResult{}
		}
	}
	a.mu.Unlock()
	for i, e := range entries {
		if out[i] != nil {
			out[i].spec, out[i].err = a.cfg.Decoder.Decode(e.Deployment, e.Value)
		}
	}
	return out
}

// setDesiredLocked takes entry e; dec is what decodeChanged made of its
// value (nil: unchanged or deleted).
func (a *Agent) setDesiredLocked(e desired.Entry, dec *decodeResult) {
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
	if dec == nil {
		if d.desired && bytes.Equal(d.raw, e.Value) {
			return // unchanged
		}
		// An update naming a deployment twice, its second value being
		// the one held before it: rare enough to decode under the lock.
		dec = &decodeResult{}
		dec.spec, dec.err = a.cfg.Decoder.Decode(e.Deployment, e.Value)
	}
	spec, err := dec.spec, dec.err
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

// facts copies name's state under the lock for a pass; it reports false
// when the agent no longer knows name.
func (a *Agent) facts(name fleet.DeploymentName) (facts, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.deps[name]
	if d == nil {
		return facts{}, false
	}
	return facts{
		Desired: d.desired, HaveFull: a.haveFull, Spec: d.spec, Hash: d.hash, SpecErr: errText(d.specErr),
		Where: d.where, Available: a.available, Failures: d.failures, BackoffUntil: d.backoffUntil,
		HandledExit: d.handledExit, Restart: d.takeRestart(),
	}, true
}

// maxSteps bounds a pass: decide needs at most four steps (move, observe,
// start, report); more would be a bug in decide, not a reason to spin.
const maxSteps = 8

// reconcile works on one deployment: copy its state under the lock, then
// decide (pure) and act (no lock held) until decide says the pass is over.
func (a *Agent) reconcile(ctx context.Context, name fleet.DeploymentName) {
	f, ok := a.facts(name)
	if !ok {
		return
	}
	log := a.log.With(zap.String("deployment", string(name)))
	for range maxSteps {
		act := decide(f, time.Now())
		err := a.act(ctx, name, &f, act, log)
		switch {
		case err != nil && ctx.Err() != nil:
			return // the agent is stopping: cancellation is not a failure
		case err != nil:
			f.Err = mask(err.Error(), f.Spec.Env) // the next decision reports it
		case act.Kind.final():
			return
		}
	}
	log.Error("reconcile pass did not settle; left for the next one", zap.Int("steps", maxSteps))
}

// act performs one decided step, feeding what it did and saw back into
// f. It returns the error of a failed runtime call.
func (a *Agent) act(ctx context.Context, name fleet.DeploymentName, f *facts, act action, log *zap.Logger) error {
	rt := a.cfg.Runtimes[act.Runtime]
	switch act.Kind {
	case actNone, actWait:
	case actObserve:
		if act.SetWhere {
			a.setWhere(name, act.Runtime)
			f.Where = act.Runtime
		}
		st, err := rt.Observe(ctx, a.cfg.Device, name)
		if err != nil {
			return err // the runtime names the operation: "observe web: ..."
		}
		f.Observed = &st
	case actMove:
		if err := a.removeOwn(ctx, rt, name, f.Spec, act.Runtime, log); err != nil {
			return fmt.Errorf("remove from runtime %s: %w", act.Runtime, err)
		}
		f.Where = ""
	case actStart, actReplace, actRestart:
		if act.Kind == actReplace {
			log.Info("spec changed; replacing workload", zap.String("old_hash", fleet.ShortHash(act.OldHash)), zap.String("new_hash", fleet.ShortHash(f.Hash)))
		}
		if act.Pending {
			a.report(name, action{Phase: fleet.PhasePending}, "", f.Hash)
		}
		if act.Kind == actRestart {
			a.cfg.Metrics.WorkloadRestart("policy")
		}
		st, err := rt.Apply(ctx, runtime.Workload{Device: a.cfg.Device, Deployment: name, Spec: f.Spec, SpecHash: f.Hash})
		if err != nil {
			return err
		}
		f.Observed, f.Started = &st, true
	case actForceRestart:
		a.cfg.Metrics.WorkloadRestart("requested")
		a.report(name, action{Phase: fleet.PhasePending}, "", f.Hash)
		if err := a.removeOwn(ctx, rt, name, f.Spec, act.Runtime, log); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		st, err := rt.Apply(ctx, runtime.Workload{Device: a.cfg.Device, Deployment: name, Spec: f.Spec, SpecHash: f.Hash})
		if err != nil {
			return err
		}
		log.Info("workload restarted on request", zap.String("runtime", string(act.Runtime)), zap.String("id", st.ID))
		f.Observed, f.Started = &st, true
	case actReport, actAdopt:
		msg := act.Error
		if act.QuoteLog && rt != nil {
			if tail, err := rt.LogTail(ctx, a.cfg.Device, name, logTailBytes); err == nil && tail != "" {
				msg += ": " + mask(tail, f.Spec.Env)
			}
		}
		a.report(name, act, msg, f.Hash)
	case actRemove:
		if rt != nil {
			if err := a.removeOwn(ctx, rt, name, f.Spec, act.Runtime, log); err != nil {
				return fmt.Errorf("remove: %w", err)
			}
		}
		a.removed(name)
	}
	return nil
}

// removed forgets name and records removed, unless it became desired
// again meanwhile (the queue brings it back).
func (a *Agent) removed(name fleet.DeploymentName) {
	a.mu.Lock()
	d := a.deps[name]
	if d != nil && !d.desired {
		a.resetBackoffLocked(d)
		delete(a.deps, name)
		if tr, ok := a.rec.RecordRemove(name, time.Now().UTC()); ok {
			a.emitTransitionLocked(tr)
		}
	}
	a.mu.Unlock()
	a.out.flush()
}

// removeOwn removes name's workload from rt, the runtime kind names.
// A workload of that name that is not this agent's (runtime.ErrNotManaged:
// a container made by hand, say) is left alone, and is no error: the
// deployment has nothing in rt to remove, since its workload could only
// have had that name.
func (a *Agent) removeOwn(ctx context.Context, rt runtime.Runtime, name fleet.DeploymentName, spec fleet.DeploymentSpec, kind fleet.RuntimeKind, log *zap.Logger) error {
	err := rt.Remove(ctx, a.cfg.Device, name, spec.GracePeriod())
	switch {
	case errors.Is(err, runtime.ErrNotManaged):
		log.Info("workload of that name is not this agent's; left alone", zap.String("runtime", string(kind)), zap.Error(err))
		return nil
	case err != nil:
		return err
	}
	log.Info("workload removed", zap.String("runtime", string(kind)))
	return nil
}

func (a *Agent) setWhere(name fleet.DeploymentName, kind fleet.RuntimeKind) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.deps[name]; d != nil {
		d.where = kind
	}
}

// report records act.Phase with lastError about the spec of hash specHash
// ("" when the desired value is invalid) and, in the same critical
// section, what act says about the deployment's retries (ResetFailures,
// HandledExit, Retry). The transition, if it is one, is published after
// the lock is released, in sequence order.
func (a *Agent) report(name fleet.DeploymentName, act action, lastError, specHash string) {
	if len(lastError) > maxLastError {
		lastError = lastError[:maxLastError-3] + "..."
	}
	a.mu.Lock()
	tr, changed := a.rec.RecordApply(name, act.Phase, lastError, specHash, time.Now().UTC())
	if changed {
		a.emitTransitionLocked(tr)
	}
	if d := a.deps[name]; d != nil {
		if act.ResetFailures {
			d.failures = 0
		}
		if act.HandledExit != "" {
			d.handledExit = act.HandledExit
		}
		if act.Retry {
			a.backoffLocked(name, d)
		}
	}
	a.mu.Unlock()
	if !changed {
		a.log.Debug("no change", zap.String("deployment", string(name)), zap.String("phase", string(act.Phase)))
	}
	a.out.flush()
}

// backoffLocked counts a failure and queues the next attempt after an
// exponential, capped, jittered delay.
func (a *Agent) backoffLocked(name fleet.DeploymentName, d *deployment) {
	d.failures++
	delay := backoffDelay(d.failures, a.cfg.BackoffInitial, a.cfg.BackoffMax)
	delay += rand.N(delay/10 + 1) // jitter: a fleet must not retry in step
	d.backoffUntil = time.Now().Add(delay)
	if d.timer != nil {
		d.timer.Stop()
	}
	if a.stopped {
		return
	}
	d.timer = time.AfterFunc(delay, func() { a.q.add(name) })
	a.out.emit(effect{level: zap.InfoLevel, msg: "retrying later", fields: []zap.Field{
		zap.String("deployment", string(name)), zap.Int("failures", d.failures), zap.Duration("in", delay),
	}})
}

// emitTransitionLocked queues the log line and the event of tr; a.mu is
// held, so effects are queued in sequence order.
func (a *Agent) emitTransitionLocked(tr reconciler.RecordedTransition) {
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
	to := string(tr.Transition.To)
	if tr.Transition.Kind == fleet.KindRemoved {
		to = "removed"
	}
	a.cfg.Metrics.Transition(to)
	ev := tr.Event(a.cfg.Device)
	a.out.emit(effect{level: zap.InfoLevel, msg: "transition", fields: fields, event: &ev})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
