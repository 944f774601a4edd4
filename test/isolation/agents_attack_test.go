//go:build embednats

package isolation

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// TestMsgIDGuess (issue 11, test 4): pi-1, on its own subject, publishes
// events with every Msg-Id it could guess for pi-2's next events; pi-2's
// next events are stored all the same. The attacker is made as strong as
// can be: it knows pi-2's epoch and last sequence (read here with the
// admin creds; pi-1 itself can read neither), and tries the Msg-Ids
// without a nonce and with random and fixed ones.
func TestMsgIDGuess(t *testing.T) {
	e := newEnv(t)
	e.enrol(t, "pi-1")
	e.enrol(t, "pi-2")
	e.putDesired(t, "pi-2", "web", sleepSpec)
	startAgent(t, e.agentConfig(t, "pi-2"))
	e.waitEvent(t, "pi-2", "web", fleet.PhaseRunning)
	before, ids := e.events(t, fleet.DeviceEventsSubject("pi-2"))
	last := before[len(before)-1].Revision
	t.Logf("pi-2 at epoch %d sequence %d; its Msg-Ids look like %s", last.AgentEpoch, last.Sequence, ids[len(ids)-1])

	var guesses []string
	for k := uint64(1); k <= 8; k++ {
		base := fmt.Sprintf("pi-2.%d.%d", last.AgentEpoch, last.Sequence+k)
		random := make([]byte, 8)
		_, _ = rand.Read(random)
		guesses = append(guesses, base, base+".", base+"."+hex.EncodeToString(random), base+".0000000000000000", base+".ffffffffffffffff")
	}
	var errs errSink
	attacker := e.device(t, "pi-1", &errs)
	ajs, err := jetstream.New(attacker)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, waitTimeout)
	for _, id := range guesses {
		msg := &nats.Msg{Subject: fleet.EventSubject("pi-1", "x"), Header: nats.Header{}, Data: []byte(`{}`)}
		msg.Header.Set(fleet.MsgIDHeader, id)
		ack, err := ajs.PublishMsg(ctx, msg)
		if err != nil || ack.Duplicate {
			t.Fatalf("pi-1 publishes its own event with Msg-Id %s: %+v, %v; want stored", id, ack, err)
		}
	}
	if v := errs.violations(); len(v) > 0 {
		t.Fatalf("pi-1's publishes on its own subject refused: %v", v)
	}

	// pi-2's next events: pending, running, succeeded of a job, and more.
	e.putDesired(t, "pi-2", "job", trueSpec)
	e.waitEvent(t, "pi-2", "job", fleet.PhaseSucceeded)
	after, ids := e.events(t, fleet.DeviceEventsSubject("pi-2"))
	var seqs []uint64
	for i, ev := range after {
		if ev.Revision.AgentEpoch == last.AgentEpoch {
			seqs = append(seqs, ev.Revision.Sequence)
		}
		if slices.Contains(guesses, ids[i]) {
			t.Errorf("pi-2's event %d has a guessed Msg-Id %s", ev.Revision.Sequence, ids[i])
		}
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("pi-2's stored sequences %v: %d missing (dropped as a duplicate?)", seqs, i+1)
		}
	}
	if n := seqs[len(seqs)-1]; n < last.Sequence+2 {
		t.Fatalf("pi-2's stored sequences %v: want its next events after %d stored", seqs, last.Sequence)
	}
	t.Logf("%d guessed Msg-Ids published by pi-1; pi-2's events %d..%d stored after them", len(guesses), last.Sequence+1, seqs[len(seqs)-1])
}

// TestRevokedAgent (issue 11, test 5): after harmony-fleet device remove
// pi-2 --revoke-with the bootstrap directory (the full resolver), the
// server closes pi-2's agent's connection and refuses it again and again;
// the agent logs why at warn, keeps retrying and does not exit. pi-1's
// agent is untouched.
func TestRevokedAgent(t *testing.T) {
	e := newEnv(t)
	e.enrol(t, "pi-1")
	e.enrol(t, "pi-2")
	agents := map[fleet.DeviceID]*agentRun{}
	for _, id := range []fleet.DeviceID{"pi-1", "pi-2"} {
		e.putDesired(t, id, "web", sleepSpec)
		agents[id] = startAgent(t, e.agentConfig(t, id))
	}
	for id := range agents {
		e.waitPhase(t, id, "web", fleet.PhaseRunning)
	}

	if n := len(e.srvLog.authFailures()); n > 0 {
		t.Fatalf("the server refused %d connections before the revocation", n)
	}
	out := e.mustFleet(t, "device", "remove", "pi-2", "--revoke-with", e.boot.Dir)
	t.Logf("device remove: %s", out)
	pi2 := agents["pi-2"]
	poll(t, "pi-2's agent logs the refusal at warn", func() bool {
		return pi2.warned("NATS refused the credentials", "") || pi2.warned("cannot connect to NATS", "uthorization")
	})
	// Only pi-2 is refused: pi-1 stays connected (checked below).
	refusals := func() int { return len(e.srvLog.authFailures()) }
	testsupport.Poll(t, waitTimeout, func() bool { return refusals() >= 3 }, func() string {
		return fmt.Sprintf("the server refusing pi-2's agent 3 times; its errors:\n%s", strings.Join(e.srvLog.all(), "\n"))
	})
	poll(t, "pi-2's agent retries (logged at debug after the first warning)", func() bool {
		return pi2.logs.FilterMessageSnippet("again").Len() >= 2
	})
	select {
	case err := <-pi2.done:
		t.Fatalf("pi-2's agent exited after the revocation: %v", err)
	default:
	}
	t.Logf("pi-2's agent, refused %d times, still runs; its warnings:\n%s", refusals(), grepLines(pi2.text.String(), `"level":"warn"`))

	e.putDesired(t, "pi-1", "job", trueSpec)
	e.waitPhase(t, "pi-1", "job", fleet.PhaseSucceeded)
}

// TestMissingCredsFile: an agent whose creds file is not installed yet
// (the .deb names /etc/harmony-agent/device.creds before the operator
// copies it) keeps running, says so at warn, and connects once the file
// is there.
func TestMissingCredsFile(t *testing.T) {
	e := newEnv(t)
	e.enrol(t, "pi-1")
	e.putDesired(t, "pi-1", "web", sleepSpec)
	cfg := e.agentConfig(t, "pi-1")
	cfg.NATS.CredsFile = filepath.Join(t.TempDir(), "device.creds")
	a := startAgent(t, cfg)
	poll(t, "the agent warns that the creds file is missing", func() bool {
		return a.warned("creds file missing", "no such file")
	})
	poll(t, "the agent says the server refuses it", func() bool {
		return a.warned("cannot connect to NATS", "") || a.warned("NATS refused the credentials", "")
	})
	b, err := os.ReadFile(e.credsFile["pi-1"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.NATS.CredsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.waitPhase(t, "pi-1", "web", fleet.PhaseRunning)
	select {
	case err := <-a.done:
		t.Fatalf("the agent exited: %v", err)
	default:
	}
}
