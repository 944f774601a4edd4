package desired

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Entry is one desired-state key of this device.
type Entry struct {
	Deployment fleet.DeploymentName
	// Value is the raw DeploymentSpec JSON; nil when Deleted.
	Value []byte
	// Deleted reports whether the key was deleted or purged.
	Deleted bool
}

// Update is what the watcher delivers.
type Update struct {
	// Full reports whether Entries is the complete desired state of the
	// device: deployments absent from it are no longer desired.
	Full    bool
	Entries []Entry
}

// Watcher follows one device's keys. Create it with New; Run it in a
// goroutine the caller owns.
type Watcher struct {
	js     jetstream.JetStream
	device fleet.DeviceID
	log    *zap.Logger
	// restart carries a request to recreate the watch. Size 1: requests
	// made while one is pending coalesce into it.
	restart chan struct{}
	// badKeys remembers the invalid keys already logged, so each is
	// logged once. Only Run's goroutine touches it.
	badKeys map[string]bool
}

// New returns a Watcher for device's keys.
func New(js jetstream.JetStream, device fleet.DeviceID, log *zap.Logger) *Watcher {
	return &Watcher{
		js:      js,
		device:  device,
		log:     log.Named("desired"),
		restart: make(chan struct{}, 1),
		badKeys: make(map[string]bool),
	}
}

// Restart asks Run to recreate the watch now and deliver a full snapshot.
// It never blocks; it is safe to call from any goroutine (a nats.go
// callback included).
func (w *Watcher) Restart() {
	select {
	case w.restart <- struct{}{}:
	default:
	}
}

// retry bounds how long Run waits between attempts to open the bucket or
// the watch.
const (
	retryInitial = 250 * time.Millisecond
	retryMax     = 5 * time.Second
)

// Run watches until ctx is done, sending every Update to out, and returns
// ctx.Err(). It never gives up: an unreachable server or a missing bucket
// is retried with backoff (and at once on Restart).
func (w *Watcher) Run(ctx context.Context, out chan<- Update) error {
	delay := retryInitial
	for {
		err := w.watchOnce(ctx, out)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || errors.Is(err, errWatchLost) || errors.Is(err, errWatchGap) {
			delay = retryInitial
			continue // restart requested, or the watch was lost: recreate at once
		}
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			// A fresh server: the publisher (or harmony-fleet init)
			// creates the bucket in a moment.
			w.log.Info("desired-state bucket not created yet; waiting", zap.Duration("in", delay))
		} else {
			w.log.Warn("watch desired state; retrying", zap.Duration("in", delay), zap.Error(err))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-w.restart:
			t.Stop()
		case <-t.C:
		}
		delay = min(2*delay, retryMax)
	}
}

// Heartbeat is the idle heartbeat the watch's consumer sends while there
// is nothing to deliver, and LostAfter how long the watch may stay silent
// before its consumer is taken for lost and the watch recreated.
//
// Why the watch is a push consumer of its own rather than nats.go's KV
// WatchFiltered: WatchFiltered's ordered consumer asks for 5 s heartbeats
// and checks them on a 10 s period, so a consumer whose server died (while
// the agent's own connection, to another node, survives) is noticed only
// 10-20 s later, and silently; none of that is configurable. The other
// ways to notice sooner are not open to a device: ConsumerInfo probes
// ($JS.API.CONSUMER.INFO), pull consumers ($JS.API.CONSUMER.MSG.NEXT) and
// JetStream advisories are outside its permissions (ARCHITECTURE 8.1),
// and a probe per device per second would load the JetStream API of the
// whole cluster. So the watch creates the same kind of consumer the KV
// watcher does, through the one subject a device may use
// ($JS.API.CONSUMER.CREATE.KV_desired-state.<name>.$KV.desired-state.<dev>.>:
// R1, in memory, ack none, flow control, last value per key first), but
// with a 1 s idle heartbeat; nats.go's push consumer reports
// ErrNoHeartbeat after two heartbeat intervals without any message, timed
// from the last message (not on a fixed period), and the watch is then
// recreated with a new full snapshot. Cost: one heartbeat of about 150
// bytes a second per device, from the server that holds its consumer;
// detection 1-2 s after the server dies. A gap in the consumer sequence
// (messages lost on the way) also recreates the watch.
const (
	Heartbeat = time.Second
	LostAfter = 2 * Heartbeat // nats.go's push consumer: two heartbeats missed
)

var (
	// errWatchLost is returned when the watch's consumer stopped sending:
	// its server is gone, or the consumer was deleted.
	errWatchLost = errors.New("desired: watch lost its consumer")
	// errWatchGap is returned when a message of the watch went missing.
	errWatchGap = errors.New("desired: gap in the watch")
)

// Headers of KV messages, as nats.go's KV writes and reads them.
const (
	kvOperationHeader = "KV-Operation"
	kvDelete          = "DEL"
	kvPurge           = "PURGE"
)

// desiredStream is the stream behind the desired-state bucket, and
// desiredSubjectPrefix the subject prefix of its keys.
const (
	desiredStream        = "KV_" + fleet.DesiredStateBucket
	desiredSubjectPrefix = "$KV." + fleet.DesiredStateBucket + "."
)

// consumerMsgsSize lets the subscription hand over one message while the
// loop handles the previous one; flow control bounds what waits beyond it.
const consumerMsgsSize = 1

// watchOnce opens the bucket and a watch, delivers the full snapshot and
// then live changes. It returns nil when a restart was requested, or the
// error that ended it.
func (w *Watcher) watchOnce(ctx context.Context, out chan<- Update) error {
	// Drop a restart request made before this attempt: it is being served.
	select {
	case <-w.restart:
	default:
	}
	// Opening the bucket says whether it exists (ErrBucketNotFound).
	if _, err := w.js.KeyValue(ctx, fleet.DesiredStateBucket); err != nil {
		return fmt.Errorf("open bucket %s: %w", fleet.DesiredStateBucket, err)
	}
	filter := desiredSubjectPrefix + fleet.DesiredFilter(w.device)
	cons, err := w.js.CreatePushConsumer(ctx, desiredStream, jetstream.ConsumerConfig{
		DeliverSubject: w.js.Conn().NewInbox(),
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:      jetstream.AckNonePolicy,
		FilterSubject:  filter,
		ReplayPolicy:   jetstream.ReplayInstantPolicy,
		FlowControl:    true,
		IdleHeartbeat:  Heartbeat,
		Replicas:       1,
		MemoryStorage:  true,
	})
	if err != nil {
		return fmt.Errorf("watch %s %s: %w", fleet.DesiredStateBucket, fleet.DesiredFilter(w.device), err)
	}
	info := cons.CachedInfo()
	server := ""
	if info.Cluster != nil {
		server = info.Cluster.Leader
	}

	done := make(chan struct{})
	msgs := make(chan jetstream.Msg, consumerMsgsSize)
	lost := make(chan error, 1) // the first loss is enough; later ones are dropped
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-done:
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			select {
			case lost <- err:
			default:
			}
			return
		}
		w.log.Debug("desired-state watch", zap.Error(err))
	}))
	if err != nil {
		return fmt.Errorf("watch %s %s: %w", fleet.DesiredStateBucket, fleet.DesiredFilter(w.device), err)
	}
	defer cc.Stop()
	defer close(done) // runs first: frees a handler blocked on msgs
	w.log.Info("watching desired state", zap.String("filter", fleet.DesiredFilter(w.device)),
		zap.String("consumer", info.Name), zap.String("server", server))

	full := Update{Full: true}
	initial := info.NumPending > 0
	if !initial {
		if err := send(ctx, out, full); err != nil {
			return err
		}
	}
	var received, lastSeq uint64
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.restart:
			w.log.Info("recreating desired-state watch")
			return nil
		case err := <-lost:
			reason := err.Error()
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				reason = fmt.Sprintf("no message or heartbeat for %s", LostAfter)
			}
			w.log.Warn("desired-state watch lost its consumer; recreating",
				zap.String("reason", reason), zap.String("consumer", info.Name), zap.String("server", server))
			return errWatchLost
		case m := <-msgs:
			meta, err := m.Metadata()
			if err != nil {
				w.log.Debug("desired-state watch: message without metadata", zap.Error(err))
				continue
			}
			if meta.Sequence.Consumer != lastSeq+1 {
				w.log.Warn("desired-state watch missed messages; recreating",
					zap.Uint64("got", meta.Sequence.Consumer), zap.Uint64("want", lastSeq+1))
				return errWatchGap
			}
			lastSeq = meta.Sequence.Consumer
			entry, ok := w.entry(strings.TrimPrefix(m.Subject(), desiredSubjectPrefix), m.Headers(), m.Data())
			if initial {
				if ok {
					full.Entries = append(full.Entries, entry)
				}
				received++
				if received >= info.NumPending || meta.NumPending == 0 {
					initial = false
					if err := send(ctx, out, full); err != nil {
						return err
					}
				}
				continue
			}
			if !ok {
				continue
			}
			if err := send(ctx, out, Update{Entries: []Entry{entry}}); err != nil {
				return err
			}
		}
	}
}

// entry converts a KV message, logging (once per key) and skipping keys
// that are not <this device>.<valid deployment name>.
func (w *Watcher) entry(key string, h nats.Header, value []byte) (Entry, bool) {
	dev, name, err := fleet.ParseDesiredKey(key)
	if err == nil && dev != w.device {
		err = fmt.Errorf("desired key %q: belongs to device %q", key, dev)
	}
	if err != nil {
		if !w.badKeys[key] {
			w.badKeys[key] = true
			w.log.Warn("skipping desired-state key", zap.Error(err))
		}
		return Entry{}, false
	}
	switch h.Get(kvOperationHeader) {
	case kvDelete, kvPurge:
		return Entry{Deployment: name, Deleted: true}, true
	}
	switch h.Get(jetstream.MarkerReasonHeader) { // markers the server writes (TTLs)
	case "MaxAge", "Purge", "Remove":
		return Entry{Deployment: name, Deleted: true}, true
	}
	return Entry{Deployment: name, Value: value}, true
}

func send(ctx context.Context, out chan<- Update, u Update) error {
	select {
	case out <- u:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
