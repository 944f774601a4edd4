package fleetview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// OpenBucket opens KV bucket name, saying to run init when it is missing;
// the look-up is retried (Read) within js's request timeout.
func OpenBucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := Read(ctx, readWithin(js), func(ctx context.Context) (err error) {
		kv, err = js.KeyValue(ctx, name)
		return err
	})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bucket %s not found: run harmony-fleet init", name)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", name, err)
	}
	return kv, nil
}

// DecodeInfo decodes and validates a device-info entry; its key must be
// the snapshot's device.
func DecodeInfo(e jetstream.KeyValueEntry) (fleet.DeviceInfo, error) {
	var info fleet.DeviceInfo
	// UnmarshalJSON itself, not json.Unmarshal: that would scan the value
	// twice more (a validity check and a skip) before calling it, a third
	// of the cost of status's read of 10,000 snapshots.
	if err := info.UnmarshalJSON(e.Value()); err != nil {
		return fleet.DeviceInfo{}, fmt.Errorf("device-info %s (revision %d): %w", e.Key(), e.Revision(), err)
	}
	if key := fleet.DeviceInfoKey(info.DeviceID); key != e.Key() {
		return fleet.DeviceInfo{}, fmt.Errorf("device-info %s (revision %d): holds device %s", e.Key(), e.Revision(), info.DeviceID)
	}
	return info, nil
}

// InfoWatch watches the device-info bucket: every snapshot stored, then
// every new one.
type InfoWatch struct {
	w       jetstream.KeyWatcher
	timeout time.Duration // how long the stored snapshots may take to arrive, each
}

// WatchInfo starts an InfoWatch on kv, the device-info bucket; timeout
// bounds the wait for each stored snapshot.
func WatchInfo(ctx context.Context, kv jetstream.KeyValue, timeout time.Duration) (*InfoWatch, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", kv.Bucket(), err)
	}
	return &InfoWatch{w: w, timeout: timeout}, nil
}

// Stored returns the snapshots stored when the watch started, sorted by
// device, and the errors of those that did not decode.
func (iw *InfoWatch) Stored(ctx context.Context) ([]fleet.DeviceInfo, []error, error) {
	return iw.stored(ctx, true)
}

// stored is Stored, sorting the snapshots only when sorted is true (a
// fold does not need it, and moving 10,000 snapshots about is not free).
func (iw *InfoWatch) stored(ctx context.Context, sorted bool) ([]fleet.DeviceInfo, []error, error) {
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
				if sorted {
					slices.SortFunc(infos, func(a, b fleet.DeviceInfo) int { return strings.Compare(string(a.DeviceID), string(b.DeviceID)) })
				}
				return infos, bad, nil
			}
			if info, err := DecodeInfo(e); err != nil {
				bad = append(bad, err)
			} else {
				if infos == nil {
					// Delta: how many stored entries follow this one.
					infos = make([]fleet.DeviceInfo, 0, min(e.Delta()+1, 1<<20))
				}
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

// Updates delivers the snapshots written after Stored returned.
func (iw *InfoWatch) Updates() <-chan jetstream.KeyValueEntry { return iw.w.Updates() }

// Stop ends the watch.
func (iw *InfoWatch) Stop() { _ = iw.w.Stop() }

// ListDeviceInfo returns every snapshot in the device-info bucket, sorted
// by device, and the errors of those that did not decode.
func ListDeviceInfo(ctx context.Context, js jetstream.JetStream, timeout time.Duration) ([]fleet.DeviceInfo, []error, error) {
	kv, err := OpenBucket(ctx, js, fleet.DeviceInfoBucket)
	if err != nil {
		return nil, nil, err
	}
	iw, err := WatchInfo(ctx, kv, timeout)
	if err != nil {
		return nil, nil, err
	}
	defer iw.Stop()
	return iw.Stored(ctx)
}

// EventsFilter returns the subject filter of the events of device and
// deployment; an empty one matches all.
func EventsFilter(device fleet.DeviceID, deployment fleet.DeploymentName) string {
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
