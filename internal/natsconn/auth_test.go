//go:build embednats

package natsconn_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// TestReconnectAfterAuthFailure: a password the server refuses does not
// end the connection: it retries forever, says why once at warn level
// (not once per attempt), and connects, without a restart, once the
// password file holds the password the server accepts.
func TestReconnectAfterAuthFailure(t *testing.T) {
	url := natstest.StartConfig(t, `authorization { user: pi, password: "rotated" }`)
	pwFile := writeFile(t, "password", "old\n")
	core, logs := observer.New(zap.DebugLevel)
	nc, err := natsconn.Connect(natsconn.ConnOptions{
		URLs: []string{url}, User: "pi", PasswordFile: pwFile, ReconnectWait: 20 * time.Millisecond,
	}, zap.New(core))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	refused := func() int {
		n := 0
		for _, e := range logs.All() {
			if e.Level == zap.WarnLevel && e.ContextMap()["error"] != nil && contains(e.ContextMap()["error"], "uthorization") {
				n++
			}
		}
		return n
	}
	waitFor(t, "the refusal logged", func() bool { return refused() >= 1 })
	waitFor(t, "more refused attempts", func() bool { return nc.Stats().Reconnects >= 5 })
	if nc.IsClosed() || nc.IsConnected() {
		t.Fatalf("after refusals: closed %v, connected %v; want still trying", nc.IsClosed(), nc.IsConnected())
	}
	if n := refused(); n != 1 {
		t.Errorf("%d warnings about the refusal, want 1 (once per change of reason)", n)
	}

	// The operator installs the rotated password: no restart.
	if err := os.WriteFile(pwFile, []byte("rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected with the rotated password", nc.IsConnected)
}

func contains(v any, sub string) bool {
	s, _ := v.(string)
	return strings.Contains(s, sub)
}
