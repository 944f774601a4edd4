package rollout

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// OfflineHeartbeats is how many heartbeat intervals a device may stay
// silent before it is offline (ARCHITECTURE 9).
const OfflineHeartbeats = 3

// Device is one device-registry record, reduced to what targeting reads:
// the operator-owned labels (never the ones a device reports).
type Device struct {
	ID     fleet.DeviceID
	Labels map[string]string
}

// Liveness is what the device's latest DeviceInfo says about it being up.
type Liveness struct {
	HeartbeatAt time.Time
	// HeartbeatInterval is the device's interval; 0 means
	// fleet.DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
}

// Observation is the latest phase a device reported for a deployment,
// folded by the caller from DeviceInfo snapshots and events.
type Observation struct {
	Phase    fleet.Phase
	SpecHash string
	// Since is when the device entered Phase with SpecHash: the `at` of the
	// event that told it (or, known only from a snapshot, the snapshot's
	// time). It measures min_ready_seconds.
	Since time.Time
}

// Key is the current value of a desired-state key.
type Key struct {
	// Generation and SpecHash of the value (SpecHash "" when the value does
	// not decode: it is then rewritten or deleted like any stale value).
	Generation uint64
	SpecHash   string
	// Revision is the key's KV revision: the revision a write expects.
	Revision uint64
	// WrittenAt is when the value was written (the KV entry's time); it
	// starts the health timeout.
	WrittenAt time.Time
}

// Input is everything Plan decides from. Plan only reads it.
type Input struct {
	Now time.Time
	// Deployments are the fleet deployments by name (the deployments
	// bucket). One whose Name differs from its map key, or that does not
	// Validate, is skipped: no writes, no status.
	Deployments map[fleet.DeploymentName]fleet.FleetDeployment
	// Registry is the device-registry, in any order; a repeated ID keeps
	// its last record.
	Registry []Device
	// Liveness by device; a device without one is offline.
	Liveness map[fleet.DeviceID]Liveness
	// Observed by deployment, then device.
	Observed map[fleet.DeploymentName]map[fleet.DeviceID]Observation
	// Keys are the desired-state keys by deployment, then device. Plan
	// reads only the entries of fleet deployments' names, so keys of
	// other deployments (apply --device) are never touched, whatever the
	// caller passes.
	Keys map[fleet.DeploymentName]map[fleet.DeviceID]Key
	// Statuses are the rollout statuses last written (the rollouts
	// bucket): with them, a restarted controller decides as the one
	// before it would have.
	Statuses map[fleet.DeploymentName]fleet.RolloutStatus
}

// Reason says why a write is made.
type Reason int

// The reasons.
const (
	// ReasonWave: the device is in a new wave of the rollout.
	ReasonWave Reason = iota + 1
	// ReasonJoin: the rollout is complete, the device has joined the
	// selector (or come back online) since; it gets the spec at once.
	ReasonJoin
	// ReasonRestamp: the key already holds the spec, which the device runs
	// ready, under an older generation; only the generation changes.
	ReasonRestamp
	// ReasonRollback: the rollout halted; the previous spec goes back (or,
	// for a first version, the key is deleted).
	ReasonRollback
	// ReasonUntargeted: the device left the selector or the registry.
	ReasonUntargeted
)

// String names the reason.
func (r Reason) String() string {
	switch r {
	case ReasonWave:
		return "wave"
	case ReasonJoin:
		return "join"
	case ReasonRestamp:
		return "restamp"
	case ReasonRollback:
		return "rollback"
	case ReasonUntargeted:
		return "untargeted"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Put writes Spec under Generation to Key, a compare-and-set on
// ExpectedRevision (0: the key must not exist).
type Put struct {
	Key              string
	Device           fleet.DeviceID
	Deployment       fleet.DeploymentName
	Generation       uint64
	Spec             fleet.DeploymentSpec
	ExpectedRevision uint64
	Reason           Reason
}

// Delete removes Key, a compare-and-set on ExpectedRevision.
type Delete struct {
	Key              string
	Device           fleet.DeviceID
	Deployment       fleet.DeploymentName
	ExpectedRevision uint64
	Reason           Reason
}

// Output is what Plan decided: the writes, each sorted by key, and every
// planned fleet deployment's new status, sorted by deployment. A status
// that did not change is returned equal to the one given, UpdatedAt
// included, so the caller writes only those that differ.
type Output struct {
	Puts     []Put
	Deletes  []Delete
	Statuses []fleet.RolloutStatus
}

// Matches reports whether labels hold every label of selector, with the
// same value.
func Matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// NextGeneration is the signers' rule of ARCHITECTURE 3.8: max(Unix
// milliseconds of now, last + 1).
func NextGeneration(last uint64, now time.Time) uint64 {
	if ms := now.UnixMilli(); ms > 0 && uint64(ms) > last {
		return uint64(ms)
	}
	return last + 1
}

// Deploy returns the fleet deployment to store when an operator deploys
// want over cur (nil when the name is new). A new spec (by SpecHash) gets a
// new generation and keeps cur's version as Previous; an unchanged spec
// keeps cur's generation and Previous, so a change of selector or policy
// starts no rollout. Paused is cur's: pause and resume have their own verbs.
func Deploy(cur *fleet.FleetDeployment, want fleet.FleetDeployment, now time.Time) fleet.FleetDeployment {
	want.Previous = nil
	if cur == nil {
		want.Generation = NextGeneration(0, now)
		return want
	}
	want.Paused = cur.Paused
	if fleet.SpecHash(cur.Spec) == fleet.SpecHash(want.Spec) {
		want.Generation = cur.Generation
		want.Previous = cur.Previous
		return want
	}
	want.Generation = NextGeneration(cur.Generation, now)
	want.Previous = &fleet.PreviousVersion{Spec: cur.Spec, Generation: cur.Generation}
	return want
}

// ErrNoPrevious is returned by Undo for a first version.
var ErrNoPrevious = errors.New("rollout: no previous version")

// Undo returns d rolled back to its previous version, as a new generation
// rolled out like any other (its waves are instant for the devices that
// already run that spec: see ReasonRestamp). The version undone becomes
// Previous, so a second undo returns to it.
func Undo(d fleet.FleetDeployment, now time.Time) (fleet.FleetDeployment, error) {
	if d.Previous == nil {
		return fleet.FleetDeployment{}, fmt.Errorf("undo %s: %w", d.Name, ErrNoPrevious)
	}
	prev := d.Previous.Spec
	d.Previous = &fleet.PreviousVersion{Spec: d.Spec, Generation: d.Generation}
	d.Spec = prev
	d.Generation = NextGeneration(d.Generation, now)
	return d, nil
}

// Waves returns the devices of registry that d targets, split into the
// waves a rollout started now would write if every device stayed online
// and ready (what `deploy --dry-run` prints).
func Waves(d fleet.FleetDeployment, registry []Device) [][]fleet.DeviceID {
	var targeted []fleet.DeviceID
	for _, dev := range sortedRegistry(registry) {
		if Matches(d.Selector, dev.Labels) {
			targeted = append(targeted, dev.ID)
		}
	}
	return slices.Collect(slices.Chunk(targeted, d.Rollout.Batch.Resolve(len(targeted))))
}

// sortedRegistry returns registry sorted by ID, the last record of a
// repeated ID kept.
func sortedRegistry(registry []Device) []Device {
	devs := slices.Clone(registry)
	slices.SortStableFunc(devs, func(a, b Device) int { return cmp.Compare(a.ID, b.ID) })
	out := devs[:0]
	for i, d := range devs {
		if i+1 < len(devs) && devs[i+1].ID == d.ID {
			continue
		}
		out = append(out, d)
	}
	return out
}

// Plan decides the writes that bring every fleet deployment's devices one
// step closer to its current generation, and each rollout's status. It is
// a pure function of in (see the package documentation for the rules).
func Plan(in Input) Output {
	devs := sortedRegistry(in.Registry)
	online := make([]bool, len(devs))
	index := make(map[fleet.DeviceID]int, len(devs))
	for i, d := range devs {
		online[i] = isOnline(in.Liveness, d.ID, in.Now)
		index[d.ID] = i
	}
	var out Output
	sc := &scratch{targeted: make([]bool, len(devs))}
	for _, name := range slices.Sorted(maps.Keys(in.Deployments)) {
		d := in.Deployments[name]
		if d.Name != name || d.Validate() != nil {
			continue
		}
		p := planner{in: &in, d: &d, devs: devs, index: index, online: online, out: &out, scratch: sc}
		out.Statuses = append(out.Statuses, p.plan())
	}
	slices.SortFunc(out.Puts, func(a, b Put) int { return cmp.Compare(a.Key, b.Key) })
	slices.SortFunc(out.Deletes, func(a, b Delete) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func isOnline(live map[fleet.DeviceID]Liveness, id fleet.DeviceID, now time.Time) bool {
	l, ok := live[id]
	if !ok || l.HeartbeatAt.IsZero() {
		return false
	}
	interval := l.HeartbeatInterval
	if interval <= 0 {
		interval = fleet.DefaultHeartbeatInterval
	}
	return now.Sub(l.HeartbeatAt) <= OfflineHeartbeats*interval
}

// health is where one targeted device stands with the current version.
type health int

const (
	notUpdated health = iota // its key does not hold the current version
	inFlight                 // updated, neither ready nor failed yet
	ready
	failed
)

// planner plans one fleet deployment.
type planner struct {
	in     *Input
	d      *fleet.FleetDeployment
	devs   []Device               // the registry, sorted
	index  map[fleet.DeviceID]int // position in devs
	online []bool                 // by index in devs
	out    *Output
	// scratch is reused from one deployment to the next.
	scratch *scratch
}

type scratch struct {
	targets  []target
	targeted []bool // by index in devs
}

// target is one targeted device.
type target struct {
	id     fleet.DeviceID
	online bool
	key    Key
	hasKey bool
	health health
}

func (p *planner) plan() fleet.RolloutStatus {
	d, in := p.d, p.in
	now := in.Now
	hash := fleet.SpecHash(d.Spec)
	prevHash := ""
	if d.Previous != nil {
		prevHash = fleet.SpecHash(d.Previous.Spec)
	}
	keys := in.Keys[d.Name]
	observed := in.Observed[d.Name]

	// Targeting: a key of a device outside the selector, or outside the
	// registry, is deleted, whatever the rollout's state.
	targets := p.scratch.targets[:0]
	isTargeted := p.scratch.targeted
	clear(isTargeted)
	defer func() { p.scratch.targets = targets[:0] }()
	// maxGen is the highest generation this deployment ever had a key at,
	// as far as the keys tell: a rollback write must be newer.
	maxGen := d.Generation
	keyed := 0 // targeted devices with a key
	for i, dev := range p.devs {
		if !Matches(d.Selector, dev.Labels) {
			continue
		}
		isTargeted[i] = true
		k, hasKey := keys[dev.ID]
		t := target{id: dev.ID, online: p.online[i], key: k, hasKey: hasKey}
		if hasKey {
			keyed++
			maxGen = max(maxGen, k.Generation)
			if k.SpecHash == hash && k.Generation >= d.Generation {
				t.health = p.judge(k, observed[dev.ID], hash)
			}
		}
		targets = append(targets, t)
	}
	// Keys beyond the targeted devices' (the registry's IDs are unique)
	// belong to devices outside the selector or the registry.
	if keyed < len(keys) {
		for id, k := range keys {
			maxGen = max(maxGen, k.Generation)
			if i, ok := p.index[id]; !ok || !isTargeted[i] {
				p.delete(id, k, ReasonUntargeted)
			}
		}
	}

	st := fleet.RolloutStatus{
		Deployment:       d.Name,
		Generation:       d.Generation,
		SpecHash:         hash,
		PreviousSpecHash: prevHash,
		Targeted:         len(targets),
	}
	var toWrite []*target // online, not updated
	var inflight []*target
	for i := range targets {
		t := &targets[i]
		if !t.online {
			st.Unavailable++
		}
		switch t.health {
		case notUpdated:
			if t.online {
				toWrite = append(toWrite, t)
			}
		case inFlight:
			st.Updated++
			inflight = append(inflight, t)
		case ready:
			st.Updated++
			st.Ready++
		case failed:
			st.Updated++
			st.Failed++
		}
	}

	prev, hasPrev := in.Statuses[d.Name]
	same := hasPrev && prev.Generation == d.Generation && prev.SpecHash == hash
	if same {
		st.Wave = prev.Wave
	}
	batch := d.Rollout.Batch.Resolve(st.Targeted)
	maxFailed := d.Rollout.MaxFailed.Resolve(st.Targeted)
	pausedNote := ""
	if d.Paused {
		pausedNote = " (paused)"
	}

	switch {
	case same && (prev.State == fleet.RolloutHalted || prev.State == fleet.RolloutRollingBack),
		!(same && prev.State == fleet.RolloutComplete) && st.Failed > maxFailed:
		// Halted, for good: only a new generation (deploy, undo) moves on.
		st.State = fleet.RolloutHalted
		st.Message = fmt.Sprintf("halted: %d failed, more than max_failed %d", st.Failed, maxFailed)
		if same && prev.State != fleet.RolloutProgressing && prev.State != fleet.RolloutPaused && prev.State != fleet.RolloutComplete {
			// Keep the count that halted it: failures can heal, or be
			// rolled back, and the reason must stay readable.
			st.Message = haltMessage(prev.Message, st.Message)
		}
		if d.Rollout.AutoRollback && prevHash != hash {
			took := 0
			for i := range targets {
				if targets[i].health != notUpdated {
					took++
				}
			}
			if took > 0 {
				st.State = fleet.RolloutRollingBack
				st.Message = fmt.Sprintf("%s; rolling back %d devices%s", st.Message, took, pausedNote)
				if !d.Paused {
					p.rollback(targets, maxGen)
				}
			} else {
				st.Message += "; rolled back"
			}
		}
	case d.Paused && !(same && prev.State == fleet.RolloutComplete):
		st.State = fleet.RolloutPaused
		st.Message = fmt.Sprintf("paused at wave %d: %d of %d updated", st.Wave, st.Updated, st.Targeted)
	case same && prev.State == fleet.RolloutComplete:
		// Late joiners and devices back online get the proven spec at once.
		st.State = fleet.RolloutComplete
		st.Message = fmt.Sprintf("complete: %d of %d updated%s", st.Updated, st.Targeted, pausedNote)
		if !d.Paused {
			for _, t := range toWrite {
				p.put(t, d.Spec, putGeneration(d.Generation, t), ReasonJoin)
			}
		}
	default:
		st.State = fleet.RolloutProgressing
		// A device whose key already holds the spec under an older
		// generation, and runs it ready, is only restamped: no wave.
		var fresh []*target
		for _, t := range toWrite {
			if t.hasKey && t.key.SpecHash == hash && p.judge(t.key, observed[t.id], hash) == ready {
				p.put(t, d.Spec, putGeneration(d.Generation, t), ReasonRestamp)
				st.Updated++
				st.Ready++
			} else {
				fresh = append(fresh, t)
			}
		}
		switch {
		case len(inflight) > 0:
			st.Message = fmt.Sprintf("wave %d: %d of %d updating, %d failed", st.Wave, len(inflight), st.Targeted, st.Failed)
		case len(fresh) > 0:
			st.Wave++
			wave := fresh[:min(batch, len(fresh))]
			for _, t := range wave {
				p.put(t, d.Spec, putGeneration(d.Generation, t), ReasonWave)
			}
			st.Updated += len(wave)
			st.Message = fmt.Sprintf("wave %d: updating %d of %d, %d failed", st.Wave, len(wave), st.Targeted, st.Failed)
		case st.Updated > 0:
			st.State = fleet.RolloutComplete
			st.Message = fmt.Sprintf("complete: %d of %d updated", st.Updated, st.Targeted)
		default:
			st.Message = fmt.Sprintf("waiting: %d targeted, none available to update", st.Targeted)
		}
	}
	if (st.State == fleet.RolloutProgressing || st.State == fleet.RolloutComplete) && st.Unavailable > 0 {
		st.Message += fmt.Sprintf(", %d unavailable", st.Unavailable)
	}

	st.UpdatedAt = now
	if hasPrev {
		cmpPrev := prev
		cmpPrev.UpdatedAt = now
		if cmpPrev == st {
			st.UpdatedAt = prev.UpdatedAt
		}
	}
	return st
}

// haltMessage keeps the first halt reason (from the previous status) and
// drops what this plan appended to it.
func haltMessage(prev, fallback string) string {
	const prefix = "halted: "
	if len(prev) < len(prefix) || prev[:len(prefix)] != prefix {
		return fallback
	}
	for i := len(prefix); i < len(prev); i++ {
		if prev[i] == ';' {
			return prev[:i]
		}
	}
	return prev
}

// judge says where an updated device stands with the spec of hash:
// ready once it has run it for min_ready_seconds (or it succeeded); failed
// once it reports failed, or is not ready health_timeout_seconds after its
// key was written; in flight otherwise.
func (p *planner) judge(k Key, o Observation, hash string) health {
	now, pol := p.in.Now, p.d.Rollout
	if o.SpecHash == hash {
		switch o.Phase {
		case fleet.PhaseSucceeded:
			return ready
		case fleet.PhaseRunning:
			if !o.Since.IsZero() && now.Sub(o.Since) >= pol.MinReady() {
				return ready
			}
		case fleet.PhaseFailed:
			return failed
		}
	}
	if now.Sub(k.WrittenAt) >= pol.HealthTimeout() {
		return failed
	}
	return inFlight
}

// putGeneration is the generation a write of the current version carries:
// the deployment's, or one more than the key's when the key is already
// newer (a rollback's), so the agent never refuses it as a replay.
func putGeneration(gen uint64, t *target) uint64 {
	if t.hasKey && t.key.Generation >= gen {
		return t.key.Generation + 1
	}
	return gen
}

// rollback writes the previous spec, under one generation newer than
// every key's, to every targeted device that took the current version;
// for a first version it deletes their keys.
func (p *planner) rollback(targets []target, maxGen uint64) {
	gen := NextGeneration(maxGen, p.in.Now)
	for i := range targets {
		t := &targets[i]
		if t.health == notUpdated {
			continue
		}
		if p.d.Previous == nil {
			p.delete(t.id, t.key, ReasonRollback)
			continue
		}
		p.put(t, p.d.Previous.Spec, gen, ReasonRollback)
	}
}

func (p *planner) put(t *target, spec fleet.DeploymentSpec, gen uint64, why Reason) {
	var rev uint64
	if t.hasKey {
		rev = t.key.Revision
	}
	p.out.Puts = append(p.out.Puts, Put{
		Key: fleet.DesiredKey(t.id, p.d.Name), Device: t.id, Deployment: p.d.Name,
		Generation: gen, Spec: spec, ExpectedRevision: rev, Reason: why,
	})
}

func (p *planner) delete(id fleet.DeviceID, k Key, why Reason) {
	p.out.Deletes = append(p.out.Deletes, Delete{
		Key: fleet.DesiredKey(id, p.d.Name), Device: id, Deployment: p.d.Name,
		ExpectedRevision: k.Revision, Reason: why,
	})
}
