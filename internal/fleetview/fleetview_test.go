//go:build embednats

package fleetview_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

func setup(t *testing.T) (jetstream.JetStream, context.Context) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if err := natsconn.EnsureResources(ctx, js, natsconn.ResourceSettings{}); err != nil {
		t.Fatal(err)
	}
	return js, ctx
}

func event(dev fleet.DeviceID, name fleet.DeploymentName, seq uint64) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID: dev, Deployment: name,
		Revision:   fleet.Revision{AgentEpoch: 1875123456789012, Sequence: seq},
		Transition: fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""),
		At:         time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
}

// TestEventReader: events come in stream order, on the filter only; one
// published on another deployment's subject is reported, not accepted.
func TestEventReader(t *testing.T) {
	js, ctx := setup(t)
	good := event("pi-1", "web", 1)
	moved := event("pi-1", "db", 2) // published on web's subject
	other := event("pi-2", "web", 1)
	for _, p := range []struct {
		subject string
		e       fleet.StateChangeEvent
	}{{good.Subject(), good}, {good.Subject(), moved}, {other.Subject(), other}} {
		data, _ := json.Marshal(p.e)
		if _, err := js.Publish(ctx, p.subject, data); err != nil {
			t.Fatal(err)
		}
	}
	r, err := fleetview.OpenEvents(ctx, js, fleetview.EventsFilter("pi-1", ""), 5*time.Second)
	if err != nil {
		t.Fatalf("OpenEvents: %v", err)
	}
	defer r.Stop()
	first, err := r.Next(ctx)
	if err != nil || first.Err != nil || first.Event.Revision != good.Revision || first.Event.Deployment != "web" {
		t.Fatalf("Next = %+v, %v; want pi-1/web seq 1", first, err)
	}
	if !r.Backlog() {
		t.Error("Backlog() = false with a stored event unread")
	}
	second, err := r.Next(ctx)
	if err != nil || second.Err == nil || !strings.Contains(second.Err.Error(), "subject of another deployment") {
		t.Fatalf("Next = %+v, %v; want the moved event refused", second, err)
	}
	if r.Backlog() || !second.CaughtUp {
		t.Errorf("after the last stored event: Backlog() = %v, CaughtUp = %v; want false, true", r.Backlog(), second.CaughtUp)
	}
}

// TestListDeviceInfo: snapshots sorted by device; one under another
// device's key is reported, not accepted.
func TestListDeviceInfo(t *testing.T) {
	js, ctx := setup(t)
	kv, err := fleetview.OpenBucket(ctx, js, fleet.DeviceInfoBucket)
	if err != nil {
		t.Fatal(err)
	}
	for key, dev := range map[string]fleet.DeviceID{"pi-2": "pi-2", "pi-1": "pi-1", "pi-3": "pi-1"} {
		data, _ := json.Marshal(fleet.DeviceInfo{DeviceID: dev, AgentEpoch: 1, Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{}})
		if _, err := kv.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	infos, bad, err := fleetview.ListDeviceInfo(ctx, js, 5*time.Second)
	if err != nil {
		t.Fatalf("ListDeviceInfo: %v", err)
	}
	if len(infos) != 2 || infos[0].DeviceID != "pi-1" || infos[1].DeviceID != "pi-2" {
		t.Errorf("ListDeviceInfo = %+v, want pi-1 then pi-2", infos)
	}
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "device-info pi-3") {
		t.Errorf("ListDeviceInfo bad = %v, want pi-3's refused", bad)
	}
	if _, err := fleetview.OpenBucket(ctx, js, "nope"); err == nil || !strings.Contains(err.Error(), "run harmony-fleet init") {
		t.Errorf("OpenBucket(nope) = %v, want a hint to run init", err)
	}
}
