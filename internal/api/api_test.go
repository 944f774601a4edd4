package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func TestDeploymentsJSON(t *testing.T) {
	_, hs := newTestServer(t, Options{View: smallFleet()})
	var list DeploymentList
	getJSON(t, hs.URL+"/api/v1/deployments", &list)
	names := []fleet.DeploymentName{}
	for _, d := range list.Deployments {
		names = append(names, d.Name)
	}
	if want := []fleet.DeploymentName{"job", "web"}; !slices.Equal(names, want) {
		t.Fatalf("deployments = %v, want %v", names, want)
	}
	web := list.Deployments[1]
	if web.Counts.Running != 1 || web.Counts.Failed != 1 || web.Counts.Targeted == nil || *web.Counts.Targeted != 2 {
		t.Errorf("web counts = %+v (targeted %v), want 1 running, 1 failed, 2 targeted", web.Counts, web.Counts.Targeted)
	}
	if !web.Fleet || web.Rollout == nil || web.Rollout.State != "progressing" || web.Rollout.Updated != 2 {
		t.Errorf("web = %+v, want a fleet deployment with a progressing rollout, 2 updated", web)
	}
	job := list.Deployments[0]
	if job.Fleet || job.Rollout != nil || job.Counts.Targeted != nil || job.Counts.Running != 1 || job.Counts.Succeeded != 1 {
		t.Errorf("job = %+v, want a device deployment, 1 running 1 succeeded, no targeted, no rollout", job)
	}

	// The wire names, as the contract spells them.
	code, _, raw := do(t, http.MethodGet, hs.URL+"/api/v1/deployments/web", nil)
	if code != http.StatusOK {
		t.Fatalf("GET web = %d %s", code, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "counts", "fleet", "paused", "rollout", "failing"} {
		if _, ok := m[k]; !ok {
			t.Errorf("GET web: no field %q in %s", k, raw)
		}
	}
	for _, k := range []string{"pending", "running", "succeeded", "failed", "targeted"} {
		if _, ok := m["counts"].(map[string]any)[k]; !ok {
			t.Errorf("GET web: counts has no %q: %s", k, raw)
		}
	}
	for _, k := range []string{"deployment", "generation", "spec_hash", "previous_spec_hash", "state", "targeted", "updated", "ready", "failed", "unavailable", "wave", "message", "updated_at"} {
		if _, ok := m["rollout"].(map[string]any)[k]; !ok {
			t.Errorf("GET web: rollout has no %q: %s", k, raw)
		}
	}
	var d DeploymentDetail
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Failing) != 1 || d.Failing[0].DeviceID != "pi-2" || string(d.Failing[0].LastError) != pullError {
		t.Errorf("web failing = %+v, want pi-2 with %q", d.Failing, pullError)
	}
	var job2 DeploymentDetail
	getJSON(t, hs.URL+"/api/v1/deployments/job", &job2)
	if job2.Failing == nil || len(job2.Failing) != 0 {
		t.Errorf("job failing = %#v, want []", job2.Failing)
	}
	if !strings.Contains(string(mustGet(t, hs.URL+"/api/v1/deployments/job")), `"failing":[]`) {
		t.Errorf("job: failing is not an empty array")
	}
}

func mustGet(t *testing.T, url string) []byte {
	t.Helper()
	code, _, b := do(t, http.MethodGet, url, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, code, b)
	}
	return b
}

func TestDevicesJSON(t *testing.T) {
	_, hs := newTestServer(t, Options{View: smallFleet()})
	ids := func(l DeviceList) []fleet.DeviceID {
		var out []fleet.DeviceID
		for _, d := range l.Devices {
			out = append(out, d.DeviceID)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []fleet.DeviceID
		total int
	}{
		{"", []fleet.DeviceID{"pi-1", "pi-2", "pi-3"}, 3},
		{"?limit=2", []fleet.DeviceID{"pi-1", "pi-2"}, 3},
		{"?limit=2&offset=2", []fleet.DeviceID{"pi-3"}, 3},
		{"?offset=5", nil, 3},
		{"?limit=0", nil, 3},
		{"?label=site=lyon", []fleet.DeviceID{"pi-1", "pi-2"}, 2},
		{"?label=site=lyon&label=room=b2", nil, 0}, // room is reported, not a registry label
		{"?liveness=online", []fleet.DeviceID{"pi-1"}, 1},
		{"?liveness=stale", []fleet.DeviceID{"pi-2"}, 1},
		{"?liveness=offline&label=site=paris", []fleet.DeviceID{"pi-3"}, 1},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var l DeviceList
			getJSON(t, hs.URL+"/api/v1/devices"+tc.query, &l)
			if got := ids(l); !slices.Equal(got, tc.want) || l.Total != tc.total {
				t.Errorf("devices%s = %v total %d, want %v total %d", tc.query, got, l.Total, tc.want, tc.total)
			}
			if l.Devices == nil {
				t.Errorf("devices%s: devices is null, want an array", tc.query)
			}
		})
	}

	var l DeviceList
	getJSON(t, hs.URL+"/api/v1/devices", &l)
	pi1, pi2 := l.Devices[0], l.Devices[1]
	if pi1.Liveness != LivenessOnline || pi1.Converged != Converged || pi1.AgentVersion != "0.3.0" || pi1.HeartbeatAgeSeconds != 10 ||
		pi1.Labels["site"] != "lyon" || pi1.ReportedLabels["room"] != "b2" || !pi1.Enrolled {
		t.Errorf("pi-1 = %+v, want online, converged, 0.3.0, heartbeat 10 s, registry site=lyon, reported room=b2", pi1)
	}
	if pi1.Host == nil || pi1.Host.CPUPercent == nil || *pi1.Host.CPUPercent != 3.5 || len(pi1.Host.Throttled) != 1 {
		t.Errorf("pi-1 host = %+v, want cpu 3.5 and one throttling flag", pi1.Host)
	}
	if pi2.Converged != NotConverged || pi2.Deployments["web"].Phase != fleet.PhaseFailed || string(pi2.Deployments["web"].LastError) != pullError {
		t.Errorf("pi-2 = %+v, want not converged, web failed with %q", pi2, pullError)
	}

	var d DeviceDetail
	getJSON(t, hs.URL+"/api/v1/devices/pi-1", &d)
	if d.Info == nil || d.Info.DeviceID != "pi-1" || d.Host == nil || d.RecentEvents == nil {
		t.Errorf("pi-1 detail = %+v, want its snapshot, host and recent events", d)
	}
	raw := mustGet(t, hs.URL+"/api/v1/devices/pi-1")
	for _, k := range []string{`"device_id":"pi-1"`, `"reported_labels"`, `"heartbeat_age_seconds":10`, `"agent_version":"0.3.0"`, `"cpu_percent":3.5`, `"recent_events":[]`, `"info":{`, `"liveness":"online"`, `"converged":"yes"`} {
		if !strings.Contains(string(raw), k) {
			t.Errorf("GET pi-1: no %s in %s", k, raw)
		}
	}
}

func TestErrors(t *testing.T) {
	v := smallFleet()
	_, hs := newTestServer(t, Options{View: v, Rollouts: &memRollouts{view: v}})
	for _, tc := range []struct {
		method, path string
		code         int
		errContains  string
		allow        string
	}{
		{"GET", "/api/v1/deployments/nope", 404, "unknown deployment nope", ""},
		{"GET", "/api/v1/devices/nope", 404, "unknown device nope", ""},
		{"GET", "/api/v1/deployments/a*b", 400, "wildcard", ""},
		{"GET", "/api/v1/devices/bad%20id", 400, "whitespace", ""},
		{"GET", "/api/v1/nothing", 404, "no such endpoint", ""},
		{"GET", "/api/v1/devices?limit=x", 400, "limit", ""},
		{"GET", "/api/v1/devices?limit=5000", 400, "at most 1000", ""},
		{"GET", "/api/v1/devices?offset=-1", 400, "offset", ""},
		{"GET", "/api/v1/devices?liveness=dead", 400, "want online, stale or offline", ""},
		{"GET", "/api/v1/devices?label=site", 400, "key=value", ""},
		{"GET", "/api/v1/devices?color=red", 400, "unknown query parameter", ""},
		{"GET", "/api/v1/deployments?x=1", 400, "no query", ""},
		{"GET", "/api/v1/events?device=a.b", 400, "device", ""},
		{"POST", "/api/v1/deployments", 405, "method POST not allowed", "GET"},
		{"DELETE", "/api/v1/devices/pi-1", 405, "not allowed", "GET"},
		{"GET", "/api/v1/deployments/web/pause", 405, "not allowed", "POST"},
		{"PUT", "/api/v1/deployments/web/resume", 405, "not allowed", "POST"},
		{"POST", "/api/v1/deployments/job/pause", 404, "not found", ""},
		{"POST", "/api/v1/deployments/a.b/pause", 400, "'.'", ""},
		{"POST", "/metrics", 405, "not allowed", "GET"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, h, b := do(t, tc.method, hs.URL+tc.path, nil)
			var e struct{ Error string }
			if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s: body %s is not {\"error\":...}", tc.method, tc.path, b)
			}
			if code != tc.code || !strings.Contains(e.Error, tc.errContains) {
				t.Errorf("%s %s = %d %q, want %d with %q", tc.method, tc.path, code, e.Error, tc.code, tc.errContains)
			}
			if got := h.Get("Allow"); got != tc.allow {
				t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, got, tc.allow)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: Content-Type = %q", tc.method, tc.path, ct)
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	v := smallFleet()
	r := &memRollouts{view: v}
	_, hs := newTestServer(t, Options{View: v, Rollouts: r})
	code, _, b := do(t, http.MethodPost, hs.URL+"/api/v1/deployments/web/pause", nil)
	if code != http.StatusOK || string(b) != `{"deployment":"web","paused":true}`+"\n" {
		t.Fatalf("pause web = %d %s", code, b)
	}
	var d DeploymentDetail
	getJSON(t, hs.URL+"/api/v1/deployments/web", &d)
	if !d.Paused || d.Rollout.State != "paused" {
		t.Errorf("after pause: %+v, want paused", d.Deployment)
	}
	if code, _, b := do(t, http.MethodPost, hs.URL+"/api/v1/deployments/web/resume", nil); code != http.StatusOK {
		t.Fatalf("resume web = %d %s", code, b)
	}
	if got, want := r.Calls(), []string{"pause web", "resume web"}; !slices.Equal(got, want) {
		t.Errorf("rollout calls = %v, want %v", got, want)
	}

	_, hs2 := newTestServer(t, Options{View: v})
	if code, _, b := do(t, http.MethodPost, hs2.URL+"/api/v1/deployments/web/pause", nil); code != http.StatusServiceUnavailable {
		t.Errorf("pause without Rollouts = %d %s, want 503", code, b)
	}
}

func TestHealthReady(t *testing.T) {
	v := smallFleet()
	v.setReady(false)
	_, hs := newTestServer(t, Options{View: v})
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/healthz", 200}, {"/readyz", 503}, {"/api/v1/deployments", 503}, {"/api/v1/devices/pi-1", 503},
	} {
		if code, _, b := do(t, "GET", hs.URL+tc.path, nil); code != tc.code {
			t.Errorf("not ready: GET %s = %d %s, want %d", tc.path, code, b, tc.code)
		}
	}
	v.setReady(true)
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/deployments"} {
		if code, _, b := do(t, "GET", hs.URL+p, nil); code != 200 {
			t.Errorf("ready: GET %s = %d %s, want 200", p, code, b)
		}
	}
}

func TestDashboardFiles(t *testing.T) {
	_, hs := newTestServer(t, Options{View: smallFleet()})
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `name="viewport"`},
		{"/app.js", "javascript", "EventSource"},
		{"/style.css", "text/css", "@media"},
	} {
		code, h, b := do(t, "GET", hs.URL+tc.path, nil)
		if code != 200 || !strings.Contains(h.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s = %d %s, %d bytes; want 200 %s containing %q", tc.path, code, h.Get("Content-Type"), len(b), tc.ctype, tc.contains)
		}
	}
	if code, _, _ := do(t, "GET", hs.URL+"/missing.js", nil); code != 404 {
		t.Errorf("GET /missing.js = %d, want 404", code)
	}
}
