//go:build embednats

package deviceops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/deviceops"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/process"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

const (
	testDevice fleet.DeviceID   = "pi-017"
	testEpoch  fleet.AgentEpoch = 1875123456789012
)

// events is a Publisher that keeps every event.
type events struct {
	mu  sync.Mutex
	evs []fleet.StateChangeEvent
}

func (e *events) Publish(ev fleet.StateChangeEvent) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}
func (e *events) InfoChanged() {}
func (e *events) phases(name fleet.DeploymentName) []fleet.Phase {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []fleet.Phase
	for _, ev := range e.evs {
		if ev.Deployment == name {
			out = append(out, ev.Transition.To)
		}
	}
	return out
}

// rig is an agent with a process runtime answering device operations on
// a real nats-server, and a requester's connection.
type rig struct {
	agent   *agent.Agent
	rt      *process.Runtime
	pub     *events
	updates chan desired.Update
	client  *nats.Conn
	ops     *deviceops.Server
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, timeout, cond, func() string { return what })
}

func newRig(t testing.TB, maxConcurrent int) *rig {
	t.Helper()
	srv := natstest.Start(t)
	agentConn, err := nats.Connect(srv.ClientURL(), nats.CustomInboxPrefix(fleet.InboxPrefix(testDevice)))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(agentConn.Close)
	client, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(client.Close)
	rt, err := process.New(process.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("process.New: %v", err)
	}
	r := &rig{rt: rt, pub: &events{}, updates: make(chan desired.Update), client: client}
	r.agent, err = agent.New(agent.Config{
		Device: testDevice, Epoch: testEpoch, Version: "test", Publisher: r.pub, Log: zap.NewNop(),
		Runtimes: map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimeProcess: rt},
	})
	if err != nil {
		t.Fatalf("agent.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.agent.Run(ctx, r.updates) }()
	r.ops, err = deviceops.Start(deviceops.Config{
		Conn: agentConn, Device: testDevice, Version: "test", Epoch: testEpoch, StartedAt: r.agent.Info().StartedAt,
		Logs: deviceops.Runtimes{Device: testDevice, Locate: r.agent.RuntimeOf,
			ByKind: map[fleet.RuntimeKind]deviceops.RuntimeLogs{fleet.RuntimeProcess: rt}},
		Restarter:     r.agent,
		Phases:        func() map[fleet.Phase]int { return r.agent.Summary().Phases },
		MaxConcurrent: maxConcurrent,
	})
	if err != nil {
		t.Fatalf("deviceops.Start: %v", err)
	}
	t.Cleanup(func() {
		r.ops.Close()
		cancel()
		<-done
		// Leave no process behind.
		for _, st := range r.listOrNil() {
			_ = rt.Remove(context.Background(), testDevice, st.Deployment, time.Second)
		}
		rt.Close()
	})
	return r
}

func (r *rig) listOrNil() []runtime.Status {
	l, _ := r.rt.List(context.Background(), testDevice)
	return l
}

// deploy makes the desired state exactly specs (a shell script each) and
// waits for each to run.
func (r *rig) deploy(t testing.TB, scripts map[fleet.DeploymentName]string) {
	t.Helper()
	var u desired.Update
	u.Full = true
	for name, script := range scripts {
		v := fmt.Sprintf(`{"runtime":"process","command":["/bin/sh","-c",%q],"grace_period_seconds":1}`, script)
		u.Entries = append(u.Entries, desired.Entry{Deployment: name, Value: []byte(v)})
	}
	r.updates <- u
	for name := range scripts {
		waitFor(t, string(name)+" running", 30*time.Second, func() bool {
			st, err := r.rt.Observe(context.Background(), testDevice, name)
			return err == nil && st.State == runtime.StateRunning
		})
	}
}

// request sends req to op and decodes the answer into out, returning the
// agent's error, if any.
func (r *rig) request(t testing.TB, op string, req, out any) error {
	t.Helper()
	b, _ := json.Marshal(req)
	m, err := r.client.Request(fleet.DeviceOpSubject(testDevice, op), b, 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", op, err)
	}
	return fleet.DecodeOpReply(m.Data, out)
}

func TestLogsTail(t *testing.T) {
	r := newRig(t, 0)
	r.deploy(t, map[fleet.DeploymentName]string{
		"web": `for i in 1 2 3 4 5; do echo out-$i; done; echo err-1 >&2; exec sleep 600`,
	})
	tests := []struct {
		name string
		req  fleet.LogsRequest
		want string
	}{
		{"default tail", fleet.LogsRequest{Deployment: "web"}, "out-1\nout-2\nout-3\nout-4\nout-5\nerr-1\n"},
		{"tail 2: both streams", fleet.LogsRequest{Deployment: "web", TailLines: 2}, "out-5\nerr-1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got fleet.LogsReply
			waitFor(t, "output", 10*time.Second, func() bool {
				err := r.request(t, fleet.OpLogs, tt.req, &got)
				return err == nil && got.Output == tt.want
			})
			if got.Truncated {
				t.Errorf("truncated = true, want false")
			}
		})
	}
	errTests := []struct {
		name    string
		op      string
		req     any
		wantErr string
	}{
		{"unknown deployment", fleet.OpLogs, fleet.LogsRequest{Deployment: "nope"}, "agent: logs nope: unknown deployment"},
		{"bad request", fleet.OpLogs, map[string]any{"deployment": "web", "tail_lines": -3}, "bad request: logs request: tail_lines: -3 is outside"},
		{"unknown field", fleet.OpLogs, map[string]any{"deployment": "web", "lines": 3}, `unknown field "lines"`},
		{"unknown stream", fleet.OpLogs, fleet.LogsRequest{Deployment: "web", Follow: true, Stream: "zz"}, `unknown stream "zz"`},
		{"restart unknown", fleet.OpRestart, fleet.RestartRequest{Deployment: "nope"}, "restart nope: unknown deployment"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			var got fleet.LogsReply
			err := r.request(t, tt.op, tt.req, &got)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("request = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("no output yet", func(t *testing.T) {
		r.updates <- desired.Update{Entries: []desired.Entry{{Deployment: "ghost", Value: []byte(`{"runtime":"process","command":["/nonexistent/ghost"]}`)}}}
		var err error
		waitFor(t, "the ghost deployment to be known", 10*time.Second, func() bool {
			err = r.request(t, fleet.OpLogs, fleet.LogsRequest{Deployment: "ghost"}, &fleet.LogsReply{})
			return err != nil && !strings.Contains(err.Error(), "unknown deployment")
		})
		if want := "logs ghost: no output yet"; !strings.Contains(err.Error(), want) {
			t.Errorf("logs ghost = %v, want %q", err, want)
		}
	})
	t.Run("runtime unavailable", func(t *testing.T) {
		r.updates <- desired.Update{Entries: []desired.Entry{{Deployment: "pod", Value: []byte(`{"runtime":"podman","image":"busybox"}`)}}}
		const want = "logs pod: runtime unavailable on this device: podman"
		var err error
		waitFor(t, "the podman deployment to be known", 10*time.Second, func() bool {
			err = r.request(t, fleet.OpLogs, fleet.LogsRequest{Deployment: "pod"}, &fleet.LogsReply{})
			return err != nil && !strings.Contains(err.Error(), "unknown deployment")
		})
		if !strings.Contains(err.Error(), want) {
			t.Errorf("logs pod = %v, want %q", err, want)
		}
	})
}

func TestLogsFollow(t *testing.T) {
	r := newRig(t, 0)
	r.deploy(t, map[fleet.DeploymentName]string{
		"tick": `i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done`,
	})
	var first fleet.LogsReply
	if err := r.request(t, fleet.OpLogs, fleet.LogsRequest{Deployment: "tick", Follow: true, TailLines: 1}, &first); err != nil {
		t.Fatalf("follow: %v", err)
	}
	if first.Stream == "" {
		t.Fatalf("first answer has no stream: %+v", first)
	}
	// A new line shows within a second of the previous pull.
	for i := range 3 {
		start := time.Now()
		var got fleet.LogsReply
		if err := r.request(t, fleet.OpLogs, fleet.LogsRequest{Deployment: "tick", Follow: true, Stream: first.Stream, WaitMillis: 2000}, &got); err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
		if !strings.Contains(got.Output, "tick-") {
			t.Fatalf("pull %d = %+v, want a tick line", i, got)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("pull %d took %v, want a new line within 1s", i, d)
		}
	}
	// Stop: the end, with its header.
	b, _ := json.Marshal(fleet.LogsRequest{Deployment: "tick", Follow: true, Stream: first.Stream, Stop: true})
	m, err := r.client.Request(fleet.DeviceOpSubject(testDevice, fleet.OpLogs), b, 10*time.Second)
	if err != nil {
		t.Fatalf("stop: %v", err)
	}
	if h := m.Header.Get(fleet.HeaderEnd); h != string(fleet.EndStopped) {
		t.Errorf("%s header = %q, want stopped", fleet.HeaderEnd, h)
	}
	var end fleet.LogsReply
	if err := fleet.DecodeOpReply(m.Data, &end); err != nil || end.End != fleet.EndStopped {
		t.Errorf("stop answer = %+v, %v, want end stopped", end, err)
	}
	if err := r.request(t, fleet.OpLogs, fleet.LogsRequest{Deployment: "tick", Follow: true, Stream: first.Stream}, &end); err == nil {
		t.Errorf("pull after stop = %+v, want unknown stream", end)
	}
}

func TestRestartAndPing(t *testing.T) {
	r := newRig(t, 0)
	r.deploy(t, map[fleet.DeploymentName]string{"web": `exec sleep 600`})
	before, _ := r.rt.Observe(context.Background(), testDevice, "web")
	var rr fleet.RestartReply
	if err := r.request(t, fleet.OpRestart, fleet.RestartRequest{Deployment: "web"}, &rr); err != nil || rr.Status != fleet.RestartQueued {
		t.Fatalf("restart = %+v, %v, want queued", rr, err)
	}
	waitFor(t, "a new pid", 30*time.Second, func() bool {
		st, err := r.rt.Observe(context.Background(), testDevice, "web")
		return err == nil && st.State == runtime.StateRunning && st.ID != before.ID
	})
	waitFor(t, "the transitions", 10*time.Second, func() bool { return len(r.pub.phases("web")) >= 4 })
	if got := fmt.Sprint(r.pub.phases("web")); got != "[pending running pending running]" {
		t.Errorf("phases = %s, want [pending running pending running]", got)
	}

	var p fleet.PingReply
	if err := r.request(t, fleet.OpPing, struct{}{}, &p); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if p.AgentEpoch != testEpoch || p.DeviceID != testDevice || p.Connection != "connected" || p.Deployments[fleet.PhaseRunning] != 1 {
		t.Errorf("ping = %+v, want epoch %d, connected, 1 running", p, testEpoch)
	}
}

// TestBusyKeepsReconciling floods the agent with 100 logs requests at once
// while a desired change converges: some answers are "busy", none is
// lost, and the new deployment runs meanwhile.
func TestBusyKeepsReconciling(t *testing.T) {
	r := newRig(t, 0)
	r.deploy(t, map[fleet.DeploymentName]string{"web": `while true; do echo line; sleep 0.05; done`})
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string]int{}
	for range 100 {
		wg.Go(func() {
			b, _ := json.Marshal(fleet.LogsRequest{Deployment: "web", TailLines: 1000})
			m, err := r.client.Request(fleet.DeviceOpSubject(testDevice, fleet.OpLogs), b, 20*time.Second)
			key := "ok"
			switch {
			case err != nil:
				key = "no answer: " + err.Error()
			case strings.Contains(string(m.Data), `"error":"busy"`):
				key = "busy"
			case strings.Contains(string(m.Data), `"error"`):
				key = string(m.Data)
			}
			mu.Lock()
			answers[key]++
			mu.Unlock()
		})
	}
	r.deploy(t, map[fleet.DeploymentName]string{
		"web": `while true; do echo line; sleep 0.05; done`, "api": `exec sleep 600`,
	})
	wg.Wait()
	if answers["ok"]+answers["busy"] != 100 || answers["ok"] == 0 {
		t.Errorf("answers = %v, want 100 of ok or busy, some ok", answers)
	}
}
