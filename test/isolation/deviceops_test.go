//go:build embednats

package isolation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/agent"
	"github.com/harmony-edge/harmony-agent/internal/deviceops"
)

// lines is a deviceops.LogSource: "web" printed "hello"; following it
// gives "more" every 20 ms.
type lines struct{}

func (lines) Logs(_ context.Context, name fleet.DeploymentName, _, _ int) ([]byte, bool, error) {
	if name != "web" {
		return nil, false, agent.ErrUnknownDeployment
	}
	return []byte("hello\n"), false, nil
}

func (lines) Follow(ctx context.Context, _ fleet.DeploymentName) (<-chan []byte, error) {
	ch := make(chan []byte)
	go func() {
		defer close(ch)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case ch <- []byte("more\n"):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

type noRestart struct{}

func (noRestart) Restart(fleet.DeploymentName) error { return errors.New("not in this test") }

// TestDeviceOps: pi-2's agent answers device operations with pi-2's own
// permissions (a follow included: one reply per request), the operator
// gets the answers, and pi-1's credentials cannot ask pi-2 for its logs:
// the server refuses the request.
func TestDeviceOps(t *testing.T) {
	e := newEnv(t, "pi-1", "pi-2")
	var agentErrs errSink
	ops, err := deviceops.Start(deviceops.Config{
		Conn: e.device(t, "pi-2", &agentErrs), Device: "pi-2", Version: "test", Epoch: 42, StartedAt: time.Now(),
		Logs: lines{}, Restarter: noRestart{}, Phases: func() map[fleet.Phase]int { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()

	request := func(op string, req any, out any) error {
		b, _ := json.Marshal(req)
		m, err := e.admin.Request(fleet.DeviceOpSubject("pi-2", op), b, 10*time.Second)
		if err != nil {
			return err
		}
		return fleet.DecodeOpReply(m.Data, out)
	}
	var ping fleet.PingReply
	poll(t, "pi-2's agent answers ping", func() bool { return request(fleet.OpPing, struct{}{}, &ping) == nil })
	if ping.AgentEpoch != 42 {
		t.Errorf("ping epoch = %d, want 42", ping.AgentEpoch)
	}
	var logs fleet.LogsReply
	if err := request(fleet.OpLogs, fleet.LogsRequest{Deployment: "web", Follow: true}, &logs); err != nil || logs.Output != "hello\n" || logs.Stream == "" {
		t.Fatalf("logs --follow = %+v, %v; want hello and a stream", logs, err)
	}
	for range 3 {
		var chunk fleet.LogsReply
		if err := request(fleet.OpLogs, fleet.LogsRequest{Deployment: "web", Follow: true, Stream: logs.Stream, WaitMillis: 2000}, &chunk); err != nil || !strings.Contains(chunk.Output, "more\n") {
			t.Fatalf("pull = %+v, %v; want more", chunk, err)
		}
	}
	var end fleet.LogsReply
	if err := request(fleet.OpLogs, fleet.LogsRequest{Deployment: "web", Follow: true, Stream: logs.Stream, Stop: true}, &end); err != nil || end.End != fleet.EndStopped {
		t.Fatalf("stop = %+v, %v; want end stopped", end, err)
	}
	if v := agentErrs.violations(); len(v) > 0 {
		t.Errorf("pi-2's agent hit permission violations answering: %v", v)
	}

	// pi-1 asks pi-2 for its logs: refused by the server.
	var errs errSink
	nc := e.device(t, "pi-1", &errs)
	subj := fleet.DeviceOpSubject("pi-2", fleet.OpLogs)
	if _, err := nc.Request(subj, []byte(`{"deployment":"web"}`), 2*time.Second); err == nil {
		t.Error("pi-1's logs request to pi-2 was answered, want refused")
	}
	errs.waitDenied(t, "Publish", subj)
}
