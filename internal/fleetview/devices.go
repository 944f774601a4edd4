package fleetview

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
)

// Liveness says how recent a device's last heartbeat is.
type Liveness string

// The liveness of a device, by the age of its snapshot's heartbeat in
// heartbeat intervals (DeviceInfo.HeartbeatInterval).
const (
	// Online: within StaleHeartbeats intervals.
	Online Liveness = "online"
	// Stale: between StaleHeartbeats and rollout.OfflineHeartbeats.
	Stale Liveness = "stale"
	// Offline: older than rollout.OfflineHeartbeats intervals, or no
	// heartbeat at all.
	Offline Liveness = "offline"
)

// StaleHeartbeats is how many heartbeat intervals a device may stay silent
// and still be online.
const StaleHeartbeats = 2

// LivenessAt returns the liveness of the device of info at now: a pure
// function of the heartbeat time, the interval and now.
func LivenessAt(info fleet.DeviceInfo, now time.Time) Liveness {
	if info.HeartbeatAt.IsZero() {
		return Offline
	}
	age, iv := now.Sub(info.HeartbeatAt), info.HeartbeatInterval()
	switch {
	case age <= StaleHeartbeats*iv:
		return Online
	case age <= rollout.OfflineHeartbeats*iv:
		return Stale
	}
	return Offline
}

// Convergence says whether a device runs what the fleet deployments that
// target it say.
type Convergence string

// The convergence of a device.
const (
	// Converged: every fleet deployment that targets the device is
	// running or succeeded there with its current spec hash (true of a
	// device no fleet deployment targets).
	Converged Convergence = "yes"
	// NotConverged: some targeted deployment is missing, pending,
	// failed, or runs another spec.
	NotConverged Convergence = "no"
	// ConvergenceUnknown: no snapshot, or the device does not report the
	// spec hash of a deployment that is otherwise fine.
	ConvergenceUnknown Convergence = "unknown"
)

// ConvergenceOf returns whether the device of info (nil: no snapshot) is
// converged on targeted, the fleet deployments that target it, each with
// the hash of its current spec (fleet.SpecHash).
func ConvergenceOf(info *fleet.DeviceInfo, targeted map[fleet.DeploymentName]string) Convergence {
	if len(targeted) == 0 {
		return Converged
	}
	if info == nil {
		return ConvergenceUnknown
	}
	c := Converged
	for name, hash := range targeted {
		st, ok := info.Deployments[name]
		switch {
		case !ok || (st.Phase != fleet.PhaseRunning && st.Phase != fleet.PhaseSucceeded):
			return NotConverged
		case st.SpecHash == "":
			c = ConvergenceUnknown
		case st.SpecHash != hash:
			return NotConverged
		}
	}
	return c
}

// Device is one device as the registry, its snapshot and its liveness
// tell.
type Device struct {
	DeviceID fleet.DeviceID `json:"device_id"`
	// Record is the device's registry entry; nil when it is not enrolled.
	Record *fleet.DeviceRecord `json:"registry,omitempty"`
	// Info is the device's snapshot; nil when it never wrote one.
	Info     *fleet.DeviceInfo `json:"info,omitempty"`
	Liveness Liveness          `json:"liveness"`
	// HeartbeatAgeSeconds is -1 when there is no heartbeat.
	HeartbeatAgeSeconds int64       `json:"heartbeat_age_seconds"`
	Converged           Convergence `json:"converged"`
	// Targeted are the fleet deployments whose selector matches the
	// registry labels, sorted; never nil.
	Targeted []fleet.DeploymentName `json:"targeted"`
}

// JoinDevices joins the registry of rec, the snapshots and liveness at
// now: one Device per device enrolled or with a snapshot, sorted by id.
// It reads its arguments and changes none.
func JoinDevices(rec Records, infos map[fleet.DeviceID]fleet.DeviceInfo, now time.Time) []Device {
	hashes := SpecHashes(rec.Deployments)
	ids := map[fleet.DeviceID]bool{}
	for id := range rec.Registry {
		ids[id] = true
	}
	for id := range infos {
		ids[id] = true
	}
	out := make([]Device, 0, len(ids))
	for id := range ids {
		out = append(out, joinDevice(id, rec, infos, hashes, now))
	}
	slices.SortFunc(out, func(a, b Device) int { return cmp.Compare(a.DeviceID, b.DeviceID) })
	return out
}

// JoinDevice is JoinDevices for one device; it reports whether the device
// is enrolled or has a snapshot.
func JoinDevice(id fleet.DeviceID, rec Records, infos map[fleet.DeviceID]fleet.DeviceInfo, now time.Time) (Device, bool) {
	_, enrolled := rec.Registry[id]
	_, reported := infos[id]
	if !enrolled && !reported {
		return Device{}, false
	}
	return joinDevice(id, rec, infos, SpecHashes(rec.Deployments), now), true
}

// SpecHashes returns the hash of every fleet deployment's current spec.
func SpecHashes(deployments map[fleet.DeploymentName]fleet.FleetDeployment) map[fleet.DeploymentName]string {
	h := make(map[fleet.DeploymentName]string, len(deployments))
	for n, d := range deployments {
		h[n] = fleet.SpecHash(d.Spec)
	}
	return h
}

func joinDevice(id fleet.DeviceID, rec Records, infos map[fleet.DeviceID]fleet.DeviceInfo, hashes map[fleet.DeploymentName]string, now time.Time) Device {
	d := Device{DeviceID: id, Liveness: Offline, HeartbeatAgeSeconds: -1, Targeted: []fleet.DeploymentName{}}
	targeted := map[fleet.DeploymentName]string{}
	if r, ok := rec.Registry[id]; ok {
		d.Record = &r
		for n, fd := range rec.Deployments {
			if rollout.Matches(fd.Selector, r.Labels) {
				targeted[n] = hashes[n]
			}
		}
		d.Targeted = slices.Sorted(maps.Keys(targeted))
	}
	if info, ok := infos[id]; ok {
		d.Info = &info
		d.Liveness = LivenessAt(info, now)
		if !info.HeartbeatAt.IsZero() {
			d.HeartbeatAgeSeconds = int64(max(now.Sub(info.HeartbeatAt), 0) / time.Second)
		}
	}
	d.Converged = ConvergenceOf(d.Info, targeted)
	return d
}
