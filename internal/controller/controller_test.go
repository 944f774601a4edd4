//go:build embednats

package controller

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap/zaptest"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// env is one server with every bucket, and a client on it.
type env struct {
	t                                                     *testing.T
	js                                                    jetstream.JetStream
	registry, deployments, desired, rollouts, lease, info jetstream.KeyValue
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	ctx := t.Context()
	// The lease bucket with the short TTL these tests give the controller.
	resources := natsconn.FleetResources(natsconn.DefaultResourceSettings())
	for i, r := range resources {
		if r.Bucket != nil && r.Bucket.Bucket == fleet.ControllerBucket {
			c := *r.Bucket
			c.TTL = 2 * time.Second
			resources[i].Bucket = &c
		}
	}
	if err := natsconn.Ensure(ctx, js, resources, natsconn.EnsureOptions{Create: true}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, js: js}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&e.registry, fleet.DeviceRegistryBucket}, {&e.deployments, fleet.DeploymentsBucket}, {&e.desired, fleet.DesiredStateBucket},
		{&e.rollouts, fleet.RolloutsBucket}, {&e.lease, fleet.ControllerBucket}, {&e.info, fleet.DeviceInfoBucket}} {
		var err error
		if *b.kv, err = js.KeyValue(ctx, b.name); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) put(kv jetstream.KeyValue, key string, v any) {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := kv.Put(e.t.Context(), key, b); err != nil {
		e.t.Fatal(err)
	}
}

// online writes a fresh snapshot for id, running deployments.
func (e *env) online(id fleet.DeviceID, deps map[fleet.DeploymentName]fleet.DeploymentStatus, seq uint64) {
	now := time.Now().UTC()
	e.put(e.info, string(id), fleet.DeviceInfo{DeviceID: id, AgentEpoch: 1, StartedAt: now, HeartbeatAt: now,
		Revision: fleet.Revision{AgentEpoch: 1, Sequence: seq}, Deployments: deps})
}

// start runs a controller until the test ends.
func (e *env) start(id string) (*Controller, context.CancelFunc) {
	e.t.Helper()
	return e.startWith(id, nil)
}

// startWith is start with a signing key.
func (e *env) startWith(id string, kp nkeys.KeyPair) (*Controller, context.CancelFunc) {
	e.t.Helper()
	c, err := New(Config{JS: e.js, ID: id, Signer: kp, Log: zaptest.NewLogger(e.t), LeaseTTL: 2 * time.Second,
		RenewEvery: 500 * time.Millisecond, AcquireEvery: 100 * time.Millisecond, Tick: 100 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	stop := func() { cancel(); wg.Wait() }
	e.t.Cleanup(stop)
	return c, stop
}

func (e *env) key(k string) (jetstream.KeyValueEntry, bool) {
	got, err := e.desired.Get(e.t.Context(), k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return got, true
}

var spec = fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/sleep", "60"}}

// TestTargetsAndLeavesOthersAlone: a fleet deployment's keys are written
// to the matching devices only, a relabelled device's key is deleted, and
// a key of another deployment is never touched.
func TestTargetsAndLeavesOthersAlone(t *testing.T) {
	e := newEnv(t)
	for _, id := range []fleet.DeviceID{"d1", "d2", "d3"} {
		site := "lyon"
		if id == "d3" {
			site = "paris"
		}
		e.put(e.registry, string(id), fleet.DeviceRecord{DeviceID: id, Labels: map[string]string{"site": site}, EnrolledAt: time.Now().UTC()})
		e.online(id, nil, 0)
	}
	soloRev, err := e.desired.Put(t.Context(), "d1.solo", []byte(`{"runtime":"process","command":["/bin/true"]}`))
	if err != nil {
		t.Fatal(err)
	}
	pol := fleet.DefaultRolloutPolicy()
	pol.Batch = fleet.Batch{Amount: fleet.Amount{N: 100, Percent: true}}
	pol.MinReadySeconds = 0
	e.put(e.deployments, "web", fleet.FleetDeployment{Name: "web", Selector: map[string]string{"site": "lyon"}, Spec: spec, Generation: 5, Rollout: pol})
	c, _ := e.start("a")
	testsupport.WaitFor(t, "web written to d1 and d2", func() bool {
		_, ok1 := e.key("d1.web")
		_, ok2 := e.key("d2.web")
		return ok1 && ok2
	})
	if _, ok := e.key("d3.web"); ok {
		t.Errorf("d3.web written; d3 (site=paris) is not targeted")
	}
	if !c.Status().Leader {
		t.Errorf("Status().Leader = false, want true for the only replica")
	}
	e.put(e.registry, "d2", fleet.DeviceRecord{DeviceID: "d2", Labels: map[string]string{"site": "paris"}, EnrolledAt: time.Now().UTC()})
	testsupport.WaitFor(t, "d2.web deleted after relabel", func() bool {
		_, ok := e.key("d2.web")
		return !ok
	})
	// d1 runs it (ready at once: min_ready 0), so the rollout completes
	// and a device joining later gets it at once.
	e.online("d1", map[fleet.DeploymentName]fleet.DeploymentStatus{
		"web": {Phase: fleet.PhaseRunning, SpecHash: fleet.SpecHash(spec), Revision: fleet.Revision{AgentEpoch: 1, Sequence: 1}}}, 1)
	// Back in: the key is written again, over its delete marker.
	e.put(e.registry, "d2", fleet.DeviceRecord{DeviceID: "d2", Labels: map[string]string{"site": "lyon"}, EnrolledAt: time.Now().UTC()})
	testsupport.WaitFor(t, "d2.web written again after relabel back", func() bool {
		_, ok := e.key("d2.web")
		return ok
	})
	if got, ok := e.key("d1.solo"); !ok || got.Revision() != soloRev {
		t.Errorf("d1.solo (apply --device) touched: %v", got)
	}
	st, err := e.rollouts.Get(t.Context(), "web")
	if err != nil {
		t.Fatalf("rollouts web: %v", err)
	}
	var s fleet.RolloutStatus
	if err := json.Unmarshal(st.Value(), &s); err != nil || s.Generation != 5 || s.Targeted == 0 {
		t.Errorf("rollouts web = %s (%v), want generation 5", st.Value(), err)
	}
}

// TestLeaseFailover: only one of two replicas holds the lease; when it
// stops, the other takes over within the TTL and a second.
func TestLeaseFailover(t *testing.T) {
	e := newEnv(t)
	a, stopA := e.start("a")
	testsupport.WaitFor(t, "a leads", func() bool { return a.Status().Leader })
	b, _ := e.start("b")
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if b.Status().Leader {
			t.Fatal("b leads while a holds the lease")
		}
		if !a.Status().Leader {
			t.Fatal("a lost the lease while renewing it")
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopA()
	start := time.Now()
	testsupport.WaitFor(t, "b leads after a stopped", func() bool { return b.Status().Leader })
	t.Logf("takeover after a graceful stop: %v", time.Since(start))
}

// TestLeaseLostStopsWriting: a holder whose key is overwritten stops
// acting at its next renewal.
func TestLeaseLostStopsWriting(t *testing.T) {
	e := newEnv(t)
	a, _ := e.start("a")
	testsupport.WaitFor(t, "a leads", func() bool { return a.Status().Leader })
	if _, err := e.lease.Put(t.Context(), fleet.LeaderKey, []byte(`{"holder":"intruder"}`)); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "a steps down", func() bool { return !a.Status().Leader })
}

// TestSignedWrites: with a signing key, every value is an envelope that
// verifies under it, for its own device and deployment, at the fleet
// deployment's generation.
func TestSignedWrites(t *testing.T) {
	e := newEnv(t)
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	e.put(e.registry, "d1", fleet.DeviceRecord{DeviceID: "d1", Labels: map[string]string{"site": "lyon"}, EnrolledAt: time.Now().UTC()})
	e.online("d1", nil, 0)
	e.put(e.deployments, "web", fleet.FleetDeployment{Name: "web", Selector: map[string]string{"site": "lyon"}, Spec: spec, Generation: 1796000000000, Rollout: fleet.DefaultRolloutPolicy()})
	e.startWith("a", kp)
	var got jetstream.KeyValueEntry
	testsupport.WaitFor(t, "d1.web written", func() bool {
		var ok bool
		got, ok = e.key("d1.web")
		return ok
	})
	st, err := signed.Verify(got.Value(), []string{pub}, "d1", "web")
	if err != nil {
		t.Fatalf("d1.web does not verify: %v\n%s", err, got.Value())
	}
	if st.Generation != 1796000000000 || fleet.SpecHash(st.Spec) != fleet.SpecHash(spec) {
		t.Errorf("d1.web statement = generation %d, spec %s; want 1796000000000 and the deployment's spec", st.Generation, fleet.SpecHash(st.Spec))
	}
}
