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
	// The wait of Next while backlog: a context under the caller's,
	// cancelled by idleTimer, re-armed per event. One per reader rather
	// than a context.WithTimeout per event, whose timer and registration
	// with the parent cost a reader of millions of stored events a tenth
	// of its time.
	waitParent context.Context
	wait       context.Context
	cancelWait context.CancelFunc
	idleTimer  *time.Timer
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
	r := &EventReader{idle: idle}
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
		wait, idle = r.armWait(ctx), true
	}
	msg, err := r.msgs.Next(jetstream.NextContext(wait))
	if idle {
		r.idleTimer.Stop()
	}
	if err != nil {
		if ctx.Err() != nil {
			return ReadEvent{}, ctx.Err()
		}
		if idle && wait.Err() != nil {
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

// armWait returns the context of one backlog wait under ctx, done idle
// from now: the reader's, made again when ctx is another or the last wait
// ran out.
func (r *EventReader) armWait(ctx context.Context) context.Context {
	if r.wait == nil || r.waitParent != ctx || r.wait.Err() != nil {
		r.stopWait()
		r.waitParent = ctx
		r.wait, r.cancelWait = context.WithCancel(ctx)
		r.idleTimer = time.AfterFunc(r.idle, r.cancelWait)
		return r.wait
	}
	r.idleTimer.Reset(r.idle)
	return r.wait
}

func (r *EventReader) stopWait() {
	if r.wait != nil {
		r.idleTimer.Stop()
		r.cancelWait()
	}
}

// Stop ends the reader's consumer; call it once Next has returned.
func (r *EventReader) Stop() {
	r.msgs.Stop()
	r.stopWait()
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
