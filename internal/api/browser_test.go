package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
	"github.com/harmony-edge/harmony-agent/internal/testsupport/browser"
)

// dashboard is the dashboard served over a View, open in a browser.
type dashboard struct {
	*browser.Tab
	url string
	dir string // screenshots
}

// runDashboard serves v and r (r may be nil) on loopback and opens the
// dashboard in a headless Chromium. Any View will do: the in-memory one
// here, or the live view of a real fleet.
func runDashboard(t *testing.T, v View, r Rollouts) *dashboard {
	t.Helper()
	_, hs := newTestServer(t, Options{View: v, Rollouts: r, KeepAlive: time.Second})
	d := &dashboard{Tab: browser.Start(t), url: hs.URL, dir: browser.ArtifactDir(t)}
	d.Do(t, "open the dashboard", chromedp.Navigate(d.url+"/"))
	d.WaitJS(t, "the first load", "window.harmonyLoaded > 0", 30*time.Second)
	return d
}

// jsString quotes s for JavaScript.
func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// cell is the JavaScript text of one count cell of deployment name.
func cell(name fleet.DeploymentName, class string) string {
	return fmt.Sprintf(`(document.querySelector('#deployments tr[data-deployment=%s] .%s')||{}).textContent`, jsString(string(name)), class)
}

func TestDashboard(t *testing.T) {
	v := smallFleet()
	r := &memRollouts{view: v}
	d := runDashboard(t, v, r)
	defer func() {
		if t.Failed() {
			d.Screenshot(t, d.dir, "failure")
		}
	}()

	t.Run("lists the deployments with the API's counts", func(t *testing.T) {
		var api DeploymentList
		getJSON(t, d.url+"/api/v1/deployments", &api)
		type row struct{ Name, Pending, Running, Succeeded, Failed, Targeted string }
		got := browser.Eval[[]row](t, d.Tab, `[...document.querySelectorAll('#deployments tbody tr[data-deployment]')].map(tr => ({
			Name: tr.dataset.deployment,
			Pending: tr.querySelector('.count-pending').textContent, Running: tr.querySelector('.count-running').textContent,
			Succeeded: tr.querySelector('.count-succeeded').textContent, Failed: tr.querySelector('.count-failed').textContent,
			Targeted: tr.querySelector('.count-targeted').textContent}))`)
		var want []row
		for _, dep := range api.Deployments {
			tg := ""
			if dep.Counts.Targeted != nil {
				tg = fmt.Sprint(*dep.Counts.Targeted)
			}
			want = append(want, row{string(dep.Name), fmt.Sprint(dep.Counts.Pending), fmt.Sprint(dep.Counts.Running),
				fmt.Sprint(dep.Counts.Succeeded), fmt.Sprint(dep.Counts.Failed), tg})
		}
		if !slices.Equal(got, want) || len(want) != 2 {
			t.Errorf("dashboard rows = %+v\nAPI says        %+v", got, want)
		}
		progress := browser.Eval[string](t, d.Tab, `document.querySelector('#deployments tr[data-deployment=web] [data-role=progress]').textContent`)
		if progress != "2/2 updated, 1 ready, 1 failed" {
			t.Errorf("web rollout progress = %q", progress)
		}
		devices := browser.Eval[[]string](t, d.Tab, `[...document.querySelectorAll('#devices tbody tr')].map(tr => tr.dataset.device + ' ' + tr.children[1].textContent + ' ' + tr.children[2].textContent)`)
		if want := []string{"pi-1 online yes", "pi-2 stale no", "pi-3 offline yes"}; !slices.Equal(devices, want) {
			t.Errorf("device rows = %q, want %q", devices, want)
		}
		temp := browser.Eval[string](t, d.Tab, `document.querySelector('#devices tr[data-device=pi-1] .temp').textContent`)
		if !strings.Contains(temp, "48.3 °C") || !strings.Contains(temp, "under-voltage-now") {
			t.Errorf("pi-1 temperature cell = %q, want 48.3 °C and the under-voltage warning", temp)
		}
		d.Screenshot(t, d.dir, "1-loaded")
	})

	t.Run("a failing device shows its error", func(t *testing.T) {
		got := browser.Eval[string](t, d.Tab, `(document.querySelector('#failing li[data-device=pi-2][data-deployment=web] .err')||{}).textContent`)
		if got != pullError {
			t.Errorf("failing pi-2 error = %q, want %q", got, pullError)
		}
	})

	t.Run("a change appears without reload within 2 s", func(t *testing.T) {
		d.WaitJS(t, "the event stream to be open", `document.getElementById('conn').textContent === 'live'`, 10*time.Second)
		browser.Eval[bool](t, d.Tab, `window.notReloaded = true`)
		start := time.Now()
		v.apply(event("pi-2", "web", 2, fleet.PhaseFailed, fleet.PhaseRunning, ""))
		v.apply(event("pi-3", "job", 2, fleet.PhaseRunning, fleet.PhaseFailed, "exit status 3"))
		d.WaitJS(t, "web running 2, failed 0, job failed 1", cell("web", "count-running")+` === '2' && `+cell("web", "count-failed")+` === '0' && `+cell("job", "count-failed")+` === '1'`, 2*time.Second)
		t.Logf("the dashboard showed the change %v after the events", time.Since(start))
		d.WaitJS(t, "pi-3's error in the failing list", `(document.querySelector('#failing li[data-device=pi-3] .err')||{}).textContent === 'exit status 3'`, 2*time.Second)
		if n := browser.Eval[int](t, d.Tab, `document.querySelectorAll('#events li').length`); n < 2 {
			t.Errorf("live feed has %d lines, want the 2 events", n)
		}
		if !browser.Eval[bool](t, d.Tab, `window.notReloaded === true`) {
			t.Error("the page was reloaded")
		}
		d.Screenshot(t, d.dir, "2-after-events")
	})

	t.Run("the pause button pauses the rollout", func(t *testing.T) {
		d.Do(t, "click pause", chromedp.Click(`#deployments tr[data-deployment=web] button.pause`))
		testsupport.Poll(t, 10*time.Second, func() bool { return slices.Contains(r.Calls(), "pause web") },
			func() string { return fmt.Sprintf("Rollouts.Pause(web) (calls %v)", r.Calls()) })
		d.WaitJS(t, "the rollout shown paused with a resume button",
			`document.querySelector('#deployments tr[data-deployment=web] [data-role=state]').textContent === 'paused' && !!document.querySelector('#deployments tr[data-deployment=web] button.resume')`, 5*time.Second)
		d.Screenshot(t, d.dir, "3-paused")
		d.Do(t, "click resume", chromedp.Click(`#deployments tr[data-deployment=web] button.resume`))
		testsupport.Poll(t, 10*time.Second, func() bool { return slices.Contains(r.Calls(), "resume web") },
			func() string { return fmt.Sprintf("Rollouts.Resume(web) (calls %v)", r.Calls()) })
		d.WaitJS(t, "the rollout shown progressing with a pause button",
			`document.querySelector('#deployments tr[data-deployment=web] [data-role=state]').textContent === 'progressing' && !!document.querySelector('#deployments tr[data-deployment=web] button.pause')`, 5*time.Second)
		if got, want := r.Calls(), []string{"pause web", "resume web"}; !slices.Equal(got, want) {
			t.Errorf("rollout calls = %v, want %v", got, want)
		}
	})

	t.Run("readable on a phone", func(t *testing.T) {
		d.Do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
		// The page itself does not scroll sideways: wide tables scroll in their box.
		if w := browser.Eval[int](t, d.Tab, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("page is %d px wide on a 390 px phone", w)
		}
		d.Screenshot(t, d.dir, "4-phone")
	})
}

// TestDashboardToken: behind a token the dashboard works once opened with
// ?token=: the cookie carries it for fetch, EventSource and the POSTs.
func TestDashboardToken(t *testing.T) {
	v := smallFleet()
	r := &memRollouts{view: v}
	tokenFile := writeToken(t, 0o600)
	_, hs := newTestServer(t, Options{View: v, Rollouts: r, TokenFile: tokenFile, KeepAlive: time.Second})
	b := browser.Start(t)
	b.Do(t, "open with the token", chromedp.Navigate(hs.URL+"/?token="+testToken))
	b.WaitJS(t, "the first load", "window.harmonyLoaded > 0", 30*time.Second)
	if loc := browser.Eval[string](t, b, `location.href`); strings.Contains(loc, "token") {
		t.Errorf("address bar still holds the token: %s", loc)
	}
	if c := browser.Eval[string](t, b, `document.cookie`); strings.Contains(c, testToken) {
		t.Errorf("the token is readable by JavaScript: document.cookie = %q", c)
	}
	if got := browser.Eval[string](t, b, cell("web", "count-failed")); got != "1" {
		t.Errorf("web failed = %q, want 1", got)
	}
	b.WaitJS(t, "the event stream to be open", `document.getElementById('conn').textContent === 'live'`, 10*time.Second)
	v.apply(event("pi-2", "web", 2, fleet.PhaseFailed, fleet.PhaseRunning, ""))
	b.WaitJS(t, "web failed 0", cell("web", "count-failed")+` === '0'`, 2*time.Second)
	b.Do(t, "click pause", chromedp.Click(`#deployments tr[data-deployment=web] button.pause`))
	testsupport.Poll(t, 10*time.Second, func() bool { return slices.Contains(r.Calls(), "pause web") },
		func() string { return fmt.Sprintf("Rollouts.Pause(web) (calls %v)", r.Calls()) })
}
