//go:build embednats

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/controller"
)

// failoverDevices is how many devices the failover deployment targets.
const failoverDevices = 3

// BenchmarkFailover measures the fleet controller's failover (issue 16,
// figure 4; ARCHITECTURE 9: a standby takes over within 10 s): two
// `harmony-fleet serve` processes (built for this run, no HTTP, each its
// own --id) against the benchmark's in-process server, and a fleet
// deployment (--batch 100%) targeting 3 enrolled devices, whose device-info
// snapshots (written by the benchmark, heartbeat interval 1h) keep them
// online; no agent runs: the figure is the controller's.
//
// Each of BENCH_FAILOVER_TRIALS (10; quick 3) trials waits a random part
// of a lease renewal period (so that the kill falls anywhere in it), finds
// the acting replica from the fleet-controller bucket's leader key, kills
// it (SIGKILL), and right after its exit runs `harmony-fleet deploy` with a
// new spec: the standby, once it holds the lease, has 3 keys to write. It
// times, from the kill, by the server's stored timestamps:
//
//   - write: the first desired-state put of the new spec (the standby's
//     first write); metrics p50-ms, max-ms. Target: max <= 10 s; goal 5 s.
//   - lease: the leader key taken by the standby; lease-p50-ms,
//     lease-max-ms (and lease-p99-ms).
//   - expiry: when the dead holder's last renewal expired (its stored time
//     plus the bucket's TTL); expiry-p50-ms, expiry-max-ms.
//
// ttl-ms is the bucket's TTL, the floor: a dead holder's lease lasts up to
// that long. The killed replica is started again, as the standby, before
// the next trial. Run it with -benchtime=1x.
func BenchmarkFailover(b *testing.B) {
	trials := envInt(b, "BENCH_FAILOVER_TRIALS", 10, 3)
	env := startNATS(b)
	bin := buildFleetCLI(b)
	const name = fleet.DeploymentName("failover")
	const selector = "role=failover"

	serves := map[string]*fleetServe{"serve-a": startFleetServe(b, bin, env.url, "serve-a")}
	serves["serve-a"].waitStatus(b, "acting")
	serves["serve-b"] = startFleetServe(b, bin, env.url, "serve-b")
	serves["serve-b"].waitStatus(b, "standby")

	leaseKV := keyValue(b, env.js, fleet.ControllerBucket)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	st, err := leaseKV.Status(ctx)
	cancel()
	if err != nil {
		b.Fatalf("status of bucket %s: %v", fleet.ControllerBucket, err)
	}
	ttl := st.TTL()
	registry := keyValue(b, env.js, fleet.DeviceRegistryBucket)
	infos := keyValue(b, env.js, fleet.DeviceInfoBucket)
	now := time.Now().UTC()
	for i := range failoverDevices {
		id := fleet.DeviceID(fmt.Sprintf("failover-%d", i))
		putJSON(b, registry, string(id), fleet.DeviceRecord{DeviceID: id, Labels: map[string]string{"role": "failover"}, EnrolledAt: now})
		putJSON(b, infos, string(id), fleet.DeviceInfo{DeviceID: id, AgentEpoch: 1875123456789012, AgentVersion: "bench", Hostname: string(id),
			OS: "linux", Arch: "amd64", StartedAt: now, HeartbeatAt: now, HeartbeatIntervalSeconds: 3600,
			Revision: fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 1}})
	}

	desired := watchKeys(b, env.kv, "*."+string(name))
	leases := watchKeys(b, leaseKV, fleet.LeaderKey)
	// waitWritten waits until every device's key holds the spec of hash
	// and returns the stored time of the first of those puts.
	waitWritten := func(hash string) time.Time {
		b.Helper()
		var first time.Time
		written := map[string]bool{}
		for len(written) < failoverDevices {
			e := nextEntry(b, desired, "desired keys with "+hash[:12], func(e jetstream.KeyValueEntry) bool { return specHashOf(e) == hash })
			if first.IsZero() {
				first = e.Created()
			}
			written[e.Key()] = true
		}
		return first
	}
	deployFleet(b, bin, env.url, name, processSpec(0), selector, "--batch", "100%")
	waitWritten(hashOf(b, processSpec(0)))

	var write, lease, expiry latencies
	for b.Loop() {
		for trial := range trials {
			// The kill falls anywhere in the holder's renewal period:
			// how long its lease outlives it depends on where.
			time.Sleep(rand.N(controller.DefaultRenewEvery))
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			held, err := leaseKV.Get(ctx, fleet.LeaderKey)
			cancel()
			if err != nil {
				b.Fatalf("trial %d: get the lease: %v", trial, err)
			}
			acting := leaseHolder(held)
			s, ok := serves[acting]
			if !ok {
				b.Fatalf("trial %d: the lease names %q, not a replica of this benchmark", trial, acting)
			}
			killed := time.Now()
			s.kill(b)
			spec := processSpec(len(write) + 1) // new in every trial, whatever -benchtime
			deployFleet(b, bin, env.url, name, spec, selector, "--batch", "100%")
			deployed := time.Now()

			// The dead holder's last renewal: the key still holds it
			// (it outlives the kill by at least TTL - the renewal period).
			ctx, cancel = context.WithTimeout(context.Background(), waitTimeout)
			last, err := leaseKV.Get(ctx, fleet.LeaderKey)
			cancel()
			expired := "?"
			if err == nil && leaseHolder(last) == acting {
				expiry = append(expiry, last.Created().Add(ttl).Sub(killed))
				expired = expiry[len(expiry)-1].Round(time.Millisecond).String()
			}
			taken := nextEntry(b, leases, "the lease taken from "+acting, func(e jetstream.KeyValueEntry) bool {
				h := leaseHolder(e)
				return h != "" && h != acting
			})
			first := waitWritten(hashOf(b, spec))
			lease = append(lease, taken.Created().Sub(killed))
			write = append(write, first.Sub(killed))
			b.Logf("trial %d: killed %s; deploy returned after %v, its lease expired after %s, taken by %s after %v, first write after %v",
				trial, acting, deployed.Sub(killed).Round(time.Millisecond), expired, leaseHolder(taken),
				lease[len(lease)-1].Round(time.Millisecond), write[len(write)-1].Round(time.Millisecond))

			// Back as the standby.
			serves[acting] = startFleetServe(b, bin, env.url, acting)
			serves[acting].waitStatus(b, "standby")
		}
	}
	write.report(b)
	lease.reportAs(b, "lease")
	expiry.reportAs(b, "expiry")
	b.ReportMetric(ms(ttl), "ttl-ms")
	b.ReportMetric(float64(len(write)), "trials")
}
