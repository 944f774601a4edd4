package api

import (
	"context"
	"errors"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// View is what the API reads: the folded fleet, kept live by its
// implementation. Every method is called from many goroutines at once and
// must return values the caller may keep (copies, not shared maps).
type View interface {
	// Ready reports whether the view has folded the fleet's current state
	// (the last event per subject and every snapshot) at least once.
	Ready() bool
	// Deployments returns every deployment known, sorted by name.
	Deployments() []Deployment
	// Deployment returns one deployment with its failing devices, and
	// reports whether it is known.
	Deployment(name fleet.DeploymentName) (DeploymentDetail, bool)
	// Devices returns the page of devices q selects, sorted by device id,
	// and how many devices match q in all. With q.Limit 0 the page is
	// empty and only the total is computed.
	Devices(q DeviceQuery) (page []Device, total int)
	// Device returns one device with its snapshot and recent events, and
	// reports whether it is known.
	Device(id fleet.DeviceID) (DeviceDetail, bool)
	// Subscribe returns a channel of the events folded from now on and a
	// function that ends the subscription (idempotent). The channel is
	// closed when ctx ends or the subscription is ended. A subscriber
	// that falls behind may miss events (the implementation must not
	// block on it); the dashboard refetches on every event, so a missed
	// one costs nothing that the next does not repair.
	Subscribe(ctx context.Context) (<-chan fleet.StateChangeEvent, func())
}

// Rollouts acts on fleet deployments' rollouts. Pause and Resume return an
// error wrapping ErrNotFound when name is not a fleet deployment.
type Rollouts interface {
	Pause(ctx context.Context, name fleet.DeploymentName) error
	Resume(ctx context.Context, name fleet.DeploymentName) error
}

// ErrNotFound is wrapped by Rollouts errors for an unknown deployment; the
// API answers 404.
var ErrNotFound = errors.New("api: not found")

// Liveness is how recently a device's heartbeat was seen.
type Liveness string

const (
	// LivenessOnline: a heartbeat within two heartbeat intervals.
	LivenessOnline Liveness = "online"
	// LivenessStale: the last heartbeat is two to three intervals old.
	LivenessStale Liveness = "stale"
	// LivenessOffline: no heartbeat for more than three intervals, or
	// none ever (a device in the registry that never reported).
	LivenessOffline Liveness = "offline"
)

// Valid reports whether l is one of the three liveness values.
func (l Liveness) Valid() bool {
	switch l {
	case LivenessOnline, LivenessStale, LivenessOffline:
		return true
	}
	return false
}

// LivenessOf returns the liveness of a device whose last heartbeat was at
// heartbeat, at time now, for agents that beat every interval. A zero
// heartbeat is offline.
func LivenessOf(heartbeat, now time.Time, interval time.Duration) Liveness {
	if heartbeat.IsZero() {
		return LivenessOffline
	}
	switch age := now.Sub(heartbeat); {
	case age <= 2*interval:
		return LivenessOnline
	case age <= 3*interval:
		return LivenessStale
	}
	return LivenessOffline
}

// Convergence says whether a device runs what targets it.
type Convergence string

const (
	// Converged: every deployment targeted at the device is running or
	// succeeded there with its current spec hash (true of a device
	// nothing targets).
	Converged Convergence = "yes"
	// NotConverged: a targeted deployment is missing, pending, failed or
	// runs another spec.
	NotConverged Convergence = "no"
	// ConvergenceUnknown: no snapshot, or the device does not report the
	// spec hash of a deployment that is otherwise fine.
	ConvergenceUnknown Convergence = "unknown"
)

// Counts is the number of devices in each phase of one deployment.
// Targeted is set for fleet deployments only: the number of devices its
// selector matches in the registry (some may not have reported yet).
type Counts struct {
	Pending   int  `json:"pending"`
	Running   int  `json:"running"`
	Succeeded int  `json:"succeeded"`
	Failed    int  `json:"failed"`
	Targeted  *int `json:"targeted,omitempty"`
}

// Deployment is one deployment's line in GET /api/v1/deployments.
type Deployment struct {
	Name   fleet.DeploymentName `json:"name"`
	Counts Counts               `json:"counts"`
	// Fleet reports whether it is a fleet deployment (bucket deployments),
	// as opposed to keys written per device with apply --device.
	Fleet bool `json:"fleet"`
	// Paused is the fleet deployment's paused flag.
	Paused bool `json:"paused"`
	// Rollout is the status the acting controller last wrote in bucket
	// rollouts; nil when it has written none.
	Rollout *fleet.RolloutStatus `json:"rollout"`
}

// DeploymentDetail is GET /api/v1/deployments/{name}.
type DeploymentDetail struct {
	Deployment
	// Failing lists the devices in phase failed, sorted by device id;
	// never nil.
	Failing []FailingDevice `json:"failing"`
}

// FailingDevice is one device whose deployment failed.
type FailingDevice struct {
	DeviceID  fleet.DeviceID  `json:"device_id"`
	LastError fleet.ErrorText `json:"last_error"`
	Revision  fleet.Revision  `json:"revision"`
}

// DeviceQuery selects devices for View.Devices.
type DeviceQuery struct {
	// Labels: registry labels the device must all have (equality).
	Labels map[string]string
	// Liveness: only devices of this liveness; empty for any.
	Liveness Liveness
	// Offset and Limit: the page, in device-id order.
	Offset, Limit int
}

// Device is one device's line in GET /api/v1/devices: the registry record
// joined with the snapshot and liveness.
type Device struct {
	DeviceID fleet.DeviceID `json:"device_id"`
	// Enrolled reports whether the device is in the registry.
	Enrolled bool `json:"enrolled"`
	// Labels are the registry labels (the ones selectors match).
	Labels map[string]string `json:"labels"`
	// ReportedLabels are the labels the device claims in its DeviceInfo:
	// shown, never used for targeting.
	ReportedLabels map[string]string `json:"reported_labels"`
	Liveness       Liveness          `json:"liveness"`
	// Converged says whether every deployment targeted at the device is
	// running or succeeded with its current spec hash.
	Converged    Convergence `json:"converged"`
	AgentVersion string      `json:"agent_version"`
	Hostname     string      `json:"hostname"`
	HeartbeatAt  time.Time   `json:"heartbeat_at,omitzero"`
	// HeartbeatAgeSeconds is filled in by the server when it answers
	// (from HeartbeatAt); -1 when the device never reported.
	HeartbeatAgeSeconds float64         `json:"heartbeat_age_seconds"`
	Host                *fleet.HostInfo `json:"host"`
	// Deployments holds the phase of each deployment on the device.
	Deployments map[fleet.DeploymentName]DevicePhase `json:"deployments"`
}

// DevicePhase is one deployment's phase on one device.
type DevicePhase struct {
	Phase     fleet.Phase     `json:"phase"`
	LastError fleet.ErrorText `json:"last_error"`
	SpecHash  string          `json:"spec_hash,omitempty"`
	Revision  fleet.Revision  `json:"revision"`
}

// DeviceDetail is GET /api/v1/devices/{id}.
type DeviceDetail struct {
	Device
	// Info is the device's last DeviceInfo snapshot; nil when it never
	// reported.
	Info *fleet.DeviceInfo `json:"info"`
	// RecentEvents are the device's latest events, oldest first; never
	// nil.
	RecentEvents []fleet.StateChangeEvent `json:"recent_events"`
}
