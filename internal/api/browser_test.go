package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// The dashboard's tests run in a real headless Chromium (Debian's
// chromium, which make test installs through scripts/browser/env.sh).
// Without one they fail when CI is set and skip otherwise.

// chromePath returns the browser to run: $CHROME_PATH, else chromium on
// PATH.
func chromePath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	noBrowser(t, "no chromium on PATH and CHROME_PATH unset (eval \"$(scripts/browser/env.sh)\" installs it)")
	return ""
}

// noBrowser fails in CI and skips elsewhere.
func noBrowser(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("browser test cannot run: %s", why)
	}
	t.Skipf("skipping the browser test: %s (set CI to make this a failure)", why)
}

// artifactDir is where screenshots go: $HARMONY_TEST_ARTIFACTS/<test> when
// set (kept), else the test's artifact directory (kept with go test
// -artifacts, else removed with the test).
func artifactDir(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("HARMONY_TEST_ARTIFACTS"); root != "" {
		dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.ArtifactDir()
}

// browser is one headless Chromium tab.
type browser struct {
	ctx context.Context
}

// startBrowser starts Chromium with a fresh profile; the test's cleanup
// closes it and waits for the process.
func startBrowser(t testing.TB) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromePath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, tied to the context it gets:
	// ctx itself, not a shorter-lived one.
	if err := chromedp.Do(ctx); err != nil {
		noBrowser(t, fmt.Sprintf("start chromium: %v", err))
	}
	return &browser{ctx: ctx}
}

// do runs actions, failing the test on an error.
func (b *browser) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into T.
func eval[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript predicate expr holds in the page,
// for at most timeout.
func (b *browser) waitJS(t testing.TB, what, expr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("browser: waiting %v for %s (%s): %v", timeout, what, expr, err)
	}
}

// screenshot writes the page, whole, as dir/name.png.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// dashboard is the dashboard served over a View, open in a browser.
type dashboard struct {
	*browser
	url string
	dir string // screenshots
}

// runDashboard serves v and r (r may be nil) on loopback and opens the
// dashboard in a headless Chromium. Any View will do: the in-memory one
// here, or the live view of a real fleet.
func runDashboard(t *testing.T, v View, r Rollouts) *dashboard {
	t.Helper()
	_, hs := newTestServer(t, Options{View: v, Rollouts: r, KeepAlive: time.Second})
	d := &dashboard{browser: startBrowser(t), url: hs.URL, dir: artifactDir(t)}
	d.do(t, "open the dashboard", chromedp.Navigate(d.url+"/"))
	d.waitJS(t, "the first load", "window.harmonyLoaded > 0", 30*time.Second)
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
			d.screenshot(t, d.dir, "failure")
		}
	}()

	t.Run("lists the deployments with the API's counts", func(t *testing.T) {
		var api DeploymentList
		getJSON(t, d.url+"/api/v1/deployments", &api)
		type row struct{ Name, Pending, Running, Succeeded, Failed, Targeted string }
		got := eval[[]row](t, d.browser, `[...document.querySelectorAll('#deployments tbody tr[data-deployment]')].map(tr => ({
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
		progress := eval[string](t, d.browser, `document.querySelector('#deployments tr[data-deployment=web] [data-role=progress]').textContent`)
		if progress != "2/2 updated, 1 ready, 1 failed" {
			t.Errorf("web rollout progress = %q", progress)
		}
		devices := eval[[]string](t, d.browser, `[...document.querySelectorAll('#devices tbody tr')].map(tr => tr.dataset.device + ' ' + tr.children[1].textContent + ' ' + tr.children[2].textContent)`)
		if want := []string{"pi-1 online yes", "pi-2 stale no", "pi-3 offline yes"}; !slices.Equal(devices, want) {
			t.Errorf("device rows = %q, want %q", devices, want)
		}
		temp := eval[string](t, d.browser, `document.querySelector('#devices tr[data-device=pi-1] .temp').textContent`)
		if !strings.Contains(temp, "48.3 °C") || !strings.Contains(temp, "under-voltage-now") {
			t.Errorf("pi-1 temperature cell = %q, want 48.3 °C and the under-voltage warning", temp)
		}
		d.screenshot(t, d.dir, "1-loaded")
	})

	t.Run("a failing device shows its error", func(t *testing.T) {
		got := eval[string](t, d.browser, `(document.querySelector('#failing li[data-device=pi-2][data-deployment=web] .err')||{}).textContent`)
		if got != pullError {
			t.Errorf("failing pi-2 error = %q, want %q", got, pullError)
		}
	})

	t.Run("a change appears without reload within 2 s", func(t *testing.T) {
		d.waitJS(t, "the event stream to be open", `document.getElementById('conn').textContent === 'live'`, 10*time.Second)
		eval[bool](t, d.browser, `window.notReloaded = true`)
		start := time.Now()
		v.apply(event("pi-2", "web", 2, fleet.PhaseFailed, fleet.PhaseRunning, ""))
		v.apply(event("pi-3", "job", 2, fleet.PhaseRunning, fleet.PhaseFailed, "exit status 3"))
		d.waitJS(t, "web running 2, failed 0, job failed 1", cell("web", "count-running")+` === '2' && `+cell("web", "count-failed")+` === '0' && `+cell("job", "count-failed")+` === '1'`, 2*time.Second)
		t.Logf("the dashboard showed the change %v after the events", time.Since(start))
		d.waitJS(t, "pi-3's error in the failing list", `(document.querySelector('#failing li[data-device=pi-3] .err')||{}).textContent === 'exit status 3'`, 2*time.Second)
		if n := eval[int](t, d.browser, `document.querySelectorAll('#events li').length`); n < 2 {
			t.Errorf("live feed has %d lines, want the 2 events", n)
		}
		if !eval[bool](t, d.browser, `window.notReloaded === true`) {
			t.Error("the page was reloaded")
		}
		d.screenshot(t, d.dir, "2-after-events")
	})

	t.Run("the pause button pauses the rollout", func(t *testing.T) {
		d.do(t, "click pause", chromedp.Click(`#deployments tr[data-deployment=web] button.pause`))
		testsupport.Poll(t, 10*time.Second, func() bool { return slices.Contains(r.Calls(), "pause web") },
			func() string { return fmt.Sprintf("Rollouts.Pause(web) (calls %v)", r.Calls()) })
		d.waitJS(t, "the rollout shown paused with a resume button",
			`document.querySelector('#deployments tr[data-deployment=web] [data-role=state]').textContent === 'paused' && !!document.querySelector('#deployments tr[data-deployment=web] button.resume')`, 5*time.Second)
		d.screenshot(t, d.dir, "3-paused")
		d.do(t, "click resume", chromedp.Click(`#deployments tr[data-deployment=web] button.resume`))
		testsupport.Poll(t, 10*time.Second, func() bool { return slices.Contains(r.Calls(), "resume web") },
			func() string { return fmt.Sprintf("Rollouts.Resume(web) (calls %v)", r.Calls()) })
		d.waitJS(t, "the rollout shown progressing with a pause button",
			`document.querySelector('#deployments tr[data-deployment=web] [data-role=state]').textContent === 'progressing' && !!document.querySelector('#deployments tr[data-deployment=web] button.pause')`, 5*time.Second)
		if got, want := r.Calls(), []string{"pause web", "resume web"}; !slices.Equal(got, want) {
			t.Errorf("rollout calls = %v, want %v", got, want)
		}
	})

	t.Run("readable on a phone", func(t *testing.T) {
		d.do(t, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
		// The page itself does not scroll sideways: wide tables scroll in their box.
		if w := eval[int](t, d.browser, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("page is %d px wide on a 390 px phone", w)
		}
		d.screenshot(t, d.dir, "4-phone")
	})
}

// TestDashboardToken: behind a token the dashboard works once opened with
// ?token=: the cookie carries it for fetch, EventSource and the POSTs.
func TestDashboardToken(t *testing.T) {
	v := smallFleet()
	r := &memRollouts{view: v}
	tokenFile := writeToken(t, 0o600)
	_, hs := newTestServer(t, Options{View: v, Rollouts: r, TokenFile: tokenFile, KeepAlive: time.Second})
	b := startBrowser(t)
	b.do(t, "open with the token", chromedp.Navigate(hs.URL+"/?token="+testToken))
	b.waitJS(t, "the first load", "window.harmonyLoaded > 0", 30*time.Second)
	if loc := eval[string](t, b, `location.href`); strings.Contains(loc, "token") {
		t.Errorf("address bar still holds the token: %s", loc)
	}
	if c := eval[string](t, b, `document.cookie`); strings.Contains(c, testToken) {
		t.Errorf("the token is readable by JavaScript: document.cookie = %q", c)
	}
	if got := eval[string](t, b, cell("web", "count-failed")); got != "1" {
		t.Errorf("web failed = %q, want 1", got)
	}
	b.waitJS(t, "the event stream to be open", `document.getElementById('conn').textContent === 'live'`, 10*time.Second)
	v.apply(event("pi-2", "web", 2, fleet.PhaseFailed, fleet.PhaseRunning, ""))
	b.waitJS(t, "web failed 0", cell("web", "count-failed")+` === '0'`, 2*time.Second)
	b.do(t, "click pause", chromedp.Click(`#deployments tr[data-deployment=web] button.pause`))
	testsupport.Poll(t, 10*time.Second, func() bool { return slices.Contains(r.Calls(), "pause web") },
		func() string { return fmt.Sprintf("Rollouts.Pause(web) (calls %v)", r.Calls()) })
}
