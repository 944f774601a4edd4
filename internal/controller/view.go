package controller

import (
	"maps"
	"slices"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// view is what the controller knows of the fleet, in the shapes
// rollout.Input reads. It is not safe for concurrent use: Controller
// guards it with its mutex.
type view struct {
	deployments map[fleet.DeploymentName]fleet.FleetDeployment
	registry    map[fleet.DeviceID]rollout.Device
	liveness    map[fleet.DeviceID]rollout.Liveness
	observed    map[fleet.DeploymentName]map[fleet.DeviceID]rollout.Observation
	keys        map[fleet.DeploymentName]map[fleet.DeviceID]rollout.Key
	statuses    map[fleet.DeploymentName]fleet.RolloutStatus

	// obsRev is the revision of each pair's observation (or removal), by
	// device then deployment: an event or a snapshot not newer than it is
	// dropped.
	obsRev map[fleet.DeviceID]map[fleet.DeploymentName]fleet.Revision
	// infoRev is each device's last snapshot revision.
	infoRev map[fleet.DeviceID]fleet.Revision
	// keyRev is the KV revision last applied per desired key (including
	// deletes, ours and others'): an older entry arriving late is dropped.
	keyRev map[string]uint64
	// statusRev is the KV revision of each status held.
	statusRev map[fleet.DeploymentName]uint64

	heartbeat time.Duration
	// lastInfo is when the last device-info entry arrived (the
	// controller's clock): a silent watch makes every device look
	// offline, so the controller holds its writes (see stalled).
	lastInfo time.Time
	// maxInterval is the longest heartbeat interval of any device seen.
	maxInterval time.Duration

	// ids holds each enrolled device's ID, hashes the spec hashes seen:
	// the one copy of each the maps share (see canonID).
	ids    map[fleet.DeviceID]fleet.DeviceID
	hashes map[string]string
}

type pair struct {
	device     fleet.DeviceID
	deployment fleet.DeploymentName
}

func newView(heartbeat time.Duration) *view {
	return &view{
		deployments: map[fleet.DeploymentName]fleet.FleetDeployment{},
		registry:    map[fleet.DeviceID]rollout.Device{},
		liveness:    map[fleet.DeviceID]rollout.Liveness{},
		observed:    map[fleet.DeploymentName]map[fleet.DeviceID]rollout.Observation{},
		keys:        map[fleet.DeploymentName]map[fleet.DeviceID]rollout.Key{},
		statuses:    map[fleet.DeploymentName]fleet.RolloutStatus{},
		obsRev:      map[fleet.DeviceID]map[fleet.DeploymentName]fleet.Revision{},
		infoRev:     map[fleet.DeviceID]fleet.Revision{},
		keyRev:      map[string]uint64{},
		statusRev:   map[fleet.DeploymentName]uint64{},
		heartbeat:   heartbeat,
		ids:         map[fleet.DeviceID]fleet.DeviceID{},
	}
}

// input returns the planner's input at now. Its maps are the view's own:
// the caller holds the lock while Plan reads them.
func (v *view) input(now time.Time) rollout.Input {
	reg := make([]rollout.Device, 0, len(v.registry))
	for _, id := range slices.Sorted(maps.Keys(v.registry)) {
		reg = append(reg, v.registry[id])
	}
	return rollout.Input{
		Now:         now,
		Deployments: v.deployments,
		Registry:    reg,
		Liveness:    v.liveness,
		Observed:    v.observed,
		Keys:        maps.Clone(v.keys), // stampBare replaces inner maps
		Statuses:    v.statuses,
	}
}

// setDeployment applies a deployments entry (nil d: deleted).
func (v *view) setDeployment(name fleet.DeploymentName, d *fleet.FleetDeployment) {
	if d == nil {
		delete(v.deployments, name)
		return
	}
	v.deployments[name] = *d
}

// setDevice applies a device-registry entry (nil r: removed).
func (v *view) setDevice(id fleet.DeviceID, r *fleet.DeviceRecord) {
	if r == nil {
		delete(v.registry, id)
		delete(v.ids, id)
		return
	}
	id = v.canonID(id)
	v.ids[id] = id
	v.registry[id] = rollout.Device{ID: id, Labels: r.Labels}
}

// setStatus applies a rollouts entry at KV revision rev; an entry older
// than the status held (the controller's own write, applied already) is
// dropped.
func (v *view) setStatus(name fleet.DeploymentName, s *fleet.RolloutStatus, rev uint64) {
	if rev <= v.statusRev[name] {
		return
	}
	v.statusRev[name] = rev
	if s == nil {
		delete(v.statuses, name)
		return
	}
	v.statuses[name] = *s
}

// setKey applies a desired-state entry at KV revision rev, written at
// created (value nil: deleted). An entry not newer than the one held is
// dropped.
func (v *view) setKey(key string, value []byte, rev uint64, created time.Time) {
	dev, name, err := fleet.ParseDesiredKey(key)
	if err != nil {
		return
	}
	if rev <= v.keyRev[key] {
		return
	}
	v.keyRev[key] = rev
	if value == nil {
		if m := v.keys[name]; m != nil {
			delete(m, dev)
			if len(m) == 0 {
				delete(v.keys, name)
			}
		}
		return
	}
	dev = v.canonID(dev)
	k := decodeKey(dev, name, value)
	k.SpecHash = v.canonHash(k.SpecHash)
	k.Revision, k.WrittenAt = rev, created
	m := v.keys[name]
	if m == nil {
		m = map[fleet.DeviceID]rollout.Key{}
		v.keys[name] = m
	}
	m[dev] = k
}

// decodeKey reads a desired value's generation and spec hash: a signed
// envelope's statement (not verified: the agent verifies; the controller
// only needs to know what the key holds), or a bare spec. A bare spec has
// no generation: gen is then 0 and generationOf fills it in.
func decodeKey(dev fleet.DeviceID, name fleet.DeploymentName, value []byte) rollout.Key {
	if signed.IsEnvelope(value) {
		st, err := signed.Unverified(value, dev, name)
		if err != nil {
			return rollout.Key{}
		}
		return rollout.Key{Generation: st.Generation, SpecHash: fleet.SpecHash(st.Spec)}
	}
	spec, err := fleet.DecodeSpec(value)
	if err != nil {
		return rollout.Key{}
	}
	return rollout.Key{SpecHash: fleet.SpecHash(spec)}
}

// stampBare gives the keys that hold a bare spec (generation 0) the
// generation of the fleet deployment's version with their spec: the
// current one's, else the previous one's, else none. A bare value carries
// no generation (agents without trust keys read nothing else), and none is
// needed: with no replay check on the device, the spec is the version.
func stampBare(in *rollout.Input) {
	for name, keys := range in.Keys {
		d, ok := in.Deployments[name]
		if !ok {
			continue
		}
		cur := fleet.SpecHash(d.Spec)
		prev := ""
		if d.Previous != nil {
			prev = fleet.SpecHash(d.Previous.Spec)
		}
		cloned := false
		for id, k := range keys {
			if k.Generation != 0 || k.SpecHash == "" {
				continue
			}
			if !cloned {
				keys, cloned = maps.Clone(keys), true
				in.Keys[name] = keys
			}
			switch k.SpecHash {
			case cur:
				k.Generation = d.Generation
			case prev:
				k.Generation = d.Previous.Generation
			default:
				continue
			}
			keys[id] = k
		}
	}
}

// setInfo applies a device-info snapshot (nil: the key was deleted, the
// device is offline and what it ran unknown) and reports whether it
// changed what a plan reads other than by the passing of time: a
// deployment's phase or spec, the device coming online or its heartbeat
// interval. A heartbeat of an online device that reports what the view
// holds changes nothing a plan at the next tick would not see.
func (v *view) setInfo(id fleet.DeviceID, info *fleet.DeviceInfo) bool {
	id = v.canonID(id)
	now := time.Now()
	v.lastInfo = now
	if info == nil {
		delete(v.liveness, id)
		return true
	}
	// The interval the agent reports, else the one the controller was
	// told (agents before heartbeat_interval_seconds).
	iv := v.heartbeat
	if info.HeartbeatIntervalSeconds > 0 {
		iv = info.HeartbeatInterval()
	}
	v.maxInterval = max(v.maxInterval, iv)
	prev, known := v.liveness[id]
	v.liveness[id] = rollout.Liveness{HeartbeatAt: info.HeartbeatAt, HeartbeatInterval: iv}
	// Offline by the previous heartbeat (as rollout.Plan judges), online
	// by this one, or another interval: a plan now decides otherwise.
	changed := !known || prev.HeartbeatInterval != iv ||
		!prev.HeartbeatAt.IsZero() && now.Sub(prev.HeartbeatAt) > rollout.OfflineHeartbeats*prev.HeartbeatInterval
	if prev, ok := v.infoRev[id]; ok && info.Revision.Compare(prev) < 0 {
		return changed
	}
	v.infoRev[id] = info.Revision
	// Pairs the snapshot holds take its value unless they hold something
	// newer; pairs it does not hold are gone unless newer than it.
	revs := v.obsRev[id]
	for name, st := range info.Deployments {
		if r, ok := revs[name]; ok && r.Compare(st.Revision) >= 0 {
			continue
		}
		if v.observe(pair{id, name}, st.Phase, st.SpecHash, st.Revision, info.HeartbeatAt) {
			changed = true
		}
	}
	for name, r := range v.obsRev[id] {
		if _, ok := info.Deployments[name]; ok || r.Compare(info.Revision) > 0 {
			continue
		}
		v.forget(pair{id, name})
		changed = true
	}
	return changed
}

// setEvent applies one event.
func (v *view) setEvent(e fleet.StateChangeEvent) {
	p := pair{v.canonID(e.DeviceID), e.Deployment}
	if r, ok := v.obsRev[p.device][p.deployment]; ok && r.Compare(e.Revision) >= 0 {
		return
	}
	if e.Transition.Kind == fleet.KindRemoved {
		v.forget(p)
		v.setObsRev(p, e.Revision) // a tombstone: older news stays dropped
		return
	}
	v.observe(p, e.Transition.To, e.SpecHash, e.Revision, e.At)
}

// observe sets p's observation; since is kept when the phase and spec did
// not change (a snapshot repeating what an event told). It reports whether
// the observation changed (a new phase or spec, or a first one).
func (v *view) observe(p pair, phase fleet.Phase, hash string, rev fleet.Revision, since time.Time) bool {
	hash = v.canonHash(hash)
	v.setObsRev(p, rev)
	m := v.observed[p.deployment]
	if m == nil {
		m = map[fleet.DeviceID]rollout.Observation{}
		v.observed[p.deployment] = m
	}
	if o, ok := m[p.device]; ok && o.Phase == phase && o.SpecHash == hash && !o.Since.IsZero() {
		return false // Since kept: the observation is the one held
	}
	m[p.device] = rollout.Observation{Phase: phase, SpecHash: hash, Since: since}
	return true
}

func (v *view) setObsRev(p pair, rev fleet.Revision) {
	m := v.obsRev[p.device]
	if m == nil {
		m = map[fleet.DeploymentName]fleet.Revision{}
		v.obsRev[p.device] = m
	}
	m[p.deployment] = rev
}

func (v *view) forget(p pair) {
	delete(v.obsRev[p.device], p.deployment)
	if m := v.observed[p.deployment]; m != nil {
		delete(m, p.device)
		if len(m) == 0 {
			delete(v.observed, p.deployment)
		}
	}
}

// stalled reports whether no snapshot arrived for two heartbeat intervals
// (the longest of the devices')
// while devices were known online: the device-info watch is then most
// likely broken (a JetStream leader election, a lost server), not every
// device gone at once, and a plan would count them all unavailable. One
// interval less than rollout.OfflineHeartbeats, so writes stop before any
// device can look offline for that reason.
func (v *view) stalled(now time.Time) bool {
	if len(v.liveness) == 0 || v.lastInfo.IsZero() {
		return false
	}
	return now.Sub(v.lastInfo) > (rollout.OfflineHeartbeats-1)*max(v.heartbeat, v.maxInterval)
}
