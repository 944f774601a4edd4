package fleetview

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
)

// streamLastSeq returns stream FLEET_EVENTS and its last sequence now (0:
// empty).
func streamLastSeq(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, uint64, error) {
	st, err := js.Stream(ctx, fleet.EventsStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, 0, fmt.Errorf("stream %s not found: run harmony-fleet init", fleet.EventsStream)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open stream %s: %w", fleet.EventsStream, err)
	}
	return st, st.CachedInfo().State.LastSeq, nil
}

// ReadLastEvents reads the newest stored message of every subject on
// filter (EventsFilter) and calls fn with each, in stream order; idle
// bounds the wait for each. It costs one message per subject, whatever the
// stream holds. It returns the stream's last sequence when the read began:
// a follower that starts after it misses nothing (see Live).
//
// A subject's newest message is its pair's newest event as long as an
// agent publishes a pair's events in revision order, as its outbox does;
// when one is not (a re-sent event stored after a newer one), the device's
// snapshot, folded after, repairs it as it repairs a lost event.
func ReadLastEvents(ctx context.Context, js jetstream.JetStream, filter string, idle time.Duration, fn func(ReadEvent)) (uint64, error) {
	st, last, err := streamLastSeq(ctx, js)
	if err != nil {
		return 0, err
	}
	if last == 0 {
		return 0, nil
	}
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		FilterSubject:     filter,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute, // gone by itself if this process dies
	})
	if err != nil {
		return 0, fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, filter, err)
	}
	defer func() {
		// A fresh context: the read may have ended because ctx did.
		dctx, cancel := context.WithTimeout(context.Background(), idle)
		defer cancel()
		_ = st.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	if pending == 0 {
		return last, nil
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return 0, fmt.Errorf("consume stream %s on %s: %w", fleet.EventsStream, filter, err)
	}
	defer msgs.Stop()
	// Every subject stored when the consumer was made is delivered within
	// the first pending messages; later ones are the follower's.
	for range pending {
		wait, cancel := context.WithTimeout(ctx, idle)
		msg, err := msgs.Next(jetstream.NextContext(wait))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("read stream %s on %s: %w", fleet.EventsStream, filter, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return 0, fmt.Errorf("read stream %s: %w", fleet.EventsStream, err)
		}
		re := ReadEvent{Subject: msg.Subject(), Seq: meta.Sequence.Stream, CaughtUp: meta.NumPending == 0}
		re.Event, re.Err = DecodeEvent(re.Subject, msg.Data())
		if re.Err != nil {
			re.Err = fmt.Errorf("event %d on %s: %w", re.Seq, re.Subject, re.Err)
		}
		fn(re)
		if re.CaughtUp {
			break
		}
	}
	return last, nil
}

// Fold is the central view folded from the newest event of every subject
// and then every snapshot (the order fleet/aggregate is built for).
type Fold struct {
	Agg *aggregate.Aggregator
	// Infos holds the snapshots that decoded, by device.
	Infos map[fleet.DeviceID]fleet.DeviceInfo
	// LastSeq is the stream's last sequence when the read began.
	LastSeq uint64
	// Events counts the events read.
	Events int
	// Bad holds why events and snapshots that did not decode were
	// skipped.
	Bad []error
}

// ReadFold reads the newest event of every subject on filter
// (ReadLastEvents), then every snapshot of the device-info bucket, and
// folds them with fleet/aggregate. It costs O(devices x deployments),
// whatever the stream holds. timeout bounds the wait for each message.
func ReadFold(ctx context.Context, js jetstream.JetStream, filter string, timeout time.Duration) (Fold, error) {
	kv, err := OpenBucket(ctx, js, fleet.DeviceInfoBucket)
	if err != nil {
		return Fold{}, err
	}
	f := Fold{Agg: aggregate.New(), Infos: map[fleet.DeviceID]fleet.DeviceInfo{}}
	if f.LastSeq, err = ReadLastEvents(ctx, js, filter, timeout, f.applyEvent); err != nil {
		return Fold{}, err
	}
	iw, err := WatchInfo(ctx, kv, timeout)
	if err != nil {
		return Fold{}, err
	}
	defer iw.Stop()
	infos, bad, err := iw.Stored(ctx)
	if err != nil {
		return Fold{}, err
	}
	f.Bad = append(f.Bad, bad...)
	for _, info := range infos {
		f.applyInfo(info)
	}
	return f, nil
}

func (f *Fold) applyEvent(re ReadEvent) {
	f.Events++
	if re.Err != nil {
		f.Bad = append(f.Bad, re.Err)
		return
	}
	f.Agg.Apply(re.Event)
}

func (f *Fold) applyInfo(info fleet.DeviceInfo) bool {
	f.Infos[info.DeviceID] = info
	return f.Agg.ApplySnapshot(info)
}
