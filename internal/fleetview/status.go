package fleetview

import (
	"maps"
	"slices"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
)

// Status is what harmony-fleet status shows: every deployment, sorted by
// name.
type Status struct {
	Deployments []Deployment `json:"deployments"`
}

// Deployment is one deployment's status.
type Deployment struct {
	Name fleet.DeploymentName `json:"name"`
	// Counts.Targeted is set for a fleet deployment (in bucket
	// deployments) only, not for one written to devices by apply
	// --device.
	Counts  Counts              `json:"counts"`
	Failing []aggregate.Failing `json:"failing"`
	// Rollout is the controller's last word on it (bucket rollouts); nil
	// when there is none.
	Rollout *fleet.RolloutStatus `json:"rollout,omitempty"`
}

// Counts are the devices of a deployment in each phase and, for a fleet
// deployment, how many its selector targets.
type Counts struct {
	aggregate.Counts
	// Targeted is the number of devices whose registry labels match the
	// selector; nil (absent in JSON) for a deployment that is not a fleet
	// deployment.
	Targeted *int `json:"targeted,omitempty"`
}

// StatusOf returns the status of deployment name, or of every deployment
// when name is "": every deployment that has a device in agg and every
// fleet deployment of rec. It reads agg and rec and changes neither;
// O(deployments x (devices of the registry + failing devices)).
func StatusOf(agg *aggregate.Aggregator, rec Records, name fleet.DeploymentName) Status {
	return statusOf(agg, rec, name, nil)
}

// statusOf is StatusOf with the targeted counts of the fleet deployments
// already made (targeted; nil: none), by TargetedAll.
func statusOf(agg *aggregate.Aggregator, rec Records, name fleet.DeploymentName, targeted map[fleet.DeploymentName]int) Status {
	var names []fleet.DeploymentName
	if name != "" {
		names = []fleet.DeploymentName{name}
	} else {
		seen := map[fleet.DeploymentName]bool{}
		for _, n := range agg.Deployments() {
			seen[n] = true
		}
		for n := range rec.Deployments {
			seen[n] = true
		}
		names = slices.Sorted(maps.Keys(seen))
	}
	s := Status{Deployments: make([]Deployment, 0, len(names))}
	for _, n := range names {
		d := Deployment{Name: n, Counts: Counts{Counts: agg.Counts(n)}, Failing: agg.Failing(n)}
		if fd, ok := rec.Deployments[n]; ok {
			t, ok := targeted[n]
			if !ok {
				t = Targeted(fd, rec.Registry)
			}
			d.Counts.Targeted = &t
		}
		if ro, ok := rec.Rollouts[n]; ok {
			d.Rollout = &ro
		}
		s.Deployments = append(s.Deployments, d)
	}
	return s
}

// Targeted returns how many devices of registry d's selector matches.
func Targeted(d fleet.FleetDeployment, registry map[fleet.DeviceID]fleet.DeviceRecord) int {
	n := 0
	for _, r := range registry {
		if rollout.Matches(d.Selector, r.Labels) {
			n++
		}
	}
	return n
}

// targetedAll returns Targeted of every fleet deployment of rec.
func targetedAll(rec Records) map[fleet.DeploymentName]int {
	t := make(map[fleet.DeploymentName]int, len(rec.Deployments))
	for n, d := range rec.Deployments {
		t[n] = Targeted(d, rec.Registry)
	}
	return t
}
