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
#   BENCH_DEVICEOPS_REQUESTS  requests per device operation and floor (2000; quick 1000)
#   BENCH_VERIFY_OPS    signed-value verifications (20000; quick 2000)
#   BENCH_ONLY          a regexp of step names to run (e.g. 'convergence|fleet-status')
#   BENCH_PROFILE=1     CPU and memory profiles of each step in BENCH_OUT
#   BENCH_OUT           results directory (/tmp/harmony-bench)
#   BENCH_PODMAN_DIR    the private podman of this run (/tmp/harmony-podman-bench);
#                       not make test's, whose teardown would stop it mid-run
#   BENCH_REPORT        the report written (BENCHMARKS.md)
# and the sizes bench/e2e reads itself (BENCH_IDLE, BENCH_FLASH_*, BENCH_COLD_DEPLOYMENTS,
# BENCH_SIM_*, BENCH_STATUS_*, BENCH_CTL_*, BENCH_FAILOVER_TRIALS,
# BENCH_JOINERS: see bench/e2e/knobs_test.go).
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
	changes=200 cold=1 podman=2 status=3 requests=1000 verifies=2000
else
	changes=2000 cold=3 podman=5 status=5 requests=2000 verifies=20000
fi
CHANGES="${BENCH_CHANGES:-$changes}"
COLD_RUNS="${BENCH_COLD_RUNS:-$cold}"
PODMAN_RUNS="${BENCH_PODMAN_RUNS:-$podman}"
STATUS_RUNS="${BENCH_STATUS_RUNS:-$status}"
DEVICEOPS_REQUESTS="${BENCH_DEVICEOPS_REQUESTS:-$requests}"
VERIFY_OPS="${BENCH_VERIFY_OPS:-$verifies}"

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

# The idle agent's CPU and the convergence latencies first, on a machine
# that runs nothing else of make bench (the flash step's idle agent and
# its 100 workloads included).
e2e agent-idle '^BenchmarkAgentIdle$' 1x
e2e convergence '^BenchmarkConvergence$' "${CHANGES}x"

# The flash step idles for BENCH_FLASH_IDLE (10 minutes): it runs in the
# background from here, beside the other steps (its agent is a process of
# its own, with a server of its own, whose disk writes other load cannot
# change), and is waited for before the table, so make bench takes
# max(10 minutes, the rest) rather than the sum.
flash_pid=
if [[ flash =~ $ONLY ]]; then
	flashprof=()
	if [ -n "$PROFILE" ]; then
		flashprof=(-test.cpuprofile "$OUT/flash.cpu.pprof")
	fi
	echo "== flash (in the background, waited for at the end): $OUT/e2e.test -test.bench '^BenchmarkFlashWrites\$'" >&2
	(
		"$OUT/e2e.test" -test.run '^$' -test.bench '^BenchmarkFlashWrites$' -test.benchtime 1x -test.timeout 30m "${flashprof[@]}" >"$OUT/flash.txt" 2>&1
		echo "flash $?" >>"$OUT/status"
	) &
	flash_pid=$!
fi

aggprof=()
if [ -n "$PROFILE" ]; then
	aggprof=(-cpuprofile "$OUT/aggregate.cpu.pprof" -memprofile "$OUT/aggregate.mem.pprof" -o "$OUT/aggregate.test")
fi
step aggregate "$GO" test -run '^$' -bench . -benchmem -cpu 1 "${aggprof[@]}" ./fleet/aggregate
step api "$GO" test -run '^$' -bench '^BenchmarkDeploymentsAPI$' -benchtime 2000x ./internal/api
step dashboard "$GO" test -run '^$' -bench '^BenchmarkDashboardFirstLoad$' -benchtime 20x ./internal/api
step deviceops "$GO" test -tags "$DEVTAGS" -run '^$' -bench '^BenchmarkRoundTrip$' -benchtime "${DEVICEOPS_REQUESTS}x" ./internal/deviceops
step verify "$GO" test -run '^$' -bench '^(BenchmarkVerify|BenchmarkSignatureOnly)$' -benchmem -benchtime "${VERIFY_OPS}x" ./fleet/signed
e2e binary-size '^BenchmarkBinarySize$' 1x
e2e cold-start '^BenchmarkColdStart$' "${COLD_RUNS}x"
e2e fleet-sim '^BenchmarkFleetSim$' 1x
e2e fleet-status '^BenchmarkFleetStatus$' "${STATUS_RUNS}x"
e2e failover '^BenchmarkFailover$' 1x
e2e late-joiner '^BenchmarkLateJoiner$' 1x
e2e controller '^BenchmarkController$' 1x

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

if [ -n "$flash_pid" ]; then
	echo "== flash: waiting for the background step" >&2
	wait "$flash_pid"
	cat "$OUT/flash.txt" >&2
	results+=("$OUT/flash.txt")
fi

took=$((SECONDS - began))
echo "== table (make bench took ${took}s)" >&2
"$GO" run ./bench/cmd/benchtable -o "$REPORT" -status "$OUT/status" -took "${took}s" "${results[@]}" || exit 1
echo "bench: wrote $REPORT; raw results in $OUT" >&2
if grep -qv ' 0$' "$OUT/status"; then
	exit 1
fi
