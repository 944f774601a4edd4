//go:build embednats

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

const epoch fleet.AgentEpoch = 1875123456789012

// waitTimeout bounds every wait for a result; generous for a loaded box.
const waitTimeout = 20 * time.Second

// fleetEnv is a server and a client connection for one test.
type fleetEnv struct {
	url string
	js  jetstream.JetStream
}

// start starts a server; with initialized, runs init on it.
func start(t *testing.T, initialized bool) fleetEnv {
	t.Helper()
	srv := natstest.Start(t)
	_, js := natstest.Connect(t, srv.ClientURL())
	e := fleetEnv{url: srv.ClientURL(), js: js}
	if initialized {
		if code, _, errOut := e.run(t, "init"); code != exitOK {
			t.Fatalf("init = %d; stderr %s", code, errOut)
		}
	}
	return e
}

// run runs harmony-fleet against the env's server.
func (e fleetEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCmd(t, append(args, "-s", e.url)...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func (e fleetEnv) kv(t *testing.T, bucket string) jetstream.KeyValue {
	t.Helper()
	kv, err := e.js.KeyValue(ctxT(t), bucket)
	if err != nil {
		t.Fatalf("KeyValue(%s): %v", bucket, err)
	}
	return kv
}

// putInfo stores a device-info snapshot of device with labels and
// deployments (each at its own sequence), heartbeat at hb.
func (e fleetEnv) putInfo(t *testing.T, device fleet.DeviceID, labels map[string]string, hb time.Time, deployments map[fleet.DeploymentName]fleet.DeploymentStatus) {
	t.Helper()
	info := fleet.DeviceInfo{
		DeviceID: device, AgentEpoch: epoch, AgentVersion: "0.3.0", Hostname: string(device),
		OS: "linux", Arch: "arm64", Labels: labels,
		StartedAt: hb.Add(-time.Hour), HeartbeatAt: hb, Deployments: deployments,
	}
	for _, d := range deployments {
		if d.Revision.Compare(info.Revision) > 0 {
			info.Revision = d.Revision
		}
	}
	if err := info.Validate(); err != nil {
		t.Fatalf("test snapshot is invalid: %v", err)
	}
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.kv(t, fleet.DeviceInfoBucket).Put(ctxT(t), fleet.DeviceInfoKey(device), data); err != nil {
		t.Fatalf("put device-info %s: %v", device, err)
	}
}

// applied returns an applied event.
func applied(device fleet.DeviceID, name fleet.DeploymentName, seq uint64, from, to fleet.Phase, lastError string) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID: device, Deployment: name,
		Revision:   fleet.Revision{AgentEpoch: epoch, Sequence: seq},
		Transition: fleet.Applied(from, to, lastError),
		At:         time.Date(2026, 11, 26, 10, 0, int(seq), 0, time.UTC),
	}
}

func removed(device fleet.DeviceID, name fleet.DeploymentName, seq uint64, from fleet.Phase) fleet.StateChangeEvent {
	e := applied(device, name, seq, "", fleet.PhasePending, "")
	e.Transition = fleet.Removed(from)
	return e
}

// testNonce is the Msg-Id nonce of the agent run publish plays.
const testNonce = "00c0ffee00c0ffee"

// publish publishes events as the agent does, with their Msg-Id.
func (e fleetEnv) publish(t *testing.T, events ...fleet.StateChangeEvent) {
	t.Helper()
	for _, ev := range events {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: ev.Subject(), Data: data, Header: nats.Header{}}
		msg.Header.Set(fleet.MsgIDHeader, ev.MsgID(testNonce))
		if _, err := e.js.PublishMsg(ctxT(t), msg); err != nil {
			t.Fatalf("publish %s: %v", ev.MsgID(testNonce), err)
		}
	}
}

// publishRaw publishes data on subject with no Msg-Id: stored every time.
func (e fleetEnv) publishRaw(t *testing.T, subject string, data []byte) {
	t.Helper()
	if _, err := e.js.Publish(ctxT(t), subject, data); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, func() string { return what })
}

// runAsync runs harmony-fleet until the returned stop is called; stop
// returns the exit code.
func (e fleetEnv) runAsync(t *testing.T, stdout, stderr *testsupport.SyncBuffer, args ...string) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append(args, "-s", e.url), stdout, stderr) }()
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(waitTimeout):
				t.Fatalf("run(%q) did not return after cancel", args)
			}
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestInitIdempotent(t *testing.T) {
	e := start(t, false)
	code, out, errOut := e.run(t, "init")
	if code != exitOK {
		t.Fatalf("init = %d; stderr %s", code, errOut)
	}
	for _, want := range []string{
		"stream FLEET_EVENTS", "subjects fleet.events.>", "limits retention", "duplicate window 10m0s", "max age 168h0m0s",
		"bucket desired-state", "history 5", "bucket device-info", "history 1", "file storage", "replicas 1",
		"bucket device-registry", "bucket deployments", "bucket rollouts", "bucket fleet-controller",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("init stdout lacks %q:\n%s", want, out)
		}
	}
	n := len(natsconn.FleetResources(natsconn.DefaultResourceSettings()))
	if strings.Count(out, "created") != n {
		t.Errorf("first init: want %d resources created:\n%s", n, out)
	}
	code, out, errOut = e.run(t, "init")
	if code != exitOK {
		t.Fatalf("second init = %d; stderr %s", code, errOut)
	}
	if strings.Count(out, "exists") != n || strings.Contains(out, "created") {
		t.Errorf("second init: want %d resources that exist:\n%s", n, out)
	}
	for _, b := range []string{fleet.DesiredStateBucket, fleet.DeviceInfoBucket, fleet.DeviceRegistryBucket} {
		e.kv(t, b)
	}
}

func TestInitMismatch(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: fleet.EventsStream, Subjects: []string{fleet.EventsSubjects},
		Storage: jetstream.FileStorage, Duplicates: time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.run(t, "init")
	if code != exitFailure {
		t.Fatalf("init over a different FLEET_EVENTS = %d, want %d; stderr %s", code, exitFailure, errOut)
	}
	for _, want := range []string{"stream FLEET_EVENTS", "duplicate window is 1m0s, want 10m0s", "never changed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("init stderr lacks %q:\n%s", want, errOut)
		}
	}
	st, err := e.js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.Duplicates; got != time.Minute {
		t.Errorf("FLEET_EVENTS duplicate window after init = %v, want it unchanged (1m)", got)
	}
	// The buckets were still created: each resource is checked.
	e.kv(t, fleet.DesiredStateBucket)
}

const webYAML = `
runtime: podman
image: docker.io/library/nginx:1.27
ports: [{host_port: 8080, container_port: 80}]
env: {MODE: edge}
`

// canonicalWeb is webYAML as the agents read it.
func canonicalWeb(t *testing.T) ([]byte, string) {
	t.Helper()
	_, value, err := loadSpec(writeFile(t, "web.yaml", webYAML))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := fleet.DecodeSpec(value)
	if err != nil {
		t.Fatalf("the stored value does not decode: %v", err)
	}
	return value, fleet.SpecHash(spec)
}

// desiredKeys returns the keys of desired-state that hold a value.
func (e fleetEnv) desiredKeys(t *testing.T) []string {
	t.Helper()
	keys, err := e.kv(t, fleet.DesiredStateBucket).Keys(ctxT(t))
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func TestApplyByDevice(t *testing.T) {
	e := start(t, true)
	e.putInfo(t, "pi-1", nil, time.Now(), nil)
	spec := writeFile(t, "web.yaml", webYAML)
	value, hash := canonicalWeb(t)

	code, out, errOut := e.run(t, "apply", "web", "-f", spec, "--device", "pi-1,pi-2")
	if code != exitOK {
		t.Fatalf("apply = %d; stderr %s", code, errOut)
	}
	if got, want := e.desiredKeys(t), []string{"pi-1.web", "pi-2.web"}; !slices.Equal(got, want) {
		t.Errorf("desired keys = %v, want %v", got, want)
	}
	for _, key := range []string{"pi-1.web", "pi-2.web"} {
		entry, err := e.kv(t, fleet.DesiredStateBucket).Get(ctxT(t), key)
		if err != nil {
			t.Fatal(err)
		}
		if string(entry.Value()) != string(value) {
			t.Errorf("%s = %s, want the canonical %s", key, entry.Value(), value)
		}
		if !strings.Contains(out, key) {
			t.Errorf("apply stdout does not name %s:\n%s", key, out)
		}
	}
	if strings.Count(out, "created") != 2 || !strings.Contains(out, hash[:12]) {
		t.Errorf("apply stdout: want 2 keys created with spec %s:\n%s", hash[:12], out)
	}
	if !strings.Contains(errOut, "device pi-2 has not reported yet") || strings.Contains(errOut, "pi-1 has") {
		t.Errorf("apply stderr: want a warning for pi-2 only:\n%s", errOut)
	}

	// Again: nothing changes. -o json for the details.
	code, out, errOut = e.run(t, "apply", "web", "-f", spec, "-d", "pi-1", "-o", "json")
	if code != exitOK {
		t.Fatalf("apply again = %d; stderr %s", code, errOut)
	}
	var res keysJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}
	if len(res.Keys) != 1 || res.Keys[0].Action != "unchanged" || res.Keys[0].Revision == 0 || res.SpecHash != hash {
		t.Errorf("apply again -o json = %+v, want pi-1.web unchanged at its revision, spec %s", res, hash)
	}
}

func TestApplyBySelector(t *testing.T) {
	e := start(t, true)
	now := time.Now()
	e.putInfo(t, "pi-1", map[string]string{"site": "lyon", "tier": "edge"}, now, nil)
	e.putInfo(t, "pi-2", map[string]string{"site": "lyon"}, now, nil)
	e.putInfo(t, "pi-3", map[string]string{"site": "paris", "tier": "edge"}, now, nil)
	e.enrol(t, "pi-1", map[string]string{"site": "lyon", "tier": "edge"})
	e.enrol(t, "pi-2", map[string]string{"site": "lyon"})
	e.enrol(t, "pi-3", map[string]string{"site": "paris", "tier": "edge"})
	if _, err := e.kv(t, fleet.DeviceRegistryBucket).Put(ctxT(t), "pi-bad", []byte(`{"device_id":"pi-bad"}`)); err != nil {
		t.Fatal(err)
	}
	spec := writeFile(t, "web.json", `{"runtime":"process","command":["/usr/bin/python3","-m","http.server","8081"]}`)

	code, out, errOut := e.run(t, "apply", "web", "-f", spec, "--selector", "site=lyon,tier=edge")
	if code != exitOK {
		t.Fatalf("apply --selector = %d; stderr %s", code, errOut)
	}
	if got, want := e.desiredKeys(t), []string{"pi-1.web"}; !slices.Equal(got, want) {
		t.Errorf("desired keys = %v, want %v\n%s", got, want, out)
	}
	if !strings.Contains(errOut, "device-registry pi-bad") {
		t.Errorf("apply stderr: want the record that does not decode reported:\n%s", errOut)
	}

	if code, _, errOut := e.run(t, "apply", "db", "-f", spec, "-l", "site=lyon"); code != exitOK {
		t.Fatalf("apply -l site=lyon = %d; stderr %s", code, errOut)
	}
	if got, want := e.desiredKeys(t), []string{"pi-1.db", "pi-1.web", "pi-2.db"}; !slices.Equal(got, want) {
		t.Errorf("desired keys = %v, want %v", got, want)
	}

	code, _, errOut = e.run(t, "apply", "web", "-f", spec, "--selector", "site=berlin")
	if code != exitFailure || !strings.Contains(errOut, "no enrolled device matches --selector site=berlin (3 devices enrolled") {
		t.Errorf("apply --selector site=berlin = %d, %q; want %d, no device matches", code, errOut, exitFailure)
	}
}

func TestApplyBadSpecWritesNothing(t *testing.T) {
	e := start(t, true)
	for _, tc := range []struct{ name, file, content, want string }{
		{"unknown field", "web.yaml", "runtime: podman\nimage: nginx\nrestart_policy: always\n", `unknown field "restart_policy"`},
		{"rule", "web.json", `{"runtime":"podman","image":"nginx","volumes":[{"host_path":"srv","container_path":"/srv"}]}`, "volumes[0].host_path: relative path"},
		{"type", "web.yaml", "runtime: podman\nimage: nginx\nenv: {PORT: 8080}\n", "env"},
		{"syntax", "web.yaml", "runtime: podman\n  image: nginx\n", "not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			code, out, errOut := e.run(t, "apply", "web", "-f", path, "--device", "pi-1")
			if code != exitUsage {
				t.Fatalf("apply %s = %d, want %d; stderr %s", tc.name, code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, "apply web: "+path) || !strings.Contains(errOut, tc.want) {
				t.Errorf("apply %s stderr = %q, want it to name the file and contain %q", tc.name, errOut, tc.want)
			}
			if out != "" {
				t.Errorf("apply %s stdout = %q, want nothing", tc.name, out)
			}
			if keys := e.desiredKeys(t); len(keys) != 0 {
				t.Errorf("apply %s wrote %v", tc.name, keys)
			}
		})
	}
}

func TestApplyBeforeInit(t *testing.T) {
	e := start(t, false)
	spec := writeFile(t, "web.yaml", webYAML)
	code, _, errOut := e.run(t, "apply", "web", "-f", spec, "--device", "pi-1")
	if code != exitFailure || !strings.Contains(errOut, "bucket desired-state not found: run harmony-fleet init") {
		t.Errorf("apply before init = %d, %q; want %d saying to run init", code, errOut, exitFailure)
	}
}

func TestDelete(t *testing.T) {
	e := start(t, true)
	spec := writeFile(t, "web.yaml", webYAML)
	e.putInfo(t, "pi-1", map[string]string{"site": "lyon"}, time.Now(), nil)
	e.enrol(t, "pi-1", map[string]string{"site": "lyon"})
	if code, _, errOut := e.run(t, "apply", "web", "-f", spec, "--device", "pi-1,pi-2,pi-3"); code != exitOK {
		t.Fatalf("apply = %d; stderr %s", code, errOut)
	}

	code, out, errOut := e.run(t, "delete", "web", "--device", "pi-2", "--device", "pi-9")
	if code != exitOK {
		t.Fatalf("delete = %d; stderr %s", code, errOut)
	}
	if !strings.Contains(out, "pi-2.web") || !strings.Contains(out, "deleted") || !strings.Contains(out, "pi-9.web") || !strings.Contains(out, "absent") {
		t.Errorf("delete stdout: want pi-2.web deleted and pi-9.web absent:\n%s", out)
	}
	if got, want := e.desiredKeys(t), []string{"pi-1.web", "pi-3.web"}; !slices.Equal(got, want) {
		t.Errorf("desired keys after delete = %v, want %v", got, want)
	}

	code, out, errOut = e.run(t, "delete", "web", "--selector", "site=lyon", "-o", "json")
	if code != exitOK {
		t.Fatalf("delete --selector = %d; stderr %s", code, errOut)
	}
	if want := `{"deployment":"web","keys":[{"device_id":"pi-1","key":"pi-1.web","action":"deleted"}]}` + "\n"; out != want {
		t.Errorf("delete -o json = %s, want %s", out, want)
	}
	if got, want := e.desiredKeys(t), []string{"pi-3.web"}; !slices.Equal(got, want) {
		t.Errorf("desired keys after delete --selector = %v, want %v", got, want)
	}
}

// statusFixture publishes a fleet's history and snapshots:
//
//	pi-1 web: pending, running (the running event published twice: once
//	          deduplicated by its Msg-Id, once stored again without one)
//	pi-2 web: pending, running; db: pending, running, removed
//	pi-3 web: pending, failed "image not found"
//	pi-4 web: pending; its running event was lost, its snapshot says running
//
// plus a message that is not an event and a snapshot that does not decode.
func statusFixture(t *testing.T, e fleetEnv) {
	t.Helper()
	running := applied("pi-1", "web", 2, fleet.PhasePending, fleet.PhaseRunning, "")
	e.publish(t,
		applied("pi-1", "web", 1, "", fleet.PhasePending, ""),
		running,
		applied("pi-2", "web", 1, "", fleet.PhasePending, ""),
		applied("pi-2", "web", 2, fleet.PhasePending, fleet.PhaseRunning, ""),
		applied("pi-2", "db", 3, "", fleet.PhasePending, ""),
		applied("pi-2", "db", 4, fleet.PhasePending, fleet.PhaseRunning, ""),
		applied("pi-3", "web", 1, "", fleet.PhasePending, ""),
		applied("pi-3", "web", 2, fleet.PhasePending, fleet.PhaseFailed, "image not found"),
		running, // deduplicated by the stream
		removed("pi-2", "db", 5, fleet.PhaseRunning),
		applied("pi-4", "web", 1, "", fleet.PhasePending, ""),
	)
	data, _ := json.Marshal(running)
	e.publishRaw(t, running.Subject(), data) // stored twice: the aggregate drops it
	e.publishRaw(t, fleet.EventSubject("pi-5", "web"), []byte(`{"device_id":"pi-5"`))

	now := time.Now()
	e.putInfo(t, "pi-4", nil, now, map[fleet.DeploymentName]fleet.DeploymentStatus{
		"web": {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 2}},
	})
	e.putInfo(t, "pi-2", nil, now, map[fleet.DeploymentName]fleet.DeploymentStatus{
		"web": {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 2}},
	})
	if _, err := e.kv(t, fleet.DeviceInfoBucket).Put(ctxT(t), "pi-6", []byte("not json")); err != nil {
		t.Fatal(err)
	}
}

// statusWeb is the -o json status of the fixture's web deployment.
var statusWeb = fmt.Sprintf(`{"name":"web","counts":{"pending":0,"running":3,"succeeded":0,"failed":1},`+
	`"failing":[{"device_id":"pi-3","last_error":"image not found","revision":{"agent_epoch":%d,"sequence":2}}]}`, epoch)

func TestStatus(t *testing.T) {
	e := start(t, true)
	statusFixture(t, e)

	code, out, errOut := e.run(t, "status", "-o", "json")
	if code != exitOK {
		t.Fatalf("status = %d; stderr %s", code, errOut)
	}
	if want := `{"deployments":[` + statusWeb + "]}\n"; out != want {
		t.Errorf("status -o json =\n%s\nwant\n%s", out, want)
	}
	for _, want := range []string{"event 12 on fleet.events.pi-5.web", "device-info pi-6"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("status stderr lacks %q (what did not decode):\n%s", want, errOut)
		}
	}

	code, out, _ = e.run(t, "status")
	if code != exitOK {
		t.Fatalf("status = %d", code)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 5 ||
		strings.Join(strings.Fields(lines[0]), " ") != "DEPLOYMENT PENDING RUNNING SUCCEEDED FAILED" ||
		strings.Join(strings.Fields(lines[1]), " ") != "web 0 3 0 1" ||
		strings.Join(strings.Fields(lines[4]), " ") != fmt.Sprintf("web pi-3 %d/2 image not found", epoch) {
		t.Errorf("status table:\n%s", out)
	}

	code, out, _ = e.run(t, "status", "db", "-o", "json")
	if want := `{"deployments":[{"name":"db","counts":{"pending":0,"running":0,"succeeded":0,"failed":0},"failing":[]}]}` + "\n"; code != exitOK || out != want {
		t.Errorf("status db -o json = %d, %s; want %s", code, out, want)
	}
	code, out, _ = e.run(t, "status", "web", "-o", "json")
	if want := `{"deployments":[` + statusWeb + "]}\n"; code != exitOK || out != want {
		t.Errorf("status web -o json = %d, %s; want %s", code, out, want)
	}
}

func TestStatusEmpty(t *testing.T) {
	e := start(t, true)
	code, out, errOut := e.run(t, "status", "-o", "json")
	if code != exitOK || out != `{"deployments":[]}`+"\n" {
		t.Errorf("status on an empty fleet = %d, %q (stderr %s)", code, out, errOut)
	}
	if code, out, _ := e.run(t, "status"); code != exitOK || out != "no deployments\n" {
		t.Errorf("status table on an empty fleet = %d, %q", code, out)
	}
}

func TestStatusWatch(t *testing.T) {
	e := start(t, true)
	statusFixture(t, e)
	var stdout, stderr testsupport.SyncBuffer
	stop := e.runAsync(t, &stdout, &stderr, "status", "--watch", "-o", "json")
	eventually(t, "status --watch prints the status", func() bool { return strings.Contains(stdout.String(), statusWeb) })

	// pi-3 recovers; pi-7 appears through its snapshot alone.
	e.publish(t, applied("pi-3", "web", 3, fleet.PhaseFailed, fleet.PhaseRunning, ""))
	e.putInfo(t, "pi-7", nil, time.Now(), map[fleet.DeploymentName]fleet.DeploymentStatus{
		"web": {Phase: fleet.PhasePending, Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 1}},
	})
	want := `{"deployments":[{"name":"web","counts":{"pending":1,"running":4,"succeeded":0,"failed":0},"failing":[]}]}`
	eventually(t, "status --watch prints the new status", func() bool { return strings.Contains(stdout.String(), want) })
	if code := stop(); code != exitOK {
		t.Errorf("status --watch interrupted = %d, want %d; stderr %s", code, exitOK, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) > 3 {
		t.Errorf("status --watch printed %d times for 2 changes (throttle?):\n%s", len(lines), stdout.String())
	}
}

func TestDevices(t *testing.T) {
	e := start(t, true)
	now := time.Now()
	e.putInfo(t, "pi-1", map[string]string{"site": "lyon", "tier": "edge"}, now.Add(-5*time.Second),
		map[fleet.DeploymentName]fleet.DeploymentStatus{
			"web": {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 2}},
			"db":  {Phase: fleet.PhaseFailed, LastError: "exit 1", Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 3}},
		})
	e.putInfo(t, "pi-2", nil, now.Add(-5*time.Minute), nil)
	e.enrol(t, "pi-1", map[string]string{"site": "paris"})
	e.enrol(t, "pi-3", map[string]string{"role": "db"})

	code, out, errOut := e.run(t, "devices")
	if code != exitOK {
		t.Fatalf("devices = %d; stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("devices table: want a header, 3 rows and 2 notes:\n%s", out)
	}
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"DEVICE", "ENROLLED", "LABELS", "REPORTED", "VERSION", "EPOCH", "HEARTBEAT", "LIVENESS", "CONVERGED", "HOST", "DEPLOYMENTS"}) {
		t.Errorf("devices header = %v", got)
	}
	pi1, pi2, pi3 := strings.Fields(lines[1]), strings.Fields(lines[2]), strings.Fields(lines[3])
	if want := []string{"pi-1", "yes", "site=paris", "site=lyon,tier=edge", "0.3.0", fmt.Sprint(epoch)}; len(pi1) != 11 || !slices.Equal(pi1[:6], want) ||
		!strings.HasSuffix(pi1[6], "s") || pi1[7] != "online" || pi1[8] != "yes" || pi1[9] != "-" || pi1[10] != "db=failed,web=running" {
		t.Errorf("devices row of pi-1 = %q, want %v, a heartbeat in seconds, online, converged, no host, db=failed,web=running", lines[1], want)
	}
	if want := []string{"pi-2", "no", "-", "-", "0.3.0", fmt.Sprint(epoch), "5m", "offline"}; len(pi2) != 11 || !slices.Equal(pi2[:8], want) || pi2[9] != "-" || pi2[10] != "-" {
		t.Errorf("devices row of pi-2 = %q, want %v", lines[2], want)
	}
	if want := []string{"pi-3", "yes", "role=db", "-", "-", "-", "never", "offline"}; len(pi3) != 11 || !slices.Equal(pi3[:8], want) || pi3[9] != "-" || pi3[10] != "-" {
		t.Errorf("devices row of pi-3 = %q, want %v", lines[3], want)
	}
	if !strings.HasPrefix(lines[4], "not enrolled, reporting: pi-2 (") || lines[5] != "enrolled, never reported: pi-3" {
		t.Errorf("devices notes = %q, want pi-2 not enrolled, pi-3 never reported", lines[4:])
	}

	code, out, _ = e.run(t, "devices", "-o", "json")
	if code != exitOK {
		t.Fatalf("devices -o json = %d", code)
	}
	var got struct {
		Devices []struct {
			DeviceID            string                            `json:"device_id"`
			AgentEpoch          uint64                            `json:"agent_epoch"`
			Labels              map[string]string                 `json:"labels"`
			Deployments         map[string]struct{ Phase string } `json:"deployments"`
			Enrolled            bool                              `json:"enrolled"`
			RegistryLabels      map[string]string                 `json:"registry_labels"`
			Reported            bool                              `json:"reported"`
			HeartbeatAgeSeconds int64                             `json:"heartbeat_age_seconds"`
			Stale               bool                              `json:"stale"`
			Liveness            string                            `json:"liveness"`
			Converged           string                            `json:"converged"`
		} `json:"devices"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("devices -o json: %v\n%s", err, out)
	}
	if len(got.Devices) != 3 {
		t.Fatalf("devices -o json: want 3 devices:\n%s", out)
	}
	d1, d2, d3 := got.Devices[0], got.Devices[1], got.Devices[2]
	if d1.DeviceID != "pi-1" || d1.Stale || d1.Liveness != "online" || d1.Converged != "yes" || d1.AgentEpoch != uint64(epoch) || d1.Labels["site"] != "lyon" || d1.Deployments["db"].Phase != "failed" ||
		!d1.Enrolled || !d1.Reported || d1.RegistryLabels["site"] != "paris" {
		t.Errorf("devices -o json pi-1 = %+v", d1)
	}
	if d2.DeviceID != "pi-2" || !d2.Stale || d2.Liveness != "offline" || d2.HeartbeatAgeSeconds < 300 || d2.Enrolled || !d2.Reported {
		t.Errorf("devices -o json pi-2 = %+v, want stale, 300s old or more, not enrolled", d2)
	}
	if d3.DeviceID != "pi-3" || !d3.Stale || d3.HeartbeatAgeSeconds != -1 || !d3.Enrolled || d3.Reported || d3.AgentEpoch != 0 || d3.RegistryLabels["role"] != "db" {
		t.Errorf("devices -o json pi-3 = %+v, want enrolled, never reported", d3)
	}
	if strings.Contains(out, `"started_at":"0001`) {
		t.Errorf("devices -o json: a never-reported device has an empty snapshot:\n%s", out)
	}

	// A longer threshold: nobody that reported is stale (pi-3 never did).
	if _, out, _ := e.run(t, "devices", "--stale-after", "10m", "-o", "json"); strings.Count(out, `"stale":true`) != 1 {
		t.Errorf("devices --stale-after 10m marks a device stale:\n%s", out)
	}
}

func TestEvents(t *testing.T) {
	e := start(t, true)
	statusFixture(t, e)

	for _, tc := range []struct {
		args []string
		want []string // device/deployment/sequence of each event, in order
	}{
		{[]string{"--device", "pi-3"}, []string{"pi-3/web/1", "pi-3/web/2"}},
		{[]string{"--deployment", "db"}, []string{"pi-2/db/3", "pi-2/db/4", "pi-2/db/5"}},
		{[]string{"--device", "pi-1", "--deployment", "web"}, []string{"pi-1/web/1", "pi-1/web/2", "pi-1/web/2"}},
		{[]string{"--device", "pi-8"}, nil},
		{nil, []string{
			"pi-1/web/1", "pi-1/web/2", "pi-2/web/1", "pi-2/web/2", "pi-2/db/3", "pi-2/db/4", "pi-3/web/1", "pi-3/web/2",
			"pi-2/db/5", "pi-4/web/1", "pi-1/web/2",
		}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := e.run(t, append([]string{"events", "-o", "json"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("events = %d; stderr %s", code, errOut)
			}
			var got []string
			for line := range strings.Lines(out) {
				var ev fleet.StateChangeEvent
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("events -o json line %q: %v", line, err)
				}
				got = append(got, fmt.Sprintf("%s/%s/%d", ev.DeviceID, ev.Deployment, ev.Revision.Sequence))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %q = %v, want %v", tc.args, got, tc.want)
			}
		})
	}

	code, out, errOut := e.run(t, "events", "--device", "pi-3")
	if code != exitOK {
		t.Fatalf("events = %d; stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := fmt.Sprintf("2026-11-26T10:00:02.000Z pi-3 web %d/2 applied pending -> failed image not found", epoch)
	if len(lines) != 3 || strings.Join(strings.Fields(lines[2]), " ") != want {
		t.Errorf("events --device pi-3 table:\n%s\nwant its last row %q", out, want)
	}
	code, _, errOut = e.run(t, "events", "--device", "pi-5")
	if code != exitOK || !strings.Contains(errOut, "event 12 on fleet.events.pi-5.web") {
		t.Errorf("events --device pi-5 = %d, stderr %q; want 0 and the message that is not an event reported", code, errOut)
	}
	if _, out, _ := e.run(t, "events", "--deployment", "db"); !strings.Contains(out, "removed  running -> -") {
		t.Errorf("events --deployment db: want the removal shown as running -> -:\n%s", out)
	}
}

func TestEventsFollow(t *testing.T) {
	e := start(t, true)
	e.publish(t, applied("pi-1", "web", 1, "", fleet.PhasePending, ""))
	var stdout, stderr testsupport.SyncBuffer
	stop := e.runAsync(t, &stdout, &stderr, "events", "--follow", "--deployment", "web")
	eventually(t, "events --follow prints the stored event", func() bool { return strings.Contains(stdout.String(), "- -> pending") })

	e.publish(t,
		applied("pi-1", "db", 2, "", fleet.PhasePending, ""), // another deployment: filtered out
		applied("pi-1", "web", 3, fleet.PhasePending, fleet.PhaseRunning, ""),
	)
	eventually(t, "events --follow prints the new event", func() bool { return strings.Contains(stdout.String(), "pending -> running") })
	if code := stop(); code != exitOK {
		t.Errorf("events --follow interrupted = %d, want %d; stderr %s", code, exitOK, stderr.String())
	}
	if strings.Contains(stdout.String(), " db ") {
		t.Errorf("events --deployment web printed a db event:\n%s", stdout.String())
	}
}

func TestEventsBeforeInit(t *testing.T) {
	e := start(t, false)
	code, _, errOut := e.run(t, "events")
	if code != exitFailure || !strings.Contains(errOut, "stream FLEET_EVENTS not found: run harmony-fleet init") {
		t.Errorf("events before init = %d, %q; want %d saying to run init", code, errOut, exitFailure)
	}
}

func TestAuth(t *testing.T) {
	tokenURL := natstest.StartConfig(t, `authorization { token: "s3cret" }`)
	userURL := natstest.StartConfig(t, `authorization { user: fleet, password: "pa55" }`)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"token", []string{"-s", tokenURL, "--token", "s3cret"}, exitOK, "created"},
		{"wrong token", []string{"-s", tokenURL, "--token", "guess"}, exitFailure, "Authorization Violation"},
		{"no credentials", []string{"-s", tokenURL}, exitFailure, "Authorization Violation"},
		{"user and password", []string{"-s", userURL, "--user", "fleet", "--password", "pa55"}, exitOK, "created"},
		{"password in the URL", []string{"-s", strings.Replace(userURL, "nats://", "nats://fleet:wrong@", 1)}, exitFailure, "nats://fleet:xxxxx@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, append([]string{"init"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("init %s = %d, stdout %q, stderr %q; want %d and %q", tc.name, code, out, errOut, tc.code, tc.want)
			}
			if strings.Contains(errOut, "wrong") {
				t.Errorf("init %s stderr shows the password: %q", tc.name, errOut)
			}
		})
	}
	t.Setenv("HARMONY_FLEET_TOKEN", "s3cret")
	if code, out, errOut := runCmd(t, "init", "-s", tokenURL); code != exitOK || !strings.Contains(out, "exists") {
		t.Errorf("init with $HARMONY_FLEET_TOKEN = %d, %q, %q", code, out, errOut)
	}
}
