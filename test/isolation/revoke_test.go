//go:build embednats

package isolation

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/creds"
)

// claimsUpdateSubject is where a full resolver takes a new account JWT,
// from a system-account user.
const claimsUpdateSubject = "$SYS.REQ.CLAIMS.UPDATE"

// TestRevocation: after pi-2's user is revoked in the account JWT and the
// JWT is pushed to the full resolver, pi-2's open connection is closed and
// a new one is refused; pi-1 is untouched.
func TestRevocation(t *testing.T) {
	e := newEnv(t, "pi-1", "pi-2")
	closed := make(chan struct{})
	existing := e.connect(t, e.credsFile["pi-2"], fleet.InboxPrefix("pi-2"), nil,
		nats.MaxReconnects(0), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	pi1 := e.device(t, "pi-1", nil)

	op, err := creds.LoadSeed(e.boot.OperatorKey, nkeys.PrefixByteOperator)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := os.ReadFile(e.boot.AccountJWT)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := creds.Revoke(string(acct), op, e.userPub["pi-2"], time.Now())
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if ok, err := creds.IsRevoked(revoked, e.userPub["pi-2"], time.Now().Add(-time.Second)); err != nil || !ok {
		t.Fatalf("IsRevoked(pi-2) = %v, %v, want true", ok, err)
	}

	sys := e.connect(t, e.boot.SystemCreds, "", nil)
	msg, err := sys.Request(claimsUpdateSubject, []byte(revoked), waitTimeout)
	if err != nil {
		t.Fatalf("request %s: %v", claimsUpdateSubject, err)
	}
	var resp struct {
		Data *struct {
			Code int `json:"code"`
		} `json:"data"`
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil || resp.Error != nil || resp.Data == nil || resp.Data.Code != 200 {
		t.Fatalf("%s answered %s, want code 200", claimsUpdateSubject, msg.Data)
	}

	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatalf("pi-2's existing connection still open %s after the revocation (status %v)", waitTimeout, existing.Status())
	}
	t.Logf("existing connection closed: last error %v", existing.LastError())

	_, err = nats.Connect(e.url(), nats.UserCredentials(e.credsFile["pi-2"]))
	if err == nil || !(errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthRevoked) || strings.Contains(strings.ToLower(err.Error()), "authorization violation")) {
		t.Fatalf("connect with revoked creds: %v, want an authorization error", err)
	}
	t.Logf("new connection refused: %v", err)

	if err := pi1.Flush(); err != nil || !pi1.IsConnected() {
		t.Fatalf("pi-1 after pi-2's revocation: connected %v, flush %v", pi1.IsConnected(), err)
	}
}
