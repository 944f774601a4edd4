package api

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
)

// memView is an in-memory View for the tests: a fleet/aggregate
// Aggregator fed by hand, a registry, fleet deployments and rollouts.
type memView struct {
	mu        sync.Mutex
	ready     bool
	agg       *aggregate.Aggregator
	registry  map[fleet.DeviceID]map[string]string
	infos     map[fleet.DeviceID]fleet.DeviceInfo
	recent    map[fleet.DeviceID][]fleet.StateChangeEvent
	fleetDeps map[fleet.DeploymentName]*memFleet
	subs      map[int]chan fleet.StateChangeEvent
	nextSub   int
	now       func() time.Time
	folded    atomic.Uint64
}

type memFleet struct {
	selector map[string]string
	paused   bool
	rollout  *fleet.RolloutStatus
}

var _ View = (*memView)(nil)

func newMemView(now func() time.Time) *memView {
	return &memView{
		ready:     true,
		agg:       aggregate.New(),
		registry:  map[fleet.DeviceID]map[string]string{},
		infos:     map[fleet.DeviceID]fleet.DeviceInfo{},
		recent:    map[fleet.DeviceID][]fleet.StateChangeEvent{},
		fleetDeps: map[fleet.DeploymentName]*memFleet{},
		subs:      map[int]chan fleet.StateChangeEvent{},
		now:       now,
	}
}

func (v *memView) setReady(r bool) { v.mu.Lock(); v.ready = r; v.mu.Unlock() }

// enroll puts a device in the registry.
func (v *memView) enroll(id fleet.DeviceID, labels map[string]string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.registry[id] = labels
}

// snapshot folds a DeviceInfo.
func (v *memView) snapshot(info fleet.DeviceInfo) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.infos[info.DeviceID] = info
	v.agg.ApplySnapshot(info)
}

// setFleet declares a fleet deployment and its rollout (nil: none).
func (v *memView) setFleet(name fleet.DeploymentName, selector map[string]string, ro *fleet.RolloutStatus) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fleetDeps[name] = &memFleet{selector: selector, rollout: ro}
}

// apply folds e and sends it to the subscribers.
func (v *memView) apply(e fleet.StateChangeEvent) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.agg.Apply(e)
	v.folded.Add(1)
	r := append(v.recent[e.DeviceID], e)
	if len(r) > 20 {
		r = r[len(r)-20:]
	}
	v.recent[e.DeviceID] = r
	for _, ch := range v.subs {
		select {
		case ch <- e:
		default: // a slow subscriber misses it (View's contract)
		}
	}
}

func (v *memView) subscribers() int { v.mu.Lock(); defer v.mu.Unlock(); return len(v.subs) }

func (v *memView) Ready() bool { v.mu.Lock(); defer v.mu.Unlock(); return v.ready }

func matches(labels, selector map[string]string) bool {
	for k, want := range selector {
		if got, ok := labels[k]; !ok || got != want {
			return false
		}
	}
	return true
}

func (v *memView) deploymentLocked(name fleet.DeploymentName) Deployment {
	c := v.agg.Counts(name)
	d := Deployment{Name: name, Counts: Counts{Pending: c.Pending, Running: c.Running, Succeeded: c.Succeeded, Failed: c.Failed}}
	if f := v.fleetDeps[name]; f != nil {
		n := 0
		for _, l := range v.registry {
			if matches(l, f.selector) {
				n++
			}
		}
		d.Counts.Targeted, d.Fleet, d.Paused = &n, true, f.paused
		if f.rollout != nil {
			ro := *f.rollout
			d.Rollout = &ro
		}
	}
	return d
}

func (v *memView) namesLocked() []fleet.DeploymentName {
	names := v.agg.Deployments()
	for n := range v.fleetDeps {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func (v *memView) Deployments() []Deployment {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Deployment
	for _, n := range v.namesLocked() {
		out = append(out, v.deploymentLocked(n))
	}
	return out
}

func (v *memView) Deployment(name fleet.DeploymentName) (DeploymentDetail, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !slices.Contains(v.namesLocked(), name) {
		return DeploymentDetail{}, false
	}
	d := DeploymentDetail{Deployment: v.deploymentLocked(name), Failing: []FailingDevice{}}
	for _, f := range v.agg.Failing(name) {
		d.Failing = append(d.Failing, FailingDevice{DeviceID: f.DeviceID, LastError: fleet.ErrorText(f.LastError), Revision: f.Revision})
	}
	return d, true
}

func (v *memView) deviceLocked(id fleet.DeviceID) Device {
	labels, enrolled := v.registry[id]
	info, reported := v.infos[id]
	d := Device{DeviceID: id, Enrolled: enrolled, Labels: maps.Clone(labels), Deployments: map[fleet.DeploymentName]DevicePhase{}}
	if reported {
		d.ReportedLabels = maps.Clone(info.Labels)
		d.AgentVersion, d.Hostname, d.HeartbeatAt, d.Host = info.AgentVersion, info.Hostname, info.HeartbeatAt, info.Host
	}
	d.Liveness = LivenessOf(d.HeartbeatAt, v.now(), fleet.DefaultHeartbeatInterval)
	for _, n := range v.namesLocked() {
		if p, ok := v.agg.Pair(aggregate.DevicePair{DeviceID: id, Deployment: n}); ok {
			d.Deployments[n] = DevicePhase{Phase: p.Phase, LastError: fleet.ErrorText(p.LastError), Revision: p.Revision}
		}
	}
	// Converged: every deployment the device has, and every fleet
	// deployment that targets it, running or succeeded.
	d.Converged = Converged
	for _, p := range d.Deployments {
		if p.Phase != fleet.PhaseRunning && p.Phase != fleet.PhaseSucceeded {
			d.Converged = NotConverged
		}
	}
	for n, f := range v.fleetDeps {
		if !matches(labels, f.selector) {
			continue
		}
		if p := d.Deployments[n].Phase; p != fleet.PhaseRunning && p != fleet.PhaseSucceeded {
			d.Converged = NotConverged
		}
	}
	return d
}

func (v *memView) Devices(q DeviceQuery) ([]Device, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := slices.Collect(maps.Keys(v.registry))
	for id := range v.infos {
		if _, ok := v.registry[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, cmp.Compare)
	var page []Device
	total := 0
	for _, id := range ids {
		if !matches(v.registry[id], q.Labels) {
			continue
		}
		if q.Liveness != "" && LivenessOf(v.infos[id].HeartbeatAt, v.now(), fleet.DefaultHeartbeatInterval) != q.Liveness {
			continue
		}
		if total >= q.Offset && len(page) < q.Limit {
			page = append(page, v.deviceLocked(id))
		}
		total++
	}
	return page, total
}

func (v *memView) Device(id fleet.DeviceID) (DeviceDetail, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, enrolled := v.registry[id]
	info, reported := v.infos[id]
	if !enrolled && !reported {
		return DeviceDetail{}, false
	}
	d := DeviceDetail{Device: v.deviceLocked(id), RecentEvents: slices.Clone(v.recent[id])}
	if reported {
		d.Info = &info
	}
	return d, true
}

func (v *memView) Subscribe(ctx context.Context) (<-chan fleet.StateChangeEvent, func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := v.nextSub
	v.nextSub++
	ch := make(chan fleet.StateChangeEvent, 64) // a burst of events between two reads
	v.subs[id] = ch
	var once sync.Once
	stop := func() {
		once.Do(func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			delete(v.subs, id)
			close(ch)
		})
	}
	after := context.AfterFunc(ctx, stop)
	return ch, func() { after(); stop() }
}

// memRollouts records Pause and Resume and sets the view's state.
type memRollouts struct {
	view  *memView
	mu    sync.Mutex
	calls []string // "pause web", "resume web"
}

var _ Rollouts = (*memRollouts)(nil)

func (r *memRollouts) set(name fleet.DeploymentName, paused bool) error {
	verb := "resume"
	if paused {
		verb = "pause"
	}
	r.mu.Lock()
	r.calls = append(r.calls, verb+" "+string(name))
	r.mu.Unlock()
	v := r.view
	v.mu.Lock()
	defer v.mu.Unlock()
	f := v.fleetDeps[name]
	if f == nil {
		return fmt.Errorf("%s %s: %w", verb, name, ErrNotFound)
	}
	f.paused = paused
	if f.rollout != nil {
		ro := *f.rollout
		ro.State = map[bool]fleet.RolloutState{true: fleet.RolloutPaused, false: fleet.RolloutProgressing}[paused]
		f.rollout = &ro
	}
	return nil
}

func (r *memRollouts) Pause(_ context.Context, name fleet.DeploymentName) error {
	return r.set(name, true)
}
func (r *memRollouts) Resume(_ context.Context, name fleet.DeploymentName) error {
	return r.set(name, false)
}

func (r *memRollouts) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}
