package api

import (
	"bytes"
	"net/http"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// scrape GETs /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, h, b := do(t, http.MethodGet, url+"/metrics", map[string]string{"Accept": "text/plain"})
	if code != 200 {
		t.Fatalf("GET /metrics = %d %s", code, b)
	}
	if ct := h.Get("Content-Type"); !bytes.HasPrefix([]byte(ct), []byte("text/plain")) {
		t.Errorf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, b)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels
// include labels, and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	v := smallFleet()
	var lease atomic.Bool
	lease.Store(true)
	_, hs := newTestServer(t, Options{View: v, EventsFolded: v.folded.Load, LeaseHeld: lease.Load})
	getJSON(t, hs.URL+"/api/v1/deployments", new(DeploymentList))

	mfs := scrape(t, hs.URL)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"harmony_devices", map[string]string{"liveness": "online"}, 1},
		{"harmony_devices", map[string]string{"liveness": "stale"}, 1},
		{"harmony_devices", map[string]string{"liveness": "offline"}, 1},
		{"harmony_deployment_devices", map[string]string{"deployment": "web", "phase": "running"}, 1},
		{"harmony_deployment_devices", map[string]string{"deployment": "web", "phase": "failed"}, 1},
		{"harmony_deployment_devices", map[string]string{"deployment": "job", "phase": "succeeded"}, 1},
		{"harmony_deployment_targeted_devices", map[string]string{"deployment": "web"}, 2},
		{"harmony_rollout_devices", map[string]string{"deployment": "web", "status": "targeted"}, 2},
		{"harmony_rollout_devices", map[string]string{"deployment": "web", "status": "updated"}, 2},
		{"harmony_rollout_devices", map[string]string{"deployment": "web", "status": "ready"}, 1},
		{"harmony_rollout_devices", map[string]string{"deployment": "web", "status": "failed"}, 1},
		{"harmony_rollout_state", map[string]string{"deployment": "web", "state": "progressing"}, 1},
		{"harmony_events_folded_total", nil, 0},
		{"harmony_controller_lease_held", nil, 1},
		{"harmony_api_request_duration_seconds", map[string]string{"route": "/api/v1/deployments", "method": "GET", "code": "200"}, 1},
	} {
		if got, ok := value(mfs, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}

	// Counters and gauges move when events arrive.
	v.apply(event("pi-2", "web", 2, fleet.PhaseFailed, fleet.PhaseRunning, ""))
	v.apply(event("pi-3", "job", 2, fleet.PhaseRunning, fleet.PhaseFailed, "exit 1"))
	lease.Store(false)
	mfs = scrape(t, hs.URL)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"harmony_events_folded_total", nil, 2},
		{"harmony_deployment_devices", map[string]string{"deployment": "web", "phase": "running"}, 2},
		{"harmony_deployment_devices", map[string]string{"deployment": "web", "phase": "failed"}, 0},
		{"harmony_deployment_devices", map[string]string{"deployment": "job", "phase": "failed"}, 1},
		{"harmony_controller_lease_held", nil, 0},
		{"harmony_api_request_duration_seconds", map[string]string{"route": "/metrics", "code": "200"}, 1},
	} {
		if got, ok := value(mfs, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("after events: %s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}

	// Without the optional funcs their metrics are absent.
	_, hs2 := newTestServer(t, Options{View: v})
	mfs = scrape(t, hs2.URL)
	for _, name := range []string{"harmony_events_folded_total", "harmony_controller_lease_held"} {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s present without its func", name)
		}
	}
}
