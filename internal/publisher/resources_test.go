//go:build embednats

package publisher_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/publisher"
)

// TestPublishWithoutCreatePermission: an agent that may not create streams
// says so once and publishes to what the operator created.
func TestPublishWithoutCreatePermission(t *testing.T) {
	url := natstest.StartConfig(t, `authorization { users = [
		{ user: admin, password: a },
		{ user: agent, password: p, permissions: { publish: { deny: ["$JS.API.STREAM.CREATE.>"] } } }
	] }`)
	_, admin := natstest.ConnectAgent(t, strings.Replace(url, "nats://", "nats://admin:a@", 1))
	ctx := ctxT(t)
	if _, err := admin.CreateStream(ctx, jetstream.StreamConfig{Name: fleet.EventsStream, Subjects: []string{fleet.EventsSubjects}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fleet.DeviceInfoBucket}); err != nil {
		t.Fatal(err)
	}

	_, js := natstest.ConnectAgent(t, strings.Replace(url, "nats://", "nats://agent:p@", 1))
	core, logs := observer.New(zap.WarnLevel)
	p := publisher.New(js, publisher.Config{
		Device: device, Info: info(), PublishTimeout: 300 * time.Millisecond, Log: zap.New(core),
		Resources: func(ctx context.Context) error {
			return natsconn.Ensure(ctx, js, natsconn.AgentResources(natsconn.ResourceSettings{}), natsconn.EnsureOptions{Create: true})
		},
	})
	run(t, p)
	want := events(1, 3)
	for _, e := range want {
		p.Publish(e)
	}
	waitFor(t, "3 events published", func() bool { return p.Stats().Published == 3 })
	waitFor(t, "device info written", func() bool { return p.Stats().InfoPuts >= 1 })
	checkStored(t, admin, want)
	warns := logs.FilterMessageSnippet("JetStream resources not as wanted").All()
	if len(warns) != 1 {
		t.Fatalf("%d warnings about resources, want 1", len(warns))
	}
	if err, _ := warns[0].ContextMap()["error"].(string); !strings.Contains(err, "create bucket desired-state: natsconn: not permitted") || !strings.Contains(err, "duplicate window is 1m0s") {
		t.Errorf("warning error = %q, want the refused bucket and the stream mismatch", err)
	}
}

// TestWaitForMissingResources: a publisher that may not create resources
// names what is missing once, creates nothing, and publishes once an
// operator has created them; replicas an operator chose are not a
// warning.
func TestWaitForMissingResources(t *testing.T) {
	_, js := natstest.ConnectAgent(t, natstest.Start(t).ClientURL())
	core, logs := observer.New(zap.DebugLevel)
	settings := natsconn.ResourceSettings{Replicas: 3} // what the agent would ask on its own: not what exists
	p := publisher.New(js, publisher.Config{
		Device: device, Info: info(), PublishTimeout: 300 * time.Millisecond, Log: zap.New(core),
		Resources: func(ctx context.Context) error {
			return natsconn.Ensure(ctx, js, natsconn.AgentResources(settings), natsconn.EnsureOptions{IgnoreReplicas: true})
		},
	})
	run(t, p)
	want := events(1, 2)
	for _, e := range want {
		p.Publish(e)
	}
	waitFor(t, "missing resources named", func() bool { return logs.FilterMessage("waiting for JetStream resources").Len() > 0 })
	waitFor(t, "several checks", func() bool { return logs.FilterMessage("checking JetStream resources failed again").Len() >= 2 })
	if n := logs.FilterMessage("waiting for JetStream resources").Len(); n != 1 {
		t.Errorf("%d warnings naming the missing resources, want 1 (once per change)", n)
	}
	err, _ := logs.FilterMessage("waiting for JetStream resources").All()[0].ContextMap()["error"].(string)
	for _, what := range []string{"stream FLEET_EVENTS", "bucket desired-state", "bucket device-info", "run harmony-fleet init"} {
		if !strings.Contains(err, what) {
			t.Errorf("warning %q does not name %q", err, what)
		}
	}
	if _, err := js.Stream(ctxT(t), fleet.EventsStream); err == nil {
		t.Fatal("the publisher created FLEET_EVENTS without being allowed to")
	}

	if err := natsconn.EnsureResources(ctxT(t), js, natsconn.ResourceSettings{}); err != nil { // replicas 1
		t.Fatal(err)
	}
	waitFor(t, "events published once the resources exist", func() bool { return p.Stats().Published == 2 })
	checkStored(t, js, want)
	waitFor(t, "resources ready", func() bool { return logs.FilterMessage("JetStream stream and buckets ready").Len() == 1 })
	if n := logs.FilterMessageSnippet("not as wanted").Len(); n != 0 {
		t.Errorf("%d warnings about resources an operator made, want 0", n)
	}
}
