package rollout

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"pgregory.net/rapid"
)

// The simulated world: a registry, devices running a model agent, the
// desired-state bucket, and a controller that plans and writes (and
// sometimes crashes halfway through its writes).

const simHeartbeat = 10 * time.Second

type simAgent struct {
	gen       uint64 // generation applied
	hash      string
	phase     fleet.Phase
	since     time.Time
	countdown int // ticks until a pending workload settles
}

type simDevice struct {
	id       fleet.DeviceID
	labels   map[string]string
	enrolled bool
	online   bool
	beat     time.Time
	agents   map[fleet.DeploymentName]*simAgent
	highest  map[fleet.DeploymentName]uint64 // highest generation accepted, across removals
}

type sim struct {
	t        *rapid.T
	now      time.Time
	devices  []*simDevice
	deps     map[fleet.DeploymentName]fleet.FleetDeployment
	keys     map[fleet.DeploymentName]map[fleet.DeviceID]Key
	observed map[fleet.DeploymentName]map[fleet.DeviceID]Observation
	statuses map[fleet.DeploymentName]fleet.RolloutStatus
	bad      map[string]map[fleet.DeviceID]bool // spec hash -> devices it fails on
	rev      uint64
	specs    int
}

// manual is a deployment written with apply --device: never a fleet one.
const manual fleet.DeploymentName = "manual"

func newSim(t *rapid.T) *sim {
	s := &sim{t: t, now: t0, deps: map[fleet.DeploymentName]fleet.FleetDeployment{},
		keys:     map[fleet.DeploymentName]map[fleet.DeviceID]Key{manual: {}},
		observed: map[fleet.DeploymentName]map[fleet.DeviceID]Observation{},
		statuses: map[fleet.DeploymentName]fleet.RolloutStatus{},
		bad:      map[string]map[fleet.DeviceID]bool{}}
	for range rapid.IntRange(1, 8).Draw(t, "devices") {
		s.enrol()
	}
	for i, name := range []fleet.DeploymentName{"web", "api"}[:rapid.IntRange(1, 2).Draw(t, "deployments")] {
		sel := map[string]string{"site": "a"}
		if i == 1 {
			sel = map[string]string{"role": "x"}
		}
		pol := fleet.RolloutPolicy{
			Batch:                fleet.Batch{Amount: drawAmount(t, "batch", 1, 3, 20, 50)},
			MaxFailed:            fleet.MaxFailed{Amount: drawAmount(t, "max_failed", 0, 2, 0, 40)},
			MinReadySeconds:      rapid.IntRange(0, 30).Draw(t, "min_ready"),
			HealthTimeoutSeconds: rapid.IntRange(120, 300).Draw(t, "health_timeout"),
			AutoRollback:         rapid.Bool().Draw(t, "auto_rollback"),
		}
		s.deps[name] = Deploy(nil, fleet.FleetDeployment{Name: name, Selector: sel, Spec: s.newSpec(), Rollout: pol}, s.now)
		s.keys[name] = map[fleet.DeviceID]Key{}
		s.observed[name] = map[fleet.DeviceID]Observation{}
	}
	// A manual key on the first device: Plan must never touch it.
	s.put(manual, s.devices[0].id, Key{Generation: 1, SpecHash: "manual"})
	return s
}

func drawAmount(t *rapid.T, label string, lo, hi, plo, phi int) fleet.Amount {
	if rapid.Bool().Draw(t, label+" is a percentage") {
		return fleet.Amount{N: rapid.IntRange(plo, phi).Draw(t, label+" %"), Percent: true}
	}
	return fleet.Amount{N: rapid.IntRange(lo, hi).Draw(t, label)}
}

func (s *sim) enrol() {
	d := &simDevice{id: fleet.DeviceID(fmt.Sprintf("d%02d", len(s.devices))), enrolled: true, online: true, beat: s.now,
		labels: s.drawLabels(), agents: map[fleet.DeploymentName]*simAgent{}, highest: map[fleet.DeploymentName]uint64{}}
	s.devices = append(s.devices, d)
}

func (s *sim) drawLabels() map[string]string {
	return map[string]string{"site": rapid.SampledFrom([]string{"a", "b"}).Draw(s.t, "site"), "role": rapid.SampledFrom([]string{"x", "y"}).Draw(s.t, "role")}
}

// newSpec makes a spec of its own hash, bad on a random set of devices
// (often none), including devices enrolled later.
func (s *sim) newSpec() fleet.DeploymentSpec {
	s.specs++
	spec := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{fmt.Sprintf("/bin/v%d", s.specs)}}
	bad := map[fleet.DeviceID]bool{}
	if rapid.IntRange(0, 2).Draw(s.t, "spec is bad somewhere") == 0 {
		for i := range 20 {
			if rapid.IntRange(0, 2).Draw(s.t, "fails on") == 0 {
				bad[fleet.DeviceID(fmt.Sprintf("d%02d", i))] = true
			}
		}
	}
	s.bad[fleet.SpecHash(spec)] = bad
	return spec
}

func (s *sim) put(name fleet.DeploymentName, id fleet.DeviceID, k Key) {
	s.rev++
	k.Revision, k.WrittenAt = s.rev, s.now
	s.keys[name][id] = k
}

// act is one random change of the world.
func (s *sim) act() {
	names := slices.Sorted(maps.Keys(s.deps))
	switch rapid.IntRange(0, 9).Draw(s.t, "action") {
	case 0:
		d := rapid.SampledFrom(s.devices).Draw(s.t, "relabel")
		d.labels = s.drawLabels()
	case 1:
		if len(s.devices) < 20 {
			s.enrol()
		}
	case 2:
		d := rapid.SampledFrom(s.devices).Draw(s.t, "remove or re-enrol")
		d.enrolled = !d.enrolled
	case 3, 4:
		d := rapid.SampledFrom(s.devices).Draw(s.t, "offline or back")
		d.online = !d.online
	case 5:
		name := rapid.SampledFrom(names).Draw(s.t, "new spec")
		cur := s.deps[name]
		s.deps[name] = Deploy(&cur, fleet.FleetDeployment{Name: name, Selector: cur.Selector, Spec: s.newSpec(), Rollout: cur.Rollout}, s.now)
	case 6:
		name := rapid.SampledFrom(names).Draw(s.t, "pause or resume")
		d := s.deps[name]
		d.Paused = !d.Paused
		s.deps[name] = d
	case 7:
		name := rapid.SampledFrom(names).Draw(s.t, "undo")
		if d, err := Undo(s.deps[name], s.now); err == nil {
			s.deps[name] = d
		}
	default:
		// Only the clock moves.
	}
}

// tick moves the clock and runs every online agent once.
func (s *sim) tick(step time.Duration) {
	s.now = s.now.Add(step)
	for _, d := range s.devices {
		if !d.online {
			continue
		}
		d.beat = s.now
		for _, name := range slices.Sorted(maps.Keys(s.keys)) {
			k, ok := s.keys[name][d.id]
			a := d.agents[name]
			switch {
			case !ok && a != nil:
				delete(d.agents, name)
			case ok && (a == nil || a.gen != k.Generation):
				if k.Generation < d.highest[name] {
					s.t.Fatalf("device %s refused %s generation %d: it accepted %d", d.id, name, k.Generation, d.highest[name])
				}
				d.highest[name] = k.Generation
				if a != nil && a.hash == k.SpecHash {
					a.gen = k.Generation // the same spec: nothing to do
					break
				}
				d.agents[name] = &simAgent{gen: k.Generation, hash: k.SpecHash, phase: fleet.PhasePending, since: s.now,
					countdown: rapid.IntRange(0, 3).Draw(s.t, "settle ticks")}
			case a != nil && a.phase == fleet.PhasePending:
				if a.countdown--; a.countdown < 0 {
					a.phase, a.since = fleet.PhaseRunning, s.now
					if s.bad[a.hash][d.id] {
						a.phase = fleet.PhaseFailed
					}
				}
			}
		}
		// The controller sees what the device reports.
		for name, obs := range s.observed {
			if a := d.agents[name]; a != nil {
				obs[d.id] = Observation{Phase: a.phase, SpecHash: a.hash, Since: a.since}
			} else {
				delete(obs, d.id)
			}
		}
	}
}

func (s *sim) input() Input {
	in := Input{Now: s.now, Deployments: maps.Clone(s.deps), Liveness: map[fleet.DeviceID]Liveness{},
		Observed: s.observed, Keys: s.keys, Statuses: maps.Clone(s.statuses)}
	for _, d := range s.devices {
		if d.enrolled {
			in.Registry = append(in.Registry, Device{ID: d.id, Labels: maps.Clone(d.labels)})
		}
		in.Liveness[d.id] = Liveness{HeartbeatAt: d.beat, HeartbeatInterval: simHeartbeat}
	}
	if s.rev%2 == 0 { // Plan must not depend on the registry's order
		slices.Reverse(in.Registry)
	}
	return in
}

// modelHealth is the test's own reading of section 9 for one device.
func modelHealth(d fleet.FleetDeployment, k Key, hasKey bool, o Observation, now time.Time) health {
	hash := fleet.SpecHash(d.Spec)
	if !hasKey || k.SpecHash != hash || k.Generation < d.Generation {
		return notUpdated
	}
	if o.SpecHash == hash {
		if o.Phase == fleet.PhaseSucceeded || o.Phase == fleet.PhaseRunning && now.Sub(o.Since) >= time.Duration(d.Rollout.MinReadySeconds)*time.Second {
			return ready
		}
		if o.Phase == fleet.PhaseFailed {
			return failed
		}
	}
	if now.Sub(k.WrittenAt) >= time.Duration(d.Rollout.HealthTimeoutSeconds)*time.Second {
		return failed
	}
	return inFlight
}

// plan runs the controller once and checks every rule on its decisions.
func (s *sim) plan() Output {
	in := s.input()
	out := Plan(in)
	again := s.input()
	slices.Reverse(again.Registry)
	if again := Plan(again); !reflect.DeepEqual(again, out) {
		s.t.Fatalf("Plan() is not a function of its input:\n%+v\n%+v", out, again)
	}
	if !slices.IsSortedFunc(out.Puts, func(a, b Put) int { return compareStrings(a.Key, b.Key) }) ||
		!slices.IsSortedFunc(out.Deletes, func(a, b Delete) int { return compareStrings(a.Key, b.Key) }) {
		s.t.Fatalf("Plan() writes are not sorted: %+v", out)
	}
	labels := map[fleet.DeviceID]map[string]string{}
	for _, d := range in.Registry {
		labels[d.ID] = d.Labels
	}
	for _, st := range out.Statuses {
		d := s.deps[st.Deployment]
		var targeted, failedN, inflight, waves int
		for id, l := range labels {
			if !Matches(d.Selector, l) {
				continue
			}
			targeted++
			k, ok := s.keys[d.Name][id]
			switch modelHealth(d, k, ok, s.observed[d.Name][id], s.now) {
			case failed:
				failedN++
			case inFlight:
				inflight++
			}
		}
		for _, p := range out.Puts {
			if p.Deployment == d.Name && p.Reason == ReasonWave {
				waves++
			}
		}
		if st.Targeted != targeted || st.Failed != failedN {
			s.t.Fatalf("%s: status %+v, want %d targeted, %d failed", d.Name, st, targeted, failedN)
		}
		if batch := d.Rollout.Batch.Resolve(targeted); waves > batch || waves > 0 && inflight > 0 {
			s.t.Fatalf("%s: a wave of %d with %d in flight, batch %d", d.Name, waves, inflight, batch)
		}
		prev, ok := s.statuses[d.Name]
		fresh := !ok || prev.Generation != d.Generation || prev.SpecHash != st.SpecHash
		if fresh || prev.State == fleet.RolloutProgressing || prev.State == fleet.RolloutPaused {
			halts := st.State == fleet.RolloutHalted || st.State == fleet.RolloutRollingBack
			if halts != (failedN > d.Rollout.MaxFailed.Resolve(targeted)) {
				s.t.Fatalf("%s: state %s (%s) with %d failed, max_failed %d", d.Name, st.State, st.Message, failedN, d.Rollout.MaxFailed.Resolve(targeted))
			}
		}
	}
	for _, p := range out.Puts {
		d, ok := s.deps[p.Deployment]
		if !ok || !Matches(d.Selector, labels[p.Device]) || labels[p.Device] == nil {
			s.t.Fatalf("Put %+v: not a targeted device of a fleet deployment", p)
		}
		if k, ok := s.keys[p.Deployment][p.Device]; ok && p.Generation < k.Generation {
			s.t.Fatalf("Put %+v: older than the key's generation %d", p, k.Generation)
		}
		if p.Reason == ReasonRollback {
			for _, k := range s.keys[p.Deployment] {
				if p.Generation <= k.Generation || p.Generation <= d.Generation {
					s.t.Fatalf("rollback Put %+v: not newer than generation %d", p, max(k.Generation, d.Generation))
				}
			}
		}
	}
	for _, del := range out.Deletes {
		if _, ok := s.deps[del.Deployment]; !ok {
			s.t.Fatalf("Delete %+v: not a fleet deployment", del)
		}
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// apply persists the statuses, then performs the writes (all of them, or,
// when the controller crashes, a prefix), each a compare-and-set.
func (s *sim) apply(out Output, crash bool) {
	for _, st := range out.Statuses {
		// Through JSON, as the rollouts bucket keeps them.
		b, err := json.Marshal(st)
		if err != nil {
			s.t.Fatalf("json.Marshal(%+v) = %v", st, err)
		}
		var back fleet.RolloutStatus
		if err := json.Unmarshal(b, &back); err != nil {
			s.t.Fatalf("json.Unmarshal(%s) = %v", b, err)
		}
		s.statuses[st.Deployment] = back
	}
	n := len(out.Puts) + len(out.Deletes)
	if crash {
		n = rapid.IntRange(0, n).Draw(s.t, "writes before the crash")
	}
	for i, p := range out.Puts {
		if i >= n {
			return
		}
		if k, ok := s.keys[p.Deployment][p.Device]; k.Revision != p.ExpectedRevision || !ok && p.ExpectedRevision != 0 {
			s.t.Fatalf("Put %+v: key at revision %d", p, k.Revision)
		}
		s.put(p.Deployment, p.Device, Key{Generation: p.Generation, SpecHash: fleet.SpecHash(p.Spec)})
	}
	for i, del := range out.Deletes {
		if len(out.Puts)+i >= n {
			return
		}
		if k := s.keys[del.Deployment][del.Device]; k.Revision != del.ExpectedRevision {
			s.t.Fatalf("Delete %+v: key at revision %d", del, k.Revision)
		}
		delete(s.keys[del.Deployment], del.Device)
	}
}

var clockSteps = []time.Duration{-20 * time.Second, time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second, 400 * time.Second}

func TestPropertyRollout(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := newSim(t)
		for range rapid.IntRange(0, 60).Draw(t, "steps") {
			if rapid.IntRange(0, 2).Draw(t, "act") == 0 {
				s.act()
			}
			s.tick(rapid.SampledFrom(clockSteps).Draw(t, "clock step"))
			s.apply(s.plan(), rapid.IntRange(0, 9).Draw(t, "crash") == 0)
		}
		// Settle: everything online and enrolled stays so, nothing paused,
		// the clock moves on; the rollouts must finish.
		for name, d := range s.deps {
			d.Paused = false
			s.deps[name] = d
		}
		for _, d := range s.devices {
			d.online = true
		}
		halted := map[fleet.DeploymentName]map[fleet.DeviceID]bool{} // devices on a version that halts
		for range 200 {
			s.tick(15 * time.Second)
			out := s.plan()
			for _, st := range out.Statuses {
				if st.State == fleet.RolloutHalted || st.State == fleet.RolloutRollingBack {
					d := s.deps[st.Deployment]
					if halted[d.Name] == nil {
						halted[d.Name] = map[fleet.DeviceID]bool{}
					}
					for id, k := range s.keys[d.Name] {
						if k.SpecHash == st.SpecHash && k.Generation >= d.Generation {
							halted[d.Name][id] = true
						}
					}
				}
			}
			s.apply(out, false)
		}
		s.tick(15 * time.Second)
		out := s.plan()
		if len(out.Puts)+len(out.Deletes) != 0 {
			t.Fatalf("not settled: %+v", out)
		}
		for _, st := range out.Statuses {
			d := s.deps[st.Deployment]
			hash := fleet.SpecHash(d.Spec)
			for _, dev := range s.devices {
				k, hasKey := s.keys[d.Name][dev.id]
				targeted := dev.enrolled && Matches(d.Selector, dev.labels)
				if !targeted && hasKey {
					t.Fatalf("%s: untargeted device %s keeps its key", d.Name, dev.id)
				}
				switch st.State {
				case fleet.RolloutComplete:
					if targeted && (!hasKey || k.SpecHash != hash || k.Generation < d.Generation) {
						t.Fatalf("%s complete: device %s key %+v, want generation %d", d.Name, dev.id, k, d.Generation)
					}
				case fleet.RolloutHalted:
					if d.Rollout.AutoRollback && targeted && halted[d.Name][dev.id] {
						switch {
						case d.Previous == nil && hasKey, d.Previous != nil && fleet.SpecHash(d.Previous.Spec) != hash && (!hasKey || k.SpecHash != fleet.SpecHash(d.Previous.Spec)):
							t.Fatalf("%s halted, rolled back: device %s key %+v, want the previous spec", d.Name, dev.id, k)
						}
					}
				case fleet.RolloutProgressing:
					if st.Targeted != 0 {
						t.Fatalf("%s: settled in state %s (%s)", d.Name, st.State, st.Message)
					}
				default:
					t.Fatalf("%s: settled in state %s (%s)", d.Name, st.State, st.Message)
				}
			}
		}
		if k, ok := s.keys[manual][s.devices[0].id]; !ok || k.Revision != 1 {
			t.Fatalf("the manual key was touched: %+v", k)
		}
	})
}
