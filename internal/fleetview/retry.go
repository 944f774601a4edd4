package fleetview

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pauses between two attempts of an idempotent read: doubling, bounded.
const (
	minReadPause = 50 * time.Millisecond
	maxReadPause = time.Second
)

// Read runs op, an idempotent read (a KV get, a stream look-up, a key
// listing), again while it fails the way a JetStream leader election
// makes requests fail (no responders, a timeout, the cluster or JetStream
// temporarily unavailable), until it succeeds, fails another way, or
// within has passed; then it returns op's last error. Each attempt gets
// the time that is left.
func Read(ctx context.Context, within time.Duration, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	pause := minReadPause
	for {
		err := op(ctx)
		if err == nil || !Transient(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, maxReadPause)
	}
}

// Transient reports whether err is what a request gets while JetStream
// elects a leader: trying again shortly may succeed.
func Transient(err error) bool {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var apiErr *jetstream.APIError
	// 503: JetStream, or the cluster, temporarily unavailable (error code
	// 10008 among them).
	return errors.As(err, &apiErr) && apiErr.Code == 503
}

// readWithin is how long the reads of this package retry: js's request
// timeout (harmony-fleet's --timeout), at least one attempt's worth.
func readWithin(js jetstream.JetStream) time.Duration {
	if d := js.Options().DefaultTimeout; d > 0 {
		return d
	}
	return 5 * time.Second
}

// Get is kv.Get(key), retried (Read) within.
func Get(ctx context.Context, kv jetstream.KeyValue, key string, within time.Duration) (jetstream.KeyValueEntry, error) {
	var e jetstream.KeyValueEntry
	err := Read(ctx, within, func(ctx context.Context) (err error) {
		e, err = kv.Get(ctx, key)
		return err
	})
	return e, err
}
