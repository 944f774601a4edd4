# make bench: the benchmarks (bench/e2e, fleet/aggregate, fleet/signed, internal/api, internal/deviceops) against their
# targets, in one table on stdout and in BENCHMARKS.md. bench/run.sh does
# the work and lists its settings: BENCH_QUICK=1 for a short run,
# BENCH_ONLY=<regexp> for some steps, BENCH_PROFILE=1 to keep profiles.
BENCH_OUT        ?= /tmp/harmony-bench
BENCH_PODMAN_DIR ?= /tmp/harmony-podman-bench

.PHONY: bench
bench: ## benchmarks vs their targets; prints the table and writes BENCHMARKS.md (BENCH_QUICK=1: short run)
	GO='$(GO)' DEVTAGS='$(DEVTAGS)' BENCH_OUT='$(BENCH_OUT)' BENCH_PODMAN_DIR='$(BENCH_PODMAN_DIR)' bench/run.sh
