//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// statusReader reads FLEET_EVENTS the way harmony-fleet status does: it
// is cmd/harmony-fleet's eventReader (read.go) call for call, since a
// benchmark cannot import package main. An ordered consumer on a filter
// from the first event, pulled with Messages and Next (bounded by idle
// while the events stored at the start are unread), each message's
// metadata read and its event decoded and checked against its subject.
type statusReader struct {
	msgs jetstream.MessagesContext
	// last is the stream sequence of the last event when the reader was
	// opened (0: none); read is that of the last message read.
	last, read uint64
	idle       time.Duration
}

// openStatusReader opens a reader of every event, as openEvents does.
func openStatusReader(b *testing.B, js jetstream.JetStream) *statusReader {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	st, err := js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		b.Fatalf("stream %s: %v", fleet.EventsStream, err)
	}
	r := &statusReader{idle: waitTimeout}
	switch m, err := st.GetLastMsgForSubject(ctx, fleet.EventsSubjects); {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		b.Fatalf("last event: %v", err)
	default:
		r.last = m.Sequence
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{fleet.EventsSubjects},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		b.Fatalf("consume %s: %v", fleet.EventsStream, err)
	}
	if r.msgs, err = cons.Messages(); err != nil {
		b.Fatalf("consume %s: %v", fleet.EventsStream, err)
	}
	b.Cleanup(r.msgs.Stop)
	return r
}

// backlog reports whether events stored when r was opened are unread.
func (r *statusReader) backlog() bool { return r.read < r.last }

// next returns the next event: within idle while backlog reports true,
// else whenever one is published, until ctx is done.
func (r *statusReader) next(ctx context.Context) (fleet.StateChangeEvent, error) {
	wait, cancel := ctx, context.CancelFunc(func() {})
	if r.backlog() {
		wait, cancel = context.WithTimeout(ctx, r.idle)
	}
	msg, err := r.msgs.Next(jetstream.NextContext(wait))
	cancel()
	if err != nil {
		return fleet.StateChangeEvent{}, err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return fleet.StateChangeEvent{}, err
	}
	r.read = max(r.read, meta.Sequence.Stream)
	var ev fleet.StateChangeEvent
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return fleet.StateChangeEvent{}, err
	}
	if s := ev.Subject(); s != msg.Subject() {
		return fleet.StateChangeEvent{}, fmt.Errorf("event %d published on %s, not its subject %s", meta.Sequence.Stream, msg.Subject(), s)
	}
	return ev, nil
}
