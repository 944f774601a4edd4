//go:build embednats

package natsconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// waitTimeout bounds every wait for a result; generous for a loaded CI box.
const waitTimeout = 20 * time.Second

// setup starts a server and connects to it.
func setup(t *testing.T) (*natsserver.Server, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := natstest.ConnectAgent(t, srv.ClientURL())
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
