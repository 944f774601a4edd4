package fleetview

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	return readLast(ctx, js, filter, idle, func(m rawEvent) { fn(m.decode()) })
}

// rawEvent is one message of the stream, not decoded yet.
type rawEvent struct {
	subject, msgID string
	data           []byte
	seq            uint64
	pending        uint64 // messages of the consumer after this one
	caughtUp       bool
}

func (m rawEvent) decode() ReadEvent {
	re := ReadEvent{Subject: m.subject, Seq: m.seq, CaughtUp: m.caughtUp}
	re.Event, re.Err = DecodeEvent(m.subject, m.data)
	if re.Err != nil {
		re.Err = fmt.Errorf("event %d on %s: %w", re.Seq, re.Subject, re.Err)
	}
	return re
}

// claimedRevision returns the revision the message's Nats-Msg-Id
// (<device_id>.<agent_epoch>.<sequence>.<nonce>) claims for device, and
// reports whether it has one.
func (m rawEvent) claimedRevision(device fleet.DeviceID) (fleet.Revision, bool) {
	dev, rest, ok1 := strings.Cut(m.msgID, ".")
	epochText, rest, ok2 := strings.Cut(rest, ".")
	seqText, nonce, ok3 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !ok3 || strings.Contains(nonce, ".") || dev != string(device) {
		return fleet.Revision{}, false
	}
	epoch, err1 := strconv.ParseUint(epochText, 10, 64)
	seq, err2 := strconv.ParseUint(seqText, 10, 64)
	if err1 != nil || err2 != nil {
		return fleet.Revision{}, false
	}
	return fleet.Revision{AgentEpoch: fleet.AgentEpoch(epoch), Sequence: seq}, true
}

// subjectDevice returns the device token of an event subject
// (fleet.events.<device>.<deployment>), or "".
func subjectDevice(subject string) fleet.DeviceID {
	rest, ok := strings.CutPrefix(subject, fleet.EventsSubjectPrefix+".")
	if !ok {
		return ""
	}
	dev, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return fleet.DeviceID(dev)
}

// readLast is ReadLastEvents without the decoding.
func readLast(ctx context.Context, js jetstream.JetStream, filter string, idle time.Duration, fn func(rawEvent)) (uint64, error) {
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
	wait := idleWait{idle: idle}
	defer wait.stop()
	// Every subject stored when the consumer was made is delivered within
	// the first pending messages; later ones are the follower's.
	for range pending {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		msg, err := msgs.Next(jetstream.NextContext(wait.arm(ctx)))
		wait.disarm()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if wait.expired() {
				return 0, fmt.Errorf("read stream %s on %s: nothing for %v", fleet.EventsStream, filter, idle)
			}
			return 0, fmt.Errorf("read stream %s on %s: %w", fleet.EventsStream, filter, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return 0, fmt.Errorf("read stream %s: %w", fleet.EventsStream, err)
		}
		m := rawEvent{subject: msg.Subject(), data: msg.Data(), seq: meta.Sequence.Stream, pending: meta.NumPending, caughtUp: meta.NumPending == 0}
		if h := msg.Headers(); h != nil {
			m.msgID = h.Get(fleet.MsgIDHeader)
		}
		fn(m)
		if m.caughtUp {
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
	// Events counts the events read; Skipped those of them not decoded
	// because their device's snapshot is as new (see ReadFold).
	Events, Skipped int
	// Bad holds why events and snapshots that did not decode were
	// skipped.
	Bad []error
}

// ReadFold reads the newest event of every subject on filter
// (ReadLastEvents) and every snapshot of the device-info bucket, and folds
// them with fleet/aggregate, the events first. It costs O(devices x
// deployments), whatever the stream holds. The two reads run at once;
// the snapshots wait for the events to be folded. timeout bounds the wait
// for each message.
func ReadFold(ctx context.Context, js jetstream.JetStream, filter string, timeout time.Duration) (Fold, error) {
	kv, err := OpenBucket(ctx, js, fleet.DeviceInfoBucket)
	if err != nil {
		return Fold{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		infos    []fleet.DeviceInfo
		index    map[fleet.DeviceID]fleet.DeviceInfo
		badInfos []error
		infoErr  error
	)
	wg.Go(func() {
		iw, err := WatchInfo(ctx, kv, timeout)
		if err != nil {
			infoErr = err
			cancel()
			return
		}
		defer iw.Stop()
		if infos, badInfos, infoErr = iw.stored(ctx, false); infoErr != nil {
			cancel()
			return
		}
		// Indexed here, while the events may still be arriving.
		index = make(map[fleet.DeviceID]fleet.DeviceInfo, len(infos))
		for _, info := range infos {
			index[info.DeviceID] = info
		}
	})
	// The events are kept undecoded until the snapshots are in: an event
	// its device's snapshot is as new as changes nothing (the snapshot,
	// folded after, decides its pair), so it is not decoded. Its Msg-Id
	// tells its revision; a device whose Msg-Id lies about its own
	// events only misreports itself, which its body could do as well.
	f := Fold{Agg: aggregate.New()}
	var raw []rawEvent
	f.LastSeq, err = readLast(ctx, js, filter, timeout, func(m rawEvent) {
		if raw == nil {
			// Every subject is one message: the first tells how many
			// follow (growing the slice copied them a few times over).
			raw = make([]rawEvent, 0, min(m.pending+1, 1<<20))
		}
		raw = append(raw, m)
	})
	if err != nil {
		cancel()
	}
	wg.Wait()
	if err != nil || infoErr != nil {
		return Fold{}, cause(err, infoErr)
	}
	f.Infos = index
	for _, m := range raw {
		f.Events++
		dev := subjectDevice(m.subject)
		if info, ok := f.Infos[dev]; ok {
			if rev, ok := m.claimedRevision(dev); ok && rev.Compare(info.Revision) <= 0 {
				f.Skipped++
				continue
			}
		}
		f.applyEvent(m.decode())
	}
	f.Bad = append(f.Bad, badInfos...)
	for _, info := range infos {
		f.Agg.ApplySnapshot(info)
	}
	return f, nil
}

// cause returns the first of errs that is not nil nor a cancellation
// (which one read's failure causes in the other), else the first not nil.
func cause(errs ...error) error {
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// ReadStatus reads what status shows of deployment name ("" for all):
// ReadFold on its events and ReadRecords, at once, joined by StatusOf. It
// returns why the events, snapshots and records that did not decode were
// skipped.
func ReadStatus(ctx context.Context, js jetstream.JetStream, name fleet.DeploymentName, timeout time.Duration) (Status, []error, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		rec      Records
		targeted map[fleet.DeploymentName]int
		badRec   []error
		recErr   error
	)
	wg.Go(func() {
		if rec, badRec, recErr = ReadRecords(ctx, js, timeout); recErr != nil {
			cancel()
			return
		}
		// The targeted counts need the records only: made while the
		// events and snapshots are still being read.
		targeted = targetedAll(rec)
	})
	f, err := ReadFold(ctx, js, EventsFilter("", name), timeout)
	if err != nil {
		cancel()
	}
	wg.Wait()
	if err != nil || recErr != nil {
		return Status{}, nil, cause(err, recErr)
	}
	return statusOf(f.Agg, rec, name, targeted), append(f.Bad, badRec...), nil
}

func (f *Fold) applyEvent(re ReadEvent) {
	if re.Err != nil {
		f.Bad = append(f.Bad, re.Err)
		return
	}
	f.Agg.Apply(re.Event)
}
