//go:build embednats

package natsserver_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("nats.Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestStartCompiled(t *testing.T) {
	if !natsserver.Compiled {
		t.Fatal("Compiled = false with the embednats tag")
	}
}

func TestStartNoStoreDir(t *testing.T) {
	if _, err := natsserver.Start(natsserver.Options{}); !errors.Is(err, natsserver.ErrNoStoreDir) {
		t.Fatalf("Start without StoreDir: err = %v, want ErrNoStoreDir", err)
	}
}

func TestStartPortBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	s, err := natsserver.Start(natsserver.Options{Port: port, StoreDir: t.TempDir()})
	if err == nil {
		s.Shutdown()
		t.Fatalf("Start on busy port %d: no error", port)
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start on busy port: err = %v, want it to say the address is in use", err)
	}
}

// TestRestartKeepsPortAndData checks the contract the reconnect tests of
// other packages rely on: same URL, JetStream data kept, clients reconnect.
func TestRestartKeepsPortAndData(t *testing.T) {
	s := natstest.Start(t)
	url := s.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") || strings.HasSuffix(url, ":-1") {
		t.Fatalf("ClientURL() = %q, want nats://127.0.0.1:<port>", url)
	}
	reconnected := make(chan struct{}, 1) // one signal is enough; later ones are dropped
	nc := connect(t, url, nats.ReconnectHandler(func(*nats.Conn) {
		select {
		case reconnected <- struct{}{}:
		default:
		}
	}))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := js.Publish(ctx, "t.a", []byte("x")); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got := s.ClientURL(); got != url {
		t.Errorf("ClientURL() after Restart = %q, want %q", got, url)
	}
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("client did not reconnect after Restart")
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatalf("Stream after Restart: %v", err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("stream T after Restart holds %d messages, want 1", n)
	}

	// Shutdown, then Restart, as the outage tests do.
	s.Shutdown()
	s.Shutdown() // idempotent
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart after Shutdown: %v", err)
	}
}

func TestStartLogsToZap(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	natstest.StartWith(t, natsserver.Options{Log: zap.New(core)})
	if logs.FilterLoggerName("nats-server").Len() == 0 {
		t.Fatal("no log line from logger nats-server")
	}
}
