package fleetview

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
)

// agentModel is one device's agent as the stream sees it: it records
// transitions with growing revisions and keeps the truth.
type agentModel struct {
	id    fleet.DeviceID
	epoch fleet.AgentEpoch
	seq   uint64
	truth map[fleet.DeploymentName]fleet.DeploymentStatus
}

func (m *agentModel) record(name fleet.DeploymentName, tr fleet.LifecycleTransition) fleet.StateChangeEvent {
	m.seq++
	rev := fleet.Revision{AgentEpoch: m.epoch, Sequence: m.seq}
	if tr.Kind == fleet.KindRemoved {
		delete(m.truth, name)
	} else {
		m.truth[name] = fleet.DeploymentStatus{Phase: tr.To, LastError: fleet.ErrorText(tr.LastError), Revision: rev}
	}
	return fleet.StateChangeEvent{DeviceID: m.id, Deployment: name, Revision: rev, Transition: tr}
}

func (m *agentModel) snapshot() fleet.DeviceInfo {
	return fleet.DeviceInfo{DeviceID: m.id, AgentEpoch: m.epoch,
		Revision:    fleet.Revision{AgentEpoch: m.epoch, Sequence: m.seq},
		Deployments: maps.Clone(m.truth)}
}

// history is what a status read sees: the stream, in stored order, and
// the device-info bucket (each device's latest snapshot).
type history struct {
	stream    []fleet.StateChangeEvent
	snapshots map[fleet.DeviceID]fleet.DeviceInfo
	agents    []*agentModel
}

// drawHistory draws random agents' lives: transitions, removals and
// restarts, each event stored, lost or stored twice (a re-send), and
// snapshots taken now and then. With reorder, stored events may also be
// moved later in the stream (a re-send after newer ones); with final,
// every device writes a snapshot at its latest revision at the end.
func drawHistory(t *rapid.T, reorder, final bool) history {
	names := []fleet.DeploymentName{"web", "db", "job"}
	h := history{snapshots: map[fleet.DeviceID]fleet.DeviceInfo{}}
	for i := range rapid.IntRange(1, 4).Draw(t, "devices") {
		h.agents = append(h.agents, &agentModel{id: fleet.DeviceID(fmt.Sprintf("pi-%d", i)), epoch: 1000,
			truth: map[fleet.DeploymentName]fleet.DeploymentStatus{}})
	}
	store := func(e fleet.StateChangeEvent) {
		switch rapid.IntRange(0, 9).Draw(t, "fate") {
		case 0: // lost
		case 1: // re-sent: stored twice
			h.stream = append(h.stream, e, e)
		default:
			h.stream = append(h.stream, e)
		}
	}
	for range rapid.IntRange(0, 60).Draw(t, "steps") {
		a := rapid.SampledFrom(h.agents).Draw(t, "agent")
		switch rapid.IntRange(0, 9).Draw(t, "op") {
		case 0: // restart: a larger epoch, the deployments recorded again
			a.epoch += fleet.AgentEpoch(rapid.IntRange(1, 5).Draw(t, "epoch step"))
			a.seq = 0
			for _, n := range slices.Sorted(maps.Keys(a.truth)) {
				store(a.record(n, fleet.Applied("", rapid.SampledFrom(fleet.Phases[:]).Draw(t, "phase"), "")))
			}
		case 1:
			h.snapshots[a.id] = a.snapshot()
		default:
			n := rapid.SampledFrom(names).Draw(t, "deployment")
			cur, exists := a.truth[n]
			if exists && rapid.IntRange(0, 4).Draw(t, "remove") == 0 {
				store(a.record(n, fleet.Removed(cur.Phase)))
				continue
			}
			to := rapid.SampledFrom(fleet.Phases[:]).Draw(t, "to")
			msg := ""
			if to == fleet.PhaseFailed {
				msg = rapid.SampledFrom([]string{"exit 1", "image not found"}).Draw(t, "error")
			}
			store(a.record(n, fleet.Applied(cur.Phase, to, msg)))
		}
	}
	if reorder && len(h.stream) > 1 {
		for range rapid.IntRange(0, 5).Draw(t, "moves") {
			i := rapid.IntRange(0, len(h.stream)-1).Draw(t, "from")
			j := rapid.IntRange(i, len(h.stream)-1).Draw(t, "to")
			e := h.stream[i]
			h.stream = slices.Insert(slices.Delete(h.stream, i, i+1), j, e)
		}
	}
	if final {
		for _, a := range h.agents {
			h.snapshots[a.id] = a.snapshot()
		}
	}
	return h
}

// foldAll folds every event of the stream, then the snapshots: what
// status did before.
func foldAll(h history) *aggregate.Aggregator {
	agg := aggregate.New()
	for _, e := range h.stream {
		agg.Apply(e)
	}
	applySnapshots(agg, h)
	return agg
}

// foldLast folds the newest stored event of each subject, in stream
// order (what a DeliverLastPerSubject consumer delivers), then the
// snapshots: what ReadFold does.
func foldLast(h history) *aggregate.Aggregator {
	last := map[string]int{}
	for i, e := range h.stream {
		last[e.Subject()] = i
	}
	agg := aggregate.New()
	for _, i := range slices.Sorted(maps.Values(last)) {
		agg.Apply(h.stream[i])
	}
	applySnapshots(agg, h)
	return agg
}

// foldLastSkipping is foldLast without the events their device's
// snapshot is as new as: what ReadFold does to save their decoding.
func foldLastSkipping(h history) *aggregate.Aggregator {
	last := map[string]int{}
	for i, e := range h.stream {
		last[e.Subject()] = i
	}
	agg := aggregate.New()
	for _, i := range slices.Sorted(maps.Values(last)) {
		e := h.stream[i]
		if snap, ok := h.snapshots[e.DeviceID]; ok && e.Revision.Compare(snap.Revision) <= 0 {
			continue
		}
		agg.Apply(e)
	}
	applySnapshots(agg, h)
	return agg
}

func applySnapshots(agg *aggregate.Aggregator, h history) {
	for _, id := range slices.Sorted(maps.Keys(h.snapshots)) {
		agg.ApplySnapshot(h.snapshots[id])
	}
}

// sameView fails t unless a and b hold the same status and pairs.
func sameView(t *rapid.T, what string, a, b *aggregate.Aggregator, h history) {
	sa, sb := StatusOf(a, NewRecords(), ""), StatusOf(b, NewRecords(), "")
	if ja, jb := mustJSON(sa), mustJSON(sb); ja != jb {
		t.Fatalf("%s: status\n%+v\nwant\n%+v", what, sb, sa)
	}
	for _, ag := range h.agents {
		for _, n := range []fleet.DeploymentName{"web", "db", "job"} {
			p := aggregate.DevicePair{DeviceID: ag.id, Deployment: n}
			pa, oka := a.Pair(p)
			pb, okb := b.Pair(p)
			if pa != pb || oka != okb {
				t.Fatalf("%s: pair %v = %+v, %v; want %+v, %v", what, p, pb, okb, pa, oka)
			}
		}
	}
}

// truthOf is an Aggregator holding exactly the agents' truth.
func truthOf(h history) *aggregate.Aggregator {
	agg := aggregate.New()
	for _, a := range h.agents {
		agg.ApplySnapshot(a.snapshot())
	}
	return agg
}

// TestStatusFoldProperty: folding the newest event of each subject and
// then the snapshots gives the same status as folding every event and
// then the snapshots, whatever was lost, re-sent or removed, as long as
// each pair's events are stored in the order the agent recorded them (its
// outbox's). And when they are not (re-sends stored after newer events),
// a snapshot at each device's latest revision makes both the truth.
func TestStatusFoldProperty(t *testing.T) {
	t.Run("in order", rapid.MakeCheck(func(t *rapid.T) {
		h := drawHistory(t, false, rapid.Bool().Draw(t, "final"))
		sameView(t, "last per subject vs every event", foldAll(h), foldLast(h), h)
		sameView(t, "skipping what the snapshots cover vs every event", foldAll(h), foldLastSkipping(h), h)
	}))
	t.Run("in order, final snapshots", rapid.MakeCheck(func(t *rapid.T) {
		h := drawHistory(t, false, true)
		sameView(t, "last per subject vs truth", truthOf(h), foldLast(h), h)
	}))
	t.Run("reordered, final snapshots", rapid.MakeCheck(func(t *rapid.T) {
		h := drawHistory(t, true, true)
		sameView(t, "every event vs truth", truthOf(h), foldAll(h), h)
		sameView(t, "last per subject vs truth", truthOf(h), foldLast(h), h)
		sameView(t, "skipping what the snapshots cover vs truth", truthOf(h), foldLastSkipping(h), h)
	}))
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}
