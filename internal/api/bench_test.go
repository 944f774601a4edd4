package api

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/harmony-edge/harmony-agent/internal/testsupport/browser"
)

// BenchmarkDeploymentsAPI: GET /api/v1/deployments over loopback HTTP at
// 10,000 devices x 3 deployments (the in-memory view, folded with
// fleet/aggregate), reporting the p50 and p99 latency of the requests.
// Run with -benchtime=2000x or more for a steady p99.
func BenchmarkDeploymentsAPI(b *testing.B) {
	v := bigFleet(10_000)
	_, hs := newTestServer(b, Options{View: v})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	get := func() {
		resp, err := client.Get(hs.URL + "/api/v1/deployments")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET /api/v1/deployments = %d", resp.StatusCode)
		}
	}
	get() // connection set up outside the measurement
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		get()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkDashboardFirstLoad: the dashboard's first load in headless
// Chromium at 10,000 devices, from navigation start until the
// deployments, failing devices and the first page of devices are drawn
// (window.harmonyLoaded). A measurement, not an assertion.
func BenchmarkDashboardFirstLoad(b *testing.B) {
	v := bigFleet(10_000)
	_, hs := newTestServer(b, Options{View: v, Rollouts: &memRollouts{view: v}})
	br := browser.Start(b)
	var total float64
	var worst float64
	n := 0
	for b.Loop() {
		br.Do(b, "open the dashboard", chromedp.Navigate(hs.URL+"/"))
		br.WaitJS(b, "the first load", "window.harmonyLoaded > 0", 30*time.Second)
		ms := browser.Eval[float64](b, br, "window.harmonyLoaded")
		total += ms
		worst = max(worst, ms)
		n++
	}
	rows := browser.Eval[int](b, br, `document.querySelectorAll('#devices tbody tr').length`)
	if rows != DefaultPageLimit {
		b.Fatalf("dashboard drew %d device rows, want %d", rows, DefaultPageLimit)
	}
	b.ReportMetric(total/float64(n), "load-ms")
	b.ReportMetric(worst, "worst-load-ms")
}
