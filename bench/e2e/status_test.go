//go:build embednats

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

// statusDeployments is the number of deployments per device of
// BenchmarkFleetStatus's fleet.
const statusDeployments = 3

// BenchmarkFleetStatus measures harmony-fleet status at fleet scale
// (ARCHITECTURE 10): BENCH_STATUS_DEVICES (10,000) devices x 3
// deployments, each enrolled in device-registry with a device-info
// snapshot, 3 fleet deployments, and FLEET_EVENTS filled to each size of
// BENCH_STATUS_EVENTS (200000,2000000; quick 20000,200000) in turn, the
// pairs visited in turn with growing revisions. At each size:
//
//   - status-stale: what `harmony-fleet status` does (fleetview.ReadStatus:
//     ReadFold on every event's subject and ReadRecords at once, then
//     StatusOf), checked against the fleet it built, while every pair's
//     newest event is newer than its device's snapshot (the worst case:
//     every one is decoded); metric ms.
//   - status: the same once every device rewrote its snapshot at its
//     latest revision, as agents keep them (the events it covers are not
//     decoded); metric ms. Target: <= 1 s at 2,000,000 events,
//     <= 2x the floor.
//   - floor: a bare last-per-subject consumer reading one message per
//     subject and, at the same time (as status reads them), a bare watch
//     of device-info reading every snapshot; nothing decoded. Metric ms.
//   - events-table: the harmony-fleet binary (built for this run) as a
//     process, `events -o table` over the whole stream to a line counter,
//     run once whatever -benchtime says; metrics VmHWM-MiB (its peak
//     resident memory, from /proc) and ms. Target: <= 64 MiB.
//   - full-fold: every stored event read in order and folded, as status
//     did before it read only the newest (fleetview.EventReader: an
//     ordered consumer, metadata, fleet's validating decoder, the subject
//     check; then aggregate.Apply), run once; metric events/s. Its floor,
//     full-fold-floor: the same ordered-consumer read doing nothing with
//     the messages. Target: >= 0.5x the floor.
//
// Run with -benchtime=Nx: N reads of status and of the floor per size.
func BenchmarkFleetStatus(b *testing.B) {
	devices := envInt(b, "BENCH_STATUS_DEVICES", 10_000, 10_000)
	sizes := envInts(b, "BENCH_STATUS_EVENTS", []int{200_000, 2_000_000}, []int{20_000, 200_000})
	env := startNATS(b)
	bin := buildFleetCLI(b)
	fillFleet(b, env, devices)
	stored := 0
	for _, n := range sizes {
		if n < stored {
			b.Fatalf("BENCH_STATUS_EVENTS: sizes must grow (%d after %d)", n, stored)
		}
		publishStatusEvents(b, env, devices, stored, n)
		stored = n
		name := fmt.Sprintf("devices=%d/events=%d", devices, n)
		// The pairs with an event (all of them once n reaches them).
		subjects := min(n, devices*statusDeployments)

		readStatus := func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				s, bad, err := fleetview.ReadStatus(ctx, env.js, "", waitTimeout)
				cancel()
				if err != nil || len(bad) > 0 {
					b.Fatalf("status: %v (%d skipped: %v)", err, len(bad), bad)
				}
				checkFleetStatus(b, s, devices)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
		}
		// Every event newer than its device's snapshot (agents that
		// published and have not rewritten their snapshot yet): the
		// worst case, each subject's newest event decoded.
		b.Run(name+"/status-stale", readStatus)
		// Then the snapshots as agents keep them (at their latest
		// revision, rewritten within a second of a change).
		writeSnapshots(b, env, devices, n)
		b.Run(name+"/status", readStatus)

		b.Run(name+"/floor", func(b *testing.B) {
			for b.Loop() {
				bareFloor(b, env.js, subjects, devices)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
		})
		// Everything status reads, for the record: the floor's two reads
		// and, at the same time, device-registry, whose labels the
		// targeted counts need (the floor leaves it out).
		b.Run(name+"/floor-registry", func(b *testing.B) {
			for b.Loop() {
				var wg sync.WaitGroup
				var recs int
				var err error
				wg.Go(func() { recs, err = bareBucketRead(env.js, fleet.DeviceRegistryBucket) })
				bareFloor(b, env.js, subjects, devices)
				wg.Wait()
				if err != nil || recs != devices {
					b.Fatalf("device-registry read %d records (%v), want %d", recs, err, devices)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
		})

		// The same two reads, each as its own process, as people run
		// them: harmony-fleet status against this benchmark binary's
		// floor (TestFleetStatusFloorProcess), both paying a process
		// start and a connection, neither sharing this process's heap
		// (whose in-process server's collections would be theirs).
		b.Run(name+"/status-process", func(b *testing.B) {
			for b.Loop() {
				out := runProcess(b, bin, "status", "-o", "json", "-s", env.url, "--timeout", "2m")
				var s fleetview.Status
				if err := json.Unmarshal(out, &s); err != nil {
					b.Fatalf("status -o json: %v", err)
				}
				checkFleetStatus(b, s, devices)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
		})
		b.Run(name+"/floor-process", func(b *testing.B) {
			self, err := os.Executable()
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				runProcessEnv(b, []string{floorURLEnv + "=" + env.url, fmt.Sprintf("%s=%d", floorWantEnv, devices), fmt.Sprintf("%s=%d", floorSubjectsEnv, subjects)},
					self, "-test.run", "^TestFleetStatusFloorProcess$")
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
		})

		b.Run(name+"/events-table", func(b *testing.B) {
			once(b, func() {
				hwm, took, lines := runEventsTable(b, bin, env.url)
				if lines != n+1 {
					b.Fatalf("events -o table printed %d lines, want %d", lines, n+1)
				}
				b.ReportMetric(float64(hwm)/(1<<20), "VmHWM-MiB")
				b.ReportMetric(float64(took.Milliseconds()), "ms")
			})
		})

		// The full fold, as status did before it read only the newest
		// events (the first edition's replay row): every stored event,
		// in order, into the aggregator; its floor reads the same
		// messages and does nothing with them.
		b.Run(name+"/full-fold-floor", func(b *testing.B) {
			once(b, func() {
				start := time.Now()
				bareFullRead(b, env.js, n)
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
			})
		})
		b.Run(name+"/full-fold", func(b *testing.B) {
			once(b, func() {
				start := time.Now()
				r := openStatusReader(b, env.js)
				a := aggregate.New()
				var read uint64
				for r.Backlog() {
					e, seq, err := nextEvent(context.Background(), b, r)
					if err != nil {
						b.Fatalf("read event: %v", err)
					}
					a.Apply(e)
					read = seq
				}
				took := time.Since(start)
				r.Stop()
				if read != uint64(n) {
					b.Fatalf("read up to event %d, want %d", read, n)
				}
				if a.Len() != subjects {
					b.Fatalf("aggregator holds %d pairs after the full fold, want %d", a.Len(), subjects)
				}
				b.ReportMetric(float64(n)/took.Seconds(), "events/s")
			})
		})
	}
}

// once runs fn a single time, whatever -benchtime says: a measurement
// too long to repeat (one process over the whole stream, one read of
// every stored event), timed and reported by fn itself. The empty b.Loop
// iterations keep the framework from calling the benchmark again with a
// larger b.N.
func once(b *testing.B, fn func()) {
	ran := false
	for b.Loop() {
		if !ran {
			ran = true
			fn()
		}
	}
}

// bareFullRead reads the first n messages of FLEET_EVENTS with an ordered
// consumer, through the calls fleetview.EventReader makes (Messages with
// its pull size, Next), and does nothing with them: the floor of the full
// fold.
func bareFullRead(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, fleet.EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(10_000))
	if err != nil {
		b.Fatal(err)
	}
	defer msgs.Stop()
	for i := range n {
		if _, err := msgs.Next(jetstream.NextContext(ctx)); err != nil {
			b.Fatalf("read event %d of %d: %v", i+1, n, err)
		}
	}
}

// envInts returns the comma-separated integers of environment variable
// name, or full (short when quick).
func envInts(b *testing.B, name string, full, short []int) []int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		if quick() {
			return short
		}
		return full
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want positive integers separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

func statusDevice(i int) fleet.DeviceID { return fleet.DeviceID(fmt.Sprintf("device-%05d", i)) }

func statusDeployment(i int) fleet.DeploymentName {
	return fleet.DeploymentName(fmt.Sprintf("deployment-%d", i))
}

// statusLabels are the registry labels of device i: the 3 fleet
// deployments select site=a, site=b and fleet=yes (every device).
func statusLabels(i int) map[string]string {
	return map[string]string{"site": []string{"a", "b"}[i%2], "fleet": "yes"}
}

// publisher returns an async JetStream publisher on env's connection with
// a window of 4,096 unacked messages, and the count of failed publishes.
func asyncPublisher(b *testing.B, env *natsEnv) (jetstream.JetStream, *atomic.Int64) {
	b.Helper()
	var failed atomic.Int64
	js, err := jetstream.New(env.nc,
		jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	return js, &failed
}

func waitAcks(b *testing.B, js jetstream.JetStream, failed *atomic.Int64, what string) {
	b.Helper()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(waitTimeout):
		b.Fatalf("%s: %d publishes not acked within %s", what, js.PublishAsyncPending(), waitTimeout)
	}
	if failed.Load() > 0 {
		b.Fatalf("%s: %d publishes failed", what, failed.Load())
	}
}

// fillFleet enrolls devices, writes their snapshots (every deployment
// running, as of the revision of their last round of events, far ahead
// so that each pair's newest event is the snapshot's) and the 3 fleet
// deployments.
func fillFleet(b *testing.B, env *natsEnv, devices int) {
	b.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, bucket := range []string{fleet.DeviceRegistryBucket, fleet.DeploymentsBucket} {
		if _, err := env.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket}); err != nil {
			b.Fatal(err)
		}
	}
	js, failed := asyncPublisher(b, env)
	put := func(bucket, key string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync("$KV."+bucket+"."+key, data, jetstream.WithStallWait(waitTimeout)); err != nil {
			b.Fatalf("put %s %s: %v", bucket, key, err)
		}
	}
	now := time.Now().UTC()
	for i := range devices {
		id := statusDevice(i)
		put(fleet.DeviceRegistryBucket, string(id), fleet.DeviceRecord{DeviceID: id, Labels: statusLabels(i), EnrolledAt: now})
		info := fleet.DeviceInfo{DeviceID: id, AgentEpoch: 1875123456789012, AgentVersion: "0.3.0", Hostname: string(id), OS: "linux", Arch: "arm64",
			Labels: statusLabels(i), StartedAt: now, HeartbeatAt: now,
			Revision:    fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 1},
			Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{}}
		for d := range statusDeployments {
			info.Deployments[statusDeployment(d)] = fleet.DeploymentStatus{Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 1}}
		}
		put(fleet.DeviceInfoBucket, string(id), info)
	}
	for d, sel := range []map[string]string{{"site": "a"}, {"site": "b"}, {"fleet": "yes"}} {
		name := statusDeployment(d)
		put(fleet.DeploymentsBucket, string(name), fleet.FleetDeployment{Name: name, Selector: sel, Generation: 1,
			Spec: fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "3600"}}, Rollout: fleet.DefaultRolloutPolicy()})
	}
	waitAcks(b, js, failed, "fill the buckets")
	b.Logf("buckets filled: %d devices in %s", devices, time.Since(start).Round(time.Millisecond))
}

// publishStatusEvents publishes events from to to (exclusive) of the
// stream (statusEvent), with their Msg-Id, as agents do.
func publishStatusEvents(b *testing.B, env *natsEnv, devices, from, to int) {
	b.Helper()
	start := time.Now()
	js, failed := asyncPublisher(b, env)
	at := time.Now().UTC()
	for i := from; i < to; i++ {
		e := statusEvent(devices, i, at)
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: e.Subject(), Data: data}, jetstream.WithMsgID(e.MsgID(benchNonce)), jetstream.WithStallWait(waitTimeout)); err != nil {
			b.Fatalf("publish event %d: %v", i, err)
		}
	}
	waitAcks(b, js, failed, "fill the stream")
	b.Logf("stream filled to %d events (+%d) in %s", to, to-from, time.Since(start).Round(time.Millisecond))
}

// statusEvent is event i of the stream: pair i mod (devices x 3) in round
// i / (devices x 3), phases cycling; each device's revisions grow (the
// first snapshots, at sequence 1, are older than every event).
func statusEvent(devices, i int, at time.Time) fleet.StateChangeEvent {
	pairs := devices * statusDeployments
	round, p := i/pairs, i%pairs
	dev, dep := p/statusDeployments, p%statusDeployments
	return fleet.StateChangeEvent{
		DeviceID:   statusDevice(dev),
		Deployment: statusDeployment(dep),
		Revision:   fleet.Revision{AgentEpoch: 1875123456789012, Sequence: uint64(2 + round*statusDeployments + dep)},
		Transition: fleet.Applied(fleet.PhasePending, fleet.Phases[(round+1)%len(fleet.Phases)], ""),
		At:         at,
	}
}

// writeSnapshots rewrites every device's snapshot as its agent would
// after the first n events: each deployment at its newest event (or
// running at sequence 1 if it had none), the revision the newest of them.
func writeSnapshots(b *testing.B, env *natsEnv, devices, n int) {
	b.Helper()
	start := time.Now()
	js, failed := asyncPublisher(b, env)
	pairs := devices * statusDeployments
	now := time.Now().UTC()
	for d := range devices {
		id := statusDevice(d)
		info := fleet.DeviceInfo{DeviceID: id, AgentEpoch: 1875123456789012, AgentVersion: "0.3.0", Hostname: string(id), OS: "linux", Arch: "arm64",
			Labels: statusLabels(d), StartedAt: now, HeartbeatAt: now, HeartbeatIntervalSeconds: 30,
			Revision:    fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 1},
			Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{}}
		for dep := range statusDeployments {
			st := fleet.DeploymentStatus{Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 1}}
			if p := d*statusDeployments + dep; p < n {
				e := statusEvent(devices, p+(n-1-p)/pairs*pairs, now)
				st = fleet.DeploymentStatus{Phase: e.Transition.To, Revision: e.Revision}
			}
			info.Deployments[statusDeployment(dep)] = st
			if st.Revision.Compare(info.Revision) > 0 {
				info.Revision = st.Revision
			}
		}
		data, err := json.Marshal(info)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync("$KV."+fleet.DeviceInfoBucket+"."+string(id), data, jetstream.WithStallWait(waitTimeout)); err != nil {
			b.Fatalf("put device-info %s: %v", id, err)
		}
	}
	waitAcks(b, js, failed, "write the snapshots")
	b.Logf("snapshots rewritten after %d events in %s", n, time.Since(start).Round(time.Millisecond))
}

// checkFleetStatus fails b unless s is the fleet's: 3 deployments, every
// device in one phase, targeted half, half and all.
func checkFleetStatus(b *testing.B, s fleetview.Status, devices int) {
	b.Helper()
	if len(s.Deployments) != statusDeployments {
		b.Fatalf("status: %d deployments, want %d", len(s.Deployments), statusDeployments)
	}
	for i, d := range s.Deployments {
		want := []int{(devices + 1) / 2, devices / 2, devices}[i]
		if d.Counts.Total() != devices || d.Counts.Targeted == nil || *d.Counts.Targeted != want {
			b.Fatalf("status of %s: %+v, want %d devices, %d targeted", d.Name, d.Counts, devices, want)
		}
	}
}

// bareFloor is the floor of status: bareLastPerSubject and
// bareBucketRead of device-info at once, as status reads them, each
// checked against the count it must read.
func bareFloor(b testing.TB, js jetstream.JetStream, subjects, devices int) {
	b.Helper()
	var (
		wg             sync.WaitGroup
		events, infos  int
		evErr, infoErr error
	)
	wg.Go(func() { events, evErr = bareLastPerSubject(js) })
	infos, infoErr = bareBucketRead(js, fleet.DeviceInfoBucket)
	wg.Wait()
	if evErr != nil || infoErr != nil {
		b.Fatalf("floor: %v", errors.Join(evErr, infoErr))
	}
	if events != subjects {
		b.Fatalf("last per subject read %d messages, want %d", events, subjects)
	}
	if infos != devices {
		b.Fatalf("device-info read %d snapshots, want %d", infos, devices)
	}
}

// bareLastPerSubject reads the newest message of every subject of
// FLEET_EVENTS with the same consumer as fleetview.ReadLastEvents and
// does nothing with them; it returns how many it read.
func bareLastPerSubject(js jetstream.JetStream) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cons, err := js.CreateConsumer(ctx, fleet.EventsStream, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy, FilterSubject: fleet.EventsSubjects,
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = js.DeleteConsumer(context.Background(), fleet.EventsStream, cons.CachedInfo().Name) }()
	pending := int(cons.CachedInfo().NumPending)
	msgs, err := cons.Messages(jetstream.PullMaxMessages(10_000))
	if err != nil {
		return 0, err
	}
	defer msgs.Stop()
	for i := range pending {
		if _, err := msgs.Next(jetstream.NextContext(ctx)); err != nil {
			return i, fmt.Errorf("read message %d of %d: %w", i+1, pending, err)
		}
	}
	return pending, nil
}

// bareBucketRead reads every entry of bucket through a watch and does
// nothing with them; it returns how many it read.
func bareBucketRead(js jetstream.JetStream, bucket string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return 0, err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, err
	}
	defer func() { _ = w.Stop() }()
	n := 0
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return n, nil
			}
			n++
		case <-ctx.Done():
			return n, fmt.Errorf("read bucket %s: %w after %d", bucket, ctx.Err(), n)
		}
	}
}

// buildFleetCLI builds harmony-fleet for this machine into b's temporary
// directory.
func buildFleetCLI(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "harmony-fleet")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/harmony-fleet")
	cmd.Dir = moduleDir(b)
	if data, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build harmony-fleet: %v\n%s", err, data)
	}
	return out
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// runEventsTable runs `harmony-fleet events -o table` against url and
// returns its peak resident memory, how long it took and how many lines
// it printed. The peak is VmHWM of /proc/<pid>/status, read every 10 ms
// until the process exits (a high-water mark: the last read misses at
// most the last 10 ms). getrusage's ru_maxrss of the child cannot tell:
// Go starts a child with vfork, and exec carries this process's (large)
// high-water mark into it.
func runEventsTable(b *testing.B, bin, url string) (int64, time.Duration, int) {
	b.Helper()
	var out lineCounter
	var errOut bytes.Buffer
	cmd := exec.Command(bin, "events", "-o", "table", "-s", url, "--timeout", "2m")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("harmony-fleet events: %v", err)
	}
	exited := make(chan error, 1) // Wait's one result
	go func() { exited <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var hwm int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if v, ok := readVmHWM(status); ok {
			hwm = max(hwm, v)
		}
		select {
		case err := <-exited:
			if err != nil {
				b.Fatalf("harmony-fleet events: %v\n%s", err, errOut.String())
			}
			if hwm == 0 {
				b.Fatalf("harmony-fleet events: no VmHWM read from %s", status)
			}
			return hwm, time.Since(start), out.n
		case <-tick.C:
		}
	}
}

// readVmHWM returns the VmHWM of a /proc/<pid>/status file, in bytes.
func readVmHWM(path string) (int64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err == nil && kb > 0
			}
		}
	}
	return 0, false
}

// The environment of TestFleetStatusFloorProcess.
const (
	floorURLEnv  = "HARMONY_BENCH_FLOOR_URL"
	floorWantEnv = "HARMONY_BENCH_FLOOR_DEVICES"
	// floorSubjectsEnv: how many subjects hold an event.
	floorSubjectsEnv = "HARMONY_BENCH_FLOOR_SUBJECTS"
)

// TestFleetStatusFloorProcess is the floor of BenchmarkFleetStatus's
// status-process, run by it as a process of this binary: connect, read
// the newest message of every subject and every device-info entry at
// once (bareFloor), do nothing with them. Without its environment it
// skips.
func TestFleetStatusFloorProcess(t *testing.T) {
	url := os.Getenv(floorURLEnv)
	if url == "" {
		t.Skip("a subprocess of BenchmarkFleetStatus: nothing to do as a test (not a CI skip)")
	}
	devices, err := strconv.Atoi(os.Getenv(floorWantEnv))
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := strconv.Atoi(os.Getenv(floorSubjectsEnv))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bareFloor(t, js, subjects, devices)
}

// runProcess runs bin with args and returns its standard output; it
// fails b if it fails.
func runProcess(b *testing.B, bin string, args ...string) []byte {
	b.Helper()
	return runProcessEnv(b, nil, bin, args...)
}

func runProcessEnv(b *testing.B, env []string, bin string, args ...string) []byte {
	b.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.Bytes()
}
