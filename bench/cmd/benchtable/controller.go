package main

import "fmt"

// ctl names a sub-benchmark of BenchmarkController, whatever its sizes.
func ctl(part string) string { return `^BenchmarkController/devices=\d+/deployments=\d+/` + part + `$` }

var fmtS = func(v float64) string { return fmt.Sprintf("%.2f s", v) }

// controllerSection is BenchmarkController's (issue 16, figures 2 and 3a).
var controllerSection = section{"Controller on a simulated fleet: `harmony-fleet serve`, 10,000 devices x 10 fleet deployments (floor: as many bare compare-and-set writes, one client)", []row{
	{figure: "rollout of a spec change, 10 waves of 10%, min_ready 0, device delay 0: `deploy` to `complete` stored, minus the devices' own time", value: m(ctl("rollout"), "overhead-ms"), floor: m(ctl("floor"), "ms"), format: fmtMs, checks: []check{atMost(10000, "≤ 10 s (10 waves)")}},
	{figure: "rollout: waves", value: m(ctl("rollout"), "waves"), format: fmtN},
	{figure: "rollout: controller CPU (utime+stime) over it", value: m(ctl("rollout"), "cpu-s"), format: fmtS},
	{figure: "controller CPU over its whole life (start-up read of the fleet included)", value: m(ctl("controller"), "cpu-total-s"), format: fmtS},
	{figure: "controller CPU at rest (heartbeats only), of one core", value: m(ctl("rest"), "cpu-%"), format: fmtPct},
	{figure: "controller start-up: process start to every rollout `complete` stored", value: m(ctl("controller"), "startup-ms"), format: fmtMs},
	{figure: "controller start-up: CPU", value: m(ctl("controller"), "cpu-startup-s"), format: fmtS},
	{figure: "controller peak RSS (VmHWM), 10 deployments", value: m(ctl("controller"), "VmHWM-MiB"), format: fmtMiB, checks: []check{atMost(256, "≤ 256 MiB")}},
	{figure: "20% failing version: first failed event beyond max_failed (1%) to `halted` stored", value: m(ctl("halt"), "halt-ms"), format: fmtMs, checks: []check{atMost(2000, "≤ 2 s")}},
	{figure: "auto-rollback: `rolling_back` stored to the last device that took the bad version `running` the previous spec", value: m(ctl("rollback"), "rollback-ms"), format: fmtMs},
	{figure: "auto-rollback: devices rolled back", value: m(ctl("rollback"), "devices"), format: fmtN},
	{figure: "late joiner: enrolment to its desired keys written, p50", value: m(ctl("late-joiner"), "p50-ms"), format: fmtMs},
	{figure: "late joiner: enrolment to its desired keys written, p99", value: m(ctl("late-joiner"), "p99-ms"), format: fmtMs, checks: []check{atMost(1000, "≤ 1 s")}},
	{figure: "late joiner: enrolment to its desired keys written, max", value: m(ctl("late-joiner"), "max-ms"), format: fmtMs},
}}

const controllerMethod = `- Controller (BenchmarkController): the harmony-fleet binary built for the run, as its
  own process (` + "`serve --http=`" + `, default settings, bare specs: no signing key), against
  the benchmark's in-process nats-server, on 10,000 devices simulated on the wire
  (bench/e2e devSim: one wide watch of desired-state handing each entry to the worker of
  the device its key names, 4 shared connections; each device decodes its value with the
  fleet packages and answers ` + "`pending`" + ` then ` + "`running`" + ` (or ` + "`failed`" + `, for a spec that
  asks 20% of the devices to fail) with its sequence numbers and Msg-Id, after
  BENCH_CTL_DELAY (0), and keeps its DeviceInfo snapshot: rewritten at most once a
  second after a change and every 30 s heartbeat). The fleet starts at rest: every device
  enrolled and running each of 10 fleet deployments that target them all, every rollout
  complete. Rollout: ` + "`harmony-fleet deploy`" + ` of a new spec of one of them (batch 10%,
  max_failed 0, min_ready 0), from the command's start (process start included) to the
  stored time of the rollout's ` + "`complete`" + ` in rollouts, minus waves x delay (with delay 0
  the simulator's own cost stays in the figure); the floor is as many kv.Create writes
  (compare-and-set on "no key") of the same value, one after the other from one client,
  into a bucket made as desired-state is, on the same server, the controller at rest.
  CPU is utime+stime of /proc/<pid>/stat, over the rollout and over the process's life;
  peak RSS is its VmHWM at the end; CPU at rest is over 10 s of heartbeats only (333
  snapshots/s); start-up runs from the process's start, reading the fleet, to every
  rollout's ` + "`complete`" + ` stored. Halt: a spec that 20% of the devices fail (batch 10%,
  max_failed 1%), from the stored time of the failed event one beyond max_failed (in
  FLEET_EVENTS, stream order) to the stored ` + "`halted`" + `. Auto-rollback: the same on another
  deployment with auto_rollback, from the stored ` + "`rolling_back`" + ` (its halt) to the stored
  ` + "`running`" + ` event of the previous spec from the last of the devices that took the bad
  one (the devices' delay included). Late joiner: with the fleet at rest, 50 new devices, each already sending
  snapshots, enrolled one by one (a registry write as ` + "`harmony-fleet device add`" + ` makes
  it), from before the write to the stored time of the last of its 10 desired keys.
`
