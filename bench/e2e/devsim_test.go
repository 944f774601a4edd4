//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// simFailEnv is the spec environment variable that makes simulated devices
// fail a spec: with "20", the devices whose index is 0..19 modulo 100 (20%
// of every wave, since waves take devices in ID order) report it failed.
const simFailEnv = "HARMONY_SIM_FAIL_PERCENT"

// simLabels are the registry labels of every simulated device.
var simLabels = map[string]string{"fleet": "sim"}

// simSelector is the selector of the fleet deployments that target them.
const simSelector = "fleet=sim"

// simEpoch is the agent epoch of every simulated device.
const simEpoch = fleet.AgentEpoch(1875123456789012)

// simDeviceID names simulated device i.
func simDeviceID(i int) fleet.DeviceID { return fleet.DeviceID(fmt.Sprintf("ctl-%05d", i)) }

// simDeviceIndex is the inverse of simDeviceID (false for another name).
func simDeviceIndex(id fleet.DeviceID) (int, bool) {
	s, ok := strings.CutPrefix(string(id), "ctl-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0
}

// simSpec is a valid process spec; change makes its hash differ from the
// others', failPercent > 0 makes that share of the devices fail it.
func simSpec(change, failPercent int) fleet.DeploymentSpec {
	env := map[string]string{"CHANGE": strconv.Itoa(change)}
	if failPercent > 0 {
		env[simFailEnv] = strconv.Itoa(failPercent)
	}
	return fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "3600"}, Env: env}
}

// devSim simulates devices on the wire as agents act on it (ARCHITECTURE
// 3-4): each device acts on its own desired-state keys only, decodes each
// value (signed or bare) with the fleet packages, and after the delay
// publishes `pending` then `running` (or `failed`, for a spec that asks a
// share of the devices to fail: simFailEnv) StateChangeEvents on its
// subject with its sequence numbers and Msg-Id, a `removed` for a deleted
// key, and keeps its DeviceInfo snapshot in device-info: rewritten after
// a change (at most once a second) and every heartbeat interval.
//
// The devices share conns connections, device i owned by worker i mod
// conns (one goroutine, so a device's events go out in sequence order);
// one wide watch of desired-state, on a connection of its own, hands each
// entry to the worker of the device its key names.
type devSim struct {
	b        *testing.B
	delay    time.Duration
	interval time.Duration // heartbeat
	workers  []*simWorker
	watchNC  *nats.Conn
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// simDevice is one simulated agent's state, owned by its worker.
type simDevice struct {
	id       fleet.DeviceID
	index    int
	nonce    string
	seq      uint64
	deps     map[fleet.DeploymentName]fleet.DeploymentStatus
	started  time.Time
	lastSnap time.Time
	dirty    bool
}

// simWorker runs the devices of one connection.
type simWorker struct {
	sim     *devSim
	nc      *nats.Conn
	js      jetstream.JetStream
	failed  atomic.Int64 // publishes not acked
	devices map[fleet.DeviceID]*simDevice
	// in receives the desired-state entries of its devices from the
	// watch; it holds a wave's share of keys (a wave of 10,000 devices
	// over 4 workers is 2,500) so the watch seldom waits.
	in chan jetstream.KeyValueEntry
}

// simQueued is an entry waiting for the device delay.
type simQueued struct {
	e   jetstream.KeyValueEntry
	due time.Time
}

// newDevSim makes n devices sharing conns connections to url; none is
// running until start.
func newDevSim(b *testing.B, url string, n, conns int, delay, interval time.Duration) *devSim {
	b.Helper()
	s := &devSim{b: b, delay: delay, interval: interval}
	for range max(conns, 1) {
		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatalf("devsim: connect %s: %v", url, err)
		}
		w := &simWorker{sim: s, nc: nc, devices: map[fleet.DeviceID]*simDevice{}, in: make(chan jetstream.KeyValueEntry, 4096)}
		w.js, err = jetstream.New(nc,
			jetstream.WithPublishAsyncMaxPending(1024),
			jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { w.failed.Add(1) }))
		if err != nil {
			b.Fatalf("devsim: jetstream: %v", err)
		}
		s.workers = append(s.workers, w)
	}
	now := time.Now().UTC()
	for i := range n {
		d := &simDevice{id: simDeviceID(i), index: i, nonce: fleet.NewMsgIDNonce(),
			deps: map[fleet.DeploymentName]fleet.DeploymentStatus{}, started: now}
		s.worker(i).devices[d.id] = d
	}
	return s
}

func (s *devSim) worker(i int) *simWorker { return s.workers[i%len(s.workers)] }

// seed writes, before start, the state of a fleet that has run every one
// of deps for a while: the registry records of devices 0..enrolled-1, the
// desired key of each deployment on each of them (the bare spec, as the
// controller writes it without a signing key), and every device's
// snapshot (the enrolled ones running every deployment; the others, not
// yet enrolled, none), their heartbeats spread over the interval.
func (s *devSim) seed(enrolled int, deps []fleet.FleetDeployment) {
	b := s.b
	b.Helper()
	now := time.Now().UTC()
	values := make(map[fleet.DeploymentName][]byte, len(deps))
	for _, d := range deps {
		v, err := json.Marshal(d.Spec.WithDefaults())
		if err != nil {
			b.Fatal(err)
		}
		values[d.Name] = v
	}
	all := 0
	for _, w := range s.workers {
		all += len(w.devices)
	}
	for _, w := range s.workers {
		put := func(bucket, key string, v []byte) {
			if _, err := w.js.PublishAsync("$KV."+bucket+"."+key, v, jetstream.WithStallWait(waitTimeout)); err != nil {
				b.Fatalf("devsim: seed %s %s: %v", bucket, key, err)
			}
		}
		for _, d := range w.devices {
			if d.index < enrolled {
				rec, err := json.Marshal(fleet.DeviceRecord{DeviceID: d.id, Labels: simLabels, EnrolledAt: now.Truncate(time.Millisecond)})
				if err != nil {
					b.Fatal(err)
				}
				put(fleet.DeviceRegistryBucket, string(d.id), rec)
				for _, dep := range deps {
					put(fleet.DesiredStateBucket, fleet.DesiredKey(d.id, dep.Name), values[dep.Name])
					d.seq += 2 // its pending and running, long ago
					d.deps[dep.Name] = fleet.DeploymentStatus{Phase: fleet.PhaseRunning, SpecHash: fleet.SpecHash(dep.Spec),
						Revision: fleet.Revision{AgentEpoch: simEpoch, Sequence: d.seq}}
				}
			}
			put(fleet.DeviceInfoBucket, string(d.id), s.snapshot(d, now))
			// The next heartbeats are spread evenly over the interval.
			d.lastSnap = now.Add(-time.Duration(d.index%all) * s.interval / time.Duration(all))
		}
	}
	for _, w := range s.workers {
		waitAcks(b, w.js, &w.failed, "devsim: seed")
	}
}

// snapshot is d's DeviceInfo at now.
func (s *devSim) snapshot(d *simDevice, now time.Time) []byte {
	info := fleet.DeviceInfo{DeviceID: d.id, AgentEpoch: simEpoch, AgentVersion: "sim", Hostname: string(d.id), OS: "linux", Arch: "arm64",
		Labels: simLabels, StartedAt: d.started, HeartbeatAt: now, Deployments: d.deps,
		HeartbeatIntervalSeconds: int64(s.interval / time.Second)}
	if d.seq > 0 {
		info.Revision = fleet.Revision{AgentEpoch: simEpoch, Sequence: d.seq}
	}
	b, err := json.Marshal(info)
	if err != nil {
		panic(err) // a DeviceInfo always encodes
	}
	return b
}

// start opens the watch and runs the devices until close.
func (s *devSim) start(url string) {
	b := s.b
	b.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatalf("devsim: connect %s: %v", url, err)
	}
	s.watchNC = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		b.Fatalf("devsim: %v", err)
	}
	// Every key's last value first (the seeded ones: no-ops), then live.
	watch, err := kv.WatchAll(ctx)
	if err != nil {
		b.Fatalf("devsim: watch %s: %v", fleet.DesiredStateBucket, err)
	}
	s.wg.Go(func() {
		defer func() { _ = watch.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-watch.Updates():
				if !ok {
					b.Errorf("devsim: watch of %s closed", fleet.DesiredStateBucket)
					return
				}
				if e == nil {
					continue
				}
				dev, _, err := fleet.ParseDesiredKey(e.Key())
				if err != nil {
					continue // an agent logs and skips it
				}
				i, ok := simDeviceIndex(dev)
				if !ok || s.worker(i).devices[dev] == nil {
					continue // not one of ours
				}
				select {
				case s.worker(i).in <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	})
	for _, w := range s.workers {
		s.wg.Go(func() { w.run(ctx) })
	}
}

// close stops the devices, waits for their last acks and closes the
// connections.
func (s *devSim) close() {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	for _, w := range s.workers {
		select {
		case <-w.js.PublishAsyncComplete():
		case <-time.After(waitTimeout):
			s.b.Errorf("devsim: %d publishes not acked within %s", w.js.PublishAsyncPending(), waitTimeout)
		}
		if n := w.failed.Load(); n > 0 {
			s.b.Errorf("devsim: %d publishes failed", n)
		}
		w.nc.Close()
	}
	if s.watchNC != nil {
		s.watchNC.Close()
	}
}

// snapshotTick is how often a worker looks for snapshots to write.
const snapshotTick = 250 * time.Millisecond

// run acts on the worker's entries, after the delay, in arrival order,
// and writes its devices' snapshots, until ctx is done.
func (w *simWorker) run(ctx context.Context) {
	tick := time.NewTicker(snapshotTick)
	defer tick.Stop()
	var queue []simQueued // in due order: the delay is the same for all
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if len(queue) > 0 {
			timer.Reset(time.Until(queue[0].due))
		}
		select {
		case <-ctx.Done():
			return
		case e := <-w.in:
			if w.sim.delay <= 0 {
				w.act(e)
				continue
			}
			queue = append(queue, simQueued{e: e, due: time.Now().Add(w.sim.delay)})
		case <-timer.C:
			now := time.Now()
			n := 0
			for n < len(queue) && !queue[n].due.After(now) {
				w.act(queue[n].e)
				n++
			}
			queue = append(queue[:0], queue[n:]...)
		case now := <-tick.C:
			w.snapshots(now.UTC())
		}
	}
}

// act is what the device's agent does with one entry of its key.
func (w *simWorker) act(e jetstream.KeyValueEntry) {
	dev, name, err := fleet.ParseDesiredKey(e.Key())
	if err != nil {
		return
	}
	d := w.devices[dev]
	if d == nil {
		return
	}
	cur, had := d.deps[name]
	if e.Operation() != jetstream.KeyValuePut {
		if had {
			w.publish(d, name, fleet.Removed(cur.Phase), "")
			delete(d.deps, name)
			d.dirty = true
		}
		return
	}
	spec, err := decodeDesired(dev, name, e.Value())
	if err != nil {
		w.publish(d, name, fleet.Applied(cur.Phase, fleet.PhaseFailed, "invalid desired value: "+err.Error()), "")
		d.deps[name] = fleet.DeploymentStatus{Phase: fleet.PhaseFailed, LastError: fleet.ErrorText(err.Error()),
			Revision: fleet.Revision{AgentEpoch: simEpoch, Sequence: d.seq}}
		d.dirty = true
		return
	}
	hash := fleet.SpecHash(spec)
	if had && cur.SpecHash == hash {
		return // the same spec: a no-op, as the agent's
	}
	w.publish(d, name, fleet.Applied(cur.Phase, fleet.PhasePending, ""), hash)
	to, lastErr := fleet.PhaseRunning, ""
	if p, err := strconv.Atoi(spec.Env[simFailEnv]); err == nil && d.index%100 < p {
		to, lastErr = fleet.PhaseFailed, "simulated failure"
	}
	w.publish(d, name, fleet.Applied(fleet.PhasePending, to, lastErr), hash)
	d.deps[name] = fleet.DeploymentStatus{Phase: to, LastError: fleet.ErrorText(lastErr), SpecHash: hash,
		Revision: fleet.Revision{AgentEpoch: simEpoch, Sequence: d.seq}}
	d.dirty = true
}

// decodeDesired decodes a desired value as an agent without trust keys
// does: a signed envelope's statement (for this device and deployment
// only), else a bare spec.
func decodeDesired(dev fleet.DeviceID, name fleet.DeploymentName, value []byte) (fleet.DeploymentSpec, error) {
	if signed.IsEnvelope(value) {
		st, err := signed.Unverified(value, dev, name)
		if err != nil {
			return fleet.DeploymentSpec{}, err
		}
		return st.Spec, nil
	}
	return fleet.DecodeSpec(value)
}

// publish records the device's next transition and publishes it with its
// Msg-Id (asynchronously: the worker's window of unacked events).
func (w *simWorker) publish(d *simDevice, name fleet.DeploymentName, tr fleet.LifecycleTransition, hash string) {
	d.seq++
	ev := fleet.StateChangeEvent{DeviceID: d.id, Deployment: name, Revision: fleet.Revision{AgentEpoch: simEpoch, Sequence: d.seq},
		Transition: tr, SpecHash: hash, At: time.Now().UTC()}
	data, err := json.Marshal(ev)
	if err != nil {
		w.sim.b.Errorf("devsim: encode %s: %v", ev.Subject(), err)
		return
	}
	if _, err := w.js.PublishMsgAsync(&nats.Msg{Subject: ev.Subject(), Data: data}, jetstream.WithMsgID(ev.MsgID(d.nonce)), jetstream.WithStallWait(waitTimeout)); err != nil {
		w.sim.b.Errorf("devsim: publish %s: %v", ev.Subject(), err)
	}
}

// snapshots writes the snapshot of every device that changed a second or
// more after its last one, or whose heartbeat is due.
func (w *simWorker) snapshots(now time.Time) {
	for _, d := range w.devices {
		since := now.Sub(d.lastSnap)
		if !(d.dirty && since >= time.Second) && since < w.sim.interval {
			continue
		}
		if _, err := w.js.PublishAsync("$KV."+fleet.DeviceInfoBucket+"."+string(d.id), w.sim.snapshot(d, now), jetstream.WithStallWait(waitTimeout)); err != nil {
			w.sim.b.Errorf("devsim: snapshot %s: %v", d.id, err)
			return
		}
		d.lastSnap, d.dirty = now, false
	}
}
