package fleetview

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// pullBatch is how many events a reader asks the server for at once:
// nats.go's default (500) leaves a reader of a busy fleet's stream far
// behind the writers; 10,000 small events are a few MB at most.
const pullBatch = 10000

// EventReader reads the events of FLEET_EVENTS on one subject filter, in
// stream order, from the first one stored, through an ordered consumer.
type EventReader struct {
	msgs jetstream.MessagesContext
	// last is the stream sequence of the last event on the filter when the
	// reader was opened (0: there was none); read is that of the last
	// message read.
	last, read uint64
	// idle bounds the wait for one stored event.
	idle time.Duration
	// wait bounds Next's wait while backlog.
	wait idleWait
}

// ReadEvent is one message of the stream: an event, or why it is not one.
type ReadEvent struct {
	Event   fleet.StateChangeEvent
	Err     error // the message is not a valid event; Event is zero
	Seq     uint64
	Subject string
	// CaughtUp reports whether no other event was stored when this one
	// was delivered.
	CaughtUp bool
}

// OpenEvents opens a reader of the events on filter (EventsFilter); idle
// bounds the wait for each stored event.
func OpenEvents(ctx context.Context, js jetstream.JetStream, filter string, idle time.Duration) (*EventReader, error) {
	return OpenEventsSince(ctx, js, filter, time.Time{}, idle)
}

// OpenEventsSince opens a reader of the events on filter stored at or
// after since (the zero time: all), through the server's start-time
// delivery; idle bounds the wait for each stored event.
func OpenEventsSince(ctx context.Context, js jetstream.JetStream, filter string, since time.Time, idle time.Duration) (*EventReader, error) {
	var st jetstream.Stream
	err := Read(ctx, readWithin(js), func(ctx context.Context) (err error) {
		st, err = js.Stream(ctx, fleet.EventsStream)
		return err
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s not found: run harmony-fleet init", fleet.EventsStream)
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", fleet.EventsStream, err)
	}
	r := &EventReader{idle: idle, wait: idleWait{idle: idle}}
	var m *jetstream.RawStreamMsg
	err = Read(ctx, readWithin(js), func(ctx context.Context) (err error) {
		m, err = st.GetLastMsgForSubject(ctx, filter)
		return err
	})
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return nil, fmt.Errorf("read stream %s on %s: %w", fleet.EventsStream, filter, err)
	case !since.IsZero() && m.Time.Before(since):
		// Nothing stored on filter since: the backlog is empty.
	default:
		r.last = m.Sequence
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, filter, err)
	}
	if r.msgs, err = cons.Messages(jetstream.PullMaxMessages(pullBatch)); err != nil {
		return nil, fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, filter, err)
	}
	return r, nil
}

// Backlog reports whether events stored when r was opened are still
// unread.
func (r *EventReader) Backlog() bool { return r.read < r.last }

// Next returns the next message: within idle while backlog reports
// true, else whenever one is published, until ctx is done.
func (r *EventReader) Next(ctx context.Context) (ReadEvent, error) {
	wait, idle := ctx, false
	if r.Backlog() {
		wait, idle = r.wait.arm(ctx), true
	}
	msg, err := r.msgs.Next(jetstream.NextContext(wait))
	if idle {
		r.wait.disarm()
	}
	if err != nil {
		if ctx.Err() != nil {
			return ReadEvent{}, ctx.Err()
		}
		if idle && r.wait.expired() {
			return ReadEvent{}, fmt.Errorf("read stream %s: no event for %v after sequence %d of %d", fleet.EventsStream, r.idle, r.read, r.last)
		}
		return ReadEvent{}, fmt.Errorf("read stream %s: %w", fleet.EventsStream, err)
	}
	re := ReadEvent{Subject: msg.Subject()}
	meta, err := msg.Metadata()
	if err != nil {
		return ReadEvent{}, fmt.Errorf("read stream %s: %w", fleet.EventsStream, err)
	}
	re.Seq, re.CaughtUp = meta.Sequence.Stream, meta.NumPending == 0
	r.read = max(r.read, re.Seq)
	re.Event, re.Err = DecodeEvent(msg.Subject(), msg.Data())
	if re.Err != nil {
		re.Err = fmt.Errorf("event %d on %s: %w", re.Seq, re.Subject, re.Err)
	}
	return re, nil
}

// Stop ends the reader's consumer; call it once Next has returned.
func (r *EventReader) Stop() {
	r.msgs.Stop()
	r.wait.stop()
}

// DecodeEvent decodes and validates an event published on subject, which
// must be the event's.
func DecodeEvent(subject string, data []byte) (fleet.StateChangeEvent, error) {
	ev, err := fleet.DecodeEvent(data)
	if err != nil {
		return fleet.StateChangeEvent{}, err
	}
	if s := ev.Subject(); s != subject {
		return fleet.StateChangeEvent{}, fmt.Errorf("published on the subject of another deployment (the event's is %s)", s)
	}
	return ev, nil
}
