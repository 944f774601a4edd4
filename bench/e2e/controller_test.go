//go:build embednats

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

// BenchmarkController measures the fleet controller (ARCHITECTURE 9): the
// harmony-fleet binary, built for this run, as its own process (`serve
// --http=`) against the benchmark's in-process nats-server, driving
// BENCH_CTL_DEVICES (10,000; quick 1,000) devices simulated on the wire
// (devSim: a wide watch of desired-state, events with their Msg-Ids,
// snapshots with honest heartbeats every BENCH_CTL_HEARTBEAT) that answer
// after BENCH_CTL_DELAY (0). The fleet starts at rest: every device
// enrolled (registry label fleet=sim) and running each of
// BENCH_CTL_DEPLOYMENTS (10) fleet deployments that target them all, the
// controller started on it and every rollout complete. Then, in order:
//
//   - floor: the bare cost of as many compare-and-set writes as there are
//     devices (kv.Create of a fresh key, one after the other, from one
//     client, in a bucket made as desired-state is), on the same server;
//     metric ms.
//   - rollout: `harmony-fleet deploy` of a new spec of the first
//     deployment, batch 10%, max_failed 0, min_ready 0, from the command's
//     start to the stored time (KV entry) of the rollout's `complete` in
//     rollouts; metrics total-ms, overhead-ms (total minus waves x delay:
//     the devices' own time; with delay 0, the simulator's own cost stays
//     in), waves, cpu-s (the controller's utime+stime over the rollout).
//     Target: overhead <= 10 s for 10 waves.
//   - late-joiner: BENCH_CTL_JOINERS (50; quick 10) new devices, each
//     already sending snapshots, enrolled one by one (a registry write as
//     `harmony-fleet device add` makes it), from before the write to the
//     stored time of the last of its desired keys (one per deployment);
//     metrics p50-ms, p99-ms, max-ms. Target: p99 <= 1 s.
//   - rest: the fleet at rest (heartbeats only) for BENCH_CTL_REST (10s;
//     quick 2s); metric cpu-% (the controller's, of one core).
//   - halt: a spec of the second deployment that 20% of the devices fail,
//     batch 10%, max_failed 1%: from the stored time of the first failed
//     event beyond max_failed (in FLEET_EVENTS) to the stored time of the
//     rollout's `halted`; metric halt-ms. Target: <= 2 s.
//   - rollback: the same on the third deployment with auto_rollback: from
//     the stored `rolling_back` (the halt) to the stored `running` event of
//     the previous spec from the last of the devices that took the bad
//     one (the devices' delay included); metrics rollback-ms and devices
//     (how many were rolled back).
//   - controller: the process's CPU seconds over its whole life (start-up
//     read of the fleet included) and its peak RSS (VmHWM), with the
//     deployments all in; metrics cpu-total-s, VmHWM-MiB (target: <=
//     256 MiB), and startup-ms and cpu-startup-s: from the process's start
//     to every rollout's `complete` stored, reading the fleet at rest.
//
// Run it with -benchtime=1x: each part runs once, on one fleet.
func BenchmarkController(b *testing.B) {
	devices := envInt(b, "BENCH_CTL_DEVICES", 10_000, 1_000)
	deployments := envInt(b, "BENCH_CTL_DEPLOYMENTS", 10, 10)
	joiners := envInt(b, "BENCH_CTL_JOINERS", 50, 10)
	conns := max(envInt(b, "BENCH_CTL_CONNS", 4, 4), 1)
	delay := envDelay(b, "BENCH_CTL_DELAY")
	heartbeat := envDuration(b, "BENCH_CTL_HEARTBEAT", 30*time.Second, 30*time.Second)
	rest := envDuration(b, "BENCH_CTL_REST", 10*time.Second, 2*time.Second)
	if deployments < 3 || devices < 100 {
		b.Fatalf("BENCH_CTL_DEPLOYMENTS=%d, BENCH_CTL_DEVICES=%d: want at least 3 deployments and 100 devices", deployments, devices)
	}

	env := startNATS(b)
	bin := buildFleetCLI(b)
	start := time.Now()
	sim := newDevSim(b, env.url, devices+joiners, conns, delay, heartbeat)
	b.Cleanup(sim.close)
	pol := fleet.DefaultRolloutPolicy()
	pol.Batch = fleet.Batch{Amount: fleet.Amount{N: 10, Percent: true}}
	pol.MinReadySeconds = 0
	deps := make([]fleet.FleetDeployment, deployments)
	for j := range deps {
		deps[j] = rollout.Deploy(nil, fleet.FleetDeployment{Name: ctlDeployment(j), Selector: simLabels, Spec: simSpec(j, 0), Rollout: pol}, time.Now())
	}
	sim.seed(devices, deps)
	writeDeployments(b, env, deps)
	sim.start(env.url)
	b.Logf("fleet seeded: %d devices (+%d joiners) x %d deployments in %s", devices, joiners, deployments, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	ctl := startFleetServe(b, bin, env.url, "serve-sim", "--heartbeat-interval", heartbeat.String())
	for _, d := range deps {
		rw := watchRollout(b, env.js, d.Name)
		e := rw.wait(b, fmt.Sprintf("%s complete at start", d.Name), func(s fleet.RolloutStatus) bool {
			return s.Generation == d.Generation && s.State == fleet.RolloutComplete
		})
		if e.status.Targeted != devices || e.status.Ready != devices {
			b.Fatalf("%s at start: %+v, want %d devices targeted and ready", d.Name, e.status, devices)
		}
		rw.stop()
	}
	startup, startupCPU := time.Since(start), ctl.cpu(b)

	prefix := fmt.Sprintf("devices=%d/deployments=%d", devices, deployments)
	b.Run(prefix+"/floor", func(b *testing.B) {
		value, err := json.Marshal(deps[0].Spec.WithDefaults())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(ms(casFloor(b, env, devices, value)), "ms")
	})

	b.Run(prefix+"/rollout", func(b *testing.B) {
		name := deps[0].Name
		rw := watchRollout(b, env.js, name)
		defer rw.stop()
		cpu0 := ctl.cpu(b)
		start := time.Now()
		d := deploy(b, bin, env.url, name, simSpec(1000, 0), "--batch", "10%", "--max-failed", "0", "--min-ready", "0s")
		e := rw.wait(b, "rollout complete", func(s fleet.RolloutStatus) bool {
			if s.Generation == d.Generation && s.State != fleet.RolloutProgressing && s.State != fleet.RolloutComplete {
				b.Fatalf("rollout %s: %s: %s", name, s.State, s.Message)
			}
			return s.Generation == d.Generation && s.State == fleet.RolloutComplete
		})
		total := e.created.Sub(start)
		cpu := ctl.cpu(b) - cpu0
		if e.status.Ready != devices {
			b.Fatalf("rollout complete with %d of %d ready: %+v", e.status.Ready, devices, e.status)
		}
		b.ReportMetric(ms(total), "total-ms")
		b.ReportMetric(ms(total-time.Duration(e.status.Wave)*delay), "overhead-ms")
		b.ReportMetric(float64(e.status.Wave), "waves")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
	})

	b.Run(prefix+"/late-joiner", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		reg, err := env.js.KeyValue(ctx, fleet.DeviceRegistryBucket)
		if err != nil {
			b.Fatal(err)
		}
		var lat latencies
		for k := range joiners {
			lat = append(lat, joinOne(ctx, b, env, reg, simDeviceID(devices+k), deployments))
		}
		lat.report(b)
	})

	b.Run(prefix+"/rest", func(b *testing.B) {
		cpu0 := ctl.cpu(b)
		time.Sleep(rest) // the window measured, not a wait for a result
		b.ReportMetric(100*(ctl.cpu(b)-cpu0).Seconds()/rest.Seconds(), "cpu-%")
	})

	b.Run(prefix+"/halt", func(b *testing.B) {
		name := deps[1].Name
		rw := watchRollout(b, env.js, name)
		defer rw.stop()
		events := readEvents(b, env.js, fleet.DeploymentEventsSubject(name))
		bad := simSpec(2000, 20)
		badHash := fleet.SpecHash(bad)
		d := deploy(b, bin, env.url, name, bad, "--batch", "10%", "--max-failed", "1%", "--min-ready", "0s")
		var failedAt []time.Time // the bad spec's failed events, in stream order
		var halted *rolloutEntry
		timeout := time.After(waitTimeout)
		for halted == nil || len(failedAt) <= d.Rollout.MaxFailed.Resolve(halted.status.Targeted) {
			select {
			case e := <-events:
				if e.err != nil {
					b.Fatalf("read event: %v", e.err)
				}
				if e.Transition.Kind == fleet.KindApplied && e.Transition.To == fleet.PhaseFailed && e.SpecHash == badHash {
					failedAt = append(failedAt, e.stored)
				}
			case e := <-rw.ch:
				if halted == nil && e.status.Generation == d.Generation && e.status.State == fleet.RolloutHalted {
					halted = &e
				}
			case <-timeout:
				b.Fatalf("no halt within %s: %d failed events, halted %v", waitTimeout, len(failedAt), halted != nil)
			}
		}
		beyond := failedAt[d.Rollout.MaxFailed.Resolve(halted.status.Targeted)]
		b.Logf("halted: %s", halted.status.Message)
		b.ReportMetric(ms(halted.created.Sub(beyond)), "halt-ms")
	})

	b.Run(prefix+"/rollback", func(b *testing.B) {
		name := deps[2].Name
		prevHash := fleet.SpecHash(deps[2].Spec)
		rw := watchRollout(b, env.js, name)
		defer rw.stop()
		events := readEvents(b, env.js, fleet.DeploymentEventsSubject(name))
		d := deploy(b, bin, env.url, name, simSpec(3000, 20), "--batch", "10%", "--max-failed", "1%", "--min-ready", "0s", "--auto-rollback")
		back := map[fleet.DeviceID]time.Time{} // devices running the previous spec again
		var halted *rolloutEntry
		timeout := time.After(waitTimeout)
		for halted == nil || len(back) < halted.status.Updated {
			select {
			case e := <-events:
				if e.err != nil {
					b.Fatalf("read event: %v", e.err)
				}
				if e.Transition.Kind == fleet.KindApplied && e.Transition.To == fleet.PhaseRunning && e.SpecHash == prevHash {
					back[e.DeviceID] = e.stored
				}
			case e := <-rw.ch:
				if halted == nil && e.status.Generation == d.Generation && e.status.State == fleet.RolloutRollingBack {
					halted = &e
				}
			case <-timeout:
				b.Fatalf("rollback not done within %s: %d devices back, halted %v", waitTimeout, len(back), halted != nil)
			}
		}
		var last time.Time
		for _, t := range back {
			if t.After(last) {
				last = t
			}
		}
		b.Logf("rolling back: %s", halted.status.Message)
		b.ReportMetric(ms(last.Sub(halted.created)), "rollback-ms")
		b.ReportMetric(float64(len(back)), "devices")
	})

	b.Run(prefix+"/controller", func(b *testing.B) {
		b.ReportMetric(ctl.cpu(b).Seconds(), "cpu-total-s")
		b.ReportMetric(ms(startup), "startup-ms")
		b.ReportMetric(startupCPU.Seconds(), "cpu-startup-s")
		b.ReportMetric(float64(ctl.hwm(b))/(1<<20), "VmHWM-MiB")
	})
}

// ctlDeployment names the j-th fleet deployment of BenchmarkController.
func ctlDeployment(j int) fleet.DeploymentName {
	return fleet.DeploymentName(fmt.Sprintf("fleet-%02d", j))
}

// envDelay returns the duration in environment variable name, 0 when
// unset.
func envDelay(b *testing.B, name string) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		b.Fatalf("%s=%q: want a duration such as 0 or 100ms", name, v)
	}
	return d
}

// writeDeployments stores deps in the deployments bucket, as deploy
// stores a new one.
func writeDeployments(b *testing.B, env *natsEnv, deps []fleet.FleetDeployment) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv, err := env.js.KeyValue(ctx, fleet.DeploymentsBucket)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range deps {
		data, err := json.Marshal(d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kv.Create(ctx, fleet.DeploymentKey(d.Name), data); err != nil {
			b.Fatalf("create %s %s: %v", fleet.DeploymentsBucket, d.Name, err)
		}
	}
}

// deploy runs `harmony-fleet deploy NAME -f SPEC --selector fleet=sim
// FLAGS... -o json` and returns the fleet deployment it stored.
func deploy(b *testing.B, bin, url string, name fleet.DeploymentName, spec fleet.DeploymentSpec, flags ...string) fleet.FleetDeployment {
	b.Helper()
	file := filepath.Join(b.TempDir(), "spec.json")
	data, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		b.Fatal(err)
	}
	args := append([]string{"deploy", string(name), "-f", file, "--selector", simSelector}, flags...)
	out := runProcess(b, bin, append(args, "-o", "json", "-s", url)...)
	d, err := fleet.DecodeFleetDeployment(out)
	if err != nil {
		b.Fatalf("deploy -o json: %v\n%s", err, out)
	}
	return d
}

// casFloor writes n fresh keys one after the other with kv.Create (a
// compare-and-set on "no such key"), each holding value, into a bucket
// configured as desired-state, and returns how long the writes took.
func casFloor(b *testing.B, env *natsEnv, n int, value []byte) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	r, ok := natsconn.FleetResource(natsconn.ResourceSettings{}, fleet.DesiredStateBucket)
	if !ok || r.Bucket == nil {
		b.Fatalf("no resource %s", fleet.DesiredStateBucket)
	}
	cfg := *r.Bucket
	cfg.Bucket = "bench-cas-floor"
	kv, err := env.js.CreateKeyValue(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.js.DeleteKeyValue(context.Background(), cfg.Bucket) }()
	start := time.Now()
	for i := range n {
		if _, err := kv.Create(ctx, fleet.DesiredKey(simDeviceID(i), "floor"), value); err != nil {
			b.Fatalf("create key %d: %v", i, err)
		}
	}
	return time.Since(start)
}

// joinOne enrols device id (its snapshots already arrive) and returns the
// time from before the registry write to the stored time of the last of
// its want desired keys.
func joinOne(ctx context.Context, b *testing.B, env *natsEnv, reg jetstream.KeyValue, id fleet.DeviceID, want int) time.Duration {
	b.Helper()
	w, err := env.kv.Watch(ctx, fleet.DesiredFilter(id), jetstream.UpdatesOnly())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	rec, err := json.Marshal(fleet.DeviceRecord{DeviceID: id, Labels: simLabels, EnrolledAt: time.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if _, err := reg.Create(ctx, string(id), rec); err != nil {
		b.Fatalf("enrol %s: %v", id, err)
	}
	keys := map[string]bool{}
	var last time.Time
	for len(keys) < want {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				b.Fatalf("watch of %s closed", fleet.DesiredFilter(id))
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			keys[e.Key()] = true
			if e.Created().After(last) {
				last = e.Created()
			}
		case <-ctx.Done():
			b.Fatalf("late joiner %s: %d of %d desired keys written within %s", id, len(keys), want, waitTimeout)
		}
	}
	return last.Sub(start)
}

// rolloutEntry is one rollout status read from rollouts, with the time
// the server stored it.
type rolloutEntry struct {
	status  fleet.RolloutStatus
	created time.Time
}

// rolloutWatch follows one key of rollouts: its current value first,
// then every write.
type rolloutWatch struct {
	ch     chan rolloutEntry
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func watchRollout(b *testing.B, js jetstream.JetStream, name fleet.DeploymentName) *rolloutWatch {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := js.KeyValue(ctx, fleet.RolloutsBucket)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	w, err := kv.Watch(ctx, fleet.RolloutKey(name))
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	// ch holds far more statuses than a rollout writes between two reads
	// (one per plan, a few a second).
	rw := &rolloutWatch{ch: make(chan rolloutEntry, 1024), cancel: cancel}
	rw.wg.Go(func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				var s fleet.RolloutStatus
				if err := json.Unmarshal(e.Value(), &s); err != nil {
					b.Errorf("rollouts %s: %v", name, err)
					continue
				}
				select {
				case rw.ch <- rolloutEntry{status: s, created: e.Created()}:
				case <-ctx.Done():
					return
				}
			}
		}
	})
	b.Cleanup(rw.stop)
	return rw
}

// wait returns the first status for which ok holds.
func (rw *rolloutWatch) wait(b *testing.B, what string, ok func(fleet.RolloutStatus) bool) rolloutEntry {
	b.Helper()
	timeout := time.After(waitTimeout)
	var last fleet.RolloutStatus
	for {
		select {
		case e := <-rw.ch:
			if ok(e.status) {
				return e
			}
			last = e.status
		case <-timeout:
			b.Fatalf("%s: not within %s (last status %+v)", what, waitTimeout, last)
		}
	}
}

// stop ends the watch; calling it again does nothing.
func (rw *rolloutWatch) stop() {
	rw.cancel()
	rw.wg.Wait()
}
