package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
	"github.com/harmony-edge/harmony-agent/internal/api"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

// liveView is the api.View of serve --http: fleetview's Live view, in the
// API's shapes.
type liveView struct{ l *fleetview.Live }

var (
	_ api.View     = liveView{}
	_ api.Rollouts = pauseResume{}
)

// subscribeBuffer is how many events a slow API subscriber may fall
// behind before it misses some (the dashboard refetches on the next).
const subscribeBuffer = 64

func (v liveView) Ready() bool {
	select {
	case <-v.l.Ready():
		return true
	default:
		return false
	}
}

func (v liveView) Deployments() []api.Deployment {
	st := v.l.Status("")
	rec := v.l.Records()
	out := make([]api.Deployment, 0, len(st.Deployments))
	for _, d := range st.Deployments {
		out = append(out, apiDeployment(d, rec))
	}
	return out
}

func apiDeployment(d fleetview.Deployment, rec fleetview.Records) api.Deployment {
	fd, isFleet := rec.Deployments[d.Name]
	return api.Deployment{
		Name: d.Name,
		Counts: api.Counts{Pending: d.Counts.Pending, Running: d.Counts.Running, Succeeded: d.Counts.Succeeded,
			Failed: d.Counts.Failed, Targeted: d.Counts.Targeted},
		Fleet:   isFleet,
		Paused:  isFleet && fd.Paused,
		Rollout: d.Rollout,
	}
}

func (v liveView) Deployment(name fleet.DeploymentName) (api.DeploymentDetail, bool) {
	st := v.l.Status(name)
	rec := v.l.Records()
	for _, d := range st.Deployments {
		if d.Name != name {
			continue
		}
		// Status(name) answers for any name; known are the ones the list
		// holds: a fleet deployment, or one some device reports.
		c := d.Counts
		if _, isFleet := rec.Deployments[name]; !isFleet && c.Pending+c.Running+c.Succeeded+c.Failed == 0 {
			return api.DeploymentDetail{}, false
		}
		out := api.DeploymentDetail{Deployment: apiDeployment(d, rec), Failing: []api.FailingDevice{}}
		for _, f := range d.Failing {
			out.Failing = append(out.Failing, api.FailingDevice{DeviceID: f.DeviceID, LastError: fleet.ErrorText(f.LastError), Revision: f.Revision})
		}
		return out, true
	}
	return api.DeploymentDetail{}, false
}

func apiDevice(d fleetview.Device) api.Device {
	out := api.Device{
		DeviceID:            d.DeviceID,
		Enrolled:            d.Record != nil,
		Labels:              map[string]string{},
		ReportedLabels:      map[string]string{},
		Liveness:            api.Liveness(d.Liveness),
		Converged:           api.Convergence(d.Converged),
		HeartbeatAgeSeconds: float64(d.HeartbeatAgeSeconds),
		Deployments:         map[fleet.DeploymentName]api.DevicePhase{},
	}
	if d.Record != nil && d.Record.Labels != nil {
		out.Labels = d.Record.Labels
	}
	if i := d.Info; i != nil {
		if i.Labels != nil {
			out.ReportedLabels = i.Labels
		}
		out.AgentVersion, out.Hostname, out.HeartbeatAt, out.Host = i.AgentVersion, i.Hostname, i.HeartbeatAt, i.Host
		for name, s := range i.Deployments {
			out.Deployments[name] = api.DevicePhase{Phase: s.Phase, LastError: s.LastError, SpecHash: s.SpecHash, Revision: s.Revision}
		}
	}
	return out
}

func (v liveView) Devices(q api.DeviceQuery) ([]api.Device, int) {
	var match []fleetview.Device
	for _, d := range v.l.Devices(time.Now()) {
		labels := map[string]string{}
		if d.Record != nil {
			labels = d.Record.Labels
		}
		if !rollout.Matches(q.Labels, labels) || q.Liveness != "" && api.Liveness(d.Liveness) != q.Liveness {
			continue
		}
		match = append(match, d)
	}
	page := []api.Device{}
	for i := q.Offset; i >= 0 && i < len(match) && len(page) < q.Limit; i++ {
		page = append(page, apiDevice(match[i]))
	}
	return page, len(match)
}

func (v liveView) Device(id fleet.DeviceID) (api.DeviceDetail, bool) {
	d, ok := v.l.Device(id, time.Now())
	if !ok {
		return api.DeviceDetail{}, false
	}
	out := api.DeviceDetail{Device: apiDevice(d), Info: d.Info, RecentEvents: []fleet.StateChangeEvent{}}
	for _, e := range v.l.Recent() {
		if e.DeviceID == id {
			out.RecentEvents = append(out.RecentEvents, e)
		}
	}
	return out, true
}

func (v liveView) Subscribe(ctx context.Context) (<-chan fleet.StateChangeEvent, func()) {
	sub := v.l.Subscribe(subscribeBuffer)
	var once sync.Once
	end := func() { once.Do(sub.Close) }
	// Owned by the subscription: ends with ctx or end, whichever first.
	stop := context.AfterFunc(ctx, end)
	return sub.C(), func() { stop(); end() }
}

// pauseResume is serve's api.Rollouts: the same compare-and-set on the
// fleet deployment as rollout pause|resume.
type pauseResume struct{ js jetstream.JetStream }

func (p pauseResume) Pause(ctx context.Context, name fleet.DeploymentName) error {
	return p.set(ctx, name, true)
}

func (p pauseResume) Resume(ctx context.Context, name fleet.DeploymentName) error {
	return p.set(ctx, name, false)
}

var errNoFleetDeployment = errors.New("no such fleet deployment")

func (p pauseResume) set(ctx context.Context, name fleet.DeploymentName, paused bool) error {
	kv, err := p.js.KeyValue(ctx, fleet.DeploymentsBucket)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", fleet.DeploymentsBucket, err)
	}
	_, err = updateDeployment(ctx, kv, name, func(cur *fleet.FleetDeployment) (fleet.FleetDeployment, error) {
		if cur == nil {
			return fleet.FleetDeployment{}, errNoFleetDeployment
		}
		d := *cur
		d.Paused = paused
		return d, nil
	})
	if errors.Is(err, errNoFleetDeployment) {
		return fmt.Errorf("%s: %w", name, api.ErrNotFound)
	}
	return err
}
