//go:build embednats

package natsconn_test

import (
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

func TestConnectAuth(t *testing.T) {
	tests := []struct {
		name string
		conf string
		opts func(t *testing.T) natsconn.ConnOptions
	}{
		{"token file", `authorization { token: "s3cret" }`, func(t *testing.T) natsconn.ConnOptions {
			return natsconn.ConnOptions{TokenFile: writeFile(t, "token", "s3cret\n")}
		}},
		{"user and password file", `authorization { user: dev, password: "pa ss" }`, func(t *testing.T) natsconn.ConnOptions {
			return natsconn.ConnOptions{User: "dev", PasswordFile: writeFile(t, "password", "pa ss\r\n")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := natstest.StartConfig(t, tt.conf)
			o := tt.opts(t)
			o.URLs = []string{"nats://127.0.0.1:1", url} // a dead server first: several URLs
			o.Name = t.Name()
			nc, err := natsconn.Connect(o, zap.NewNop())
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer nc.Close()
			waitFor(t, "connected", nc.IsConnected)
			if err := nc.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
		})
	}
}

// TestConnectLateAndReconnect: a device that boots offline gets a
// connection at once; OnReconnect fires when the server comes up and after
// each reconnect, never for an immediate first connection.
func TestConnectLateAndReconnect(t *testing.T) {
	srv := natstest.Start(t)
	srv.Shutdown()
	var ups, downs atomic.Int32
	nc, err := natsconn.Connect(natsconn.ConnOptions{
		URLs: []string{srv.ClientURL()}, ReconnectWait: 20 * time.Millisecond,
		OnReconnect:  func() { ups.Add(1) },
		OnDisconnect: func() { downs.Add(1) },
	}, zap.NewNop())
	if err != nil {
		t.Fatalf("Connect to a stopped server: %v, want a connection that connects later", err)
	}
	defer nc.Close()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "late first connection reported", func() bool { return ups.Load() == 1 })
	srv.Shutdown()
	waitFor(t, "disconnect reported", func() bool { return downs.Load() >= 1 })
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnect reported", func() bool { return ups.Load() == 2 })

	// Immediate first connection: only the reconnect counts.
	var ups2 atomic.Int32
	nc2, err := natsconn.Connect(natsconn.ConnOptions{URLs: []string{srv.ClientURL()}, ReconnectWait: 20 * time.Millisecond, OnReconnect: func() { ups2.Add(1) }}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnect reported", func() bool { return ups2.Load() >= 1 })
	if n := ups2.Load(); n != 1 {
		t.Errorf("OnReconnect called %d times for an immediate connection and one reconnect, want 1", n)
	}
}
