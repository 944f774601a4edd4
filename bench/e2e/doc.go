// Package e2e holds harmony-agent's end-to-end benchmarks, the ones `make
// bench` runs against a real nats-server (in-process, as in the tests):
//
//   - BenchmarkBinarySize: the stripped static agent binary per architecture.
//   - BenchmarkAgentIdle: the real agent binary, run as its own process
//     against a server in the benchmark process, idle with 0 and with 100
//     process deployments: peak and steady resident memory, CPU time.
//   - BenchmarkConvergence: a desired-state put to the `running` event
//     stored in FLEET_EVENTS, through the in-process agent (real watcher,
//     desired cache and publisher, the Nop runtime), beside its floor: a
//     bare KV put then a JetStream publish, ack and read back.
//   - BenchmarkColdStart: an agent starting with many deployments already
//     desired, until every `running` event is stored; its floor publishes
//     the same events one by one.
//   - BenchmarkFleetStatus: harmony-fleet status at fleet scale (10,000
//     devices, up to 2,000,000 events stored) beside the bare reads it
//     needs; events -o table's peak memory; the full fold of the stream
//     into fleet/aggregate beside a bare ordered consumer.
//   - BenchmarkFleetSim: simulated devices publishing while an aggregator
//     consumes the stream live.
//   - BenchmarkFailover: kill -9 of the acting `harmony-fleet serve`
//     process to the standby's first desired-state write, beside the
//     lease's TTL.
//   - BenchmarkLateJoiner: a real agent process enrolled into a running
//     fleet deployment, to its key written and to `running` stored.
//   - BenchmarkController: harmony-fleet serve as a process on 10,000
//     devices simulated on the wire (devSim): a rollout in waves, late
//     joiners, a halt, an auto-rollback, the controller's CPU and memory.
//   - BenchmarkPodman: a put to `running` for a busybox container through
//     the agent and the podman runtime, beside a plain `podman run -d`.
//
// Sizes come from BENCH_* environment variables (see knobs_test.go);
// BENCH_QUICK=1 shrinks them all for a short run. bench/cmd/benchtable
// turns the output into the table of BENCHMARKS.md.
//
// The benchmarks live in _test.go files under the embednats build tag: they
// import nats.go and the in-process server, which only the cmds and three
// internal packages may link (internal/deps). The package's one non-test
// file, Nop, imports fleet and internal/runtime only.
package e2e
