//go:build embednats

package fleetview_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const testEpoch fleet.AgentEpoch = 1875123456789012

// publishAll publishes events asynchronously, as fast as the server
// acks, and waits for every ack.
func publishAll(t *testing.T, ctx context.Context, js jetstream.JetStream, events []fleet.StateChangeEvent) {
	t.Helper()
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: e.Subject(), Data: data}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatalf("%d publishes not acked", js.PublishAsyncPending())
	}
}

func putJSON(t *testing.T, ctx context.Context, js jetstream.JetStream, bucket, key string, v any) {
	t.Helper()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		t.Fatalf("put %s %s: %v", bucket, key, err)
	}
}

func putInfo(t *testing.T, ctx context.Context, js jetstream.JetStream, info fleet.DeviceInfo) {
	t.Helper()
	if info.AgentEpoch == 0 {
		info.AgentEpoch = testEpoch
	}
	putJSON(t, ctx, js, fleet.DeviceInfoBucket, fleet.DeviceInfoKey(info.DeviceID), info)
}

// history is devices x deployments pairs, each through rounds events
// (phases cycling), pi-0's last round lost.
func history(devices, deployments, rounds int) []fleet.StateChangeEvent {
	var out []fleet.StateChangeEvent
	for r := range rounds {
		for d := range devices {
			for n := range deployments {
				to := fleet.Phases[(r+d+n)%len(fleet.Phases)]
				msg := ""
				if to == fleet.PhaseFailed {
					msg = fmt.Sprintf("exit %d", r)
				}
				out = append(out, fleet.StateChangeEvent{
					DeviceID:   fleet.DeviceID(fmt.Sprintf("pi-%d", d)),
					Deployment: fleet.DeploymentName(fmt.Sprintf("dep-%d", n)),
					Revision:   fleet.Revision{AgentEpoch: testEpoch, Sequence: uint64(r*deployments + n + 1)},
					Transition: fleet.Applied("", to, msg),
					At:         time.Now().UTC(),
				})
			}
		}
	}
	return out
}

// foldEvery folds every stored event then the snapshots: what status
// did before ReadFold.
func foldEvery(t *testing.T, ctx context.Context, js jetstream.JetStream) *aggregate.Aggregator {
	t.Helper()
	agg := aggregate.New()
	r, err := fleetview.OpenEvents(ctx, js, fleet.EventsSubjects, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	for r.Backlog() {
		re, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		agg.Apply(re.Event)
	}
	infos, _, err := fleetview.ListDeviceInfo(ctx, js, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		agg.ApplySnapshot(info)
	}
	return agg
}

// TestReadFoldManyEvents: with many events per pair, one lost and one
// removal repaired by snapshots, ReadFold reads one event per pair and
// gives the status folding every event gives; a fleet deployment gets
// its targeted count and rollout.
func TestReadFoldManyEvents(t *testing.T) {
	js, ctx := setup(t)
	const devices, deployments, rounds = 20, 3, 30
	events := history(devices, deployments, rounds)
	base := (rounds - 1) * devices * deployments // pi-0's last round
	lost, kept := events[base], events[base+1]   // its dep-0 and dep-1
	publishAll(t, ctx, js, append(events[:base:base], events[base+1:]...))
	// pi-0 lost an event and removed dep-2: its snapshot repairs both.
	putInfo(t, ctx, js, fleet.DeviceInfo{DeviceID: "pi-0",
		Revision: fleet.Revision{AgentEpoch: testEpoch, Sequence: uint64(rounds*deployments + 1)},
		Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"dep-0": {Phase: lost.Transition.To, LastError: fleet.ErrorText(lost.Transition.LastError), Revision: lost.Revision},
			"dep-1": {Phase: kept.Transition.To, LastError: fleet.ErrorText(kept.Transition.LastError), Revision: kept.Revision},
		}})
	// dep-1 is a fleet deployment targeting site=lyon: pi-0..pi-4.
	for d := range 5 {
		id := fleet.DeviceID(fmt.Sprintf("pi-%d", d))
		putJSON(t, ctx, js, fleet.DeviceRegistryBucket, string(id), fleet.DeviceRecord{DeviceID: id, Labels: map[string]string{"site": "lyon"}, EnrolledAt: time.Now()})
	}
	putJSON(t, ctx, js, fleet.DeploymentsBucket, "dep-1", fleetDeployment("dep-1", map[string]string{"site": "lyon"}))
	putJSON(t, ctx, js, fleet.RolloutsBucket, "dep-1", fleet.RolloutStatus{Deployment: "dep-1", Generation: 1, SpecHash: "abc", State: fleet.RolloutProgressing, Targeted: 5, UpdatedAt: time.Now()})

	f, err := fleetview.ReadFold(ctx, js, fleet.EventsSubjects, 10*time.Second)
	if err != nil {
		t.Fatalf("ReadFold: %v", err)
	}
	if f.Events != devices*deployments || len(f.Bad) != 0 {
		t.Errorf("ReadFold read %d events (%v bad), want %d: one per subject", f.Events, f.Bad, devices*deployments)
	}
	if f.LastSeq != uint64(len(events)-1) {
		t.Errorf("ReadFold LastSeq = %d, want %d", f.LastSeq, len(events)-1)
	}
	rec, bad, err := fleetview.ReadRecords(ctx, js, 10*time.Second)
	if err != nil || len(bad) != 0 {
		t.Fatalf("ReadRecords: %v, %v", bad, err)
	}
	got := fleetview.StatusOf(f.Agg, rec, "")
	want := fleetview.StatusOf(foldEvery(t, ctx, js), rec, "")
	if g, w := asJSON(got), asJSON(want); g != w {
		t.Errorf("status from the last events =\n%s\nwant (every event)\n%s", g, w)
	}
	if _, ok := f.Agg.Pair(aggregate.DevicePair{DeviceID: "pi-0", Deployment: "dep-2"}); ok {
		t.Error("pi-0/dep-2 still counted after its snapshot said removed")
	}
	if st, _ := f.Agg.Pair(aggregate.DevicePair{DeviceID: "pi-0", Deployment: "dep-0"}); st.Revision != lost.Revision {
		t.Errorf("pi-0/dep-0 = %+v, want the lost event's state from the snapshot", st)
	}
	one := fleetview.StatusOf(f.Agg, rec, "dep-1")
	if len(one.Deployments) != 1 {
		t.Fatalf("StatusOf(dep-1) = %+v", one)
	}
	d := one.Deployments[0]
	if d.Counts.Targeted == nil || *d.Counts.Targeted != 5 || d.Rollout == nil || d.Rollout.State != fleet.RolloutProgressing {
		t.Errorf("StatusOf(dep-1) = %+v, want targeted 5 and the rollout", d)
	}
	if d.Counts.Total() != devices {
		t.Errorf("dep-1 counts %+v, want %d devices", d.Counts, devices)
	}
	for _, d := range got.Deployments {
		if d.Name != "dep-1" && d.Counts.Targeted != nil {
			t.Errorf("%s: targeted set on a deployment that is not a fleet deployment", d.Name)
		}
	}
	data, _ := json.Marshal(one)
	var shape struct {
		Deployments []struct {
			Counts  map[string]int  `json:"counts"`
			Rollout json.RawMessage `json:"rollout"`
		} `json:"deployments"`
	}
	if err := json.Unmarshal(data, &shape); err != nil || shape.Deployments[0].Counts["targeted"] != 5 || shape.Deployments[0].Counts["running"] == 0 && shape.Deployments[0].Counts["pending"] == 0 {
		t.Errorf("status JSON = %s (%v): want counts with targeted", data, err)
	}
}

func fleetDeployment(name fleet.DeploymentName, selector map[string]string) fleet.FleetDeployment {
	return fleet.FleetDeployment{Name: name, Selector: selector, Generation: 1,
		Spec:    fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "1000"}},
		Rollout: fleet.DefaultRolloutPolicy()}
}

// TestReadLastEventsEmpty: an empty stream reads nothing, at once.
func TestReadLastEventsEmpty(t *testing.T) {
	js, ctx := setup(t)
	n := 0
	last, err := fleetview.ReadLastEvents(ctx, js, fleet.EventsSubjects, 5*time.Second, func(fleetview.ReadEvent) { n++ })
	if err != nil || last != 0 || n != 0 {
		t.Errorf("ReadLastEvents on an empty stream = %d, %v (%d read); want 0, nil", last, err, n)
	}
	publishAll(t, ctx, js, history(1, 1, 3))
	last, err = fleetview.ReadLastEvents(ctx, js, fleetview.EventsFilter("", "nope"), 5*time.Second, func(fleetview.ReadEvent) { n++ })
	if err != nil || last != 3 || n != 0 {
		t.Errorf("ReadLastEvents on a filter with no event = %d, %v (%d read); want 3, nil, none", last, err, n)
	}
}

// TestEventsSince: a reader opened since a time reads only the events
// stored from then on.
func TestEventsSince(t *testing.T) {
	js, ctx := setup(t)
	before := history(2, 1, 2)
	publishAll(t, ctx, js, before)
	st, err := js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, uint64(len(before)))
	if err != nil {
		t.Fatal(err)
	}
	since := m.Time.Add(time.Nanosecond)
	for r, want := range map[string]int{"after the last": 0} {
		rd, err := fleetview.OpenEventsSince(ctx, js, fleet.EventsSubjects, since, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if rd.Backlog() != (want > 0) {
			t.Errorf("%s: Backlog() = %v with nothing stored since", r, rd.Backlog())
		}
		rd.Stop()
	}
	after := history(2, 1, 3)[len(before):]
	publishAll(t, ctx, js, after)
	rd, err := fleetview.OpenEventsSince(ctx, js, fleet.EventsSubjects, since, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Stop()
	var seqs []uint64
	for rd.Backlog() {
		re, err := rd.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, re.Seq)
	}
	if len(seqs) != len(after) || seqs[0] != uint64(len(before)+1) {
		t.Errorf("events since %v: sequences %v, want the %d after %d", since, seqs, len(after), len(before))
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLive: the live view is ready after the initial fold, sees a new
// event within 1 s (status, recent ring, subscription, folded count),
// follows snapshots and records, loses nothing published while it
// starts, and ends its goroutines on Close.
func TestLive(t *testing.T) {
	js, ctx := setup(t)
	events := history(10, 2, 20)
	publishAll(t, ctx, js, events[:len(events)/2])

	// Publish the rest while the view starts: nothing may be lost.
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		publishAll(t, ctx, js, events[len(events)/2:])
	}()
	live := fleetview.StartLive(ctx, js, fleetview.LiveOptions{RecentEvents: 5})
	defer live.Close()
	if err := live.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	<-pubDone
	want := fleetview.StatusOf(foldEvery(t, ctx, js), fleetview.NewRecords(), "")
	waitFor(t, 10*time.Second, "the live view holds every event", func() bool { return asJSON(live.Status("")) == asJSON(want) })

	sub := live.Subscribe(4)
	defer sub.Close()
	folded := live.Folded()
	ev := fleet.StateChangeEvent{DeviceID: "pi-new", Deployment: "dep-0",
		Revision:   fleet.Revision{AgentEpoch: testEpoch, Sequence: 1},
		Transition: fleet.Applied("", fleet.PhaseFailed, "boom"), At: time.Now().UTC()}
	sent := time.Now()
	publishAll(t, ctx, js, []fleet.StateChangeEvent{ev})
	select {
	case got := <-sub.C():
		if got.DeviceID != "pi-new" {
			t.Errorf("subscription got %+v, want pi-new's event", got)
		}
		if d := time.Since(sent); d > time.Second {
			t.Errorf("the live view saw the event after %v, want within 1s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription: no event within 5s")
	}
	if live.Folded() <= folded {
		t.Errorf("Folded() = %d, not above %d after an event", live.Folded(), folded)
	}
	st := live.Status("dep-0").Deployments[0]
	if len(st.Failing) == 0 || st.Failing[len(st.Failing)-1].DeviceID != "pi-new" {
		t.Errorf("dep-0 failing = %+v, want pi-new with its error", st.Failing)
	}
	if r := live.Recent(); len(r) != 5 || r[4].DeviceID != "pi-new" {
		t.Errorf("Recent() = %d events ending with %+v, want 5 ending with pi-new's", len(r), r[len(r)-1])
	}

	// Snapshots and records are followed.
	putInfo(t, ctx, js, fleet.DeviceInfo{DeviceID: "pi-new", HeartbeatAt: time.Now(), HeartbeatIntervalSeconds: 30,
		Revision:    fleet.Revision{AgentEpoch: testEpoch, Sequence: 2},
		Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{"dep-0": {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: testEpoch, Sequence: 2}, SpecHash: fleet.SpecHash(fleetDeployment("dep-0", nil).Spec)}}})
	putJSON(t, ctx, js, fleet.DeviceRegistryBucket, "pi-new", fleet.DeviceRecord{DeviceID: "pi-new", Labels: map[string]string{"site": "lyon"}, EnrolledAt: time.Now()})
	putJSON(t, ctx, js, fleet.DeploymentsBucket, "dep-0", fleetDeployment("dep-0", map[string]string{"site": "lyon"}))
	waitFor(t, 5*time.Second, "the live view follows snapshots and records", func() bool {
		d, ok := live.Device("pi-new", time.Now())
		s := live.Status("dep-0").Deployments[0]
		return ok && d.Liveness == fleetview.Online && d.Converged == fleetview.Converged && len(d.Targeted) == 1 &&
			s.Counts.Targeted != nil && *s.Counts.Targeted == 1 && (len(s.Failing) == 0 || s.Failing[len(s.Failing)-1].DeviceID != "pi-new")
	})

	// A slow subscriber drops rather than holding the view back.
	slow := live.Subscribe(1)
	publishAll(t, ctx, js, history(3, 1, 1))
	waitFor(t, 5*time.Second, "the slow subscriber drops", func() bool { return slow.Dropped() >= 1 })

	live.Close()
	if _, ok := <-sub.C(); ok {
		// drain what was buffered; the channel must end closed
		for range sub.C() {
		}
	}
	if live.Err() != nil {
		t.Errorf("Err() after Close = %v, want nil", live.Err())
	}
}

// TestLiveNoStream: a view of a server without the stream stops with the
// hint to run init.
func TestLiveNoStream(t *testing.T) {
	js, ctx := setup(t)
	if err := js.DeleteStream(ctx, fleet.EventsStream); err != nil {
		t.Fatal(err)
	}
	live := fleetview.StartLive(ctx, js, fleetview.LiveOptions{Timeout: 2 * time.Second})
	defer live.Close()
	if err := live.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), "run harmony-fleet init") {
		t.Errorf("WaitReady without the stream = %v, want the init hint", err)
	}
}

// asJSON is v in JSON, to compare what pointers hold.
func asJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// TestReadFoldSkipsCovered: an event its device's snapshot is as new as
// (told by its Msg-Id) is not decoded, and the status is the same.
func TestReadFoldSkipsCovered(t *testing.T) {
	js, ctx := setup(t)
	events := history(4, 2, 3)
	for _, e := range events {
		data, _ := json.Marshal(e)
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: e.Subject(), Data: data, Header: nats.Header{fleet.MsgIDHeader: []string{e.MsgID("00c0ffee00c0ffee")}}}); err != nil {
			t.Fatal(err)
		}
	}
	// pi-0 and pi-1 have snapshots at their latest revision; pi-2 an
	// older one; pi-3 none.
	last := map[fleet.DeviceID]map[fleet.DeploymentName]fleet.StateChangeEvent{}
	for _, e := range events {
		if last[e.DeviceID] == nil {
			last[e.DeviceID] = map[fleet.DeploymentName]fleet.StateChangeEvent{}
		}
		last[e.DeviceID][e.Deployment] = e
	}
	for _, id := range []fleet.DeviceID{"pi-0", "pi-1", "pi-2"} {
		info := fleet.DeviceInfo{DeviceID: id, Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{}}
		for n, e := range last[id] {
			info.Deployments[n] = fleet.DeploymentStatus{Phase: e.Transition.To, LastError: fleet.ErrorText(e.Transition.LastError), Revision: e.Revision}
			if e.Revision.Compare(info.Revision) > 0 {
				info.Revision = e.Revision
			}
		}
		if id == "pi-2" {
			info.Revision.Sequence-- // older than its last event
			info.Deployments = nil
		}
		putInfo(t, ctx, js, info)
	}
	f, err := fleetview.ReadFold(ctx, js, fleet.EventsSubjects, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// pi-0's and pi-1's four, and pi-2's dep-0 at sequence 5, which its
	// snapshot at 5 covers (it says dep-0 was removed by then).
	if f.Events != 8 || f.Skipped != 5 {
		t.Errorf("ReadFold read %d events, skipped %d; want 8, 5", f.Events, f.Skipped)
	}
	if got, want := asJSON(fleetview.StatusOf(f.Agg, fleetview.NewRecords(), "")), asJSON(fleetview.StatusOf(foldEvery(t, ctx, js), fleetview.NewRecords(), "")); got != want {
		t.Errorf("status skipping covered events =\n%s\nwant\n%s", got, want)
	}
}
