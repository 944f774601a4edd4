package controller

import (
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// TestSetInfoReportsChange: a snapshot wakes the planner only when a plan
// could decide otherwise for it; a heartbeat repeating what the view
// holds, from a device online, does not.
func TestSetInfoReportsChange(t *testing.T) {
	now := time.Now()
	running := func(hash string, seq uint64) map[fleet.DeploymentName]fleet.DeploymentStatus {
		return map[fleet.DeploymentName]fleet.DeploymentStatus{"web": {Phase: fleet.PhaseRunning, SpecHash: hash, Revision: r(seq)}}
	}
	snap := func(at time.Time, interval int64, seq uint64, deps map[fleet.DeploymentName]fleet.DeploymentStatus) *fleet.DeviceInfo {
		return &fleet.DeviceInfo{DeviceID: "d1", AgentEpoch: 7, HeartbeatAt: at, HeartbeatIntervalSeconds: interval, Revision: r(seq), Deployments: deps}
	}
	first := snap(now.Add(-time.Second), 30, 2, running(hashA, 2))
	for _, tc := range []struct {
		name string
		next *fleet.DeviceInfo
		want bool
	}{
		{"a heartbeat repeating the snapshot", snap(now, 30, 2, running(hashA, 2)), false},
		{"a heartbeat with a newer revision, same phases", snap(now, 30, 3, running(hashA, 2)), false},
		{"another spec", snap(now, 30, 3, running(hashB, 3)), true},
		{"another phase", snap(now, 30, 3, map[fleet.DeploymentName]fleet.DeploymentStatus{"web": {Phase: fleet.PhaseFailed, SpecHash: hashA, Revision: r(3)}}), true},
		{"a deployment gone", snap(now, 30, 3, nil), true},
		{"another heartbeat interval", snap(now, 10, 2, running(hashA, 2)), true},
		{"the key deleted", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newView(30 * time.Second)
			if !v.setInfo("d1", first) {
				t.Fatalf("setInfo(first snapshot) = false, want true")
			}
			if got := v.setInfo("d1", tc.next); got != tc.want {
				t.Errorf("setInfo(%s) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	t.Run("back online after a stale heartbeat", func(t *testing.T) {
		v := newView(30 * time.Second)
		v.setInfo("d1", snap(now.Add(-2*time.Minute), 30, 2, running(hashA, 2)))
		if got := v.setInfo("d1", snap(now, 30, 2, running(hashA, 2))); !got {
			t.Errorf("setInfo(heartbeat after 2 minutes of silence) = false, want true")
		}
	})
}
