package fleetview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// Records are the central records the operators and the controller write
// (ARCHITECTURE 3.9): the registry, the fleet deployments and their
// rollouts, each keyed as in its bucket.
type Records struct {
	Registry    map[fleet.DeviceID]fleet.DeviceRecord
	Deployments map[fleet.DeploymentName]fleet.FleetDeployment
	Rollouts    map[fleet.DeploymentName]fleet.RolloutStatus
}

// NewRecords returns empty Records.
func NewRecords() Records {
	return Records{
		Registry:    map[fleet.DeviceID]fleet.DeviceRecord{},
		Deployments: map[fleet.DeploymentName]fleet.FleetDeployment{},
		Rollouts:    map[fleet.DeploymentName]fleet.RolloutStatus{},
	}
}

// Clone returns a copy of r whose maps are its own (the values are
// shared: readers must not modify them).
func (r Records) Clone() Records {
	return Records{Registry: maps.Clone(r.Registry), Deployments: maps.Clone(r.Deployments), Rollouts: maps.Clone(r.Rollouts)}
}

// recordBuckets are the buckets Records are read from, in the order
// ReadRecords joins them by: registry, deployments, rollouts.
var recordBuckets = []string{fleet.DeviceRegistryBucket, fleet.DeploymentsBucket, fleet.RolloutsBucket}

// Apply folds entry e of bucket (one of the three) into r: a put, decoded
// and checked against its key, replaces the key's record; a delete or a
// purge removes it. It returns why a put was refused (r is then
// unchanged).
func (r Records) Apply(bucket string, e jetstream.KeyValueEntry) error {
	del := e.Operation() != jetstream.KeyValuePut
	fail := func(err error) error {
		return fmt.Errorf("%s %s (revision %d): %w", bucket, e.Key(), e.Revision(), err)
	}
	switch bucket {
	case fleet.DeviceRegistryBucket:
		id := fleet.DeviceID(e.Key())
		if del {
			delete(r.Registry, id)
			return nil
		}
		var rec fleet.DeviceRecord
		if err := rec.UnmarshalJSON(e.Value()); err != nil { // one scan, as DecodeInfo
			return fail(err)
		}
		if fleet.DeviceRegistryKey(rec.DeviceID) != e.Key() {
			return fail(fmt.Errorf("holds device %s", rec.DeviceID))
		}
		r.Registry[id] = rec
	case fleet.DeploymentsBucket:
		name := fleet.DeploymentName(e.Key())
		if del {
			delete(r.Deployments, name)
			return nil
		}
		d, err := fleet.DecodeFleetDeployment(e.Value())
		if err != nil {
			return fail(err)
		}
		if fleet.DeploymentKey(d.Name) != e.Key() {
			return fail(fmt.Errorf("holds deployment %s", d.Name))
		}
		r.Deployments[name] = d
	case fleet.RolloutsBucket:
		name := fleet.DeploymentName(e.Key())
		if del {
			delete(r.Rollouts, name)
			return nil
		}
		var s fleet.RolloutStatus
		if err := json.Unmarshal(e.Value(), &s); err != nil {
			return fail(err)
		}
		if fleet.RolloutKey(s.Deployment) != e.Key() {
			return fail(fmt.Errorf("holds deployment %s", s.Deployment))
		}
		r.Rollouts[name] = s
	default:
		return fmt.Errorf("bucket %s: not a bucket of records", bucket)
	}
	return nil
}

// watchStored starts a watch of every key of bucket, deletes included,
// and calls fn with each entry stored when it started; timeout bounds the
// wait for each. A missing bucket is no error: it returns a nil watcher
// (a server set up before the bucket existed holds no such records).
func watchStored(ctx context.Context, js jetstream.JetStream, bucket string, timeout time.Duration, fn func(jetstream.KeyValueEntry)) (jetstream.KeyWatcher, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", bucket, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch bucket %s: stopped", bucket)
			}
			if e == nil { // every stored value has been delivered
				return w, nil
			}
			fn(e)
			timer.Reset(timeout)
		case <-timer.C:
			_ = w.Stop()
			return nil, fmt.Errorf("read bucket %s: nothing for %v", bucket, timeout)
		case <-ctx.Done():
			_ = w.Stop()
			return nil, ctx.Err()
		}
	}
}

// ReadRecords reads the registry, the fleet deployments and the rollouts,
// and returns why the records that did not decode were skipped. A bucket
// that does not exist holds no records.
//
// The three buckets are read at once, each into Records of its own (Apply
// touches only its bucket's map), joined at the end.
func ReadRecords(ctx context.Context, js jetstream.JetStream, timeout time.Duration) (Records, []error, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		parts = make([]Records, len(recordBuckets))
		bad   = make([][]error, len(recordBuckets))
		errs  = make([]error, len(recordBuckets))
	)
	for i, b := range recordBuckets {
		parts[i] = NewRecords()
		wg.Go(func() {
			w, err := watchStored(ctx, js, b, timeout, func(e jetstream.KeyValueEntry) {
				if err := parts[i].Apply(b, e); err != nil {
					bad[i] = append(bad[i], err)
				}
			})
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			if w != nil {
				_ = w.Stop()
			}
		})
	}
	wg.Wait()
	if err := cause(errs...); err != nil {
		return Records{}, nil, err
	}
	r := Records{Registry: parts[0].Registry, Deployments: parts[1].Deployments, Rollouts: parts[2].Rollouts}
	return r, slices.Concat(bad...), nil
}
