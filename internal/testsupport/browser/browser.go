// Package browser runs the dashboard's tests and benchmarks in a real
// headless Chromium (Debian's chromium, which make test installs through
// scripts/browser/env.sh), driven with chromedp. Without a browser a test
// fails when CI is set and skips otherwise. Only tests import it.
package browser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// timeout bounds each action.
const timeout = 30 * time.Second

// path returns the browser to run: $CHROME_PATH, else chromium on PATH.
func path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testsupport.SkipOutsideCI(t, "no chromium on PATH and CHROME_PATH unset (eval \"$(scripts/browser/env.sh)\" installs it)")
	return ""
}

// ArtifactDir is where screenshots go: $HARMONY_TEST_ARTIFACTS/<test> when
// set (kept), else the test's artifact directory (kept with go test
// -artifacts, else removed with the test).
func ArtifactDir(t *testing.T) string {
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

// Tab is one headless Chromium tab.
type Tab struct{ ctx context.Context }

// Start starts Chromium with a fresh profile; the test's cleanup closes it
// and waits for the process.
func Start(t testing.TB) *Tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path(t)),
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
		testsupport.SkipOutsideCI(t, "start chromium: %v", err)
	}
	return &Tab{ctx: ctx}
}

// Do runs actions, failing the test on an error.
func (b *Tab) Do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression into T.
func Eval[T any](t testing.TB, b *Tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// WaitJS waits until the JavaScript predicate expr holds in the page, for
// at most d.
func (b *Tab) WaitJS(t testing.TB, what, expr string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("browser: waiting %v for %s (%s): %v", d, what, expr, err)
	}
}

// Screenshot writes the whole page as dir/name.png and returns its path.
func (b *Tab) Screenshot(t *testing.T, dir, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
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
	return p
}
