//go:build embednats

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser helpers of the dashboard's end-to-end test: the same
// headless Chromium, with the same options, as internal/api's browser
// tests. Without a browser the test fails when CI is set and skips
// otherwise.

// chromeBin returns the browser to run: $CHROME_PATH, else chromium on
// PATH.
func chromeBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	noChrome(t, "no chromium on PATH and CHROME_PATH unset (eval \"$(scripts/browser/env.sh)\" installs it)")
	return ""
}

// noChrome fails in CI and skips elsewhere.
func noChrome(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("browser test cannot run: %s", why)
	}
	t.Skipf("skipping the browser test: %s (set CI to make this a failure)", why)
}

// screenshotDir is where screenshots go: $HARMONY_TEST_ARTIFACTS/<test>
// when set (kept), else the test's artifact directory (kept with go test
// -artifacts, else removed with the test).
func screenshotDir(t *testing.T) string {
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

// tab is one headless Chromium tab.
type tab struct{ ctx context.Context }

// openTab starts Chromium with a fresh profile; the test's cleanup closes
// it and waits for the process.
func openTab(t testing.TB) *tab {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromeBin(t)),
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
	// The first action starts the browser, tied to the context it gets.
	if err := chromedp.Do(ctx); err != nil {
		noChrome(t, fmt.Sprintf("start chromium: %v", err))
	}
	return &tab{ctx: ctx}
}

// do runs actions, failing the test on an error.
func (b *tab) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// evalJS evaluates a JavaScript expression into T.
func evalJS[T any](t testing.TB, b *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript predicate expr holds in the page, for
// at most timeout.
func (b *tab) waitJS(t testing.TB, what, expr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("browser: waiting %v for %s (%s): %v", timeout, what, expr, err)
	}
}

// screenshot writes the whole page as dir/name.png and returns its path.
func (b *tab) screenshot(t *testing.T, dir, name string) string {
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
	return p
}
