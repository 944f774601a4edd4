package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkApply         	 4071657	       439.4 ns/op	   2275996 events/s	      17 B/op	       0 allocs/op
BenchmarkConvergence/agent-2         	    2000	   1133310 ns/op	         3.371 max-ms	         0.9830 p50-ms	         12.5 p99-ms
BenchmarkConvergence/floor-2         	    2000	    229690 ns/op	         2.879 max-ms	         0.09977 p50-ms	         0.3499 p99-ms
BenchmarkBinarySize/arm64-2         	       1	 765781181 ns/op	   9000000 bytes
BenchmarkBinarySize/arm64-2         	       1	 765781181 ns/op	   9400000 bytes
BenchmarkBinarySize/arm64-2         	       1	 765781181 ns/op	   9200000 bytes
--- SKIP: BenchmarkPodman
    podman_test.go:37: not set
--- FAIL: BenchmarkAgentIdle/deployments=100
PASS
`

func TestParse(t *testing.T) {
	r := parse([]byte(sample))
	tests := []struct {
		bench, unit string
		want        float64
		wantOK      bool
	}{
		{`^BenchmarkApply$`, "events/s", 2275996, true},
		{`^BenchmarkApply$`, "B/op", 17, true},
		{`^BenchmarkConvergence/agent$`, "p99-ms", 12.5, true},
		{`^BenchmarkConvergence/floor$`, "p50-ms", 0.09977, true},
		{`^BenchmarkBinarySize/arm64$`, "bytes", 9200000, true}, // the median of three
		{`^BenchmarkConvergence/agent$`, "pending-p50-ms", 0, false},
		{`^BenchmarkPodman/agent$`, "p50-ms", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.bench+" "+tc.unit, func(t *testing.T) {
			got, _, ok := r.get(m(tc.bench, tc.unit))
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("get(%s, %s) = %v, %v, want %v, %v", tc.bench, tc.unit, got, ok, tc.want, tc.wantOK)
			}
		})
	}
	for _, tc := range []struct{ bench, want string }{
		{`^BenchmarkPodman/agent$`, "skipped"},
		{`^BenchmarkAgentIdle/deployments=[1-9]`, "failed"},
		{`^BenchmarkFleetStatus/devices=\d+/events=2000000/full-fold-floor$`, "not run"},
	} {
		if got := r.why(m(tc.bench, "x")); got != tc.want {
			t.Errorf("why(%s) = %q, want %q", tc.bench, got, tc.want)
		}
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		name     string
		checks   []check
		v, ratio float64
		want     string
	}{
		{"at most, met", []check{atMost(10, "≤ 10 ms")}, 10, math.NaN(), "pass"},
		{"at most, missed", []check{atMost(10, "≤ 10 ms")}, 10.5, math.NaN(), "**miss** (≤ 10 ms)"},
		{"at least, met", []check{atLeast(2e6, "≥ 2M")}, 2e6, math.NaN(), "pass"},
		{"ratio missed", []check{atMost(10, "≤ 10 ms"), ratioAtMost(3)}, 2, 3.5, "**miss** (≤ 3x floor)"},
		{"ratio without floor", []check{ratioAtLeast(0.5)}, 2, math.NaN(), "**miss** (≥ 0.5x floor: no floor)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := result(tc.checks, tc.v, tc.ratio); got != tc.want {
				t.Errorf("result(%v, %v) = %q, want %q", tc.v, tc.ratio, got, tc.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	writeTable(&buf, parse([]byte(sample)))
	out := buf.String()
	for _, want := range []string{
		"| p99 <sub>BenchmarkConvergence/agent</sub> | 12.5 ms | 0.350 ms | 35.72x | ≤ 10 ms, ≤ 3x floor | **miss** (≤ 10 ms; ≤ 3x floor) |",
		"| binary size, arm64 <sub>BenchmarkBinarySize/arm64</sub> | 9.20 MB |  |  | ≤ 10 MB | pass |",
		"| agent: put to `running` stored, p50 | skipped | skipped |  | ≤ 1.2x floor | n/a |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 2275996.4: "2,275,996", -1234567: "-1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}
