//go:build embednats

package deviceops_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/desired"
	"github.com/harmony-edge/harmony-agent/internal/deviceops"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
	"github.com/harmony-edge/harmony-agent/internal/runtime/podman"
)

// TestPodman: logs --tail of a podman workload gives both streams, and
// restart gives a new start time and the transition pair.
func TestPodman(t *testing.T) {
	socket, image := os.Getenv("HARMONY_PODMAN_SOCKET"), os.Getenv("HARMONY_TEST_IMAGE")
	if socket == "" || image == "" {
		msg := `HARMONY_PODMAN_SOCKET and HARMONY_TEST_IMAGE are not set: run, as root, eval "$(scripts/podman/env.sh)"`
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("outside CI, skipped: " + msg)
	}
	var sfx [4]byte
	_, _ = rand.Read(sfx[:])
	dev := fleet.DeviceID("ops-" + hex.EncodeToString(sfx[:]))
	rt, err := podman.New(podman.Config{Socket: socket, Network: "none", Init: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := natstest.Start(t)
	agentConn, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer agentConn.Close()
	client, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pub := &events{}
	a, err := agent.New(agent.Config{Device: dev, Epoch: testEpoch, Publisher: pub, Log: zap.NewNop(),
		Runtimes: map[fleet.RuntimeKind]runtime.Runtime{fleet.RuntimePodman: rt}})
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan desired.Update)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx, updates) }()
	ops, err := deviceops.Start(deviceops.Config{Conn: agentConn, Device: dev, Epoch: testEpoch, StartedAt: time.Now(),
		Logs:      deviceops.Runtimes{Device: dev, Locate: a.RuntimeOf, ByKind: map[fleet.RuntimeKind]deviceops.RuntimeLogs{fleet.RuntimePodman: rt}},
		Restarter: a, Phases: func() map[fleet.Phase]int { return a.Summary().Phases }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ops.Close()
		cancel()
		<-done
		_ = rt.Remove(context.Background(), dev, "web", time.Second)
	}()

	spec := fmt.Sprintf(`{"runtime":"podman","image":%q,"command":["sh","-c","echo out-1; echo err-1 >&2; exec sleep 3600"],"grace_period_seconds":1}`, image)
	updates <- desired.Update{Full: true, Entries: []desired.Entry{{Deployment: "web", Value: []byte(spec)}}}
	request := func(op string, req, out any) error {
		b, _ := json.Marshal(req)
		m, err := client.Request(fleet.DeviceOpSubject(dev, op), b, 10*time.Second)
		if err != nil {
			t.Fatalf("request %s: %v", op, err)
		}
		return fleet.DecodeOpReply(m.Data, out)
	}
	var logs fleet.LogsReply
	waitFor(t, "both streams", 60*time.Second, func() bool {
		return request(fleet.OpLogs, fleet.LogsRequest{Deployment: "web", TailLines: 10}, &logs) == nil && logs.Output == "out-1\nerr-1\n"
	})
	before, err := rt.Observe(ctx, dev, "web")
	if err != nil || before.State != runtime.StateRunning {
		t.Fatalf("Observe = %+v, %v", before, err)
	}
	var rr fleet.RestartReply
	if err := request(fleet.OpRestart, fleet.RestartRequest{Deployment: "web"}, &rr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new start time", 60*time.Second, func() bool {
		st, err := rt.Observe(ctx, dev, "web")
		return err == nil && st.State == runtime.StateRunning && st.StartedAt.After(before.StartedAt)
	})
	waitFor(t, "the transitions", 10*time.Second, func() bool { return len(pub.phases("web")) >= 4 })
	if got := fmt.Sprint(pub.phases("web")); !strings.HasPrefix(got, "[pending running pending running") {
		t.Errorf("phases = %s, want pending running pending running", got)
	}
}
