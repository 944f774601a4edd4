package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/ringbuf"
)

// Publisher defaults; a zero Config field takes its default.
const (
	// DefaultOutboxCapacity is how many events wait while offline (a few
	// MB at most).
	DefaultOutboxCapacity = 4096
	// DefaultHeartbeatInterval is the DeviceInfo rewrite period.
	DefaultHeartbeatInterval = fleet.DefaultHeartbeatInterval
	// DefaultInfoDebounce is the least time between two DeviceInfo puts.
	DefaultInfoDebounce = time.Second
	// DefaultPublishTimeout bounds the wait for one JetStream ack.
	DefaultPublishTimeout = 5 * time.Second
)

const (
	// minBackoff and maxBackoff bound the pause before retrying a failed
	// publish, put or resource check; it doubles per failure, with jitter.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// offlinePoll is how often a disconnected publisher looks at the
	// connection, besides being woken by nats.go when it comes back.
	offlinePoll = time.Second
	// dropLogEvery: after the first, one drop in this many is logged.
	dropLogEvery = 100
)

// ErrUnflushed is wrapped by Flush's error when events or the final
// DeviceInfo could not be sent before its context ended.
var ErrUnflushed = errors.New("publisher: not flushed")

// Config configures New.
type Config struct {
	// Device is this device: the key of its DeviceInfo.
	Device fleet.DeviceID
	// MsgIDNonce is this agent run's Msg-Id nonce (fleet.NewMsgIDNonce),
	// the last part of every event's Nats-Msg-Id. Empty: New draws one.
	MsgIDNonce string
	// OutboxCapacity is how many events are kept while they cannot be
	// sent; when full, the oldest is dropped and counted. 0 means
	// DefaultOutboxCapacity.
	OutboxCapacity int
	// HeartbeatInterval is how often DeviceInfo is rewritten even when
	// nothing changed. 0 means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// InfoDebounce is the least time between two DeviceInfo puts, however
	// often InfoChanged is called. 0 means DefaultInfoDebounce.
	InfoDebounce time.Duration
	// PublishTimeout bounds the wait for one ack or put. 0 means
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Resources checks, or creates, the JetStream resources the publisher
	// sends to (natsconn.Ensure); nil checks nothing. It is called until it
	// settles: nil, or an error whose every part wraps
	// natsconn.ErrResourceMismatch or natsconn.ErrNotPermitted (logged
	// once; the publisher sends to what exists). Any other error, such as
	// a missing resource, is retried with backoff and logged when it
	// changes.
	Resources func(context.Context) error
	// Info builds the current snapshot; the publisher sets OutboxDropped
	// and HeartbeatAt. It is called from Run's and Flush's goroutine and
	// must be safe for that. nil: no DeviceInfo is written.
	Info func() fleet.DeviceInfo
	// Host, when set, samples the host's metrics for each DeviceInfo put
	// (ARCHITECTURE 3.5 host; internal/hostinfo's Sampler.Sample). It is
	// called where Info is.
	Host func() fleet.HostInfo
	// OnPublished, when set, is called with the time from sending an
	// event to its JetStream ack, for each acknowledged event (the
	// agent's publish latency histogram). It must not block.
	OnPublished func(time.Duration)
	// Log is the parent logger; nil logs nothing.
	Log *zap.Logger
}

// Stats is a snapshot of the publisher's counters.
type Stats struct {
	// Queued is how many events wait in the outbox.
	Queued int
	// Dropped counts events that will never be sent: dropped from a full
	// outbox, or rejected by the server as invalid.
	Dropped uint64
	// Published counts events JetStream acknowledged (duplicates included).
	Published uint64
	// InfoPuts counts DeviceInfo snapshots written.
	InfoPuts uint64
	// LastError says what is failing: the last publish, DeviceInfo put
	// and resource check errors, each gone once such an attempt succeeds.
	LastError string
}

// NATS publishes a device's StateChangeEvents to the FLEET_EVENTS stream
// and its DeviceInfo to the device-info bucket. Publish and InfoChanged
// never block; one goroutine, Run, does all the sending.
type NATS struct {
	js   jetstream.JetStream
	cfg  Config
	log  *zap.Logger
	wake chan struct{} // size 1: one pending wake-up covers any number of Publish/InfoChanged calls

	mu        sync.Mutex // guards the fields below; never held during I/O
	outbox    *ringbuf.Ring[entry]
	lastID    uint64 // id of the newest entry pushed
	dropped   uint64
	published uint64
	infoPuts  uint64
	infoDue   bool // a DeviceInfo put is wanted
	// The last error of each kind of attempt, "" once one succeeds.
	sendErr, infoErr, ensureErr string

	// sendMu is held by whoever sends (Run's step, Flush), one at a time,
	// and guards sender.
	sendMu sync.Mutex
	sender senderState
}

// entry is one outbox element: the event, encoded once.
type entry struct {
	id    uint64 // increasing; tells whether the head is still the one sent
	event fleet.StateChangeEvent
	data  []byte
}

// senderState is what the sending side keeps between attempts.
type senderState struct {
	kv          jetstream.KeyValue // nil until opened
	ensured     bool               // Resources settled
	ensureLast  string             // the last error of Resources, logged when it changes
	lastInfoPut time.Time
	ensure      retrier
	send        retrier
	info        retrier
}

// New returns a publisher that sends on js. Call Run to start sending.
func New(js jetstream.JetStream, c Config) *NATS {
	if c.OutboxCapacity <= 0 {
		c.OutboxCapacity = DefaultOutboxCapacity
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.InfoDebounce <= 0 {
		c.InfoDebounce = DefaultInfoDebounce
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.MsgIDNonce == "" {
		c.MsgIDNonce = fleet.NewMsgIDNonce()
	}
	log := c.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &NATS{
		js:     js,
		cfg:    c,
		log:    log.Named("publisher"),
		wake:   make(chan struct{}, 1),
		outbox: ringbuf.New[entry](c.OutboxCapacity),
	}
}

// Publish queues e for sending and returns at once. When the outbox is
// full the oldest event is dropped and counted (Stats.Dropped, and
// DeviceInfo.OutboxDropped).
func (p *NATS) Publish(e fleet.StateChangeEvent) {
	data, err := json.Marshal(e)
	if err != nil {
		p.mu.Lock()
		p.dropped++
		p.infoDue = true
		p.mu.Unlock()
		p.log.Error("event cannot be encoded; dropped", append(eventFields(e), zap.Error(err))...)
		p.signal()
		return
	}
	p.mu.Lock()
	p.lastID++
	old, full := p.outbox.Push(entry{id: p.lastID, event: e, data: data})
	var n uint64
	if full {
		p.dropped++
		n = p.dropped
		p.infoDue = true
	}
	p.mu.Unlock()
	if full && (n == 1 || n%dropLogEvery == 0) {
		p.log.Warn("outbox full: dropped the oldest event (logged once per 100)",
			append(eventFields(old.event), zap.Uint64("dropped_total", n), zap.Int("capacity", p.cfg.OutboxCapacity))...)
	}
	p.signal()
}

// InfoChanged asks for a DeviceInfo put; puts are at most one per
// InfoDebounce. It never blocks.
func (p *NATS) InfoChanged() {
	p.mu.Lock()
	p.infoDue = true
	p.mu.Unlock()
	p.signal()
}

// Stats returns the current counters.
func (p *NATS) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Queued:    p.outbox.Len(),
		Dropped:   p.dropped,
		Published: p.published,
		InfoPuts:  p.infoPuts,
		LastError: strings.Join(slices.DeleteFunc([]string{p.sendErr, p.infoErr, p.ensureErr}, func(s string) bool { return s == "" }), "; "),
	}
}

func (p *NATS) signal() {
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Run sends until ctx is done, then returns nil; it is the only goroutine
// the publisher needs, and its owner (the agent) waits for it. It creates
// the stream and buckets when missing, writes DeviceInfo at once and then
// on InfoChanged and every HeartbeatInterval, and sends the queued events
// in order, each waiting for its ack; a failure keeps the event at the head
// of the outbox and retries it with backoff. While disconnected it sends
// nothing and wakes when the connection is back. Call Run once.
func (p *NATS) Run(ctx context.Context) error {
	nc := p.js.Conn()
	up := nc.StatusChanged(nats.CONNECTED) // buffered (10) by nats.go; sends never block it
	defer nc.RemoveStatusListener(up)
	heartbeat := time.NewTicker(p.cfg.HeartbeatInterval)
	defer heartbeat.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	p.InfoChanged() // the snapshot at start
	for {
		if wait := p.step(ctx); wait > 0 {
			timer.Reset(wait)
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case _, ok := <-up:
			if !ok {
				up = nil // closed with the connection; offlinePoll remains
				continue
			}
			// Back online: the central view may be stale, and failed
			// attempts need not wait out their backoff.
			p.sendMu.Lock()
			p.sender.send.next, p.sender.info.next, p.sender.ensure.next = time.Time{}, time.Time{}, time.Time{}
			p.sendMu.Unlock()
			p.InfoChanged()
		case <-heartbeat.C:
			p.InfoChanged()
		case <-timer.C:
		}
	}
}

// step does whatever is due (resources, DeviceInfo, events, in that order,
// repeatedly while it makes progress) and returns how long until something
// is due again, or 0 when only a wake-up can make something due.
func (p *NATS) step(ctx context.Context) time.Duration {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	s := &p.sender
	for ctx.Err() == nil {
		if !p.js.Conn().IsConnected() {
			return offlinePoll
		}
		var wait time.Duration // 0: nothing timed
		soonest := func(at time.Time) {
			if d := time.Until(at); wait == 0 || d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		progress := false

		if !s.ensured {
			if time.Now().Before(s.ensure.next) {
				soonest(s.ensure.next)
			} else if !p.ensureLocked(ctx) {
				soonest(s.ensure.next)
			}
		}

		p.mu.Lock()
		infoDue, queued := p.infoDue && p.cfg.Info != nil, p.outbox.Len() > 0
		p.mu.Unlock()

		if infoDue {
			due := s.info.next
			if d := s.lastInfoPut.Add(p.cfg.InfoDebounce); d.After(due) {
				due = d
			}
			switch {
			case time.Now().Before(due):
				soonest(due)
			case p.putInfoLocked(ctx) == nil:
				progress = true
			default:
				soonest(s.info.next)
			}
		}

		if queued {
			switch {
			case time.Now().Before(s.send.next):
				soonest(s.send.next)
			case p.sendHeadLocked(ctx) == nil:
				progress = true
			default:
				soonest(s.send.next)
			}
		}
		if !progress {
			return wait
		}
	}
	return 0
}

// ensureLocked calls Config.Resources once and reports whether it is
// settled (done, or failed in a way retrying will not fix). sendMu is held.
func (p *NATS) ensureLocked(ctx context.Context) bool {
	s := &p.sender
	if p.cfg.Resources == nil {
		s.ensured = true
		return true
	}
	ectx, cancel := context.WithTimeout(ctx, 2*p.cfg.PublishTimeout)
	err := p.cfg.Resources(ectx)
	cancel()
	switch {
	case err == nil:
		s.ensured = true
		p.setErr(&p.ensureErr, nil)
		p.log.Info("JetStream stream and buckets ready")
	case ctx.Err() != nil:
		// Stopping; the next Run tries again.
	case settled(err):
		s.ensured = true
		p.setErr(&p.ensureErr, nil)
		p.log.Warn("JetStream resources not as wanted; publishing to what exists (run harmony-fleet init to create or check them)", zap.Error(err))
	default:
		s.ensure.fail()
		// Logged once per reason, not once per attempt: a missing bucket
		// is named when it goes missing, and again only when what is
		// missing changes.
		if msg := err.Error(); msg != s.ensureLast {
			s.ensureLast = msg
			if errors.Is(err, natsconn.ErrResourceMissing) {
				p.log.Warn("waiting for JetStream resources", zap.Error(err))
			} else {
				p.log.Warn("checking JetStream resources failed; retrying", zap.Error(err))
			}
		} else {
			p.log.Debug("checking JetStream resources failed again", zap.Error(err))
		}
		p.setErr(&p.ensureErr, err)
	}
	return s.ensured
}

// settled reports whether every error joined in err is a mismatch or a
// refusal: retrying will not change them.
func settled(err error) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if !errors.Is(e, natsconn.ErrResourceMismatch) && !errors.Is(e, natsconn.ErrNotPermitted) {
			return false
		}
	}
	return true
}

// sendHeadLocked publishes the oldest queued event and waits for its ack.
// On success, or when the server rejects the event for good, it leaves the
// outbox; otherwise it stays at the head and the send backoff grows. sendMu
// is held.
func (p *NATS) sendHeadLocked(ctx context.Context) error {
	p.mu.Lock()
	head, ok := p.outbox.Peek()
	p.mu.Unlock()
	if !ok {
		return nil
	}
	e := head.event
	pctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
	sent := time.Now()
	ack, err := p.js.PublishMsg(pctx, &nats.Msg{Subject: e.Subject(), Data: head.data}, jetstream.WithMsgID(e.MsgID(p.cfg.MsgIDNonce)))
	cancel()
	if err == nil && p.cfg.OnPublished != nil {
		p.cfg.OnPublished(time.Since(sent))
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err() // stopping: not a failure
	}
	rejected := err != nil && isRejected(err)

	p.mu.Lock()
	if err == nil || rejected {
		// A Publish may have dropped the head while we sent it.
		if cur, ok := p.outbox.Peek(); ok && cur.id == head.id {
			p.outbox.Pop()
		}
	}
	switch {
	case err == nil:
		p.published++
		p.sendErr = ""
	case rejected:
		p.dropped++
		p.infoDue = true
	}
	p.mu.Unlock()

	fields := eventFields(e)
	switch {
	case err == nil:
		if n := p.sender.send.ok(); n > 0 {
			p.log.Info("publishing again", append(fields, zap.Int("failed_attempts", n))...)
		}
		p.log.Debug("published", append(fields, zap.Uint64("stream_seq", ack.Sequence), zap.Bool("duplicate", ack.Duplicate))...)
		return nil
	case rejected:
		p.sender.send.ok()
		err = fmt.Errorf("publish %s: %w", e.Subject(), err)
		p.log.Error("event rejected by the server; dropped", append(fields, zap.Error(err))...)
		p.setErr(&p.sendErr, err)
		return nil
	}
	err = fmt.Errorf("publish %s: %w", e.Subject(), err)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		err = fmt.Errorf("%w (no stream takes %s: run harmony-fleet init)", err, fleet.EventsSubjects)
	}
	if p.sender.send.fail() {
		p.log.Warn("publish failed; keeping the event and retrying", append(fields, zap.Error(err))...)
	} else {
		p.log.Debug("publish failed again", append(fields, zap.Error(err))...)
	}
	p.setErr(&p.sendErr, err)
	return err
}

// isRejected reports whether the server refused the message itself (too
// large, or otherwise invalid), so sending it again cannot succeed.
func isRejected(err error) bool {
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 400
}

// putInfoLocked writes the current DeviceInfo, opening the bucket first if
// needed. On failure the put stays due and the info backoff grows. sendMu
// is held.
func (p *NATS) putInfoLocked(ctx context.Context) error {
	s := &p.sender
	p.mu.Lock()
	p.infoDue = false // an InfoChanged during the put asks for another
	p.mu.Unlock()

	err := p.writeInfoLocked(ctx)
	if err == nil {
		s.lastInfoPut = time.Now()
		if n := s.info.ok(); n > 0 {
			p.log.Info("device info written again", zap.Int("failed_attempts", n))
		}
		return nil
	}
	p.mu.Lock()
	p.infoDue = true
	p.mu.Unlock()
	if ctx.Err() != nil {
		return err // stopping: not a failure
	}
	if s.info.fail() {
		p.log.Warn("device info put failed; retrying", zap.Error(err))
	} else {
		p.log.Debug("device info put failed again", zap.Error(err))
	}
	p.setErr(&p.infoErr, err)
	return err
}

// writeInfoLocked builds and puts one DeviceInfo. sendMu is held.
func (p *NATS) writeInfoLocked(ctx context.Context) error {
	s := &p.sender
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
	defer cancel()
	if s.kv == nil {
		kv, err := p.js.KeyValue(ctx, fleet.DeviceInfoBucket)
		if err != nil {
			return fmt.Errorf("open bucket %s: %w", fleet.DeviceInfoBucket, err)
		}
		s.kv = kv
	}
	info := p.cfg.Info()
	p.mu.Lock()
	info.OutboxDropped = p.dropped
	p.mu.Unlock()
	info.HeartbeatAt = time.Now().UTC()
	if p.cfg.Host != nil && info.Host == nil {
		h := p.cfg.Host()
		info.Host = &h
	}
	info.HeartbeatIntervalSeconds = int64((p.cfg.HeartbeatInterval + time.Second - 1) / time.Second) // whole seconds, rounded up
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode device info: %w", err)
	}
	key := fleet.DeviceInfoKey(p.cfg.Device)
	rev, err := s.kv.Put(ctx, key, data)
	if err != nil {
		s.kv = nil // the bucket may have gone; look it up again next time
		return fmt.Errorf("put %s %s: %w", fleet.DeviceInfoBucket, key, err)
	}
	p.mu.Lock()
	p.infoPuts++
	p.infoErr = ""
	p.mu.Unlock()
	// The logger of the agent already carries device and epoch.
	p.log.Debug("device info written", zap.Uint64("kv_revision", rev), zap.Uint64("seq", info.Revision.Sequence))
	return nil
}

// Flush tries, until ctx is done, to send every queued event and then one
// final DeviceInfo. It is meant for shutdown, after Run has returned (it
// is safe, just slower, while Run runs). The error wraps ErrUnflushed and
// says how many events are left.
func (p *NATS) Flush(ctx context.Context) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	nc := p.js.Conn()
	up := nc.StatusChanged(nats.CONNECTED) // buffered (10) by nats.go
	defer nc.RemoveStatusListener(up)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	var (
		bo      retrier
		lastErr error
		infoOK  = p.cfg.Info == nil
	)
	for ctx.Err() == nil && !nc.IsClosed() {
		var err error
		switch {
		case !nc.IsConnected():
			err = nats.ErrConnectionReconnecting
			timer.Reset(offlinePoll)
		case p.Stats().Queued > 0:
			err = p.sendHeadLocked(ctx)
		case !infoOK:
			if err = p.writeInfoLocked(ctx); err == nil {
				infoOK = true
			}
		}
		if err == nil {
			if p.Stats().Queued == 0 && infoOK {
				return nil
			}
			continue
		}
		lastErr = err
		if nc.IsConnected() {
			bo.fail()
			timer.Reset(time.Until(bo.next))
		}
		select {
		case <-ctx.Done():
		case <-up:
		case <-timer.C:
		}
	}
	left := p.Stats().Queued
	if left == 0 && infoOK {
		return nil
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	if nc.IsClosed() {
		lastErr = nats.ErrConnectionClosed
	}
	what := "device info written"
	if !infoOK {
		what = "device info not written"
	}
	return fmt.Errorf("flush: %w: %d events left in the outbox, %s: %w", ErrUnflushed, left, what, lastErr)
}

// setErr records err (nil: none) in one of the error fields.
func (p *NATS) setErr(field *string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		*field = ""
		return
	}
	*field = err.Error()
}

// eventFields are the log fields of e.
func eventFields(e fleet.StateChangeEvent) []zap.Field {
	return []zap.Field{
		zap.String("deployment", string(e.Deployment)),
		zap.Uint64("seq", e.Revision.Sequence),
	}
}

// retrier is the exponential backoff of one kind of attempt.
type retrier struct {
	next     time.Time     // no attempt before
	cur      time.Duration // last pause; 0 after a success
	failures int           // since the last success
}

// fail records a failure, sets next, and reports whether it is the first
// since the last success (worth a Warn; the others go to Debug).
func (r *retrier) fail() bool {
	r.cur = min(max(2*r.cur, minBackoff), maxBackoff)
	// Equal jitter: half fixed, half random, so a fleet spreads out.
	pause := r.cur/2 + rand.N(r.cur/2+1)
	r.next = time.Now().Add(pause)
	r.failures++
	return r.failures == 1
}

// ok records a success and returns how many failures preceded it.
func (r *retrier) ok() int {
	n := r.failures
	*r = retrier{}
	return n
}
