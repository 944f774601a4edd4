//go:build embednats

package e2e

// TestFleetController is issue 13's end-to-end test of fleet deployments:
// a 3-node JetStream cluster of in-process servers, two harmony-fleet
// serve replicas and six real agents (process runtime) as processes of
// their own, driven through the CLI (device add|label, deploy, rollout
// status) and checked from what NATS holds: every desired-state write and
// every event, recorded by the test's own client from the start.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/controller"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// keyWrite is one desired-state entry the test saw.
type keyWrite struct {
	key     string
	deleted bool
	hash    string // the spec's hash; "" for a delete
	rev     uint64
	seen    time.Time
}

// ctlEnv is the fleet of TestFleetController.
type ctlEnv struct {
	*fleetEnv
	js      jetstream.JetStream
	desired jetstream.KeyValue
	lease   jetstream.KeyValue
	rolls   jetstream.KeyValue

	mu     sync.Mutex
	serves map[string]*proc
	writes []keyWrite
	events []fleet.StateChangeEvent
}

func TestFleetController(t *testing.T) {
	begin := time.Now()
	step := func(what string) { t.Logf("---- %6.1fs %s", time.Since(begin).Seconds(), what) }

	// Started before the env, so that it stops after every process.
	cluster := natstest.StartCluster(t)
	e := &ctlEnv{fleetEnv: newFleetEnv(t), serves: map[string]*proc{}}
	e.url = cluster.ClientURLs()
	t.Cleanup(e.stopServes) // runs before the env's cleanup (agents, workloads)
	e.connect()

	step("init --replicas 3 (every bucket, the lease's included); record every write and event")
	e.mustFleet("init", "--replicas", "3")
	ctx := t.Context()
	e.openBuckets()
	e.record()

	step("six agents, five enrolled with site=lyon, one with site=paris")
	devices := []string{"dev-0", "dev-1", "dev-2", "dev-3", "dev-4", "dev-5"}
	for _, d := range devices {
		site := "lyon"
		if d == "dev-0" {
			site = "paris"
		}
		e.addAgent(d, map[string]string{"site": site}, noPodman)
		e.mustFleet("device", "add", d, "--label", "site="+site)
		e.startAgent(d)
	}
	e.waitInfo(devices...)
	solo := e.writeSpec("solo.json", `{"runtime":"process","command":["/bin/sleep","3602"],"restart":"always"}`)
	e.mustFleet("apply", "solo", "-f", solo, "--device", "dev-1")
	soloEntry, err := e.desired.Get(ctx, "dev-1.solo")
	if err != nil {
		t.Fatal(err)
	}

	step("no controller: deploy warns")
	v1, h1 := e.spec("v1", `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"V":"1"},"restart":"always"}`)
	_, stderr := e.fleetStderr("deploy", "web", "-f", v1, "--selector", "site=lyon", "--batch", "100%", "--min-ready", "1s")
	if !strings.Contains(stderr, "no controller holds the lease") {
		t.Errorf("deploy with no serve running: stderr %q, want the no-controller warning", stderr)
	}

	step("two serve replicas; deploy web by selector: every targeted device runs it")
	e.startServe("serve-a")
	e.poll("serve-a holds the lease", func() (bool, string) {
		h := e.holder()
		return h == "serve-a", "holder " + h
	})
	e.startServe("serve-b")
	lyon := []string{"dev-1", "dev-2", "dev-3", "dev-4", "dev-5"}
	e.waitRollout("web", h1, fleet.RolloutComplete)
	e.waitRunning("web", h1, lyon...)
	if _, ok := e.readPID("dev-0", "web"); ok {
		t.Errorf("web runs on dev-0 (site=paris), outside the selector")
	}
	var st struct {
		Rollouts []fleet.RolloutStatus `json:"rollouts"`
	}
	if err := e.fleetJSON(&st, "rollout", "status", "web"); err != nil {
		t.Fatal(err)
	}
	if len(st.Rollouts) != 1 || st.Rollouts[0].Targeted != 5 || st.Rollouts[0].State != fleet.RolloutComplete {
		t.Errorf("rollout status web -o json = %+v, want complete with 5 targeted", st.Rollouts)
	}

	step("enrol a sixth matching device: running within 2 s of enrolment")
	e.addAgent("dev-6", map[string]string{"site": "lyon"}, noPodman)
	e.startAgent("dev-6")
	e.waitInfo("dev-6")
	enrolled := time.Now()
	e.mustFleet("device", "add", "dev-6", "--label", "site=lyon")
	written := e.waitWrite("dev-6.web", h1, enrolled)
	running := e.waitEvent("dev-6", "web", fleet.PhaseRunning, h1, enrolled)
	t.Logf("late joiner: key written %v, workload running %v after enrolment", written.Sub(enrolled).Round(time.Millisecond), running.Sub(enrolled).Round(time.Millisecond))
	if d := written.Sub(enrolled); d > 2*time.Second {
		t.Errorf("dev-6.web written %v after dev-6's enrolment, want within 2s", d)
	}
	if d := running.Sub(written); d > 5*time.Second {
		t.Errorf("web running on dev-6 %v after its key was written; the agent took too long", d)
	}
	lyon = append(lyon, "dev-6")

	step("relabel dev-3 out: its key is deleted and its workload removed")
	pid3 := e.mustPID("dev-3", "web")
	e.mustFleet("device", "label", "dev-3", "site=paris")
	e.poll("dev-3.web deleted and its workload gone", func() (bool, string) {
		_, err := e.desired.Get(ctx, "dev-3.web")
		return errors.Is(err, jetstream.ErrKeyNotFound) && !alive(pid3), fmt.Sprintf("get: %v, alive %v", err, alive(pid3))
	})
	lyon = slices.DeleteFunc(lyon, func(d string) bool { return d == "dev-3" })

	step("spec change with --batch 1: one device at a time, in order")
	mark := e.mark()
	v2, h2 := e.spec("v2", `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"V":"2"},"restart":"always"}`)
	e.mustFleet("deploy", "web", "-f", v2, "--selector", "site=lyon", "--batch", "1", "--min-ready", "1s", "--wait")
	e.waitRunning("web", h2, lyon...)
	e.checkWaves(mark, "web", h2, lyon)

	step("a version that exits 1, --max-failed 1 --auto-rollback: halts, rolls back")
	mark = e.mark()
	badAt := time.Now()
	bad, h3 := e.spec("bad", `{"runtime":"process","command":["/bin/sh","-c","exit 1"],"restart":"never"}`)
	if out, err := e.fleet("deploy", "web", "-f", bad, "--selector", "site=lyon", "--batch", "1", "--max-failed", "1",
		"--min-ready", "1s", "--auto-rollback", "--wait"); err == nil {
		t.Errorf("deploy --wait of a failing version: exit 0, want 1 (halted); stdout %s", out)
	}
	s := e.waitRollout("web", h3, fleet.RolloutHalted)
	if !strings.Contains(s.Message, "rolled back") {
		t.Errorf("halted rollout message %q, want it to say rolled back", s.Message)
	}
	took := e.putsOf(mark, "web", h3)
	if got, want := slices.Sorted(maps.Keys(took)), []string{"dev-1", "dev-2"}; !slices.Equal(got, want) {
		t.Errorf("devices that received the bad version: %v, want %v (two waves of 1, the second failure halts)", got, want)
	}
	for _, d := range []string{"dev-1", "dev-2"} {
		e.waitEvent(d, "web", fleet.PhaseFailed, h3, badAt)
		e.waitEvent(d, "web", fleet.PhaseRunning, h2, badAt) // back on the previous version
	}
	e.waitRunning("web", h2, lyon...)
	for _, d := range []string{"dev-1", "dev-2"} {
		if h := e.keyHash(d + ".web"); h != h2 {
			t.Errorf("%s.web holds %s after the rollback, want the previous version %s", d, short(h), short(h2))
		}
	}

	step("kill -9 the acting serve mid-rollout: the standby takes over")
	mark = e.mark()
	v4, h4 := e.spec("v4", `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"V":"4"},"restart":"always"}`)
	e.mustFleet("deploy", "web", "-f", v4, "--selector", "site=lyon", "--batch", "1", "--min-ready", "2s")
	e.poll("web v4 at wave 2", func() (bool, string) {
		s, _ := e.rollout("web")
		return s.SpecHash == h4 && s.Wave >= 2, fmt.Sprintf("%+v", s)
	})
	acting := e.holder()
	killed := time.Now()
	e.killServe(acting)
	e.poll("the standby holds the lease", func() (bool, string) {
		h := e.holder()
		return h != "" && h != acting, "holder " + h
	})
	tookOver := time.Now()
	acted := e.nextPut(killed, "web", h4)
	t.Logf("failover: lease taken %v, first write %v after kill -9 of %s", tookOver.Sub(killed).Round(time.Millisecond), acted.Sub(killed).Round(time.Millisecond), acting)
	if d := acted.Sub(killed); d > 10*time.Second {
		t.Errorf("the standby wrote %v after the holder's kill -9, want within 10s", d)
	}
	e.waitRollout("web", h4, fleet.RolloutComplete)
	e.checkOnePut(mark, "web", h4, lyon)
	e.startServe(acting) // back as the standby

	step("kill a NATS node mid-rollout: the rollout completes")
	mark = e.mark()
	v5, h5 := e.spec("v5", `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"V":"5"},"restart":"always"}`)
	e.mustFleet("deploy", "web", "-f", v5, "--selector", "site=lyon", "--batch", "1", "--min-ready", "1s")
	e.poll("web v5 at wave 2", func() (bool, string) {
		s, _ := e.rollout("web")
		return s.SpecHash == h5 && s.Wave >= 2, fmt.Sprintf("%+v", s)
	})
	node := cluster.StreamLeader("KV_" + fleet.DesiredStateBucket)
	if node == "" {
		node = cluster.Nodes()[0].Name()
	}
	t.Logf("shutting down %s (leader of KV_%s)", node, fleet.DesiredStateBucket)
	cluster.Node(node).Shutdown()
	e.waitRollout("web", h5, fleet.RolloutComplete)
	e.waitRunning("web", h5, lyon...)
	e.checkOnePut(mark, "web", h5, lyon)
	if err := cluster.Node(node).Restart(); err != nil {
		t.Fatalf("restart %s: %v", node, err)
	}

	step("a device offline during a rollout is updated when it returns")
	e.killAgent("dev-6")
	e.fleetEnv.mu.Lock()
	delete(e.agents, "dev-6") // stopped on purpose: poll must not fail on it
	e.fleetEnv.mu.Unlock()
	e.poll("dev-6 counted unavailable", func() (bool, string) {
		s, _ := e.rollout("web")
		return s.Unavailable == 1, fmt.Sprintf("%+v", s)
	})
	v6, h6 := e.spec("v6", `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"V":"6"},"restart":"always"}`)
	e.mustFleet("deploy", "web", "-f", v6, "--selector", "site=lyon", "--batch", "100%", "--min-ready", "1s")
	online := slices.DeleteFunc(slices.Clone(lyon), func(d string) bool { return d == "dev-6" })
	e.waitRollout("web", h6, fleet.RolloutComplete)
	e.waitRunning("web", h6, online...)
	if h := e.keyHash("dev-6.web"); h == h6 {
		t.Errorf("dev-6.web holds v6 while dev-6 is offline, want it left for its return")
	}
	back := time.Now()
	e.startAgent("dev-6")
	e.waitRunning("web", h6, "dev-6")
	t.Logf("dev-6 back: running v6 %v after its agent started", time.Since(back).Round(time.Millisecond))

	step("deploy --dry-run writes nothing")
	before := e.lastSeqs()
	v7, _ := e.spec("v7", `{"runtime":"process","command":["/bin/sleep","3600"],"env":{"V":"7"},"restart":"always"}`)
	var dry struct {
		Targeted []string   `json:"targeted"`
		Waves    [][]string `json:"waves"`
	}
	if err := e.fleetJSON(&dry, "deploy", "web", "-f", v7, "--selector", "site=lyon", "--batch", "2", "--dry-run"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dry.Targeted, lyon) || len(dry.Waves) != 3 || !slices.Equal(dry.Waves[0], lyon[:2]) {
		t.Errorf("deploy --dry-run = %+v, want targeted %v in waves of 2", dry, lyon)
	}
	time.Sleep(time.Second) // a write the dry run would have caused has had time to land
	if after := e.lastSeqs(); after != before {
		t.Errorf("deploy --dry-run: streams moved from %v to %v, want nothing written", before, after)
	}

	step("the key written by apply --device was never touched")
	if got, err := e.desired.Get(ctx, "dev-1.solo"); err != nil || got.Revision() != soloEntry.Revision() {
		t.Errorf("dev-1.solo: %v (err %v), want revision %d untouched", got, err, soloEntry.Revision())
	}
	e.mu.Lock()
	for _, w := range e.writes {
		if w.key == "dev-1.solo" && w.rev != soloEntry.Revision() {
			t.Errorf("dev-1.solo written at revision %d by someone", w.rev)
		}
		if strings.HasPrefix(w.key, "dev-0.") && !w.deleted {
			t.Errorf("%s written: dev-0 is outside every selector", w.key)
		}
	}
	e.mu.Unlock()
	if out, err := e.fleet("apply", "web", "-f", v1, "--device", "dev-1"); err == nil {
		t.Errorf("apply web --device dev-1 (a fleet deployment): exit 0, want a refusal; stdout %s", out)
	}

	step("undeploy web: every key deleted, every workload removed")
	pids := map[string]pidRecord{}
	for _, d := range lyon {
		pids[d] = e.mustPID(d, "web")
	}
	e.mustFleet("undeploy", "web")
	e.poll("web gone everywhere", func() (bool, string) {
		for d, p := range pids {
			if _, err := e.desired.Get(ctx, d+".web"); !errors.Is(err, jetstream.ErrKeyNotFound) || alive(p) {
				return false, d + " still has it"
			}
		}
		return true, ""
	})
	step("done")
}

// connect opens the test's own client on every node.
func (e *ctlEnv) connect() {
	nc, err := nats.Connect(e.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	if e.js, err = jetstream.New(nc, jetstream.WithDefaultTimeout(10*time.Second)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *ctlEnv) openBuckets() {
	var err error
	ctx := e.t.Context()
	if e.desired, err = e.js.KeyValue(ctx, fleet.DesiredStateBucket); err != nil {
		e.t.Fatal(err)
	}
	if e.lease, err = e.js.KeyValue(ctx, fleet.ControllerBucket); err != nil {
		e.t.Fatal(err)
	}
	if e.rolls, err = e.js.KeyValue(ctx, fleet.RolloutsBucket); err != nil {
		e.t.Fatal(err)
	}
}

// record keeps every desired-state write and every event from now on,
// until the test ends.
func (e *ctlEnv) record() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	e.t.Cleanup(func() { cancel(); wg.Wait() })
	w, err := e.desired.WatchAll(ctx, jetstream.IncludeHistory())
	if err != nil {
		e.t.Fatal(err)
	}
	wg.Go(func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case en := <-w.Updates():
				if en == nil {
					continue
				}
				kw := keyWrite{key: en.Key(), rev: en.Revision(), seen: time.Now(), deleted: en.Operation() != jetstream.KeyValuePut}
				if !kw.deleted {
					if spec, err := fleet.DecodeSpec(en.Value()); err == nil {
						kw.hash = fleet.SpecHash(spec)
					}
				}
				e.mu.Lock()
				e.writes = append(e.writes, kw)
				e.mu.Unlock()
			}
		}
	})
	cons, err := e.js.OrderedConsumer(ctx, fleet.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{fleet.EventsSubjects}})
	if err != nil {
		e.t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := fleet.DecodeEvent(m.Data())
		if err != nil {
			return
		}
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	wg.Go(func() { <-ctx.Done(); cc.Stop() })
}

// startServe starts (or starts again) the serve replica name.
func (e *ctlEnv) startServe(name string) {
	e.t.Helper()
	log := filepath.Join(e.root, name+".log")
	p := startProc(e.t, name, log, childEnv(), e.bin.fleet,
		"serve", "-s", e.url, "--heartbeat-interval", "1s", "--replicas", "3", "--id", name)
	e.mu.Lock()
	e.serves[name] = p
	e.mu.Unlock()
}

func (e *ctlEnv) killServe(name string) {
	e.t.Helper()
	e.mu.Lock()
	p := e.serves[name]
	e.mu.Unlock()
	if !p.signal(syscall.SIGKILL, stopTimeout) {
		e.t.Fatalf("%s still running after SIGKILL", name)
	}
}

// stopServes stops every replica with SIGTERM, dumping their logs first
// when the test failed.
func (e *ctlEnv) stopServes() {
	e.mu.Lock()
	serves := e.serves
	e.mu.Unlock()
	for name, p := range serves {
		if e.t.Failed() {
			e.t.Logf("==== %s ====\n%s", name, tail(p.log, logDumpBytes))
		}
		_ = p.stop(syscall.SIGTERM)
	}
}

// holder returns who holds the lease ("" none).
func (e *ctlEnv) holder() string {
	en, err := e.lease.Get(e.t.Context(), fleet.LeaderKey)
	if err != nil {
		return ""
	}
	var v controller.LeaseValue
	_ = json.Unmarshal(en.Value(), &v)
	return v.Holder
}

// spec writes a spec file and returns its path and hash.
func (e *ctlEnv) spec(name, text string) (string, string) {
	e.t.Helper()
	s, err := fleet.DecodeSpec([]byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.writeSpec(name+".json", text), fleet.SpecHash(s)
}

// fleetStderr runs harmony-fleet and returns its stdout and stderr,
// whatever its exit.
func (e *ctlEnv) fleetStderr(args ...string) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin.fleet, append(args, "-s", e.url)...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return stdout.String(), stderr.String()
}

// waitInfo waits until each device has a snapshot.
func (e *ctlEnv) waitInfo(devices ...string) {
	e.t.Helper()
	kv, err := e.js.KeyValue(e.t.Context(), fleet.DeviceInfoBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	e.poll(fmt.Sprintf("%v report", devices), func() (bool, string) {
		for _, d := range devices {
			if _, err := kv.Get(e.t.Context(), d); err != nil {
				return false, d + ": " + err.Error()
			}
		}
		return true, ""
	})
}

// rollout returns the rollout status of name.
func (e *ctlEnv) rollout(name string) (fleet.RolloutStatus, error) {
	en, err := e.rolls.Get(e.t.Context(), name)
	if err != nil {
		return fleet.RolloutStatus{}, err
	}
	var s fleet.RolloutStatus
	err = json.Unmarshal(en.Value(), &s)
	return s, err
}

// waitRollout waits until name's rollout of the spec of hash is in state.
func (e *ctlEnv) waitRollout(name, hash string, state fleet.RolloutState) fleet.RolloutStatus {
	e.t.Helper()
	var s fleet.RolloutStatus
	e.poll(fmt.Sprintf("rollout %s %s %s", name, short(hash), state), func() (bool, string) {
		var err error
		s, err = e.rollout(name)
		return err == nil && s.SpecHash == hash && s.State == state, fmt.Sprintf("%+v (%v)", s, err)
	})
	return s
}

// waitRunning waits until each device reports deployment name running the
// spec of hash.
func (e *ctlEnv) waitRunning(name, hash string, devices ...string) {
	e.t.Helper()
	kv, err := e.js.KeyValue(e.t.Context(), fleet.DeviceInfoBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	e.poll(fmt.Sprintf("%s %s running on %v", name, short(hash), devices), func() (bool, string) {
		for _, d := range devices {
			en, err := kv.Get(e.t.Context(), d)
			if err != nil {
				return false, d + ": " + err.Error()
			}
			var info fleet.DeviceInfo
			if err := json.Unmarshal(en.Value(), &info); err != nil {
				return false, d + ": " + err.Error()
			}
			st := info.Deployments[fleet.DeploymentName(name)]
			if st.Phase != fleet.PhaseRunning || st.SpecHash != hash {
				return false, fmt.Sprintf("%s: %s %s", d, st.Phase, short(st.SpecHash))
			}
			if _, ok := e.readPID(d, name); !ok {
				return false, d + ": no pid file"
			}
		}
		return true, ""
	})
}

// mark is the position in the recordings from which a check reads.
type position struct{ writes, events int }

func (e *ctlEnv) mark() position {
	e.mu.Lock()
	defer e.mu.Unlock()
	return position{len(e.writes), len(e.events)}
}

func (e *ctlEnv) since(m position) ([]keyWrite, []fleet.StateChangeEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.writes[m.writes:]), slices.Clone(e.events[m.events:])
}

// waitWrite waits for a put of key with the spec of hash seen after t0,
// and returns when it was seen.
func (e *ctlEnv) waitWrite(key, hash string, t0 time.Time) time.Time {
	e.t.Helper()
	var at time.Time
	e.poll(fmt.Sprintf("%s written with %s", key, short(hash)), func() (bool, string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, w := range e.writes {
			if w.key == key && w.hash == hash && w.seen.After(t0) {
				at = w.seen
				return true, ""
			}
		}
		return false, "not yet"
	})
	return at
}

// waitEvent waits for device's event of deployment name entering phase
// with the spec of hash, stamped after t0, and returns its time.
func (e *ctlEnv) waitEvent(device, name string, phase fleet.Phase, hash string, t0 time.Time) time.Time {
	e.t.Helper()
	var at time.Time
	e.poll(fmt.Sprintf("%s/%s %s %s", device, name, phase, short(hash)), func() (bool, string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, ev := range e.events {
			if string(ev.DeviceID) == device && string(ev.Deployment) == name && ev.Transition.Kind == fleet.KindApplied &&
				ev.Transition.To == phase && ev.SpecHash == hash && ev.At.After(t0) {
				at = ev.At
				return true, ""
			}
		}
		return false, "not yet"
	})
	return at
}

// nextPut waits for the first put of deployment name with the spec of
// hash seen after t0.
func (e *ctlEnv) nextPut(t0 time.Time, name, hash string) time.Time {
	e.t.Helper()
	var at time.Time
	e.poll("a write after "+t0.Format(time.StampMilli), func() (bool, string) {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, w := range e.writes {
			if strings.HasSuffix(w.key, "."+name) && w.hash == hash && w.seen.After(t0) {
				at = w.seen
				return true, ""
			}
		}
		return false, "none yet"
	})
	return at
}

// putsOf returns, per device, the puts of deployment name with the spec
// of hash since m.
func (e *ctlEnv) putsOf(m position, name, hash string) map[string][]keyWrite {
	writes, _ := e.since(m)
	out := map[string][]keyWrite{}
	for _, w := range writes {
		dev, dep, ok := strings.Cut(w.key, ".")
		if ok && dep == name && w.hash == hash {
			out[dev] = append(out[dev], w)
		}
	}
	return out
}

// recorderCatchUp bounds checkOnePut's wait for the recorder to see the
// writes already made (nats.go resets a stalled watch after 10-20 s).
const recorderCatchUp = 45 * time.Second

// checkOnePut checks that each device's key got the spec of hash exactly
// once since m: no wave started twice.
func (e *ctlEnv) checkOnePut(m position, name, hash string, devices []string) {
	e.t.Helper()
	// The test's own recorder is a plain KV watch: after a NATS node is
	// lost it catches up only when nats.go resets it (10-20 s), so wait
	// until it has seen a put for every device before counting them.
	testsupport.Until(recorderCatchUp, func() bool {
		puts := e.putsOf(m, name, hash)
		return !slices.ContainsFunc(devices, func(d string) bool { return len(puts[d]) == 0 })
	})
	puts := e.putsOf(m, name, hash)
	for _, d := range devices {
		if n := len(puts[d]); n != 1 {
			e.t.Errorf("%s.%s got %s %d times, want once", d, name, short(hash), n)
		}
	}
}

// checkWaves checks, from the writes and the events since m, that the
// spec of hash reached devices one at a time, in device order: each
// device's key was written only after the previous device reported it
// running.
func (e *ctlEnv) checkWaves(m position, name, hash string, devices []string) {
	e.t.Helper()
	e.checkOnePut(m, name, hash, devices)
	writes, events := e.since(m)
	var order []string
	written := map[string]time.Time{}
	for _, w := range writes {
		dev, dep, _ := strings.Cut(w.key, ".")
		if dep == name && w.hash == hash {
			order = append(order, dev)
			written[dev] = w.seen
		}
	}
	if !slices.Equal(order, devices) {
		e.t.Errorf("waves wrote %v, want %v", order, devices)
	}
	running := map[string]time.Time{}
	for _, ev := range events {
		if string(ev.Deployment) == name && ev.Transition.To == fleet.PhaseRunning && ev.SpecHash == hash {
			if _, ok := running[string(ev.DeviceID)]; !ok {
				running[string(ev.DeviceID)] = ev.At
			}
		}
	}
	for i := 1; i < len(order); i++ {
		prev, cur := order[i-1], order[i]
		if r, ok := running[prev]; !ok || !r.Before(written[cur]) {
			e.t.Errorf("%s's key written at %s, before %s ran the new spec (%s): two devices updating at once",
				cur, written[cur].Format(time.StampMilli), prev, r.Format(time.StampMilli))
		}
	}
	e.t.Logf("waves in order: %v", order)
}

// keyHash returns the hash of the spec key holds ("" none).
func (e *ctlEnv) keyHash(key string) string {
	en, err := e.desired.Get(e.t.Context(), key)
	if err != nil {
		return ""
	}
	s, err := fleet.DecodeSpec(en.Value())
	if err != nil {
		return ""
	}
	return fleet.SpecHash(s)
}

// lastSeqs returns the last sequence of the deployments and
// desired-state streams.
func (e *ctlEnv) lastSeqs() [2]uint64 {
	e.t.Helper()
	var out [2]uint64
	for i, b := range []string{fleet.DeploymentsBucket, fleet.DesiredStateBucket} {
		s, err := e.js.Stream(e.t.Context(), "KV_"+b)
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = s.CachedInfo().State.LastSeq
	}
	return out
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
