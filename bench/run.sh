#!/usr/bin/env bash
# run.sh runs make bench: every benchmark of bench/e2e and fleet/aggregate,
# each step's output in $BENCH_OUT/<step>.txt, then bench/cmd/benchtable,
# which prints the table and writes it to BENCHMARKS.md with the machine,
# the date and the raw output.
#
# Usage (from the repository root, as root for the podman step):
#   bench/run.sh            what make bench runs
#   BENCH_QUICK=1 bench/run.sh
#
# Settings (environment):
#   BENCH_QUICK=1       small sizes everywhere (a run of a few minutes)
#   BENCH_CHANGES       convergence changes (2000; quick 200)
#   BENCH_COLD_RUNS     cold starts per side (3; quick 1)
#   BENCH_PODMAN_RUNS   containers per side (5; quick 2)
#   BENCH_STATUS_RUNS   status and floor reads per stream size (5; quick 3)
#   BENCH_ONLY          a regexp of step names to run (e.g. 'convergence|fleet-status')
#   BENCH_PROFILE=1     CPU and memory profiles of each step in BENCH_OUT
#   BENCH_OUT           results directory (/tmp/harmony-bench)
#   BENCH_PODMAN_DIR    the private podman of this run (/tmp/harmony-podman-bench);
#                       not make test's, whose teardown would stop it mid-run
#   BENCH_REPORT        the report written (BENCHMARKS.md)
# and the sizes bench/e2e reads itself (BENCH_IDLE, BENCH_COLD_DEPLOYMENTS,
# BENCH_SIM_*, BENCH_STATUS_*: see bench/e2e/knobs_test.go).
#
# A step that fails does not stop the others; the table says which
# figures are missing, and the exit status is 1.
set -uo pipefail

GO="${GO:-go}"
DEVTAGS="${DEVTAGS:-embednats}"
OUT="${BENCH_OUT:-/tmp/harmony-bench}"
PODMAN_DIR="${BENCH_PODMAN_DIR:-/tmp/harmony-podman-bench}"
REPORT="${BENCH_REPORT:-BENCHMARKS.md}"
ONLY="${BENCH_ONLY:-.}"
PROFILE="${BENCH_PROFILE:-}"
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
	changes=200 cold=1 podman=2 status=3
else
	changes=2000 cold=3 podman=5 status=5
fi
CHANGES="${BENCH_CHANGES:-$changes}"
COLD_RUNS="${BENCH_COLD_RUNS:-$cold}"
PODMAN_RUNS="${BENCH_PODMAN_RUNS:-$podman}"
STATUS_RUNS="${BENCH_STATUS_RUNS:-$status}"

began=$SECONDS
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.pprof "$OUT/status"
results=()

# step NAME CMD...: runs CMD with its output shown and kept in
# $OUT/NAME.txt, and records its exit status.
step() {
	local name=$1
	shift
	if ! [[ $name =~ $ONLY ]]; then
		return 0
	fi
	echo "== $name: $*" >&2
	"$@" 2>&1 | tee "$OUT/$name.txt"
	echo "$name ${PIPESTATUS[0]}" >>"$OUT/status"
	results+=("$OUT/$name.txt")
}

# e2e NAME REGEXP BENCHTIME: one step of the bench/e2e test binary.
e2e() {
	local prof=()
	if [ -n "$PROFILE" ]; then
		prof=(-test.cpuprofile "$OUT/$1.cpu.pprof" -test.memprofile "$OUT/$1.mem.pprof")
	fi
	step "$1" "$OUT/e2e.test" -test.run '^$' -test.bench "$2" -test.benchtime "$3" -test.timeout 30m "${prof[@]}"
}

echo "== build: $GO test -c -tags $DEVTAGS ./bench/e2e" >&2
if ! "$GO" test -c -tags "$DEVTAGS" -o "$OUT/e2e.test" ./bench/e2e; then
	echo "bench: the benchmarks do not build" >&2
	exit 1
fi

aggprof=()
if [ -n "$PROFILE" ]; then
	aggprof=(-cpuprofile "$OUT/aggregate.cpu.pprof" -memprofile "$OUT/aggregate.mem.pprof" -o "$OUT/aggregate.test")
fi
step aggregate "$GO" test -run '^$' -bench . -benchmem -cpu 1 "${aggprof[@]}" ./fleet/aggregate
step api "$GO" test -run '^$' -bench '^BenchmarkDeploymentsAPI$' -benchtime 2000x ./internal/api
step dashboard "$GO" test -run '^$' -bench '^BenchmarkDashboardFirstLoad$' -benchtime 20x ./internal/api
e2e binary-size '^BenchmarkBinarySize$' 1x
e2e agent-idle '^BenchmarkAgentIdle$' 1x
e2e convergence '^BenchmarkConvergence$' "${CHANGES}x"
e2e cold-start '^BenchmarkColdStart$' "${COLD_RUNS}x"
e2e fleet-sim '^BenchmarkFleetSim$' 1x
e2e fleet-status '^BenchmarkFleetStatus$' "${STATUS_RUNS}x"

if [[ podman =~ $ONLY ]]; then
	echo "== podman set-up: scripts/podman/env.sh $PODMAN_DIR" >&2
	if podman_env="$(scripts/podman/env.sh "$PODMAN_DIR")"; then
		(
			eval "$podman_env"
			trap 'scripts/podman/teardown.sh "$PODMAN_DIR" >/dev/null 2>&1 || true' EXIT
			e2e podman '^BenchmarkPodman$' "${PODMAN_RUNS}x"
		)
		results+=("$OUT/podman.txt")
	else
		echo "podman-setup 1" >>"$OUT/status"
		echo "bench: no private podman (scripts/podman/env.sh failed): the podman figures are skipped" >&2
	fi
fi

took=$((SECONDS - began))
echo "== table (make bench took ${took}s)" >&2
"$GO" run ./bench/cmd/benchtable -o "$REPORT" -status "$OUT/status" -took "${took}s" "${results[@]}" || exit 1
echo "bench: wrote $REPORT; raw results in $OUT" >&2
if grep -qv ' 0$' "$OUT/status"; then
	exit 1
fi
