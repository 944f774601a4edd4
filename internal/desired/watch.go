package desired

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
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
		if err == nil {
			delay = retryInitial
			continue // restart requested, or the watch ended: recreate at once
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

// errWatchEnded is returned when the server closed the watch.
var errWatchEnded = errors.New("desired: watch ended")

// watchOnce opens the bucket and a watch, delivers the full snapshot and
// then live changes. It returns nil when a restart was requested, or the
// error that ended it.
func (w *Watcher) watchOnce(ctx context.Context, out chan<- Update) error {
	// Drop a restart request made before this attempt: it is being served.
	select {
	case <-w.restart:
	default:
	}
	kv, err := w.js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", fleet.DesiredStateBucket, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// WatchFiltered rewrites the slice it is given: pass a fresh one.
	kw, err := kv.WatchFiltered(wctx, []string{fleet.DesiredFilter(w.device)})
	if err != nil {
		return fmt.Errorf("watch %s %s: %w", fleet.DesiredStateBucket, fleet.DesiredFilter(w.device), err)
	}
	defer kw.Stop()
	w.log.Info("watching desired state", zap.String("filter", fleet.DesiredFilter(w.device)))

	full := Update{Full: true}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.restart:
			w.log.Info("recreating desired-state watch")
			return nil
		case e, ok := <-kw.Updates():
			if !ok {
				return errWatchEnded
			}
			if e == nil { // end of the initial values
				if initial {
					initial = false
					if err := send(ctx, out, full); err != nil {
						return err
					}
				}
				continue
			}
			entry, ok := w.entry(e)
			if !ok {
				continue
			}
			if initial {
				full.Entries = append(full.Entries, entry)
				continue
			}
			if err := send(ctx, out, Update{Entries: []Entry{entry}}); err != nil {
				return err
			}
		}
	}
}

// entry converts a KV entry, logging (once per key) and skipping keys that
// are not <this device>.<valid deployment name>.
func (w *Watcher) entry(e jetstream.KeyValueEntry) (Entry, bool) {
	dev, name, err := fleet.ParseDesiredKey(e.Key())
	if err == nil && dev != w.device {
		err = fmt.Errorf("desired key %q: belongs to device %q", e.Key(), dev)
	}
	if err != nil {
		if !w.badKeys[e.Key()] {
			w.badKeys[e.Key()] = true
			w.log.Warn("skipping desired-state key", zap.Error(err))
		}
		return Entry{}, false
	}
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		return Entry{Deployment: name, Deleted: true}, true
	}
	return Entry{Deployment: name, Value: e.Value()}, true
}

func send(ctx context.Context, out chan<- Update, u Update) error {
	select {
	case out <- u:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
