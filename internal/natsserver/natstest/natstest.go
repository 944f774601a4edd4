//go:build embednats

package natstest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
)

// Start starts a silent server with JetStream on a random port of
// 127.0.0.1, storing under t.TempDir(), and registers its Shutdown with
// t.Cleanup. It fails the test when the server does not start.
func Start(t testing.TB) *natsserver.Server {
	t.Helper()
	return StartWith(t, natsserver.Options{})
}

// StartWith is Start with o; an empty o.StoreDir becomes t.TempDir().
func StartWith(t testing.TB, o natsserver.Options) *natsserver.Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	s, err := natsserver.Start(o)
	if err != nil {
		t.Fatalf("natsserver.Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// StartConfig starts a silent server from nats-server configuration text
// (authorization, accounts, permissions: what natsserver.Options does not
// offer), adding a random port on 127.0.0.1 and JetStream stored under
// t.TempDir(). It returns the client URL and registers the shutdown with
// t.Cleanup. The server is not restartable; use Start for reconnect tests.
func StartConfig(t testing.TB, conf string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nats.conf")
	text := fmt.Sprintf("listen: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\n%s\n", filepath.Join(dir, "js"), conf)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("natstest: config: %v\n%s", err, text)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: start: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("natstest: server not ready after 10s")
	}
	return s.ClientURL()
}

// StartCluster starts a silent 3-node JetStream cluster on random ports of
// 127.0.0.1, storing under t.TempDir(), with a meta leader, and registers
// its Shutdown with t.Cleanup. It fails the test when the cluster does not
// form.
func StartCluster(t testing.TB) *natsserver.Cluster {
	t.Helper()
	return StartClusterWith(t, natsserver.ClusterOptions{})
}

// StartClusterWith is StartCluster with o; an empty o.StoreDir becomes
// t.TempDir().
func StartClusterWith(t testing.TB, o natsserver.ClusterOptions) *natsserver.Cluster {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	c, err := natsserver.StartCluster(o)
	if err != nil {
		t.Fatalf("natsserver.StartCluster: %v", err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// Connect connects to url with opts, closed by t.Cleanup (registered after the
// server's shutdown, so it runs first), and returns the connection and its
// JetStream. It fails the test when either cannot be had.
func Connect(t testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("nats.Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	return nc, js
}

// ConnectAgent connects to url as the agent does (natsconn.Connect: its
// reconnect and error handling), with fast reconnects, closed by
// t.Cleanup, and returns the connection and its JetStream.
func ConnectAgent(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsconn.Connect(natsconn.ConnOptions{URLs: []string{url}, Name: t.Name(), ReconnectWait: 50 * time.Millisecond}, zap.NewNop())
	if err != nil {
		t.Fatalf("natsconn.Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	return nc, js
}
