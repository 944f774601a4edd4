package fleetview

import (
	"slices"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestLivenessAt(t *testing.T) {
	for _, tc := range []struct {
		name        string
		age         time.Duration
		intervalSec int64
		want        Liveness
	}{
		{"fresh", time.Second, 0, Online},
		{"two default intervals", 60 * time.Second, 0, Online},
		{"just past two", 61 * time.Second, 0, Stale},
		{"three default intervals", 90 * time.Second, 0, Stale},
		{"past three", 91 * time.Second, 0, Offline},
		{"own interval of 10s: 25s", 25 * time.Second, 10, Stale},
		{"own interval of 10s: 31s", 31 * time.Second, 10, Offline},
		{"own interval of 120s: 4m", 4 * time.Minute, 120, Online},
		{"clock ahead", -time.Minute, 0, Online},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := fleet.DeviceInfo{HeartbeatAt: now.Add(-tc.age), HeartbeatIntervalSeconds: tc.intervalSec}
			if got := LivenessAt(info, now); got != tc.want {
				t.Errorf("LivenessAt(age %v, interval %ds) = %s, want %s", tc.age, tc.intervalSec, got, tc.want)
			}
		})
	}
	if got := LivenessAt(fleet.DeviceInfo{}, now); got != Offline {
		t.Errorf("LivenessAt(no heartbeat) = %s, want offline", got)
	}
}

func TestConvergenceOf(t *testing.T) {
	st := func(p fleet.Phase, hash string) fleet.DeploymentStatus {
		return fleet.DeploymentStatus{Phase: p, SpecHash: hash}
	}
	targeted := map[fleet.DeploymentName]string{"web": "h1", "job": "h2"}
	for _, tc := range []struct {
		name     string
		info     *fleet.DeviceInfo
		targeted map[fleet.DeploymentName]string
		want     Convergence
	}{
		{"targeted by nothing", nil, nil, Converged},
		{"no snapshot", nil, targeted, ConvergenceUnknown},
		{"all current", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhaseRunning, "h1"), "job": st(fleet.PhaseSucceeded, "h2"), "extra": st(fleet.PhaseFailed, "")}}, targeted, Converged},
		{"one missing", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhaseRunning, "h1")}}, targeted, NotConverged},
		{"one failed", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhaseRunning, "h1"), "job": st(fleet.PhaseFailed, "h2")}}, targeted, NotConverged},
		{"one pending", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhasePending, "h1"), "job": st(fleet.PhaseSucceeded, "h2")}}, targeted, NotConverged},
		{"old spec", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhaseRunning, "h0"), "job": st(fleet.PhaseSucceeded, "h2")}}, targeted, NotConverged},
		{"no hashes reported", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhaseRunning, ""), "job": st(fleet.PhaseSucceeded, "")}}, targeted, ConvergenceUnknown},
		{"no hash, and an old spec", &fleet.DeviceInfo{Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": st(fleet.PhaseRunning, ""), "job": st(fleet.PhaseSucceeded, "h0")}}, targeted, NotConverged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConvergenceOf(tc.info, tc.targeted); got != tc.want {
				t.Errorf("ConvergenceOf = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestJoinDevices: enrolled and reporting devices are joined by id, with
// the targeting of the registry labels (never the reported ones) and the
// liveness of fabricated heartbeats.
func TestJoinDevices(t *testing.T) {
	spec := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/true"}}
	rec := NewRecords()
	rec.Deployments["web"] = fleet.FleetDeployment{Name: "web", Selector: map[string]string{"site": "lyon"}, Spec: spec}
	rec.Registry["pi-1"] = fleet.DeviceRecord{DeviceID: "pi-1", Labels: map[string]string{"site": "lyon"}}
	rec.Registry["pi-3"] = fleet.DeviceRecord{DeviceID: "pi-3", Labels: map[string]string{"site": "lyon"}}
	infos := map[fleet.DeviceID]fleet.DeviceInfo{
		"pi-1": {DeviceID: "pi-1", HeartbeatAt: now.Add(-10 * time.Second),
			Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{"web": {Phase: fleet.PhaseRunning, SpecHash: fleet.SpecHash(spec)}}},
		// Reports site=lyon itself: not enrolled, so not targeted.
		"pi-2": {DeviceID: "pi-2", Labels: map[string]string{"site": "lyon"}, HeartbeatAt: now.Add(-75 * time.Second)},
	}
	got := JoinDevices(rec, infos, now)
	ids := make([]fleet.DeviceID, len(got))
	for i, d := range got {
		ids[i] = d.DeviceID
	}
	if !slices.Equal(ids, []fleet.DeviceID{"pi-1", "pi-2", "pi-3"}) {
		t.Fatalf("JoinDevices ids = %v", ids)
	}
	for _, tc := range []struct {
		d         Device
		liveness  Liveness
		converged Convergence
		targeted  int
		age       int64
		enrolled  bool
	}{
		{got[0], Online, Converged, 1, 10, true},
		{got[1], Stale, Converged, 0, 75, false},
		{got[2], Offline, ConvergenceUnknown, 1, -1, true},
	} {
		d := tc.d
		if d.Liveness != tc.liveness || d.Converged != tc.converged || len(d.Targeted) != tc.targeted ||
			d.HeartbeatAgeSeconds != tc.age || (d.Record != nil) != tc.enrolled {
			t.Errorf("%s = %+v; want %s, %s, %d targeted, age %d, enrolled %v", d.DeviceID, d, tc.liveness, tc.converged, tc.targeted, tc.age, tc.enrolled)
		}
	}
	if d, ok := JoinDevice("pi-9", rec, infos, now); ok {
		t.Errorf("JoinDevice(pi-9) = %+v, true; want unknown", d)
	}
}
