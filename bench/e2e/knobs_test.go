//go:build embednats

package e2e

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// The sizes of the benchmarks. Each is read from its environment variable;
// unset, it takes its full value, or its quick value when BENCH_QUICK is
// set (to anything but 0). The iteration counts (changes, cold starts,
// podman runs) are -benchtime=Nx, set by bench/run.sh.
//
//	BENCH_IDLE              idle window of BenchmarkAgentIdle (60s; quick 10s)
//	BENCH_IDLE_DEPLOYMENTS  deployments of its loaded case (100)
//	BENCH_FLASH_IDLE        idle window of BenchmarkFlashWrites (10m; quick 30s)
//	BENCH_FLASH_DEPLOYMENTS deployments running through it (100)
//	BENCH_FLASH_CHANGES     desired changes it counts the writes of (50; quick 10)
//	BENCH_FLASH_DIR         where its agent's state directory goes: a
//	                        directory on a disk, not tmpfs (the temporary directory)
//	BENCH_AGENT_ENV         KEY=VALUE words added to the agent process's
//	                        environment (e.g. GODEBUG=gctrace=1)
//	BENCH_AGENT_LOG_DIR     keep the agent process's log there, as
//	                        agent-<device>.log (default: a temporary directory)
//	BENCH_ARCHES            BenchmarkBinarySize's targets (amd64 arm64 armv7)
//	BENCH_COLD_DEPLOYMENTS  desired deployments at a cold start (1000; quick 200)
//	BENCH_SIM_DEVICES       simulated devices (10000; quick 2000)
//	BENCH_SIM_DEPLOYMENTS   deployments per simulated device (5)
//	BENCH_SIM_CONNS         connections the devices share (20)
//	BENCH_SIM_DURATION      how long the devices publish (20s; quick 5s)
//	BENCH_SIM_RATE          total events/s the devices offer; 0 as fast as the server acks (0)
//	BENCH_STATUS_DEVICES    devices of BenchmarkFleetStatus, 3 deployments each (10000)
//	BENCH_STATUS_EVENTS     the stream sizes it measures, growing, comma-separated
//	                        (200000,2000000; quick 20000,200000)
//	BENCH_FAILOVER_TRIALS   kill -9s of the acting serve in BenchmarkFailover (10; quick 3)
//	BENCH_JOINERS           agents enrolled one by one in BenchmarkLateJoiner (20; quick 5)
//	BENCH_CTL_DEVICES       simulated devices of BenchmarkController (10000; quick 1000)
//	BENCH_CTL_DEPLOYMENTS   fleet deployments targeting all of them (10; at least 3)
//	BENCH_CTL_DELAY         how long a simulated device takes to answer a new
//	                        desired value, as a duration (0)
//	BENCH_CTL_JOINERS       late joiners enrolled one by one (50; quick 10)
//	BENCH_CTL_CONNS         connections the simulated devices share (4)
//	BENCH_CTL_HEARTBEAT     their heartbeat interval, also given to serve (30s)
//	BENCH_CTL_REST          the window of its CPU at rest (10s; quick 2s)
//	BENCH_SERVE_LOG_DIR     keep the logs of the harmony-fleet serve processes there,
//	                        as <id>.log (default: a temporary directory)

// quick reports whether BENCH_QUICK asks for a short run.
func quick() bool {
	v := os.Getenv("BENCH_QUICK")
	return v != "" && v != "0"
}

// envInt returns the integer in environment variable name, or full (short
// when quick).
func envInt(b *testing.B, name string, full, short int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		if quick() {
			return short
		}
		return full
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// envDuration returns the duration in environment variable name, or full
// (short when quick).
func envDuration(b *testing.B, name string, full, short time.Duration) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		if quick() {
			return short
		}
		return full
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 60s", name, v)
	}
	return d
}
