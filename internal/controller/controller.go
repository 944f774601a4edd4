package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// Defaults of Config's zero fields.
const (
	// DefaultDebounce is how long the controller waits after a change for
	// more before planning: a burst of snapshots is planned once.
	DefaultDebounce = 75 * time.Millisecond
	// DefaultTick is how often it plans with no change, for the rules
	// that depend on time (min_ready, health timeout, offline devices).
	DefaultTick = time.Second
	// writeTimeout bounds one write to NATS.
	writeTimeout = 5 * time.Second
	// retryWait is how long a failed watch waits before it starts again.
	retryWait = time.Second
)

// Config is what a Controller needs. JS and Log are required.
type Config struct {
	JS jetstream.JetStream
	// ID names this replica in the lease (default host name and pid).
	ID string
	// Signer signs every desired value; nil writes bare specs (for agents
	// without trust.keys).
	Signer nkeys.KeyPair
	// HeartbeatInterval is the agents' heartbeat interval: a device is
	// offline after rollout.OfflineHeartbeats of them without a snapshot.
	// 0 means fleet.DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// LeaseTTL, RenewEvery and AcquireEvery: 0 means the defaults.
	// LeaseTTL should be the fleet-controller bucket's TTL
	// (natsconn.ControllerLeaseTTL, set when the bucket is created); when
	// the bucket's differs, Run follows the bucket.
	LeaseTTL     time.Duration
	RenewEvery   time.Duration
	AcquireEvery time.Duration
	Debounce     time.Duration
	Tick         time.Duration
	Log          *zap.Logger
}

// Status is what the controller is doing, for STATUS= lines and the API.
type Status struct {
	Leader      bool
	Deployments int
	Devices     int
	Rollouts    map[fleet.RolloutState]int
	LastPlan    time.Time
}

// Controller is one replica of harmony-fleet serve.
type Controller struct {
	cfg   Config
	log   *zap.Logger
	lease *lease

	mu       sync.Mutex
	v        *view
	ready    map[string]bool // the buckets whose initial values are in
	lastPlan time.Time
	stalled  bool // the last step found the view stalled (logged once)

	// changed wakes the planner; size 1: changes coalesce.
	changed chan struct{}

	desired, rollouts jetstream.KeyValue
}

// the watched buckets, each gating the first plan.
var watched = []string{fleet.DeploymentsBucket, fleet.DeviceRegistryBucket, fleet.DeviceInfoBucket, fleet.DesiredStateBucket, fleet.RolloutsBucket}

// New returns a Controller; Run starts it.
func New(cfg Config) (*Controller, error) {
	if cfg.JS == nil || cfg.Log == nil {
		return nil, errors.New("controller: JS and Log are required")
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = fleet.DefaultHeartbeatInterval
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LeaseTTL, DefaultLeaseTTL)
	def(&cfg.RenewEvery, DefaultRenewEvery)
	def(&cfg.AcquireEvery, DefaultAcquireEvery)
	def(&cfg.Debounce, DefaultDebounce)
	def(&cfg.Tick, DefaultTick)
	c := &Controller{
		cfg:     cfg,
		log:     cfg.Log.Named("controller"),
		v:       newView(cfg.HeartbeatInterval),
		ready:   map[string]bool{},
		changed: make(chan struct{}, 1),
	}
	return c, nil
}

// Status returns what the controller is doing now.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{
		Leader:      c.lease != nil && c.lease.held(),
		Deployments: len(c.v.deployments),
		Devices:     len(c.v.registry),
		Rollouts:    map[fleet.RolloutState]int{},
		LastPlan:    c.lastPlan,
	}
	for _, st := range c.v.statuses {
		s.Rollouts[st.State]++
	}
	return s
}

// Run watches, plans and, while it holds the lease, writes, until ctx is
// done. The buckets must exist (natsconn.FleetResources: harmony-fleet
// init or serve create them); a
// watch that fails is started again.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var err error
	if c.desired, err = c.cfg.JS.KeyValue(ctx, fleet.DesiredStateBucket); err != nil {
		return fmt.Errorf("controller: open bucket %s: %w", fleet.DesiredStateBucket, err)
	}
	if c.rollouts, err = c.cfg.JS.KeyValue(ctx, fleet.RolloutsBucket); err != nil {
		return fmt.Errorf("controller: open bucket %s: %w", fleet.RolloutsBucket, err)
	}
	leaseKV, err := c.cfg.JS.KeyValue(ctx, fleet.ControllerBucket)
	if err != nil {
		return fmt.Errorf("controller: open bucket %s: %w", fleet.ControllerBucket, err)
	}
	ttl, renew := c.leaseTimings(ctx, leaseKV)
	l := &lease{kv: leaseKV, id: c.cfg.ID, ttl: ttl, renew: renew, acquire: c.cfg.AcquireEvery,
		log: c.log, onChange: func(bool) { c.poke() }}
	c.mu.Lock()
	c.lease = l
	c.mu.Unlock()

	var wg sync.WaitGroup
	defer wg.Wait()
	for _, b := range watched {
		wg.Go(func() { c.watchBucket(ctx, b) })
	}
	wg.Go(func() { c.watchEvents(ctx) })
	wg.Go(func() { l.run(ctx) })
	c.loop(ctx)
	return nil
}

// leaseTimings returns the lease's TTL and renewal period: the
// configured ones, unless the bucket's TTL differs (a bucket made by a
// release with another ControllerLeaseTTL keeps its TTL: Ensure does not
// change it). Then the lease follows the bucket, renewing at least every
// third of its TTL: a holder counting on a longer TTL than the bucket's
// would write after its key expired.
func (c *Controller) leaseTimings(ctx context.Context, kv jetstream.KeyValue) (ttl, renew time.Duration) {
	ttl, renew = c.cfg.LeaseTTL, c.cfg.RenewEvery
	st, err := kv.Status(ctx)
	if err != nil || st.TTL() <= 0 || st.TTL() == ttl {
		return ttl, renew
	}
	c.log.Warn("the lease bucket's TTL is not the controller's; following the bucket",
		zap.String("bucket", fleet.ControllerBucket), zap.Duration("bucket_ttl", st.TTL()), zap.Duration("lease_ttl", ttl))
	return st.TTL(), min(renew, st.TTL()/3)
}

// poke wakes the planner.
func (c *Controller) poke() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// watchBucket applies every entry of bucket to the view, starting again
// after a failure until ctx is done.
func (c *Controller) watchBucket(ctx context.Context, bucket string) {
	for ctx.Err() == nil {
		if err := c.watchOnce(ctx, bucket); err != nil && ctx.Err() == nil {
			c.log.Warn("watch failed; starting again", zap.String("bucket", bucket), zap.Error(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(retryWait):
		}
	}
}

func (c *Controller) watchOnce(ctx context.Context, bucket string) error {
	kv, err := c.cfg.JS.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", bucket, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch bucket %s: closed", bucket)
			}
			c.mu.Lock()
			changed := true
			if e == nil {
				c.ready[bucket] = true
			} else {
				changed = c.applyLocked(bucket, e)
			}
			c.mu.Unlock()
			if changed {
				c.poke()
			}
		}
	}
}

// applyLocked applies one entry of bucket to the view, and reports whether
// a plan could decide differently for it now: a heartbeat that changes
// nothing but the time does not (the tick plans for the time), so 10,000
// devices' heartbeats do not keep the planner busy. A value that does not
// decode is treated as absent, and logged.
func (c *Controller) applyLocked(bucket string, e jetstream.KeyValueEntry) bool {
	deleted := e.Operation() != jetstream.KeyValuePut
	key := e.Key()
	bad := func(err error) {
		c.log.Warn("value ignored", zap.String("bucket", bucket), zap.String("key", key), zap.Error(err))
	}
	switch bucket {
	case fleet.DeploymentsBucket:
		name, err := fleet.ParseDeploymentName(key)
		if err != nil {
			bad(err)
			return true
		}
		if deleted {
			c.v.setDeployment(name, nil)
			return true
		}
		d, err := fleet.DecodeFleetDeployment(e.Value())
		if err != nil {
			bad(err)
			c.v.setDeployment(name, nil)
			return true
		}
		c.v.setDeployment(name, &d)
	case fleet.DeviceRegistryBucket:
		id, err := fleet.ParseDeviceID(key)
		if err != nil {
			bad(err)
			return true
		}
		var r fleet.DeviceRecord
		if !deleted {
			if err := json.Unmarshal(e.Value(), &r); err != nil {
				bad(err)
				deleted = true
			}
		}
		if deleted {
			c.v.setDevice(id, nil)
			return true
		}
		c.v.setDevice(id, &r)
	case fleet.DeviceInfoBucket:
		id, err := fleet.ParseDeviceID(key)
		if err != nil {
			bad(err)
			return true
		}
		var info fleet.DeviceInfo
		if !deleted {
			if err := json.Unmarshal(e.Value(), &info); err != nil || info.DeviceID != id {
				bad(fmt.Errorf("decode: %v (device_id %q)", err, info.DeviceID))
				return true
			}
		}
		if deleted {
			c.v.setInfo(id, nil)
			return true
		}
		return c.v.setInfo(id, &info)
	case fleet.DesiredStateBucket:
		var value []byte
		if !deleted {
			value = e.Value()
		}
		c.v.setKey(key, value, e.Revision(), e.Created())
	case fleet.RolloutsBucket:
		name, err := fleet.ParseDeploymentName(key)
		if err != nil {
			bad(err)
			return true
		}
		if deleted {
			c.v.setStatus(name, nil, e.Revision())
			return true
		}
		var s fleet.RolloutStatus
		if err := json.Unmarshal(e.Value(), &s); err != nil {
			bad(err)
			return true
		}
		c.v.setStatus(name, &s, e.Revision())
	}
	return true
}

// watchEvents applies the last event of every pair, then the live ones.
func (c *Controller) watchEvents(ctx context.Context) {
	for ctx.Err() == nil {
		if err := c.consumeEvents(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("events consumer failed; starting again", zap.Error(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(retryWait):
		}
	}
}

func (c *Controller) consumeEvents(ctx context.Context) error {
	cons, err := c.cfg.JS.OrderedConsumer(ctx, fleet.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{fleet.EventsSubjects},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return fmt.Errorf("consume %s: %w", fleet.EventsStream, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		e, err := fleet.DecodeEvent(m.Data())
		if err != nil || e.Subject() != m.Subject() {
			c.log.Debug("event ignored", zap.String("subject", m.Subject()), zap.Error(err))
			return
		}
		c.mu.Lock()
		c.v.setEvent(e)
		c.mu.Unlock()
		c.poke()
	})
	if err != nil {
		return fmt.Errorf("consume %s: %w", fleet.EventsStream, err)
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-cc.Closed():
		return fmt.Errorf("consume %s: closed", fleet.EventsStream)
	}
}

// loop plans after each change (debounced) and on every tick.
func (c *Controller) loop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.changed:
			select { // debounce: let a burst of changes land
			case <-ctx.Done():
				return
			case <-time.After(c.cfg.Debounce):
			}
		}
		c.step(ctx)
	}
}

// step plans once and, holding the lease, performs the plan.
func (c *Controller) step(ctx context.Context) {
	if !c.lease.held() {
		return
	}
	c.mu.Lock()
	for _, b := range watched {
		if !c.ready[b] {
			c.mu.Unlock()
			return // a partial view would delete keys of devices not yet read
		}
	}
	now := time.Now()
	if c.v.stalled(now) {
		c.mu.Unlock()
		if !c.stalled {
			c.log.Warn("no device snapshot for two heartbeat intervals: the device-info watch looks stalled; holding writes")
			c.stalled = true
		}
		return
	}
	if c.stalled {
		c.log.Info("device snapshots arriving again; acting")
		c.stalled = false
	}
	in := c.v.input(now)
	stampBare(&in)
	out := rollout.Plan(in)
	c.lastPlan = in.Now
	var changed []fleet.RolloutStatus
	for _, s := range out.Statuses {
		if prev, ok := c.v.statuses[s.Deployment]; !ok || prev != s {
			changed = append(changed, s)
		}
	}
	c.mu.Unlock()

	// Statuses first: a lost write is planned again from the keys, a lost
	// halt is not.
	for _, s := range changed {
		if !c.lease.held() {
			return
		}
		if err := c.writeStatus(ctx, s); err != nil {
			c.log.Warn("write rollout status", zap.String("deployment", string(s.Deployment)), zap.Error(err))
			return
		}
	}
	for _, d := range out.Deletes {
		if !c.lease.held() {
			return
		}
		c.del(ctx, d)
	}
	c.putAll(ctx, out.Puts)
}

func (c *Controller) writeStatus(ctx context.Context, s fleet.RolloutStatus) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	rev, err := c.rollouts.Put(wctx, fleet.RolloutKey(s.Deployment), b)
	if err != nil {
		return fmt.Errorf("put %s %s: %w", fleet.RolloutsBucket, s.Deployment, err)
	}
	c.mu.Lock()
	c.v.setStatus(s.Deployment, &s, rev)
	c.mu.Unlock()
	if s.State != fleet.RolloutProgressing {
		c.log.Info("rollout", zap.String("deployment", string(s.Deployment)), zap.String("state", string(s.State)), zap.String("message", s.Message))
	} else {
		c.log.Debug("rollout", zap.String("deployment", string(s.Deployment)), zap.String("message", s.Message))
	}
	return nil
}

// value is what a put writes: the signed statement, or the bare spec.
func (c *Controller) value(p rollout.Put) ([]byte, error) {
	if c.cfg.Signer != nil {
		return signed.Sign(c.cfg.Signer, signed.Statement{DeviceID: p.Device, Deployment: p.Deployment, Generation: p.Generation, Spec: p.Spec})
	}
	return json.Marshal(p.Spec.WithDefaults())
}

func (c *Controller) put(ctx context.Context, p rollout.Put) {
	log := c.log.With(zap.String("device", string(p.Device)), zap.String("deployment", string(p.Deployment)),
		zap.String("reason", p.Reason.String()), zap.Uint64("generation", p.Generation))
	b, err := c.value(p)
	if err != nil {
		log.Error("encode desired value", zap.Error(err))
		return
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	expect := p.ExpectedRevision
	if expect == 0 {
		// A key deleted before holds a delete marker: the write expects
		// the marker's revision, as the view knows it. kv.Create would
		// write over any marker, even one newer than the plan.
		c.mu.Lock()
		expect = c.v.keyRev[p.Key]
		c.mu.Unlock()
	}
	var rev uint64
	if expect == 0 {
		rev, err = c.desired.Create(wctx, p.Key, b)
	} else {
		rev, err = c.desired.Update(wctx, p.Key, b, expect)
	}
	if err != nil {
		if isWrongRevision(err) || errors.Is(err, jetstream.ErrKeyExists) {
			// Someone else wrote it: the watch brings the new value, and
			// the next plan starts from it. Never forced.
			log.Info("desired key changed under us; re-planning", zap.Error(err))
		} else {
			log.Warn("write desired key", zap.Error(err))
		}
		c.poke()
		return
	}
	log.Info("desired key written", zap.Uint64("revision", rev))
	c.mu.Lock()
	c.v.setKey(p.Key, b, rev, time.Now())
	c.mu.Unlock()
}

func (c *Controller) del(ctx context.Context, d rollout.Delete) {
	log := c.log.With(zap.String("device", string(d.Device)), zap.String("deployment", string(d.Deployment)), zap.String("reason", d.Reason.String()))
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := c.desired.Delete(wctx, d.Key, jetstream.LastRevision(d.ExpectedRevision)); err != nil {
		if isWrongRevision(err) {
			log.Info("desired key changed under us; re-planning", zap.Error(err))
		} else {
			log.Warn("delete desired key", zap.Error(err))
		}
		c.poke()
		return
	}
	log.Info("desired key deleted")
	c.mu.Lock()
	// The delete marker's revision is above the one expected: entries up
	// to it are older news.
	c.v.setKey(d.Key, nil, d.ExpectedRevision+1, time.Time{})
	c.mu.Unlock()
}
