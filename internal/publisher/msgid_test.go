//go:build embednats

package publisher_test

import (
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
)

// TestMsgIDNonce: every event leaves with <device>.<epoch>.<seq>.<nonce>;
// the same revision sent under another run's nonce (what another device
// pre-publishing a guessed Msg-Id amounts to) is not a duplicate.
func TestMsgIDNonce(t *testing.T) {
	_, js := setup(t)
	const nonce = "00c0ffee00c0ffee"
	e := event("web", 1)
	p := publisher.New(js, publisher.Config{Device: device, MsgIDNonce: nonce})
	run(t, p)
	p.Publish(e)
	waitFor(t, "event published", func() bool { return p.Stats().Published == 1 })
	got := storedEvents(t, js)
	if len(got) != 1 {
		t.Fatalf("%d events stored, want 1", len(got))
	}
	if id, want := got[0].Header.Get(fleet.MsgIDHeader), "pi-017.1875123456789012.1.00c0ffee00c0ffee"; id != want {
		t.Errorf("%s = %q, want %q", fleet.MsgIDHeader, id, want)
	}

	other := publisher.New(js, publisher.Config{Device: device}) // a nonce of its own
	run(t, other)
	other.Publish(e)
	other.Publish(e) // re-sent under the same nonce: stored once
	waitFor(t, "both sends acknowledged", func() bool { return other.Stats().Published == 2 })
	if n := len(storedEvents(t, js)); n != 2 {
		t.Errorf("%d events stored, want 2: the other nonce's copy once", n)
	}
}
