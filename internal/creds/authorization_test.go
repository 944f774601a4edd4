//go:build embednats

package creds_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/harmony-edge/harmony-agent/internal/creds"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// TestServerAuthorizationBlock: the block is a valid nats-server
// configuration whose user gets the device's permissions.
func TestServerAuthorizationBlock(t *testing.T) {
	block := creds.ServerAuthorizationBlock("pi-1", "")
	conf := strings.Replace(block, creds.PasswordPlaceholder("pi-1"), "s3cret", 1)
	url := natstest.StartConfig(t, conf)
	errs := make(chan error, 16) // async errors; more than the test makes
	nc, err := nats.Connect(url, nats.UserInfo("pi-1", "s3cret"), nats.CustomInboxPrefix("_INBOX_pi-1"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("connect as pi-1: %v\n%s", err, conf)
	}
	defer nc.Close()
	if _, err := nc.SubscribeSync("_INBOX_pi-1.x"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), `Subscription to "_INBOX.>"`) {
			t.Errorf("async error %v, want the refusal of _INBOX.>", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscribe _INBOX.> not refused within 10s")
	}

	nkeyBlock := creds.ServerAuthorizationBlock("pi-1", "UAJJT27ATX6HJ46GRGC57YBLCKVL43YLXSFBDRM2AZH3REHYMSO4QTXE")
	if !strings.Contains(nkeyBlock, `nkey: "UAJJT27ATX6HJ46GRGC57YBLCKVL43YLXSFBDRM2AZH3REHYMSO4QTXE"`) || strings.Contains(nkeyBlock, "password") {
		t.Errorf("nkey block:\n%s", nkeyBlock)
	}
}
