//go:build embednats

package publisher_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

const (
	device fleet.DeviceID   = "pi-017"
	epoch  fleet.AgentEpoch = 1875123456789012
)

// waitTimeout bounds every wait for a result; generous for a loaded CI box.
const waitTimeout = 20 * time.Second

// event returns the seq-th event of deployment name.
func event(name fleet.DeploymentName, seq uint64) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID:   device,
		Deployment: name,
		Revision:   fleet.Revision{AgentEpoch: epoch, Sequence: seq},
		Transition: fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""),
		At:         time.Date(2026, 11, 26, 10, 0, 0, int(seq)*1000, time.UTC),
	}
}

// events returns events 1..n alternating between deployments web and db.
func events(from, to uint64) []fleet.StateChangeEvent {
	var out []fleet.StateChangeEvent
	for i := from; i <= to; i++ {
		name := fleet.DeploymentName("web")
		if i%2 == 0 {
			name = "db"
		}
		out = append(out, event(name, i))
	}
	return out
}

// setup starts a server, connects to it and creates the fleet's
// resources, as harmony-fleet init does.
func setup(t *testing.T) (*natsserver.Server, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	_, js := natstest.ConnectAgent(t, srv.ClientURL())
	if err := natsconn.EnsureResources(ctxT(t), js, natsconn.ResourceSettings{}); err != nil {
		t.Fatalf("EnsureResources: %v", err)
	}
	return srv, js
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// run starts p.Run and, at cleanup, stops it and waits for it: the test is
// the goroutine's owner.
func run(t *testing.T, p *publisher.NATS) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.Run(ctx); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// info returns a DeviceInfo builder for Config.Info.
func info() func() fleet.DeviceInfo {
	return func() fleet.DeviceInfo {
		return fleet.DeviceInfo{
			DeviceID: device, AgentEpoch: epoch, AgentVersion: "test", Hostname: "pi-017",
			OS: "linux", Arch: "arm64", StartedAt: time.Now().UTC(),
			Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{},
		}
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, func() string { return what })
}

// storedEvents reads every message of FLEET_EVENTS in stream order.
func storedEvents(t *testing.T, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := ctxT(t)
	st, err := js.Stream(ctx, fleet.EventsStream)
	if err != nil {
		t.Fatalf("Stream(%s): %v", fleet.EventsStream, err)
	}
	var out []*jetstream.RawStreamMsg
	state := st.CachedInfo().State
	for seq := state.FirstSeq; seq <= state.LastSeq && state.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("GetMsg(%d): %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

// nonceRE is a Msg-Id nonce: 16 lower-case hex characters.
var nonceRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// checkStored asserts that FLEET_EVENTS holds exactly want, in order, each
// on its subject with its Msg-Id.
func checkStored(t *testing.T, js jetstream.JetStream, want []fleet.StateChangeEvent) {
	t.Helper()
	got := storedEvents(t, js)
	if len(got) != len(want) {
		var ids []string
		for _, m := range got {
			ids = append(ids, m.Header.Get(fleet.MsgIDHeader))
		}
		t.Fatalf("FLEET_EVENTS holds %d events %v, want %d", len(got), ids, len(want))
	}
	nonce := "" // every event of one publisher carries its run's nonce
	for i, m := range got {
		w := want[i]
		if m.Subject != w.Subject() {
			t.Errorf("event %d: subject %q, want %q", i, m.Subject, w.Subject())
		}
		id := m.Header.Get(fleet.MsgIDHeader)
		n, ok := strings.CutPrefix(id, w.MsgID(""))
		if i == 0 {
			nonce = n
		}
		if !ok || !nonceRE.MatchString(n) || n != nonce {
			t.Errorf("event %d: %s %q, want %q (nonce %q)", i, fleet.MsgIDHeader, id, w.MsgID(nonce), nonce)
		}
		var e fleet.StateChangeEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Errorf("event %d: decode: %v", i, err)
			continue
		}
		if !e.At.Equal(w.At) || e.Revision != w.Revision || e.Deployment != w.Deployment || e.Transition != w.Transition {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

// storedInfo reads this device's DeviceInfo and the number of puts the
// bucket has seen (its last stream sequence).
func storedInfo(t *testing.T, js jetstream.JetStream) (fleet.DeviceInfo, uint64) {
	t.Helper()
	ctx := ctxT(t)
	kv, err := js.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		t.Fatalf("KeyValue(%s): %v", fleet.DeviceInfoBucket, err)
	}
	e, err := kv.Get(ctx, fleet.DeviceInfoKey(device))
	if err != nil {
		t.Fatalf("Get(%s): %v", fleet.DeviceInfoKey(device), err)
	}
	var i fleet.DeviceInfo
	if err := json.Unmarshal(e.Value(), &i); err != nil {
		t.Fatalf("decode device info: %v", err)
	}
	return i, e.Revision()
}
