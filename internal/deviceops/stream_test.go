//go:build embednats

package deviceops_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/deviceops"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// flood is a LogSource whose Follow sends 1 KiB chunks as fast as they are
// taken, counting them.
type flood struct{ sent atomic.Int64 }

func (*flood) Logs(context.Context, fleet.DeploymentName, int, int) ([]byte, bool, error) {
	return nil, false, nil
}

func (f *flood) Follow(ctx context.Context, _ fleet.DeploymentName) (<-chan []byte, error) {
	ch := make(chan []byte)
	go func() {
		defer close(ch)
		chunk := []byte(strings.Repeat("x", 1023) + "\n")
		for {
			select {
			case ch <- chunk:
				f.sent.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

type refuse struct{}

func (refuse) Restart(fleet.DeploymentName) error { return nil }

// TestSlowRequester: a requester that does not pull holds the source back:
// the agent reads about one answer's worth ahead, not more; each pull
// gets at most MaxLogsBytes; a second stream over the limit is refused.
func TestSlowRequester(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	src := &flood{}
	ops, err := deviceops.Start(deviceops.Config{Conn: nc, Device: testDevice, StartedAt: time.Now(), Logs: src, Restarter: refuse{},
		Phases: func() map[fleet.Phase]int { return nil }, MaxStreams: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	request := func(req fleet.LogsRequest) (fleet.LogsReply, error) {
		b, _ := json.Marshal(req)
		m, err := nc.Request(fleet.DeviceOpSubject(testDevice, fleet.OpLogs), b, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r fleet.LogsReply
		return r, fleet.DecodeOpReply(m.Data, &r)
	}
	first, err := request(fleet.LogsRequest{Deployment: "web", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := request(fleet.LogsRequest{Deployment: "web", Follow: true}); err == nil || !strings.Contains(err.Error(), "too many follow streams") {
		t.Errorf("second stream = %v, want too many follow streams", err)
	}
	waitFor(t, "the buffer to fill", 10*time.Second, func() bool { return src.sent.Load() >= fleet.MaxLogsBytes/1024 })
	held := src.sent.Load()
	time.Sleep(500 * time.Millisecond) // nothing to wait for: the source must stay held back
	if n := src.sent.Load(); n > fleet.MaxLogsBytes/1024+2 {
		t.Errorf("source sent %d KiB with nobody pulling (%d when the buffer filled); want about %d", n, held, fleet.MaxLogsBytes/1024)
	}
	for range 3 {
		r, err := request(fleet.LogsRequest{Deployment: "web", Follow: true, Stream: first.Stream, WaitMillis: 1000})
		if err != nil || len(r.Output) == 0 || len(r.Output) > fleet.MaxLogsBytes {
			t.Fatalf("pull = %d bytes, %v; want 1..%d", len(r.Output), err, fleet.MaxLogsBytes)
		}
	}
}

// TestStreamBounds: a stream not pulled for StreamIdle is gone; one that
// lasted StreamMax ends with timeout, in the body and the header.
func TestStreamBounds(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ops, err := deviceops.Start(deviceops.Config{Conn: nc, Device: testDevice, StartedAt: time.Now(), Logs: &flood{}, Restarter: refuse{},
		Phases: func() map[fleet.Phase]int { return nil }, StreamIdle: 300 * time.Millisecond, StreamMax: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	request := func(req fleet.LogsRequest) (*nats.Msg, fleet.LogsReply, error) {
		b, _ := json.Marshal(req)
		m, err := nc.Request(fleet.DeviceOpSubject(testDevice, fleet.OpLogs), b, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r fleet.LogsReply
		return m, r, fleet.DecodeOpReply(m.Data, &r)
	}

	_, idle, err := request(fleet.LogsRequest{Deployment: "web", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle stream to go", 10*time.Second, func() bool {
		_, _, err := request(fleet.LogsRequest{Deployment: "web", Follow: true, Stream: idle.Stream, Stop: true})
		return err != nil && strings.Contains(err.Error(), "unknown stream")
	})

	_, long, err := request(fleet.LogsRequest{Deployment: "web", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var last fleet.LogsReply
	var hdr string
	waitFor(t, "the stream to end", 10*time.Second, func() bool {
		m, r, err := request(fleet.LogsRequest{Deployment: "web", Follow: true, Stream: long.Stream, WaitMillis: 100})
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		last, hdr = r, m.Header.Get(fleet.HeaderEnd)
		return r.End != ""
	})
	if last.End != fleet.EndTimeout || hdr != string(fleet.EndTimeout) {
		t.Errorf("end = %q, header %q; want timeout", last.End, hdr)
	}
}
