package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// openBucket opens KV bucket name, saying to run init when it is missing.
func openBucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bucket %s not found: run harmony-fleet init", name)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", name, err)
	}
	return kv, nil
}

// decodeInfo decodes and validates a device-info entry; its key must be
// the snapshot's device.
func decodeInfo(e jetstream.KeyValueEntry) (fleet.DeviceInfo, error) {
	var info fleet.DeviceInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return fleet.DeviceInfo{}, fmt.Errorf("device-info %s (revision %d): %w", e.Key(), e.Revision(), err)
	}
	if key := fleet.DeviceInfoKey(info.DeviceID); key != e.Key() {
		return fleet.DeviceInfo{}, fmt.Errorf("device-info %s (revision %d): holds device %s", e.Key(), e.Revision(), info.DeviceID)
	}
	return info, nil
}

// infoWatch watches the device-info bucket: every snapshot stored, then
// every new one.
type infoWatch struct {
	w       jetstream.KeyWatcher
	timeout time.Duration // how long the stored snapshots may take to arrive, each
}

func watchInfo(ctx context.Context, kv jetstream.KeyValue, timeout time.Duration) (*infoWatch, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", kv.Bucket(), err)
	}
	return &infoWatch{w: w, timeout: timeout}, nil
}

// stored returns the snapshots stored when the watch started, sorted by
// device, and the errors of those that did not decode.
func (iw *infoWatch) stored(ctx context.Context) ([]fleet.DeviceInfo, []error, error) {
	var (
		infos []fleet.DeviceInfo
		bad   []error
	)
	timer := time.NewTimer(iw.timeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-iw.w.Updates():
			if !ok {
				return nil, nil, fmt.Errorf("watch bucket %s: stopped", fleet.DeviceInfoBucket)
			}
			if e == nil { // every stored value has been delivered
				slices.SortFunc(infos, func(a, b fleet.DeviceInfo) int { return strings.Compare(string(a.DeviceID), string(b.DeviceID)) })
				return infos, bad, nil
			}
			if info, err := decodeInfo(e); err != nil {
				bad = append(bad, err)
			} else {
				infos = append(infos, info)
			}
			timer.Reset(iw.timeout)
		case <-timer.C:
			return nil, nil, fmt.Errorf("read bucket %s: nothing for %v", fleet.DeviceInfoBucket, iw.timeout)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// updates delivers the snapshots written after stored returned.
func (iw *infoWatch) updates() <-chan jetstream.KeyValueEntry { return iw.w.Updates() }

func (iw *infoWatch) stop() { _ = iw.w.Stop() }

// listDeviceInfo returns every snapshot in the device-info bucket, sorted
// by device, and the errors of those that did not decode.
func listDeviceInfo(ctx context.Context, js jetstream.JetStream, timeout time.Duration) ([]fleet.DeviceInfo, []error, error) {
	kv, err := openBucket(ctx, js, fleet.DeviceInfoBucket)
	if err != nil {
		return nil, nil, err
	}
	iw, err := watchInfo(ctx, kv, timeout)
	if err != nil {
		return nil, nil, err
	}
	defer iw.stop()
	return iw.stored(ctx)
}

// eventsFilter returns the subject filter of the events of device and
// deployment; an empty one matches all.
func eventsFilter(device fleet.DeviceID, deployment fleet.DeploymentName) string {
	switch {
	case device != "" && deployment != "":
		return fleet.EventSubject(device, deployment)
	case device != "":
		return fleet.DeviceEventsSubject(device)
	case deployment != "":
		return fleet.DeploymentEventsSubject(deployment)
	}
	return fleet.EventsSubjects
}

// eventReader reads the events of FLEET_EVENTS on one subject filter, in
// stream order, from the first one stored, through an ordered consumer.
type eventReader struct {
	msgs jetstream.MessagesContext
	// last is the stream sequence of the last event on the filter when the
	// reader was opened (0: there was none); read is that of the last
	// message read.
	last, read uint64
	// idle bounds the wait for one stored event.
	idle time.Duration
}

// readEvent is one message of the stream: an event, or why it is not one.
type readEvent struct {
	Event   fleet.StateChangeEvent
	Err     error // the message is not a valid event; Event is zero
	Seq     uint64
	Subject string
	// CaughtUp reports whether no other event was stored when this one
	// was delivered.
	CaughtUp bool
}

// openEvents opens a reader of the events on filter.
func openEvents(ctx context.Context, js jetstream.JetStream, filter string, idle time.Duration) (*eventReader, error) {
	st, err := js.Stream(ctx, fleet.EventsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s not found: run harmony-fleet init", fleet.EventsStream)
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", fleet.EventsStream, err)
	}
	r := &eventReader{idle: idle}
	switch m, err := st.GetLastMsgForSubject(ctx, filter); {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return nil, fmt.Errorf("read stream %s on %s: %w", fleet.EventsStream, filter, err)
	default:
		r.last = m.Sequence
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, filter, err)
	}
	if r.msgs, err = cons.Messages(); err != nil {
		return nil, fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, filter, err)
	}
	return r, nil
}

// backlog reports whether events stored when r was opened are still
// unread.
func (r *eventReader) backlog() bool { return r.read < r.last }

// next returns the next message: within idle while backlog reports
// true, else whenever one is published, until ctx is done.
func (r *eventReader) next(ctx context.Context) (readEvent, error) {
	wait, cancel := ctx, context.CancelFunc(func() {})
	if r.backlog() {
		wait, cancel = context.WithTimeout(ctx, r.idle)
	}
	msg, err := r.msgs.Next(jetstream.NextContext(wait))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return readEvent{}, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return readEvent{}, fmt.Errorf("read stream %s: no event for %v after sequence %d of %d", fleet.EventsStream, r.idle, r.read, r.last)
		}
		return readEvent{}, fmt.Errorf("read stream %s: %w", fleet.EventsStream, err)
	}
	re := readEvent{Subject: msg.Subject()}
	meta, err := msg.Metadata()
	if err != nil {
		return readEvent{}, fmt.Errorf("read stream %s: %w", fleet.EventsStream, err)
	}
	re.Seq, re.CaughtUp = meta.Sequence.Stream, meta.NumPending == 0
	r.read = max(r.read, re.Seq)
	re.Event, re.Err = decodeEvent(msg.Subject(), msg.Data())
	if re.Err != nil {
		re.Err = fmt.Errorf("event %d on %s: %w", re.Seq, re.Subject, re.Err)
	}
	return re, nil
}

func (r *eventReader) stop() { r.msgs.Stop() }

// decodeEvent decodes and validates an event published on subject, which
// must be the event's.
func decodeEvent(subject string, data []byte) (fleet.StateChangeEvent, error) {
	var ev fleet.StateChangeEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return fleet.StateChangeEvent{}, err
	}
	if s := ev.Subject(); s != subject {
		return fleet.StateChangeEvent{}, fmt.Errorf("published on the subject of another deployment (the event's is %s)", s)
	}
	return ev, nil
}
