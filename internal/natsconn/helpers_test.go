//go:build embednats

package natsconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// waitTimeout bounds every wait for a result; generous for a loaded CI box.
const waitTimeout = 20 * time.Second

// connect connects like the agent does, with fast reconnects, and closes
// the connection at cleanup (before the server's shutdown, registered
// earlier).
func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsconn.Connect(natsconn.ConnOptions{URLs: []string{url}, Name: t.Name(), ReconnectWait: 50 * time.Millisecond}, zap.NewNop())
	if err != nil {
		t.Fatalf("Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	return nc, js
}

// setup starts a server and connects to it.
func setup(t *testing.T) (*natsserver.Server, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := connect(t, srv.ClientURL())
	return srv, js
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, func() string { return what })
}
