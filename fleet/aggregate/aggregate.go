package aggregate

import (
	"cmp"
	"maps"
	"slices"
	"strconv"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// DevicePair names one deployment on one device.
type DevicePair struct {
	DeviceID   fleet.DeviceID
	Deployment fleet.DeploymentName
}

// Counts is the number of devices in each phase for one deployment.
type Counts struct {
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// Get returns the count for phase p, or 0 when p is not a phase.
func (c Counts) Get(p fleet.Phase) int {
	switch p {
	case fleet.PhasePending:
		return c.Pending
	case fleet.PhaseRunning:
		return c.Running
	case fleet.PhaseSucceeded:
		return c.Succeeded
	case fleet.PhaseFailed:
		return c.Failed
	}
	return 0
}

// Total returns the number of devices in any phase.
func (c Counts) Total() int { return c.Pending + c.Running + c.Succeeded + c.Failed }

// PairState is what the Aggregator holds for one DevicePair.
type PairState struct {
	Phase     fleet.Phase `json:"phase"`
	LastError string      `json:"last_error"`
	// Revision is the revision of the transition that set Phase, as told
	// by its event or by a snapshot's DeploymentStatus.
	Revision fleet.Revision `json:"revision"`
}

// Failing is one device whose deployment is in phase failed.
type Failing struct {
	DeviceID  fleet.DeviceID `json:"device_id"`
	LastError string         `json:"last_error"`
	Revision  fleet.Revision `json:"revision"`
}

// Aggregator folds StateChangeEvents and DeviceInfo snapshots into the
// state of every DevicePair and the phase counts of every deployment.
//
// Given inputs that agree with each other, as one agent's do, the result
// does not depend on their order nor on how many times each arrives; only
// on which ones arrived. The rules that make it so:
//
//   - A pair holds the newest thing known about it, by Revision. An event
//     not newer than the pair's revision is dropped (Apply returns false).
//     A newer applied event moves the pair from its *stored* phase (the
//     event's From is never read: it may name a phase the Aggregator never
//     saw, and it is null for a pair's first event in an epoch) to To.
//   - A removed event deletes the pair but leaves a tombstone: the pair's
//     revision without a phase, so an older applied event that arrives
//     late cannot bring the pair back. A removed event for a pair never
//     seen leaves a tombstone too.
//   - A device remembers the revision of its latest applied snapshot. The
//     snapshot already folds in every event at or before that revision, so
//     such events are dropped whatever the pair holds.
//   - A snapshot is applied when it is newer than the device's previous
//     snapshot. Each of the device's pairs then takes the snapshot's word
//     (its status, or removal when the snapshot lacks it) unless the pair
//     holds something newer than the snapshot: a later event, or a later
//     removal's tombstone, which stays. The other tombstones are dropped,
//     since the snapshot revision now rejects the events they guarded
//     against; so a device keeps tombstones only for removals after its
//     latest snapshot.
//   - An agent restart starts a new, larger epoch; revisions compare epoch
//     first, so the new epoch's events are newer than everything before.
//
// Hence, after any mix of duplicated, reordered and lost events, applying
// the snapshot taken at a device's latest revision makes the device's pairs
// and their counts exactly the truth. Without loss, the events alone do.
//
// Snapshots are compared with the previous snapshot, not with the newest
// event: a snapshot at revision R knows every transition up to R, so it
// must not be dropped because an event at R (or, on a busy device, at R+1
// racing it) arrived first; that snapshot is the one that repairs events
// lost before it.
//
// Inputs are assumed well formed, as fleet's decoders return them; an event
// with an unknown kind or phase, or a snapshot with an unknown phase, is
// dropped rather than miscounted.
//
// Memory: deployment names are interned into small integers for the
// Aggregator's life, and a device is never forgotten (its record is what
// rejects its stale events). A pair costs one 24-byte entry in its
// device's slice; only non-empty last errors are stored, apart, shared
// with the events that carried them.
//
// An Aggregator is not safe for concurrent use: its owner serializes calls.
type Aggregator struct {
	names   []fleet.DeploymentName          // by deployment index
	index   map[fleet.DeploymentName]uint32 // name to deployment index
	tallies [][numPhases]int                // by deployment index, then phase-1
	// failing holds, by deployment index, the devices whose pair is in
	// phase failed; nil until one is.
	failing []map[fleet.DeviceID]*device
	devices map[fleet.DeviceID]*device
	// errs holds the non-empty last errors, which few pairs have: keeping
	// them out of entry keeps a device's entries small.
	errs  map[pairKey]string
	pairs int // entries with a phase, over all devices
}

// pairKey names a pair by its device record and deployment index.
type pairKey struct {
	d   *device
	dep uint32
}

// device is what the Aggregator holds for one device.
type device struct {
	// entries has at most one entry per deployment index, tombstones
	// included. Devices run a handful of deployments: a linear scan beats
	// a map and costs far less memory.
	entries []entry
	snap    fleet.Revision // revision of the latest applied snapshot
	hasSnap bool           // whether a snapshot was applied
}

// entry is one pair of a device: a live pair, or a tombstone when phase is
// phaseNone.
type entry struct {
	rev    fleet.Revision
	dep    uint32
	phase  phase
	hasErr bool // the pair's last error is in Aggregator.errs
}

// phase is the in-memory form of fleet.Phase. The zero value is no phase:
// the pair was removed.
type phase uint8

const (
	phaseNone phase = iota
	phasePending
	phaseRunning
	phaseSucceeded
	phaseFailed
)

// numPhases is the number of phases a live pair can be in.
const numPhases = 4

// phaseOf maps a wire phase to its in-memory form; phaseNone when p is not
// a phase.
func phaseOf(p fleet.Phase) phase {
	switch p {
	case fleet.PhasePending:
		return phasePending
	case fleet.PhaseRunning:
		return phaseRunning
	case fleet.PhaseSucceeded:
		return phaseSucceeded
	case fleet.PhaseFailed:
		return phaseFailed
	}
	return phaseNone
}

// wire returns p's fleet.Phase; "" for phaseNone.
func (p phase) wire() fleet.Phase {
	if p == phaseNone || p > numPhases {
		return ""
	}
	return fleet.Phases[p-1]
}

// String names every value.
func (p phase) String() string {
	if p == phaseNone {
		return "none"
	}
	if w := p.wire(); w != "" {
		return string(w)
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// New returns an empty Aggregator.
func New() *Aggregator {
	return &Aggregator{
		index:   make(map[fleet.DeploymentName]uint32),
		devices: make(map[fleet.DeviceID]*device),
		errs:    make(map[pairKey]string),
	}
}

// Apply folds one event and reports whether it changed anything. It drops
// (returns false) an event whose revision is not newer than its pair's
// stored revision, live or tombstone, or than the device's latest snapshot
// revision, and an event of unknown kind or phase. Otherwise the pair leaves
// its stored phase and, for an applied event, enters the event's To with its
// LastError; a removed event deletes the pair, leaving a tombstone.
func (a *Aggregator) Apply(e fleet.StateChangeEvent) bool {
	to := phaseNone
	switch e.Transition.Kind {
	case fleet.KindApplied:
		if to = phaseOf(e.Transition.To); to == phaseNone {
			return false
		}
	case fleet.KindRemoved:
	default:
		return false
	}
	d := a.devices[e.DeviceID]
	var snap fleet.Revision // the zero Revision: no transition has it
	if d != nil {
		snap = d.snap
	}
	if e.Revision.Compare(snap) <= 0 {
		return false
	}
	if d == nil {
		d = &device{}
		a.devices[e.DeviceID] = d
	}
	lastError := ""
	if to != phaseNone {
		lastError = e.Transition.LastError
	}
	dep, known := a.index[e.Deployment]
	if !known {
		dep = a.intern(e.Deployment)
	} else if i := d.find(dep); i >= 0 {
		en := &d.entries[i]
		if e.Revision.Compare(en.rev) <= 0 {
			return false
		}
		a.set(e.DeviceID, d, en, to, lastError, e.Revision)
		return true
	}
	a.add(e.DeviceID, d, dep, to, lastError, e.Revision)
	return true
}

// ApplySnapshot folds a device's snapshot and reports whether it applied.
// It applies when info.Revision is newer than the device's previous
// snapshot (any snapshot applies to a device that had none). Every pair of
// the device then becomes what the snapshot says, its status or absent,
// except pairs that hold something newer than info.Revision (a later event
// or removal), which keep it. A snapshot with an unknown phase is dropped.
func (a *Aggregator) ApplySnapshot(info fleet.DeviceInfo) bool {
	for _, st := range info.Deployments {
		if phaseOf(st.Phase) == phaseNone {
			return false
		}
	}
	d := a.devices[info.DeviceID]
	switch {
	case d == nil:
		d = &device{}
		a.devices[info.DeviceID] = d
	case d.hasSnap && info.Revision.Compare(d.snap) <= 0:
		return false
	}
	d.snap, d.hasSnap = info.Revision, true

	// Keep what is newer than the snapshot; let the snapshot decide the
	// rest.
	kept := 0
	for i := range d.entries {
		en := &d.entries[i]
		if en.rev.Compare(info.Revision) > 0 {
			d.entries[kept] = *en
			kept++
			continue
		}
		a.set(info.DeviceID, d, en, phaseNone, "", fleet.Revision{})
	}
	d.entries = d.entries[:kept]

	for name, st := range info.Deployments {
		dep := a.intern(name)
		if d.find(dep) >= 0 {
			continue // a newer event decided this pair
		}
		a.add(info.DeviceID, d, dep, phaseOf(st.Phase), string(st.LastError), st.Revision)
	}
	return true
}

// Counts returns the phase counts of deployment name (zero when unknown).
func (a *Aggregator) Counts(name fleet.DeploymentName) Counts {
	dep, ok := a.index[name]
	if !ok {
		return Counts{}
	}
	t := a.tallies[dep]
	return Counts{
		Pending:   t[phasePending-1],
		Running:   t[phaseRunning-1],
		Succeeded: t[phaseSucceeded-1],
		Failed:    t[phaseFailed-1],
	}
}

// Failing returns the devices whose deployment name is in phase failed,
// with their last error, sorted by device id. It is never nil, so it
// encodes as a JSON array.
func (a *Aggregator) Failing(name fleet.DeploymentName) []Failing {
	dep, ok := a.index[name]
	if !ok {
		return []Failing{}
	}
	out := make([]Failing, 0, len(a.failing[dep]))
	for id, d := range a.failing[dep] {
		en := &d.entries[d.find(dep)]
		out = append(out, Failing{DeviceID: id, LastError: a.lastError(d, en), Revision: en.rev})
	}
	slices.SortFunc(out, func(x, y Failing) int { return cmp.Compare(x.DeviceID, y.DeviceID) })
	return out
}

// Deployments returns, sorted, the deployments that have at least one pair.
func (a *Aggregator) Deployments() []fleet.DeploymentName {
	var out []fleet.DeploymentName
	for dep, t := range a.tallies {
		if t != [numPhases]int{} {
			out = append(out, a.names[dep])
		}
	}
	slices.Sort(out)
	return out
}

// Pair returns the state of p and reports whether p exists (a removed pair
// does not).
func (a *Aggregator) Pair(p DevicePair) (PairState, bool) {
	d := a.devices[p.DeviceID]
	dep, ok := a.index[p.Deployment]
	if d == nil || !ok {
		return PairState{}, false
	}
	i := d.find(dep)
	if i < 0 || d.entries[i].phase == phaseNone {
		return PairState{}, false
	}
	en := &d.entries[i]
	return PairState{Phase: en.phase.wire(), LastError: a.lastError(d, en), Revision: en.rev}, true
}

// Devices returns, sorted, every device an event or a snapshot was applied
// for, including devices that have no pair left.
func (a *Aggregator) Devices() []fleet.DeviceID {
	return slices.Sorted(maps.Keys(a.devices))
}

// Len returns the number of pairs (tombstones are not pairs).
func (a *Aggregator) Len() int { return a.pairs }

// intern returns name's deployment index, allocating one on first use.
func (a *Aggregator) intern(name fleet.DeploymentName) uint32 {
	if dep, ok := a.index[name]; ok {
		return dep
	}
	dep := uint32(len(a.names))
	a.index[name] = dep
	a.names = append(a.names, name)
	a.tallies = append(a.tallies, [numPhases]int{})
	a.failing = append(a.failing, nil)
	return dep
}

// add appends a tombstone entry for dep to device id and sets it.
func (a *Aggregator) add(id fleet.DeviceID, d *device, dep uint32, p phase, lastError string, rev fleet.Revision) {
	d.entries = append(d.entries, entry{dep: dep})
	a.set(id, d, &d.entries[len(d.entries)-1], p, lastError, rev)
}

// set moves entry en of device id from its stored phase to p (phaseNone:
// removed) with lastError (empty for phaseNone), keeping the tallies, the
// failing sets, the pair count and errs in step.
func (a *Aggregator) set(id fleet.DeviceID, d *device, en *entry, p phase, lastError string, rev fleet.Revision) {
	if en.phase != phaseNone {
		a.tallies[en.dep][en.phase-1]--
		a.pairs--
		if en.phase == phaseFailed {
			delete(a.failing[en.dep], id)
		}
	}
	if p != phaseNone {
		a.tallies[en.dep][p-1]++
		a.pairs++
		if p == phaseFailed {
			if a.failing[en.dep] == nil {
				a.failing[en.dep] = make(map[fleet.DeviceID]*device)
			}
			a.failing[en.dep][id] = d
		}
	}
	switch {
	case lastError != "":
		a.errs[pairKey{d, en.dep}] = lastError
	case en.hasErr:
		delete(a.errs, pairKey{d, en.dep})
	}
	en.phase, en.hasErr, en.rev = p, lastError != "", rev
}

// lastError returns the last error of entry en of device d.
func (a *Aggregator) lastError(d *device, en *entry) string {
	if !en.hasErr {
		return ""
	}
	return a.errs[pairKey{d, en.dep}]
}

// find returns the index of dep's entry in d, or -1.
func (d *device) find(dep uint32) int {
	for i := range d.entries {
		if d.entries[i].dep == dep {
			return i
		}
	}
	return -1
}
