package fleetview

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
)

// DefaultRecentEvents is how many of the latest events a Live view keeps.
const DefaultRecentEvents = 1000

// LiveOptions configures a Live view.
type LiveOptions struct {
	// Filter selects the events folded (EventsFilter); "" is every event.
	Filter string
	// Timeout bounds the wait for each stored message during the initial
	// read; 0 is 10 s.
	Timeout time.Duration
	// RecentEvents is how many events Recent keeps; 0 is
	// DefaultRecentEvents.
	RecentEvents int
	// OnBad, when set, is called with each event, snapshot or record that
	// did not decode (and was skipped), from the view's goroutine: it must
	// not block, nor call the view.
	OnBad func(error)
}

// Live is the central view kept up to date: built from the newest event of
// every subject and every snapshot (ReadFold), then from every event
// stored after the last one that read saw and from watches of the
// device-info, device-registry, deployments and rollouts buckets. Readers
// get copies whose maps and slices may be shared with the view: they must
// not modify them, and nothing they hold changes under them (the view
// replaces a snapshot or record, never edits it).
//
// One goroutine, started by StartLive and waited for by Close, owns the
// consumers and watches and folds what they deliver; readers take the
// view's mutex only to copy.
type Live struct {
	js     jetstream.JetStream
	opts   LiveOptions
	cancel context.CancelFunc
	ready  chan struct{} // closed once the initial fold is done
	done   chan struct{} // closed when the goroutine has ended
	err    error         // why it ended; written before done is closed
	folded atomic.Uint64
	bad    atomic.Uint64

	mu      sync.Mutex
	agg     *aggregate.Aggregator
	infos   map[fleet.DeviceID]fleet.DeviceInfo
	rec     Records
	recent  []fleet.StateChangeEvent // a ring of cap opts.RecentEvents
	next    int                      // where the ring's next event goes once full
	version uint64
	subs    map[*Subscription]struct{}
	stopped bool // the subscriptions are closed; no new one is taken
}

// StartLive starts a Live view of the fleet on js; it is ready (Ready)
// once the initial fold is done. Close stops it.
func StartLive(ctx context.Context, js jetstream.JetStream, opts LiveOptions) *Live {
	if opts.Filter == "" {
		opts.Filter = fleet.EventsSubjects
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RecentEvents <= 0 {
		opts.RecentEvents = DefaultRecentEvents
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Live{
		js: js, opts: opts, cancel: cancel,
		ready: make(chan struct{}), done: make(chan struct{}),
		agg: aggregate.New(), infos: map[fleet.DeviceID]fleet.DeviceInfo{}, rec: NewRecords(),
		recent: make([]fleet.StateChangeEvent, 0, opts.RecentEvents),
		subs:   map[*Subscription]struct{}{},
	}
	go func() {
		defer close(l.done)
		err := l.run(ctx)
		if ctx.Err() != nil {
			err = nil // stopped: not an error
		}
		l.err = err
		l.mu.Lock()
		l.stopped = true
		for s := range l.subs {
			close(s.c)
			delete(l.subs, s)
		}
		l.mu.Unlock()
	}()
	return l
}

// Ready is closed once the initial fold is done.
func (l *Live) Ready() <-chan struct{} { return l.ready }

// Done is closed when the view has stopped: Close was called, its context
// ended, or it failed (Err).
func (l *Live) Done() <-chan struct{} { return l.done }

// Err returns why the view stopped on its own, once Done is closed; nil
// before, and after Close.
func (l *Live) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// Close stops the view and waits for its goroutine; subscriptions' channels
// are closed.
func (l *Live) Close() {
	l.cancel()
	<-l.done
}

// Folded returns how many events the view has folded (read and decoded).
func (l *Live) Folded() uint64 { return l.folded.Load() }

// Bad returns how many events, snapshots and records were skipped as
// undecodable.
func (l *Live) Bad() uint64 { return l.bad.Load() }

// Version grows with every change of what the view holds.
func (l *Live) Version() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.version
}

// Status returns the status of deployment name, or of every deployment
// when name is "" (StatusOf).
func (l *Live) Status(name fleet.DeploymentName) Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return StatusOf(l.agg, l.rec, name)
}

// Devices returns every device enrolled or with a snapshot, joined at now
// (JoinDevices).
func (l *Live) Devices(now time.Time) []Device {
	l.mu.Lock()
	defer l.mu.Unlock()
	return JoinDevices(l.rec, l.infos, now)
}

// Device returns device id joined at now, and reports whether it is
// enrolled or has a snapshot.
func (l *Live) Device(id fleet.DeviceID, now time.Time) (Device, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return JoinDevice(id, l.rec, l.infos, now)
}

// Records returns a copy of the registry, fleet deployments and rollouts.
func (l *Live) Records() Records {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec.Clone()
}

// Recent returns the latest events folded, oldest first (at most
// LiveOptions.RecentEvents).
func (l *Live) Recent() []fleet.StateChangeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]fleet.StateChangeEvent, 0, len(l.recent))
	out = append(out, l.recent[l.next:]...)
	return append(out, l.recent[:l.next]...)
}

// Subscription delivers the events the view folds after it was made.
type Subscription struct {
	l       *Live
	c       chan fleet.StateChangeEvent
	dropped atomic.Uint64
}

// Subscribe returns a subscription to the events folded from now on, with
// a channel of buffer events (at least 1): when it is full, new events are
// dropped for it (Dropped counts them) so that a slow reader never holds
// the view back. Its channel is closed by Close, or when the view stops.
func (l *Live) Subscribe(buffer int) *Subscription {
	s := &Subscription{l: l, c: make(chan fleet.StateChangeEvent, max(buffer, 1))}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		close(s.c)
	} else {
		l.subs[s] = struct{}{}
	}
	return s
}

// C delivers the events.
func (s *Subscription) C() <-chan fleet.StateChangeEvent { return s.c }

// Dropped returns how many events s dropped because its channel was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends s and closes its channel; it may be called more than once.
func (s *Subscription) Close() {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if _, ok := s.l.subs[s]; ok {
		delete(s.l.subs, s)
		close(s.c)
	}
}

// liveBuffer is how many live messages the consumer's callback may hand
// the folding loop ahead: enough to absorb a burst of a fleet's events
// while a reader holds the mutex; the callback then waits (the server
// keeps the rest).
const liveBuffer = 1024

// bucketRetry is how often a Live view looks again for a record bucket
// that did not exist.
const bucketRetry = 2 * time.Second

// run reads and folds until ctx ends or something fails.
func (l *Live) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before the consumer stops (defers run last first): the callback may wait on ctx

	// The initial fold: the newest event of every subject, then the
	// snapshots and records.
	lastSeq, err := ReadLastEvents(ctx, l.js, l.opts.Filter, l.opts.Timeout, func(re ReadEvent) {
		l.mu.Lock()
		l.foldEventLocked(re, false)
		l.mu.Unlock()
	})
	if err != nil {
		return err
	}
	var watches []jetstream.KeyWatcher
	defer func() {
		for _, w := range watches {
			_ = w.Stop()
		}
	}()
	buckets := append([]string{fleet.DeviceInfoBucket}, recordBuckets...)
	updates := make([]<-chan jetstream.KeyValueEntry, len(buckets)) // nil: the bucket does not exist yet
	missing := 0
	// watch starts the watch of bucket i if it exists, folding what it
	// stores.
	watch := func(i int) error {
		b := buckets[i]
		w, err := watchStored(ctx, l.js, b, l.opts.Timeout, func(e jetstream.KeyValueEntry) {
			l.mu.Lock()
			l.foldEntryLocked(b, e)
			l.mu.Unlock()
		})
		if err != nil {
			return err
		}
		if w == nil {
			missing++
			return nil
		}
		watches = append(watches, w)
		updates[i] = w.Updates()
		return nil
	}
	for i := range buckets {
		if err := watch(i); err != nil {
			return err
		}
	}
	if updates[0] == nil {
		return fmt.Errorf("bucket %s not found: run harmony-fleet init", fleet.DeviceInfoBucket)
	}
	// The record buckets are made by the commands that first write them:
	// one missing now is looked for again every bucketRetry.
	var retry <-chan time.Time
	if missing > 0 {
		t := time.NewTicker(bucketRetry)
		defer t.Stop()
		retry = t.C
	}

	// Then every event stored after the last one the initial read could
	// have missed: an event stored during that read is folded twice,
	// which changes nothing.
	st, err := l.js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", fleet.EventsStream, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{l.opts.Filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if lastSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, lastSeq+1
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, l.opts.Filter, err)
	}
	msgs := make(chan jetstream.Msg, liveBuffer)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, l.opts.Filter, err)
	}
	defer func() {
		cc.Stop()
		<-cc.Closed()
	}()
	close(l.ready)

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-msgs:
			re := ReadEvent{Subject: m.Subject()}
			if meta, err := m.Metadata(); err == nil {
				re.Seq = meta.Sequence.Stream
			}
			re.Event, re.Err = DecodeEvent(re.Subject, m.Data())
			if re.Err != nil {
				re.Err = fmt.Errorf("event %d on %s: %w", re.Seq, re.Subject, re.Err)
			}
			l.mu.Lock()
			l.foldEventLocked(re, true)
			l.mu.Unlock()
		case e, ok := <-updates[0]:
			if err := l.entry(buckets[0], e, ok); err != nil {
				return err
			}
		case e, ok := <-updates[1]:
			if err := l.entry(buckets[1], e, ok); err != nil {
				return err
			}
		case e, ok := <-updates[2]:
			if err := l.entry(buckets[2], e, ok); err != nil {
				return err
			}
		case e, ok := <-updates[3]:
			if err := l.entry(buckets[3], e, ok); err != nil {
				return err
			}
		case <-retry:
			missing = 0
			for i := range buckets {
				if updates[i] == nil {
					if err := watch(i); err != nil {
						return err
					}
				}
			}
			if missing == 0 {
				retry = nil
			}
		}
	}
}

// entry folds one update of a bucket's watch.
func (l *Live) entry(bucket string, e jetstream.KeyValueEntry, ok bool) error {
	if !ok {
		return fmt.Errorf("watch bucket %s: stopped", bucket)
	}
	if e == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.foldEntryLocked(bucket, e)
	return nil
}

// foldEventLocked folds one read event; a live one also goes to the
// recent ring and the subscribers.
func (l *Live) foldEventLocked(re ReadEvent, live bool) {
	if re.Err != nil {
		l.badLocked(re.Err)
		return
	}
	l.folded.Add(1)
	if l.agg.Apply(re.Event) {
		l.version++
	}
	l.recordLocked(re.Event)
	if !live {
		return
	}
	for s := range l.subs {
		select {
		case s.c <- re.Event:
		default:
			s.dropped.Add(1)
		}
	}
}

// recordLocked keeps e in the recent ring.
func (l *Live) recordLocked(e fleet.StateChangeEvent) {
	if len(l.recent) < cap(l.recent) {
		l.recent = append(l.recent, e)
		return
	}
	l.recent[l.next] = e
	l.next = (l.next + 1) % len(l.recent)
}

// foldEntryLocked folds one entry of a bucket.
func (l *Live) foldEntryLocked(bucket string, e jetstream.KeyValueEntry) {
	if bucket != fleet.DeviceInfoBucket {
		if err := l.rec.Apply(bucket, e); err != nil {
			l.badLocked(err)
			return
		}
		l.version++
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(l.infos, fleet.DeviceID(e.Key()))
		l.version++
		return
	}
	info, err := DecodeInfo(e)
	if err != nil {
		l.badLocked(err)
		return
	}
	l.infos[info.DeviceID] = info
	l.agg.ApplySnapshot(info)
	l.version++
}

func (l *Live) badLocked(err error) {
	l.bad.Add(1)
	if l.opts.OnBad != nil {
		l.opts.OnBad(err)
	}
}

// errNotReady is returned by WaitReady when the view stopped first.
var errNotReady = errors.New("fleetview: live view stopped before it was ready")

// WaitReady waits until the view is ready, it stops (its error), or ctx
// ends.
func (l *Live) WaitReady(ctx context.Context) error {
	select {
	case <-l.ready:
		return nil
	case <-l.done:
		if l.err != nil {
			return l.err
		}
		return errNotReady
	case <-ctx.Done():
		return ctx.Err()
	}
}
