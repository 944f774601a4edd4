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
BenchmarkFlashWrites-2   	       1	28680854076 ns/op	         0 idle-write-B/h	     12943 write-B/change	        0.05000 cpu-%
BenchmarkVerify-2          	   20000	    100792 ns/op	   13601 B/op	     324 allocs/op
BenchmarkSignatureOnly-2   	   20000	     61276 ns/op
BenchmarkRoundTrip/floor-2         	    2000	     55023 ns/op	         2.778 max-ms	         0.04510 p50-ms	         0.1273 p99-ms
BenchmarkRoundTrip/ping-2          	    2000	     68045 ns/op	         2.900 max-ms	         0.05285 p50-ms	         0.1649 p99-ms
BenchmarkFailover-2   	       1	24770885627 ns/op	      6132 max-ms	      6025 p50-ms	      6000 ttl-ms
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
		"| flash writes per desired change (write_bytes) <sub>BenchmarkFlashWrites</sub> | 12.6 KiB |  |  | ≤ 16 KiB | pass |",
		"| flash writes, 100 deployments idle: bytes written to disk per hour (write_bytes) <sub>BenchmarkFlashWrites</sub> | 0 B |  |  | ≤ 4 KiB/h | pass |",
		"| verification of a signed desired value (floor: the ed25519 check alone) <sub>BenchmarkVerify</sub> | 101 µs | 61.3 µs | 1.64x | ≤ 100 µs | **miss** (≤ 100 µs) |",
		"| ping, p99 <sub>BenchmarkRoundTrip/ping</sub> | 0.165 ms | 0.127 ms | 1.30x | ≤ 20 ms | pass |",
		"| logs --tail 100, p99 | not run | 0.127 ms |  | ≤ 50 ms | n/a |",
		"| first write by the standby, max <sub>BenchmarkFailover</sub> | 6132 ms | 6000 ms | 1.02x | ≤ 10 s, goal ≤ 5 s | **miss** (goal ≤ 5 s) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestFmtBytes(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 12943: "12.6 KiB", 73728: "72.0 KiB"} {
		if got := fmtBytes(in); got != want {
			t.Errorf("fmtBytes(%v) = %q, want %q", in, got, want)
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

func TestControllerRows(t *testing.T) {
	const out = `BenchmarkController/devices=10000/deployments=10/floor-2         	       1	 620233209 ns/op	       617.8 ms
BenchmarkController/devices=10000/deployments=10/rollout-2       	       1	9061513322 ns/op	         5.850 cpu-s	      9060 overhead-ms	      9060 total-ms	        10.00 waves
BenchmarkController/devices=10000/deployments=10/late-joiner-2   	       1	11853546569 ns/op	       1448.5 max-ms	       216.7 p50-ms	       1448.5 p99-ms
BenchmarkController/devices=10000/deployments=10/halt-2          	       1	 846661391 ns/op	       439.7 halt-ms
BenchmarkController/devices=10000/deployments=10/controller-2    	       1	    108301 ns/op	       197.6 VmHWM-MiB	        21.27 cpu-total-s
`
	var buf bytes.Buffer
	writeTable(&buf, parse([]byte(out)))
	table := buf.String()
	for _, want := range []string{
		"| 9060 ms | 618 ms | 14.66x | ≤ 10 s (10 waves) | pass |",
		"| rollout: controller CPU (utime+stime) over it <sub>BenchmarkController/devices=10000/deployments=10/rollout</sub> | 5.85 s |",
		"| 197.6 MiB |  |  | ≤ 256 MiB | pass |",
		"| 440 ms |  |  | ≤ 2 s | pass |",
		"| 1448 ms |  |  | ≤ 1 s | **miss** (≤ 1 s) |",
		"| auto-rollback: devices rolled back | not run |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
