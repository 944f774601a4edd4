// Command benchtable turns the output of make bench's benchmark runs into
// one table: each figure beside its floor measured in the same run (and
// the ratio), its target and whether it meets it. It prints the table and,
// with -o, writes it to a Markdown file together with the machine, the
// date and the raw benchmark output (which benchstat reads as is).
//
//	benchtable [-o BENCHMARKS.md] [-status FILE] [-took DURATION] RESULT.txt...
//
// The targets are reported against, not asserted: a miss does not change
// the exit status. benchtable imports the standard library only.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	out := fs.String("o", "", "also write the report, with the machine and the raw output, to this Markdown `file`")
	status := fs.String("status", "", "a `file` of lines \"<step> <exit status>\" from the runner, shown under the table")
	took := fs.String("took", "", "how long the whole run took, for the report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: benchtable [-o BENCHMARKS.md] [-status FILE] [-took DURATION] RESULT.txt")
	}
	var raw bytes.Buffer
	for _, path := range fs.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		raw.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			raw.WriteByte('\n')
		}
	}
	res := parse(raw.Bytes())
	var steps []string
	if *status != "" {
		b, err := os.ReadFile(*status)
		if err != nil {
			return err
		}
		steps = strings.Split(strings.TrimSpace(string(b)), "\n")
	}

	var table bytes.Buffer
	writeTable(&table, res)
	writeSteps(&table, steps)
	if _, err := stdout.Write(table.Bytes()); err != nil {
		return err
	}
	if *out == "" {
		return nil
	}
	var doc bytes.Buffer
	writeDoc(&doc, table.Bytes(), raw.Bytes(), *took)
	return os.WriteFile(*out, doc.Bytes(), 0o644)
}

// results holds, by benchmark name (without its -GOMAXPROCS suffix) and
// unit, every value the output reported; and which benchmarks were
// skipped or failed.
type results struct {
	values  map[string]map[string][]float64
	skipped map[string]bool
	failed  map[string]bool
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads `go test -bench` output: result lines ("BenchmarkX-2  N
// 123 ns/op  4.5 unit ...") and the SKIP and FAIL lines.
func parse(data []byte) results {
	r := results{values: map[string]map[string][]float64{}, skipped: map[string]bool{}, failed: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "--- SKIP: "); ok {
			r.skipped[strings.Fields(rest)[0]] = true
			continue
		}
		if rest, ok := strings.CutPrefix(line, "--- FAIL: "); ok {
			r.failed[strings.Fields(rest)[0]] = true
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		if r.values[name] == nil {
			r.values[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.values[name][f[i+1]] = append(r.values[name][f[i+1]], v)
		}
	}
	return r
}

// metric names one figure: the first benchmark whose name matches bench,
// and the unit.
type metric struct {
	bench *regexp.Regexp
	unit  string
}

func m(bench, unit string) metric { return metric{regexp.MustCompile(bench), unit} }

// get returns the median of the metric's values, and the benchmark's name.
func (r results) get(mt metric) (float64, string, bool) {
	if mt.bench == nil {
		return 0, "", false
	}
	names := make([]string, 0, len(r.values))
	for name := range r.values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if vs := r.values[name][mt.unit]; mt.bench.MatchString(name) && len(vs) > 0 {
			return median(vs), name, true
		}
	}
	return 0, "", false
}

// why says why a metric has no value: its benchmark was skipped, failed,
// or did not run.
func (r results) why(mt metric) string {
	for name := range r.skipped {
		if mt.bench.MatchString(name) || strings.HasPrefix(mt.bench.String(), "^"+name) {
			return "skipped"
		}
	}
	for name := range r.failed {
		if mt.bench.MatchString(name) || strings.HasPrefix(mt.bench.String(), "^"+name) {
			return "failed"
		}
	}
	return "not run"
}

func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// check is one target: value (or the ratio to the floor) op limit.
type check struct {
	ratio  bool
	atMost bool // <= limit; else >= limit
	limit  float64
	text   string
}

func atMost(limit float64, text string) check  { return check{atMost: true, limit: limit, text: text} }
func atLeast(limit float64, text string) check { return check{limit: limit, text: text} }
func ratioAtMost(limit float64) check {
	return check{ratio: true, atMost: true, limit: limit, text: fmt.Sprintf("≤ %gx floor", limit)}
}
func ratioAtLeast(limit float64) check {
	return check{ratio: true, limit: limit, text: fmt.Sprintf("≥ %gx floor", limit)}
}

func (c check) ok(v float64) bool {
	if c.atMost {
		return v <= c.limit
	}
	return v >= c.limit
}

// row is one line of the table.
type row struct {
	figure string
	value  metric
	floor  metric // bench nil: no floor
	format func(float64) string
	checks []check
}

// section is a group of rows under a heading row.
type section struct {
	title string
	rows  []row
}

const mb = 1e6 // binary sizes are in decimal megabytes: 10 MB is 10^7 bytes

var (
	fmtMB    = func(v float64) string { return fmt.Sprintf("%.2f MB", v/mb) }
	fmtMiB   = func(v float64) string { return fmt.Sprintf("%.1f MiB", v) }
	fmtPct   = func(v float64) string { return fmt.Sprintf("%.3f %%", v) }
	fmtMs    = func(v float64) string { return fmtSig(v) + " ms" }
	fmtNsUs  = func(v float64) string { return fmtSig(v/1e3) + " µs" } // ns/op shown in µs
	fmtRate  = func(v float64) string { return thousands(v) + "/s" }
	fmtB     = func(v float64) string { return fmt.Sprintf("%.1f B", v) }
	fmtBytes = func(v float64) string { // whole bytes; KiB from 1 KiB on
		if math.Abs(v) < 1024 {
			return fmt.Sprintf("%.0f B", v)
		}
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	fmtN = func(v float64) string { return thousands(v) }
)

// sections is the table: what make bench measures, in the order of the
// brief (footprint, convergence, cold start, aggregator, podman).
var sections = []section{
	{"Footprint (release build: CGO_ENABLED=0 -trimpath -ldflags '-s -w', no embednats)", []row{
		{figure: "binary size, amd64", value: m(`^BenchmarkBinarySize/amd64$`, "bytes"), format: fmtMB},
		{figure: "binary size, arm64", value: m(`^BenchmarkBinarySize/arm64$`, "bytes"), format: fmtMB, checks: []check{atMost(10*mb, "≤ 10 MB")}},
		{figure: "binary size, armv7", value: m(`^BenchmarkBinarySize/armv7$`, "bytes"), format: fmtMB},
		{figure: "agent process, 0 deployments: peak RSS (VmHWM)", value: m(`^BenchmarkAgentIdle/deployments=0$`, "VmHWM-MiB"), format: fmtMiB},
		{figure: "agent process, 0 deployments: steady RSS (VmRSS)", value: m(`^BenchmarkAgentIdle/deployments=0$`, "VmRSS-MiB"), format: fmtMiB},
		{figure: "agent process, 0 deployments: idle CPU (of one core)", value: m(`^BenchmarkAgentIdle/deployments=0$`, "cpu-%"), format: fmtPct, checks: []check{atMost(0.1, "≤ 0.1 %")}},
		{figure: "agent process, 100 deployments: peak RSS (VmHWM)", value: m(`^BenchmarkAgentIdle/deployments=[1-9]`, "VmHWM-MiB"), format: fmtMiB, checks: []check{atMost(16, "≤ 16 MiB")}},
		{figure: "agent process, 100 deployments: steady RSS (VmRSS)", value: m(`^BenchmarkAgentIdle/deployments=[1-9]`, "VmRSS-MiB"), format: fmtMiB, checks: []check{atMost(16, "≤ 16 MiB")}},
		{figure: "agent process, 100 deployments: idle CPU (of one core)", value: m(`^BenchmarkAgentIdle/deployments=[1-9]`, "cpu-%"), format: fmtPct, checks: []check{atMost(0.1, "≤ 0.1 %")}},
		{figure: "agent process, 100 deployments: of the RSS, RssAnon (heap, stacks)", value: m(`^BenchmarkAgentIdle/deployments=[1-9]`, "RssAnon-MiB"), format: fmtMiB},
		{figure: "agent process, 100 deployments: of the RSS, RssFile (binary pages)", value: m(`^BenchmarkAgentIdle/deployments=[1-9]`, "RssFile-MiB"), format: fmtMiB},
		{figure: "agent process, 0 deployments: OS threads", value: m(`^BenchmarkAgentIdle/deployments=0$`, "threads"), format: fmtN},
		{figure: "agent process, 100 deployments: OS threads", value: m(`^BenchmarkAgentIdle/deployments=[1-9]`, "threads"), format: fmtN},
		{figure: "flash writes, 100 deployments idle: bytes written to disk per hour (write_bytes)", value: m(`^BenchmarkFlashWrites$`, "idle-write-B/h"), format: fmtBytes, checks: []check{atMost(4096, "≤ 4 KiB/h")}},
		{figure: "flash writes per desired change (write_bytes)", value: m(`^BenchmarkFlashWrites$`, "write-B/change"), format: fmtBytes, checks: []check{atMost(16384, "≤ 16 KiB")}},
		{figure: "flash writes, idle: write calls' bytes per hour, any file or socket (wchar)", value: m(`^BenchmarkFlashWrites$`, "idle-wchar-B/h"), format: fmtBytes},
		{figure: "flash writes per desired change: write calls' bytes (wchar)", value: m(`^BenchmarkFlashWrites$`, "wchar-B/change"), format: fmtBytes},
		{figure: "flash writes, idle: the agent's log to journald per hour (not in write_bytes)", value: m(`^BenchmarkFlashWrites$`, "log-B/h"), format: fmtBytes},
		{figure: "flash writes per desired change: the agent's log to journald", value: m(`^BenchmarkFlashWrites$`, "log-B/change"), format: fmtBytes},
		{figure: "agent process, 100 deployments: idle CPU over the flash step's 10-minute window, beside the other steps' load", value: m(`^BenchmarkFlashWrites$`, "cpu-%"), format: fmtPct},
		{figure: "verification of a signed desired value (floor: the ed25519 check alone)", value: m(`^BenchmarkVerify$`, "ns/op"), floor: m(`^BenchmarkSignatureOnly$`, "ns/op"), format: fmtNsUs, checks: []check{atMost(100e3, "≤ 100 µs")}},
	}},
	{"Device operations on loopback: request to answer (floor: bare NATS request-reply on the same server)", []row{
		{figure: "ping, p50", value: m(`^BenchmarkRoundTrip/ping$`, "p50-ms"), floor: m(`^BenchmarkRoundTrip/floor$`, "p50-ms"), format: fmtMs},
		{figure: "ping, p99", value: m(`^BenchmarkRoundTrip/ping$`, "p99-ms"), floor: m(`^BenchmarkRoundTrip/floor$`, "p99-ms"), format: fmtMs, checks: []check{atMost(20, "≤ 20 ms")}},
		{figure: "ping, max", value: m(`^BenchmarkRoundTrip/ping$`, "max-ms"), floor: m(`^BenchmarkRoundTrip/floor$`, "max-ms"), format: fmtMs},
		{figure: "logs --tail 100, p50", value: m(`^BenchmarkRoundTrip/logs-tail-100$`, "p50-ms"), floor: m(`^BenchmarkRoundTrip/floor$`, "p50-ms"), format: fmtMs},
		{figure: "logs --tail 100, p99", value: m(`^BenchmarkRoundTrip/logs-tail-100$`, "p99-ms"), floor: m(`^BenchmarkRoundTrip/floor$`, "p99-ms"), format: fmtMs, checks: []check{atMost(50, "≤ 50 ms")}},
		{figure: "logs --tail 100, max", value: m(`^BenchmarkRoundTrip/logs-tail-100$`, "max-ms"), floor: m(`^BenchmarkRoundTrip/floor$`, "max-ms"), format: fmtMs},
	}},
	{"Convergence: desired put to `running` stored (Nop runtime; floor: bare put + publish + ack)", []row{
		{figure: "p50", value: m(`^BenchmarkConvergence/agent$`, "p50-ms"), floor: m(`^BenchmarkConvergence/floor$`, "p50-ms"), format: fmtMs},
		{figure: "p99", value: m(`^BenchmarkConvergence/agent$`, "p99-ms"), floor: m(`^BenchmarkConvergence/floor$`, "p99-ms"), format: fmtMs, checks: []check{atMost(10, "≤ 10 ms"), ratioAtMost(3)}},
		{figure: "max", value: m(`^BenchmarkConvergence/agent$`, "max-ms"), floor: m(`^BenchmarkConvergence/floor$`, "max-ms"), format: fmtMs},
		{figure: "p50 of the put to `pending` stored (the first of the two events)", value: m(`^BenchmarkConvergence/agent$`, "pending-p50-ms"), format: fmtMs},
		{figure: "p50 against the contract's floor (bare watch, `pending` and `running` each acked)", value: m(`^BenchmarkConvergence/agent$`, "p50-ms"), floor: m(`^BenchmarkConvergence/contract$`, "p50-ms"), format: fmtMs},
		{figure: "p99 against the contract's floor (bare watch, `pending` and `running` each acked)", value: m(`^BenchmarkConvergence/agent$`, "p99-ms"), floor: m(`^BenchmarkConvergence/contract$`, "p99-ms"), format: fmtMs},
	}},
	{"Cold start: agent start to the last `running` stored (floor: the same events published one by one)", []row{
		{figure: "time to every deployment running", value: m(`^BenchmarkColdStart/agent/`, "ms"), floor: m(`^BenchmarkColdStart/floor/`, "ms"), format: fmtMs, checks: []check{atMost(1000, "≤ 1 s (1,000 deployments)")}},
		{figure: "events stored per second", value: m(`^BenchmarkColdStart/agent/`, "events/s"), floor: m(`^BenchmarkColdStart/floor/`, "events/s"), format: fmtRate},
	}},
	{"Aggregator (fleet/aggregate, 100,000 devices x 10 deployments)", []row{
		{figure: "Apply throughput, one core (1,000,000 pairs held)", value: m(`^BenchmarkApply$`, "events/s"), format: fmtRate, checks: []check{atLeast(2e6, "≥ 2,000,000/s")}},
		{figure: "heap per device pair (1,000,000 pairs)", value: m(`^BenchmarkMemoryPerPair$`, "bytes/pair"), format: fmtB, checks: []check{atMost(200, "≤ 200 B")}},
		{figure: "fleet sim, unpaced: events stored (floor) / folded live", value: m(`^BenchmarkFleetSim/devices=\d+/rate=max$`, "applied-events/s"), floor: m(`^BenchmarkFleetSim/devices=\d+/rate=max$`, "stored-events/s"), format: fmtRate},
		{figure: "fleet sim, unpaced: lag when the devices stopped", value: m(`^BenchmarkFleetSim/devices=\d+/rate=max$`, "lag-events"), format: fmtN},
		{figure: "fleet sim, unpaced: catch-up after the devices stopped", value: m(`^BenchmarkFleetSim/devices=\d+/rate=max$`, "catchup-ms"), format: fmtMs},
		{figure: "fleet sim, paced: events stored (floor) / folded live", value: m(`^BenchmarkFleetSim/devices=\d+/rate=\d+$`, "applied-events/s"), floor: m(`^BenchmarkFleetSim/devices=\d+/rate=\d+$`, "stored-events/s"), format: fmtRate},
		{figure: "fleet sim, paced: lag when the devices stopped", value: m(`^BenchmarkFleetSim/devices=\d+/rate=\d+$`, "lag-events"), format: fmtN},
	}},
	{"HTTP API and dashboard (internal/api, 10,000 devices x 3 deployments, in-memory view)", []row{
		{figure: "GET /api/v1/deployments, p50", value: m(`^BenchmarkDeploymentsAPI$`, "p50-ms"), format: fmtMs},
		{figure: "GET /api/v1/deployments, p99", value: m(`^BenchmarkDeploymentsAPI$`, "p99-ms"), format: fmtMs, checks: []check{atMost(50, "≤ 50 ms")}},
		{figure: "dashboard first load in headless Chromium, mean", value: m(`^BenchmarkDashboardFirstLoad$`, "load-ms"), format: fmtMs, checks: []check{atMost(1000, "≤ 1 s")}},
		{figure: "dashboard first load in headless Chromium, worst", value: m(`^BenchmarkDashboardFirstLoad$`, "worst-load-ms"), format: fmtMs},
	}},
	{"Status at scale: 10,000 devices x 3 deployments (floor: bare last-per-subject read + bare device-info read)", []row{
		{figure: "harmony-fleet status (process), 2,000,000 events stored (floor: the bare reads as a process)", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/status-process$`, "ms"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/floor-process$`, "ms"), format: fmtMs, checks: []check{atMost(1000, "≤ 1 s"), ratioAtMost(2)}},
		{figure: "harmony-fleet status (process), 200,000 events stored", value: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/status-process$`, "ms"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/floor-process$`, "ms"), format: fmtMs},
		{figure: "status in the benchmark's process, 2,000,000 events stored", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/status$`, "ms"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/floor$`, "ms"), format: fmtMs},
		{figure: "status in the benchmark's process, 2,000,000 events stored (floor: the bare reads plus device-registry, all status reads)", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/status$`, "ms"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/floor-registry$`, "ms"), format: fmtMs},
		{figure: "status, 2,000,000 events stored, every newest event newer than its snapshot", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/status-stale$`, "ms"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/floor$`, "ms"), format: fmtMs},
		{figure: "status, 200,000 events stored", value: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/status$`, "ms"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/floor$`, "ms"), format: fmtMs},
		{figure: "events -o table, 2,000,000 events: peak RSS (VmHWM)", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/events-table$`, "VmHWM-MiB"), format: fmtMiB, checks: []check{atMost(64, "≤ 64 MiB")}},
		{figure: "events -o table, 200,000 events: peak RSS (VmHWM)", value: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/events-table$`, "VmHWM-MiB"), format: fmtMiB},
		{figure: "events -o table, 2,000,000 events: time to print them", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/events-table$`, "ms"), format: fmtMs},
		{figure: "full fold of FLEET_EVENTS into the aggregator, 2,000,000 events, as status did before (floor: bare ordered consumer)", value: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/full-fold$`, "events/s"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=2000000/full-fold-floor$`, "events/s"), format: fmtRate, checks: []check{ratioAtLeast(0.5)}},
		{figure: "full fold of FLEET_EVENTS into the aggregator, 200,000 events", value: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/full-fold$`, "events/s"), floor: m(`^BenchmarkFleetStatus/devices=\d+/events=200000/full-fold-floor$`, "events/s"), format: fmtRate},
	}},
	controllerSection,
	{"Late joiner with a real agent: enrolment (device-registry put) to its key written and to `running` stored (floor of running: the agent's own convergence, key written to `running` stored)", []row{
		{figure: "key written, p50", value: m(`^BenchmarkLateJoiner$`, "key-p50-ms"), format: fmtMs},
		{figure: "key written, p99", value: m(`^BenchmarkLateJoiner$`, "key-p99-ms"), format: fmtMs, checks: []check{atMost(1000, "≤ 1 s")}},
		{figure: "`running` stored, p50", value: m(`^BenchmarkLateJoiner$`, "running-p50-ms"), floor: m(`^BenchmarkLateJoiner$`, "agent-p50-ms"), format: fmtMs},
		{figure: "`running` stored, p99", value: m(`^BenchmarkLateJoiner$`, "running-p99-ms"), floor: m(`^BenchmarkLateJoiner$`, "agent-p99-ms"), format: fmtMs, checks: []check{atMost(2000, "≤ 2 s")}},
	}},
	{"Failover: kill -9 of the acting serve to the standby's first desired-state write (2 serve processes; floor: the lease bucket's TTL)", []row{
		{figure: "first write by the standby, p50", value: m(`^BenchmarkFailover$`, "p50-ms"), floor: m(`^BenchmarkFailover$`, "ttl-ms"), format: fmtMs},
		{figure: "first write by the standby, max", value: m(`^BenchmarkFailover$`, "max-ms"), floor: m(`^BenchmarkFailover$`, "ttl-ms"), format: fmtMs, checks: []check{atMost(10000, "≤ 10 s"), atMost(5000, "goal ≤ 5 s")}},
		{figure: "lease taken by the standby, p50", value: m(`^BenchmarkFailover$`, "lease-p50-ms"), floor: m(`^BenchmarkFailover$`, "ttl-ms"), format: fmtMs},
		{figure: "lease taken by the standby, max", value: m(`^BenchmarkFailover$`, "lease-max-ms"), floor: m(`^BenchmarkFailover$`, "ttl-ms"), format: fmtMs},
		{figure: "the dead holder's lease expired, p50", value: m(`^BenchmarkFailover$`, "expiry-p50-ms"), floor: m(`^BenchmarkFailover$`, "ttl-ms"), format: fmtMs},
		{figure: "the dead holder's lease expired, max", value: m(`^BenchmarkFailover$`, "expiry-max-ms"), floor: m(`^BenchmarkFailover$`, "ttl-ms"), format: fmtMs},
	}},
	{"Podman: busybox container started (floor: plain `podman run -d --network none --init`)", []row{
		{figure: "agent: put to `running` stored, p50", value: m(`^BenchmarkPodman/agent$`, "p50-ms"), floor: m(`^BenchmarkPodman/podman-run$`, "p50-ms"), format: fmtMs, checks: []check{ratioAtMost(1.2)}},
		{figure: "agent: put to `running` stored, max", value: m(`^BenchmarkPodman/agent$`, "max-ms"), floor: m(`^BenchmarkPodman/podman-run$`, "max-ms"), format: fmtMs},
	}},
}

func writeTable(w io.Writer, r results) {
	fmt.Fprintln(w, "| figure | value | floor (same run) | ratio | target | result |")
	fmt.Fprintln(w, "|---|--:|--:|--:|---|---|")
	for _, s := range sections {
		fmt.Fprintf(w, "| **%s** | | | | | |\n", s.title)
		for _, row := range s.rows {
			v, name, ok := r.get(row.value)
			figure := row.figure
			if ok {
				figure += " <sub>" + name + "</sub>"
			}
			cells := []string{figure, r.why(row.value), "", "", targets(row.checks), "n/a"}
			if ok {
				cells[1] = row.format(v)
			}
			ratio := math.NaN()
			if row.floor.bench != nil {
				f, _, fok := r.get(row.floor)
				cells[2] = r.why(row.floor)
				if fok {
					cells[2] = row.format(f)
					if ok && f != 0 {
						ratio = v / f
						cells[3] = fmt.Sprintf("%.2fx", ratio)
					}
				}
			}
			if ok && len(row.checks) > 0 {
				cells[5] = result(row.checks, v, ratio)
			} else if len(row.checks) == 0 {
				cells[5] = "—"
				if cells[4] == "" {
					cells[4] = "—"
				}
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
}

func targets(cs []check) string {
	var t []string
	for _, c := range cs {
		t = append(t, c.text)
	}
	return strings.Join(t, ", ")
}

// result is "pass", or "miss" with the targets missed.
func result(cs []check, v, ratio float64) string {
	var missed []string
	for _, c := range cs {
		x := v
		if c.ratio {
			x = ratio
		}
		if math.IsNaN(x) {
			missed = append(missed, c.text+": no floor")
			continue
		}
		if !c.ok(x) {
			missed = append(missed, c.text)
		}
	}
	if len(missed) == 0 {
		return "pass"
	}
	return "**miss** (" + strings.Join(missed, "; ") + ")"
}

// writeSteps lists the runner's steps that did not exit 0.
func writeSteps(w io.Writer, steps []string) {
	var bad []string
	for _, s := range steps {
		f := strings.Fields(s)
		if len(f) == 2 && f[1] != "0" {
			bad = append(bad, fmt.Sprintf("%s (exit status %s)", f[0], f[1]))
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(w, "\nSteps that failed: %s. Their figures read \"failed\" or \"not run\"; the raw output says why.\n", strings.Join(bad, ", "))
	}
}

func writeDoc(w io.Writer, table, raw []byte, took string) {
	fmt.Fprintln(w, "# Benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Written by `make bench` (bench/run.sh, bench/cmd/benchtable); the benchmarks are in")
	fmt.Fprintln(w, "`bench/e2e`, `fleet/aggregate`, `fleet/signed`, `internal/api` and `internal/deviceops`.")
	fmt.Fprintln(w, "Targets are reported against, not asserted. A ratio is the figure divided by its floor,")
	fmt.Fprintln(w, "measured in the same run on the same server. "+reproduce)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %s\n", machine())
	fmt.Fprintf(w, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if took != "" {
		fmt.Fprintf(w, "- make bench took %s\n", took)
	}
	if knobs := benchEnv(); knobs != "" {
		fmt.Fprintf(w, "- settings: %s\n", knobs)
	}
	fmt.Fprintln(w)
	w.Write(table)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## How each figure is measured")
	fmt.Fprintln(w)
	fmt.Fprint(w, method)
	fmt.Fprint(w, controllerMethod)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Raw output")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Compare two runs with `benchstat old.txt new.txt` on this block.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "```")
	w.Write(bytes.TrimRight(raw, "\n"))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "```")
}

// reproduce says how to run one figure again: the step of each section.
const reproduce = `Run one section again with ` + "`BENCH_ONLY='^STEP$' make bench`" + ` (add
` + "`BENCH_QUICK=1`" + ` for small sizes, ` + "`BENCH_PROFILE=1`" + ` for profiles); the steps: footprint
` + "`binary-size`" + `, ` + "`agent-idle`" + `, ` + "`flash`" + `, ` + "`verify`" + `, ` + "`deviceops`" + `; convergence ` + "`convergence`" + `; cold start
` + "`cold-start`" + `; aggregator ` + "`aggregate`" + `, ` + "`fleet-sim`" + `; API and dashboard ` + "`api`" + `, ` + "`dashboard`" + `; status
` + "`fleet-status`" + `; controller ` + "`controller`" + `; late joiner ` + "`late-joiner`" + `; failover ` + "`failover`" + `; podman
` + "`podman`" + ` (as root).`

const method = `- Footprint: ` + "`go build`" + ` of cmd/harmony-agent as a release (static, stripped, no
  embednats) per architecture. The agent's memory and CPU are those of the real binary,
  run as its own process (` + "`harmony-agent run`" + `, default settings, process runtime, a podman
  socket that does not exist) against a nats-server inside the benchmark process, read
  from /proc/<pid>/status (VmHWM: peak over its life; VmRSS: at the end) and
  /proc/<pid>/stat (utime+stime over the idle window, BENCH_IDLE). The loaded case runs
  100 deployments of ` + "`/bin/sleep 3600`" + `, all running before the window opens.
  Since the second edition the agent runs as a field device does with the new features
  on: ` + "`trust.keys`" + ` names the benchmark's signing key (an account nkey) and every desired
  value is a signed envelope (fleet/signed), verified on arrival; device operations answer
  (a ping is checked before the window) and host metrics are sampled at each heartbeat
  (the DeviceInfo is checked to carry them). The agent's log goes through a pipe, as to
  journald. The idle CPU and RSS rows come from BenchmarkAgentIdle's own 60 s window,
  comparable with the first edition's, and carry the targets; the flash step's 10-minute
  window reports the CPU of 100 idle deployments again, for the record: a longer sample,
  but taken while the rest of make bench loads both cores (an idle process's CPU time is
  its own, yet its wake-ups cost more on a busy machine). The idle agent's CPU goes to the
  resync every 30 s (each pid file and /proc/<pid>/stat read) and the heartbeat.
- Flash writes (BenchmarkFlashWrites): the same agent process, its state directory on the
  machine's disk (ext4 on a block device; tmpfs is refused, its writes are not disk
  writes), 100 deployments of ` + "`/bin/sleep 3600`" + ` running. /proc/<pid>/io is read at both
  ends of a 10-minute idle window (per hour) and of 50 changes of one deployment's signed
  spec, each waited for to ` + "`running`" + ` and, after the last, until the desired cache and the
  trust store hold it (per change). write_bytes counts what the process sent towards the
  block device, in whole pages when they are dirtied (so a 300-byte file costs 4 KiB);
  the writes of children it reaped are added to it;
  metadata blocks (inode table, directories) count when the task dirties them itself,
  as on this machine's ext4 (no journal listed in /proc/fs/ext4/*/options), only when
  they were not dirty already: a fraction of a page per change, which varies with what
  else writes to the disk. wchar counts the bytes of every write call, sockets included
  (the DeviceInfo put of each heartbeat). A change writes three data pages, each synced
  and renamed into place: the deployment's desired-cache file, the trust store (highest
  generation per deployment) and the workload's pid file. The log bytes are what
  journald receives; whether they reach the disk is journald's setting. This step runs
  in the background beside every step but the agent-idle and convergence ones, which run
  first (about 10 minutes).
- Verification of a signed value: BenchmarkVerify of fleet/signed (decode the envelope,
  check an ed25519 signature under one of two trusted keys, decode the statement and its
  spec as strictly as a bare spec); its floor, BenchmarkSignatureOnly, is the ed25519
  check alone.
- Device operations: BenchmarkRoundTrip of internal/deviceops: a requester's round trip
  on loopback to a real nats-server and the agent's own handler (deviceops.Start over an
  agent connection with the device's inbox prefix, an agent with the process runtime):
  ` + "`ping`" + `, and ` + "`logs --tail 100`" + ` of a workload that printed 200 lines (its real log file;
  the answer is checked to hold lines 101 to 200), 2,000 requests each, one at a time.
  The floor is a bare request-reply on the same server: a responder on its own
  connection answering with the agent's ping answer, byte for byte.
- Convergence: the agent runs in-process, wired as the daemon wires it (desired watcher,
  on-disk desired cache, publisher with DeviceInfo, JSON logging at info to io.Discard),
  with a do-nothing runtime (bench/e2e.Nop). Each change puts a new spec of one of 8
  deployments; the latency runs from before the put to the server's timestamp of the
  ` + "`running`" + ` event in FLEET_EVENTS (read back with an ordered consumer). The agent records
  and publishes ` + "`pending`" + ` then ` + "`running`" + `, each waiting for its ack. The floor does
  the same put then publishes one event and waits for the ack, timed the same way.
  The contract's floor is what ARCHITECTURE 4 makes any agent do, with no agent
  code: a bare KV watch on its own connection that answers each put with
  ` + "`pending`" + ` then ` + "`running`" + `, each waited for its ack before the next (events are
  published in order, each acked). The agent's ratio to it is the agent's own cost;
  the rest of its ratio to the first floor is the watch's delivery and the second
  acked event, which the contract requires. Its target of 3x the first floor is
  missed: the floor publishes one event where the contract makes an agent publish two
  in turn, each acked. Meeting it would take publishing ` + "`running`" + ` before ` + "`pending`" + `'s ack
  (a lost ` + "`pending`" + `, retried, would then be stored after ` + "`running`" + `: out of order in the
  stream) or not recording ` + "`pending`" + ` for a spec that starts at once (a phase change no
  one could see): both give up what the contract promises for about 0.1 ms.
- Cold start: the deployments are put first; the clock starts when the agent is created
  (connection included) and stops at the stored timestamp of the last ` + "`running`" + ` event.
  events/s counts pending and running. The floor publishes the same events one by one.
- Aggregator: BenchmarkApply and BenchmarkMemoryPerPair of fleet/aggregate, run with
  -cpu 1. Fleet sim: 10,000 simulated devices
  sharing 20 connections publish asynchronously for 15 s, unpaced and then paced at one
  event per device per second, while the aggregator folds the stream live as
  ` + "`status --watch`" + ` does (reader goroutine, channel of 64, Apply); stored is what the
  server acked during the run, folded what the aggregator applied in the same time, lag
  the difference when the devices stopped. No target was set for the simulation; its
  rows are for the record.
- Status at scale (BenchmarkFleetStatus): 10,000 devices enrolled in device-registry,
  each with a device-info snapshot, 3 fleet deployments, and FLEET_EVENTS filled to
  200,000 then 2,000,000 events (every pair in turn, revisions growing). status is
  what ` + "`harmony-fleet status`" + ` does (fleetview.ReadFold: a last-per-subject consumer and
  the device-info bucket folded with fleet/aggregate; ReadRecords; StatusOf with the
  targeted counts), checked against the fleet; the floor reads the same last-per-subject
  messages and snapshots, the two reads at once as status makes them, and does nothing
  with them; floor-registry also reads device-registry at the same time, whose labels
  the targeted counts need: all that status reads, none of its work. status-process runs the
  harmony-fleet binary (status -o json), floor-process the floor as a process of the
  benchmark binary: both pay a process start and a connection, and neither shares the
  heap of the benchmark process, whose in-process server's 2,000,000 Msg-Ids every
  garbage collection there marks. status-stale runs while every
  pair's newest event is newer than its device's snapshot (each one decoded); status
  once every snapshot is at its device's latest revision, as agents keep them (the
  events a snapshot covers, told by their Msg-Id, are not decoded). events -o table runs the
  harmony-fleet binary over the whole stream to a line counter, once per size; its peak
  RSS is VmHWM of /proc/<pid>/status read every 10 ms until it exits. The full fold (the
  first edition's replay row, what status did before it read only the newest events)
  reads the same stream whole, once per size, with an ordered consumer through
  fleetview.EventReader (metadata, fleet's one-pass validating decoder, the subject
  check) into aggregate.Apply; its floor reads the same messages with an ordered consumer
  through the same calls (Messages with the same pull size, Next) and does nothing with
  them.
- Late joiner (BenchmarkLateJoiner): one ` + "`harmony-fleet serve`" + ` process (built for the run,
  no HTTP) against the benchmark's in-process server, and a fleet deployment of
  ` + "`/bin/sleep 3600`" + ` (process runtime) selecting role=joiner, completed by one untimed joiner
  first so that later ones join it at once. Each trial starts the release-built agent as
  its own process for a device not yet enrolled, waits for its DeviceInfo (connected,
  reporting), then puts its device-registry record with role=joiner, as
  ` + "`harmony-fleet device add`" + ` writes it; the clock starts just before that put and stops at
  the server's stored timestamp of the device's desired key (a KV watch) and of its
  ` + "`running`" + ` event in FLEET_EVENTS (an ordered consumer). The floor of ` + "`running`" + ` is, in the
  same trials, the agent's own part: key written to ` + "`running`" + ` stored. 20 agents, each its
  own device, keep running until the end.
- Failover (BenchmarkFailover): two ` + "`harmony-fleet serve`" + ` processes (each its own --id, no
  HTTP) and a fleet deployment (--batch 100%) targeting 3 enrolled devices whose
  snapshots, written by the benchmark with a 1 h heartbeat interval, keep them online (no
  agent: the figure is the controller's). Each of 10 trials waits a random part of a
  renewal period, reads the holder from the fleet-controller bucket's leader key, kills
  it with SIGKILL and, once it is gone, runs ` + "`harmony-fleet deploy`" + ` with a new spec (about
  10 ms, long before any standby can act): from the kill to the server's stored timestamp
  of the standby's first desired-state put of the new spec (a KV watch), and of the leader
  key taken by the standby. The dead holder's lease expired at its last renewal's stored
  time plus the bucket's TTL; the TTL is the floor, the longest a dead holder's lease
  lasts. The killed replica is started again, as the standby (its sd_notify STATUS line
  says standby), before the next trial.
- Podman: the in-process agent with the podman runtime on the private podman service of
  scripts/podman/env.sh, from the put to the stored ` + "`running`" + ` event, against the podman CLI
  (` + "`podman run -d --network none --init IMAGE sleep 3600`" + `) on the same storage until it
  returns. One untimed container warms each path up; removals are off the clock.
`

// machine describes this host: CPU model, cores, memory, kernel, load.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) == 2 {
					if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
						mem = fmt.Sprintf("%.1f GiB memory", kb/(1<<20))
					}
				}
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = fmt.Sprintf(" (load average at the end: %s %s %s; the machine is shared)", f[0], f[1], f[2])
		}
	}
	return fmt.Sprintf("%s, %d cores, %s%s%s", model, runtime.NumCPU(), mem, kernel, load)
}

// benchEnv lists the BENCH_* settings of this run.
func benchEnv() string {
	var kv []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "BENCH_") {
			kv = append(kv, "`"+e+"`")
		}
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

// thousands formats v rounded, with a comma between thousands.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtSig formats v with three significant digits (no exponent).
func fmtSig(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}
