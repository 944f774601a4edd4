//go:build embednats

package daemon_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// TestDeviceOpsAndHost: the daemon answers ping with its epoch, and its
// DeviceInfo carries the host's metrics with the state disk.
func TestDeviceOpsAndHost(t *testing.T) {
	srv := natstest.Start(t)
	cfg := agentConfig(t, srv.ClientURL())
	cfg.NATS.CreateResources = true
	ctx, stop := context.WithCancel(context.Background())
	done := start(t, ctx, cfg, zap.NewNop())
	defer func() { stop(); <-done }()

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var ping fleet.PingReply
	waitFor(t, "a ping answer", func() bool {
		m, err := nc.Request(fleet.DeviceOpSubject(device, fleet.OpPing), nil, time.Second)
		return err == nil && fleet.DecodeOpReply(m.Data, &ping) == nil
	})
	if ping.DeviceID != device || ping.AgentEpoch == 0 || ping.AgentVersion != "test" || ping.Connection != "connected" {
		t.Errorf("ping = %+v, want this device's epoch, version test, connected", ping)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var info fleet.DeviceInfo
	waitFor(t, "device info with host", func() bool {
		kv, err := js.KeyValue(context.Background(), fleet.DeviceInfoBucket)
		if err != nil {
			return false
		}
		e, err := kv.Get(context.Background(), fleet.DeviceInfoKey(device))
		return err == nil && json.Unmarshal(e.Value(), &info) == nil && info.Host != nil
	})
	if info.AgentEpoch != ping.AgentEpoch {
		t.Errorf("device info epoch %d, ping's %d", info.AgentEpoch, ping.AgentEpoch)
	}
	d, ok := info.Host.Disks[fleet.DiskState]
	if !ok || d.Path != cfg.StateDir || d.TotalBytes == 0 {
		t.Errorf("host disks = %+v, want the state disk at %s", info.Host.Disks, cfg.StateDir)
	}
	if info.Host.Memory == nil || info.Host.Memory.TotalBytes == nil {
		t.Errorf("host memory = %+v, want the total", info.Host.Memory)
	}
}
