//go:build embednats

package main

import (
	"errors"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/api"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

// TestLiveViewForAPI: the API's view of a fleet (registry, snapshots, a
// fleet deployment) filters and pages devices by registry labels, marks
// fleet deployments, and pause answers not found for an unknown name.
func TestLiveViewForAPI(t *testing.T) {
	e := start(t, true)
	for _, d := range []struct{ id, site string }{{"pi-1", "lyon"}, {"pi-2", "lyon"}, {"pi-3", "paris"}} {
		if code, _, errOut := e.run(t, "device", "add", d.id, "--label", "site="+d.site); code != exitOK {
			t.Fatalf("device add %s = %d: %s", d.id, code, errOut)
		}
	}
	e.putInfo(t, "pi-1", map[string]string{"site": "paris"}, time.Now(), map[fleet.DeploymentName]fleet.DeploymentStatus{
		"web": {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: 1, Sequence: 1}}})
	web := writeFile(t, "web.yaml", webYAML)
	if code, _, errOut := e.run(t, "deploy", "web", "-f", web, "--selector", "site=lyon"); code != exitOK {
		t.Fatalf("deploy = %d: %s", code, errOut)
	}
	live := fleetview.StartLive(ctxT(t), e.js, fleetview.LiveOptions{})
	t.Cleanup(live.Close)
	v := liveView{live}
	eventually(t, "the view is ready, with web a fleet deployment", func() bool {
		d, ok := v.Deployment("web")
		return v.Ready() && ok && d.Fleet
	})
	page, total := v.Devices(api.DeviceQuery{Labels: map[string]string{"site": "lyon"}, Limit: 1})
	if total != 2 || len(page) != 1 || page[0].DeviceID != "pi-1" {
		t.Errorf("Devices(site=lyon, limit 1) = %+v, %d; want pi-1 of 2 (registry labels, not reported ones)", page, total)
	}
	if got := page[0].ReportedLabels["site"]; len(page) == 1 && got != "paris" {
		t.Errorf("pi-1 reported site %q, want paris", got)
	}
	if _, total := v.Devices(api.DeviceQuery{Liveness: api.LivenessOffline}); total != 2 {
		t.Errorf("offline devices: %d, want 2 (pi-2 and pi-3 never reported)", total)
	}
	pr := pauseResume{e.js}
	if err := pr.Pause(ctxT(t), "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Pause(nope) = %v, want ErrNotFound", err)
	}
	if err := pr.Pause(ctxT(t), "web"); err != nil {
		t.Fatalf("Pause(web) = %v", err)
	}
	eventually(t, "web paused in the view", func() bool {
		d, _ := v.Deployment("web")
		return d.Paused
	})
}
