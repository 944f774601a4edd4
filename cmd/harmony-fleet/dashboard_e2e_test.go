//go:build embednats

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/api"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/daemon"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
	"github.com/harmony-edge/harmony-agent/internal/testsupport/browser"
)

// The dashboard against the real system (issue 15, tests 2 and 3): an
// in-process nats-server, a real agent (internal/daemon, process runtime)
// enrolled with harmony-fleet device add, harmony-fleet serve --http (the
// controller and the API over the live view) and fleet deployments made
// with harmony-fleet deploy. The API's JSON is checked against what the
// agent runs, then the dashboard in a headless Chromium.

// e2eTimeout bounds each wait for the fleet to converge: generous, for a
// loaded two-core machine.
const e2eTimeout = 30 * time.Second

// processSpec is a process spec running command (YAML flow list items).
func processSpec(restart string, command ...string) string {
	q := make([]string, len(command))
	for i, c := range command {
		b, _ := json.Marshal(c)
		q[i] = string(b)
	}
	s := "runtime: process\ncommand: [" + strings.Join(q, ", ") + "]\n"
	if restart != "" {
		s += "restart: " + restart + "\n"
	}
	return s
}

// specFile writes spec to a file and returns its path and spec hash.
func specFile(t *testing.T, name, spec string) (string, string) {
	t.Helper()
	p := writeFile(t, name+".yaml", spec)
	s, _, err := loadSpec(p)
	if err != nil {
		t.Fatalf("loadSpec(%s): %v", name, err)
	}
	return p, fleet.SpecHash(s)
}

// mustRun runs harmony-fleet against the env's server and fails the test
// unless it exits 0.
func (e fleetEnv) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := e.run(t, args...)
	if code != exitOK {
		t.Fatalf("harmony-fleet %s = %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// e2eAgent is one harmony-agent run in-process.
type e2eAgent struct {
	done chan error
	stop context.CancelFunc
	log  *testsupport.SyncBuffer // its log, JSON lines; printed when the test fails
}

// startE2EAgent runs the agent of device id against url (no creds, the
// process runtime only, resources made by init, a 2 s heartbeat) until the
// test ends; then it stops it and kills the workloads it started
// (stopping an agent never stops them).
func startE2EAgent(t *testing.T, url string, id fleet.DeviceID) *e2eAgent {
	t.Helper()
	cfg := config.Default()
	cfg.DeviceID = id
	cfg.StateDir = t.TempDir()
	cfg.NATS.URLs = []string{url}
	cfg.NATS.CreateResources = false
	cfg.Runtime.Podman.Socket = ""
	cfg.Reconcile.StopTimeout = 5 * time.Second
	cfg.HeartbeatInterval = 2 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config of %s: %v", id, err)
	}
	text := &testsupport.SyncBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(text), zap.InfoLevel))
	ctx, cancel := context.WithCancel(context.Background())
	a := &e2eAgent{done: make(chan error, 1), stop: cancel, log: text}
	go func() { a.done <- daemon.Run(ctx, cfg, log, daemon.Options{Version: "e2e-test"}) }()
	t.Cleanup(func() {
		a.stop()
		select {
		case err := <-a.done:
			if err != nil {
				t.Errorf("agent %s: Run = %v", id, err)
			}
		case <-time.After(e2eTimeout):
			t.Errorf("agent %s: Run did not return within %v of the stop", id, e2eTimeout)
		}
		killProcessWorkloads(cfg.StateDir)
		if t.Failed() {
			t.Logf("agent %s log:\n%s", id, text.String())
		}
	})
	return a
}

// killProcessWorkloads kills the process workloads whose pid files are
// under stateDir.
func killProcessWorkloads(stateDir string) {
	files, _ := filepath.Glob(filepath.Join(stateDir, "process", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var pf struct {
			PID      int  `json:"pid"`
			ExitCode *int `json:"exit_code"`
		}
		if json.Unmarshal(b, &pf) == nil && pf.PID > 1 && pf.ExitCode == nil {
			if err := syscall.Kill(-pf.PID, syscall.SIGKILL); err != nil {
				_ = syscall.Kill(pf.PID, syscall.SIGKILL)
			}
		}
	}
}

// apiClient talks to the API without keeping connections (goleak).
var apiClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: e2eTimeout}

// apiGet GETs url and returns the status and body.
func apiGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := apiClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp.StatusCode, b
}

// apiJSON GETs url, wants 200, and decodes the body into v.
func apiJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, b := apiGet(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", url, b, err)
	}
}

// scrapeMetrics GETs /metrics and parses it with the Prometheus text
// parser.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, b := apiGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", code, b)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, b)
	}
	return mfs
}

// counterValue is the value of family name's only counter sample.
func counterValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].Counter == nil {
		t.Fatalf("/metrics: no single counter %s: %v", name, mf)
	}
	return mf.Metric[0].Counter.GetValue()
}

// sseEvents reads the state_change events of GET url (server-sent
// events) until ctx ends; connected is closed on the stream's first
// comment.
func sseEvents(t *testing.T, ctx context.Context, url string) (events <-chan fleet.StateChangeEvent, connected <-chan struct{}) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := apiClient.Transport.RoundTrip(req) // no client timeout: the stream lasts
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("GET %s = %d %s, want 200 text/event-stream", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan fleet.StateChangeEvent, 64)
	conn := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first && strings.HasPrefix(line, ":") {
				close(conn)
				first = false
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var ev fleet.StateChangeEvent
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Errorf("SSE data %s: %v", data, err)
				continue
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	return ch, conn
}

// kvRecord reads key of bucket into v; false when it is missing.
func (e fleetEnv) kvRecord(t *testing.T, bucket, key string, v any) bool {
	t.Helper()
	entry, err := e.kv(t, bucket).Get(ctxT(t), key)
	if err != nil {
		return false
	}
	if err := json.Unmarshal(entry.Value(), v); err != nil {
		t.Fatalf("%s/%s: decode %s: %v", bucket, key, entry.Value(), err)
	}
	return true
}

// deploymentJSON is one deployment as the API gives it, for polling.
func deploymentJSON(t *testing.T, base string, name fleet.DeploymentName) api.DeploymentDetail {
	t.Helper()
	var d api.DeploymentDetail
	code, b := apiGet(t, base+"/api/v1/deployments/"+string(name))
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("GET deployments/%s: decode %s: %v", name, b, err)
		}
	}
	return d
}

// waitAPI polls until cond holds for deployment name as the API gives
// it, for e2eTimeout; the failure says what it was last.
func waitAPI(t *testing.T, base string, name fleet.DeploymentName, what string, cond func(d api.DeploymentDetail) bool) api.DeploymentDetail {
	t.Helper()
	var last api.DeploymentDetail
	testsupport.Poll(t, e2eTimeout, func() bool {
		last = deploymentJSON(t, base, name)
		return cond(last)
	}, func() string {
		b, _ := json.Marshal(last)
		return fmt.Sprintf("%s (last %s)", what, b)
	})
	return last
}

// rolloutIs reports whether d's rollout is in state for spec hash.
func rolloutIs(d api.DeploymentDetail, state fleet.RolloutState, hash string) bool {
	return d.Rollout != nil && d.Rollout.State == state && d.Rollout.SpecHash == hash
}

// jsQuote quotes s for JavaScript.
func jsQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// depCell is the JavaScript text of the element sel in deployment name's
// row ("" when missing).
func depCell(name fleet.DeploymentName, sel string) string {
	return fmt.Sprintf(`((document.querySelector('#deployments tr[data-deployment=' + %s + '] %s')||{}).textContent||'')`, jsQuote(string(name)), sel)
}

// TestDashboardRealFleet: dev-1 enrolled (site=lab) with its agent
// running, serve --http, and web deployed to site=lab. The API answers
// with what the agent runs and streams its events within 1 s; /metrics
// parses and counts them. In Chromium the dashboard shows the API's
// counts, a new spec's events within 2 s without a reload, a failing
// deployment's error, and its pause button pauses a rollout that is
// still progressing (deployments and rollouts buckets both say so).
func TestDashboardRealFleet(t *testing.T) {
	e := start(t, true)
	e.mustRun(t, "device", "add", "dev-1", "--label", "site=lab")
	startE2EAgent(t, e.url, "dev-1")

	addr := "127.0.0.1:" + closedPort(t)
	base := "http://" + addr
	var serveOut, serveErr testsupport.SyncBuffer
	e.runAsync(t, &serveOut, &serveErr, "serve", "--http", addr)
	defer func() {
		if t.Failed() {
			t.Logf("serve stderr:\n%s", serveErr.String())
		}
	}()
	testsupport.Poll(t, e2eTimeout, func() bool {
		resp, err := apiClient.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, func() string { return "serve --http ready (GET /readyz 200)" })

	web, webHash := specFile(t, "web", processSpec("", "/bin/sleep", "3600"))
	e.mustRun(t, "deploy", "web", "-f", web, "--selector", "site=lab", "--min-ready", "0s")
	waitAPI(t, base, "web", "web running on dev-1, its rollout complete", func(d api.DeploymentDetail) bool {
		return d.Counts.Running == 1 && rolloutIs(d, fleet.RolloutComplete, webHash)
	})

	t.Run("API", func(t *testing.T) {
		var list api.DeploymentList
		apiJSON(t, base+"/api/v1/deployments", &list)
		if len(list.Deployments) != 1 {
			t.Fatalf("deployments = %+v, want web alone", list.Deployments)
		}
		d := list.Deployments[0]
		if d.Name != "web" || !d.Fleet || d.Paused || d.Counts.Pending != 0 || d.Counts.Running != 1 || d.Counts.Succeeded != 0 ||
			d.Counts.Failed != 0 || d.Counts.Targeted == nil || *d.Counts.Targeted != 1 {
			t.Errorf("deployment = %+v, want web, fleet, not paused, running 1 of 1 targeted, nothing else", d)
		}
		if ro := d.Rollout; ro == nil || ro.State != fleet.RolloutComplete || ro.SpecHash != webHash || ro.Generation < 1 ||
			ro.Targeted != 1 || ro.Updated != 1 || ro.Ready != 1 || ro.Failed != 0 {
			t.Errorf("web rollout = %+v, want complete for %s, 1 targeted, updated and ready", ro, webHash)
		}

		var detail api.DeploymentDetail
		apiJSON(t, base+"/api/v1/deployments/web", &detail)
		if detail.Name != "web" || detail.Counts.Running != 1 || detail.Failing == nil || len(detail.Failing) != 0 ||
			detail.Rollout == nil || detail.Rollout.State != fleet.RolloutComplete {
			t.Errorf("deployments/web = %+v, want web running 1, no failing device, rollout complete", detail)
		}
		if code, b := apiGet(t, base+"/api/v1/deployments/nope"); code != http.StatusNotFound || !strings.Contains(string(b), `"error"`) {
			t.Errorf("GET deployments/nope = %d %s, want 404 with an error", code, b)
		}

		var devs api.DeviceList
		testsupport.Poll(t, e2eTimeout, func() bool {
			apiJSON(t, base+"/api/v1/devices?label=site=lab&liveness=online", &devs)
			return len(devs.Devices) == 1 && devs.Devices[0].Converged == api.Converged
		}, func() string { return fmt.Sprintf("dev-1 online and converged (devices %+v)", devs) })
		dev := devs.Devices[0]
		if dev.DeviceID != "dev-1" || !dev.Enrolled || dev.Labels["site"] != "lab" || len(dev.Labels) != 1 ||
			dev.Liveness != api.LivenessOnline || dev.AgentVersion != "e2e-test" || dev.HeartbeatAt.IsZero() {
			t.Errorf("device = %+v, want dev-1 enrolled, site=lab, online, agent e2e-test, a heartbeat", dev)
		}
		if p := dev.Deployments["web"]; p.Phase != fleet.PhaseRunning || p.SpecHash != webHash || p.LastError != "" {
			t.Errorf("dev-1 web = %+v, want running %s, no error (the agent reports its spec hash)", p, webHash)
		}
		var none api.DeviceList
		apiJSON(t, base+"/api/v1/devices?label=site=other", &none)
		if len(none.Devices) != 0 {
			t.Errorf("devices?label=site=other = %+v, want none", none.Devices)
		}

		var one api.DeviceDetail
		apiJSON(t, base+"/api/v1/devices/dev-1", &one)
		if one.Info == nil || one.Info.DeviceID != "dev-1" || one.Host == nil || one.Info.Host == nil {
			t.Errorf("devices/dev-1 info %+v host %+v, want the snapshot with host metrics", one.Info, one.Host)
		}
		if one.Host != nil && (one.Host.Memory == nil || one.Host.Memory.TotalBytes == nil || *one.Host.Memory.TotalBytes == 0) {
			t.Errorf("dev-1 host = %+v, want memory reported", one.Host)
		}
		ran := slices.ContainsFunc(one.RecentEvents, func(ev fleet.StateChangeEvent) bool {
			return ev.DeviceID == "dev-1" && ev.Deployment == "web" && ev.Transition.To == fleet.PhaseRunning && ev.SpecHash == webHash
		})
		if !ran {
			t.Errorf("dev-1 recent events = %+v, want web's move to running", one.RecentEvents)
		}
		if code, b := apiGet(t, base+"/api/v1/devices/dev-9"); code != http.StatusNotFound {
			t.Errorf("GET devices/dev-9 = %d %s, want 404", code, b)
		}

		for _, path := range []string{"/readyz", "/healthz"} {
			if code, b := apiGet(t, base+path); code != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", path, code, b)
			}
		}

		mfs := scrapeMetrics(t, base)
		folded := counterValue(t, mfs, "harmony_events_folded_total")
		if folded < 2 {
			t.Errorf("harmony_events_folded_total = %v, want web's events (at least 2)", folded)
		}
		if mf := mfs["harmony_controller_lease_held"]; mf == nil || len(mf.Metric) != 1 || mf.Metric[0].GetGauge().GetValue() != 1 {
			t.Errorf("harmony_controller_lease_held = %v, want 1", mf)
		}

		// A restart of web on dev-1: the agent's events reach an open
		// stream within 1 s.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events, connected := sseEvents(t, ctx, base+"/api/v1/events")
		select {
		case <-connected:
		case <-time.After(e2eTimeout):
			t.Fatal("GET /api/v1/events: no first comment")
		}
		began := time.Now()
		if out := e.mustRun(t, "restart", "web", "--device", "dev-1"); !strings.Contains(out, "restart") {
			t.Errorf("restart printed %q", out)
		}
		select {
		case ev := <-events:
			took := time.Since(began)
			t.Logf("SSE delivered %s %s %s→%s %v after the restart began", ev.DeviceID, ev.Deployment, ev.Transition.From, ev.Transition.To, took)
			if ev.DeviceID != "dev-1" || ev.Deployment != "web" || ev.Transition.Kind != fleet.KindApplied {
				t.Errorf("SSE event = %+v, want web on dev-1 applied", ev)
			}
			if took > time.Second {
				t.Errorf("SSE delivered the event %v after the restart began, want within 1 s", took)
			}
		case <-time.After(time.Second):
			t.Fatalf("no SSE event within 1 s of the restart")
		}
		// Then web runs again: the restart's last event.
		for running := false; !running; {
			select {
			case ev := <-events:
				running = ev.DeviceID == "dev-1" && ev.Deployment == "web" && ev.Transition.To == fleet.PhaseRunning
			case <-time.After(e2eTimeout):
				t.Fatal("no SSE event of web running again after the restart")
			}
		}
		testsupport.Poll(t, e2eTimeout, func() bool {
			return counterValue(t, scrapeMetrics(t, base), "harmony_events_folded_total") >= folded+2
		}, func() string {
			return fmt.Sprintf("harmony_events_folded_total at %v+2 after the restart's two events", folded)
		})
	})

	t.Run("browser", func(t *testing.T) {
		b := browser.Start(t)
		dir := browser.ArtifactDir(t)
		defer func() {
			if t.Failed() {
				b.Screenshot(t, dir, "failure")
			}
		}()
		b.Do(t, "open the dashboard", chromedp.Navigate(base+"/"))
		b.WaitJS(t, "the first load", "window.harmonyLoaded > 0", e2eTimeout)
		b.WaitJS(t, "the event stream open", `document.getElementById('conn').textContent === 'live'`, e2eTimeout)

		// The deployments' rows hold the API's counts.
		type row struct{ Name, Pending, Running, Succeeded, Failed, Targeted string }
		rows := func() []row {
			return browser.Eval[[]row](t, b, `[...document.querySelectorAll('#deployments tbody tr[data-deployment]')].map(tr => ({
				Name: tr.dataset.deployment,
				Pending: tr.querySelector('.count-pending').textContent, Running: tr.querySelector('.count-running').textContent,
				Succeeded: tr.querySelector('.count-succeeded').textContent, Failed: tr.querySelector('.count-failed').textContent,
				Targeted: tr.querySelector('.count-targeted').textContent}))`)
		}
		apiRows := func() []row {
			var list api.DeploymentList
			apiJSON(t, base+"/api/v1/deployments", &list)
			var out []row
			for _, d := range list.Deployments {
				tg := ""
				if d.Counts.Targeted != nil {
					tg = fmt.Sprint(*d.Counts.Targeted)
				}
				out = append(out, row{string(d.Name), fmt.Sprint(d.Counts.Pending), fmt.Sprint(d.Counts.Running),
					fmt.Sprint(d.Counts.Succeeded), fmt.Sprint(d.Counts.Failed), tg})
			}
			return out
		}
		if got, want := rows(), apiRows(); !slices.Equal(got, want) || !slices.Equal(want, []row{{"web", "0", "1", "0", "0", "1"}}) {
			t.Errorf("dashboard rows = %+v\nAPI says        %+v, want web running 1 of 1", got, want)
		}
		if got := browser.Eval[string](t, b, depCell("web", "[data-role=state]")+" + ' ' + "+depCell("web", "[data-role=progress]")); got != "complete 1/1 updated, 1 ready, 0 failed" {
			t.Errorf("web rollout cell = %q", got)
		}
		b.WaitJS(t, "dev-1 online and converged", `(() => { const tr = document.querySelector('#devices tr[data-device="dev-1"]');
			return !!tr && tr.children[1].textContent === 'online' && tr.children[2].textContent === 'yes' && tr.querySelector('.labels').textContent === 'site=lab'; })()`, e2eTimeout)
		b.Screenshot(t, dir, "1-loaded")

		// A new spec for web: the controller writes it, the agent replaces
		// the process, and the page shows its events and the new rollout
		// without a reload.
		browser.Eval[bool](t, b, `window.notReloaded = true`)
		webEvents := `document.querySelectorAll('#events li[data-device="dev-1"][data-deployment="web"]').length`
		before := browser.Eval[int](t, b, webEvents)
		web2, web2Hash := specFile(t, "web2", processSpec("", "/bin/sleep", "3601"))
		began := time.Now()
		e.mustRun(t, "deploy", "web", "-f", web2, "--selector", "site=lab", "--min-ready", "0s")
		b.WaitJS(t, "a new web event of dev-1 in the feed", fmt.Sprintf("%s > %d", webEvents, before), max(2*time.Second-time.Since(began), 0))
		took := time.Since(began)
		t.Logf("the dashboard showed the new spec's first event %v after deploy began", took)
		if took > 2*time.Second {
			t.Errorf("the change appeared %v after deploy began, want within 2 s", took)
		}
		waitAPI(t, base, "web", "the new web spec complete", func(d api.DeploymentDetail) bool {
			return d.Counts.Running == 1 && rolloutIs(d, fleet.RolloutComplete, web2Hash)
		})
		b.WaitJS(t, "web's rollout complete again with running 1", depCell("web", "[data-role=state]")+` === 'complete' && `+depCell("web", ".count-running")+` === '1'`, e2eTimeout)
		// The device's phases are its snapshot's: they follow at its next
		// heartbeat.
		var dev api.DeviceDetail
		testsupport.Poll(t, e2eTimeout, func() bool {
			apiJSON(t, base+"/api/v1/devices/dev-1", &dev)
			p := dev.Deployments["web"]
			return p.SpecHash == web2Hash && p.Phase == fleet.PhaseRunning && dev.Converged == api.Converged
		}, func() string { return fmt.Sprintf("dev-1 running web %s, converged (now %+v)", web2Hash, dev.Device) })
		if !browser.Eval[bool](t, b, `window.notReloaded === true`) {
			t.Error("the page was reloaded")
		}
		b.Screenshot(t, dir, "2-new-spec")

		// A fleet deployment whose process fails: its error on the page.
		crash, _ := specFile(t, "crash", processSpec("never", "/bin/sh", "-c", "echo boom; exit 1"))
		e.mustRun(t, "deploy", "crash", "-f", crash, "--selector", "site=lab", "--min-ready", "0s")
		failing := waitAPI(t, base, "crash", "crash failed on dev-1 with an error", func(d api.DeploymentDetail) bool {
			return d.Counts.Failed == 1 && len(d.Failing) == 1 && d.Failing[0].LastError != ""
		})
		errText := string(failing.Failing[0].LastError)
		t.Logf("crash's error on dev-1: %q", errText)
		b.WaitJS(t, "crash's error on dev-1 in the failing list", fmt.Sprintf(`(document.querySelector('#failing li[data-device="dev-1"][data-deployment="crash"] .err')||{}).textContent === %s`, jsQuote(errText)), e2eTimeout)
		b.WaitJS(t, "crash failed 1 in its row", depCell("crash", ".count-failed")+` === '1'`, e2eTimeout)
		if got, want := rows(), apiRows(); !slices.Equal(got, want) {
			t.Errorf("dashboard rows = %+v\nAPI says        %+v", got, want)
		}
		b.Screenshot(t, dir, "3-failing")

		// A rollout that waits (60 s before dev-1 counts ready): paused
		// from the page while it progresses.
		slow, slowHash := specFile(t, "slow", processSpec("", "/bin/sleep", "3602"))
		e.mustRun(t, "deploy", "slow", "-f", slow, "--selector", "site=lab", "--min-ready", "60s")
		waitAPI(t, base, "slow", "slow progressing, running on dev-1", func(d api.DeploymentDetail) bool {
			return d.Counts.Running == 1 && rolloutIs(d, fleet.RolloutProgressing, slowHash)
		})
		b.WaitJS(t, "slow progressing with a pause button", depCell("slow", "[data-role=state]")+` === 'progressing' && !!document.querySelector('#deployments tr[data-deployment="slow"] button.pause')`, e2eTimeout)
		b.Do(t, "click pause", chromedp.Click(`#deployments tr[data-deployment="slow"] button.pause`))
		var rec fleet.FleetDeployment
		var ro fleet.RolloutStatus
		testsupport.Poll(t, e2eTimeout, func() bool {
			return e.kvRecord(t, fleet.DeploymentsBucket, fleet.DeploymentKey("slow"), &rec) && rec.Paused &&
				e.kvRecord(t, fleet.RolloutsBucket, fleet.RolloutKey("slow"), &ro) && ro.State == fleet.RolloutPaused
		}, func() string {
			return fmt.Sprintf("deployments/slow paused (%v) and rollouts/slow paused (%q)", rec.Paused, ro.State)
		})
		if ro.SpecHash != slowHash || ro.Generation != rec.Generation {
			t.Errorf("rollouts/slow = %+v, want generation %d, spec %s", ro, rec.Generation, slowHash)
		}
		b.WaitJS(t, "slow shown paused with a resume button", depCell("slow", "[data-role=state]")+` === 'paused' && !!document.querySelector('#deployments tr[data-deployment="slow"] button.resume')`, e2eTimeout)
		if !browser.Eval[bool](t, b, `window.notReloaded === true`) {
			t.Error("the page was reloaded")
		}
		b.Screenshot(t, dir, "4-paused")
	})
}
