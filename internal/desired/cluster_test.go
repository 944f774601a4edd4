//go:build embednats

package desired

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// TestWatchSurvivesLostConsumerNode: on a 3-node cluster, the watcher is
// connected to node W; the node X holding its consumer (not W, and leading
// neither the stream nor the meta group, so that only the consumer is
// lost) is killed, a new value is put through W, and the watcher delivers
// it within 3 s of the kill (issue 10 defect 6; nats.go's KV watcher took
// 10-20 s).
func TestWatchSurvivesLostConsumerNode(t *testing.T) {
	c := natstest.StartCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// W: the meta leader, made the stream leader too.
	wName := c.MetaLeader()
	wNode := c.Node(wName)
	admin := connectJS(t, wNode.ClientURL())
	if err := natsconn.EnsureResources(ctx, admin, natsconn.ResourceSettings{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	kv, err := admin.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	moveStreamLeader(ctx, t, c, admin, wName)
	put(t, kv, "pi-1.web", `{"v":1}`)

	core, logs := observer.New(zap.InfoLevel)
	w := New(connectJS(t, wNode.ClientURL()), "pi-1", zap.New(core))
	out := run(t, w)
	got := make(chan time.Time, 1) // the first delivery of v2 is enough
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case u := <-out:
				for _, e := range u.Entries {
					if e.Deployment == "web" && string(e.Value) == `{"v":2}` {
						select {
						case got <- time.Now():
						default:
						}
					}
				}
			case <-ctx.Done():
				return
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Recreate the watch until its consumer lands on another node than W
	// (the placement of an R1 consumer is random among the stream's peers).
	var xName string
	for try := 0; ; try++ {
		if try == 30 {
			t.Fatalf("the watch's consumer stayed on %s in 30 tries", wName)
		}
		name := waitWatching(t, logs, try+1)
		cons, err := admin.PushConsumer(ctx, desiredStream, name)
		if err != nil {
			t.Fatalf("consumer %s: %v", name, err)
		}
		if ci := cons.CachedInfo(); ci.Cluster != nil && ci.Cluster.Leader != wName && ci.Cluster.Leader != "" {
			xName = ci.Cluster.Leader
			break
		}
		w.Restart()
	}
	if leader := c.StreamLeader(desiredStream); leader != wName || c.MetaLeader() != wName {
		t.Fatalf("stream leader %s, meta leader %s, want both %s", leader, c.MetaLeader(), wName)
	}

	kill := time.Now()
	c.Node(xName).Shutdown()
	killed := time.Since(kill)
	put(t, kv, "pi-1.web", `{"v":2}`)
	select {
	case at := <-got:
		took := at.Sub(kill)
		var lostAt time.Duration
		if l := logs.FilterMessage("desired-state watch lost its consumer; recreating").All(); len(l) > 0 {
			lostAt = l[0].Time.Sub(kill)
		}
		t.Logf("consumer on %s, watcher on %s: shutdown took %s, loss detected after %s, v2 delivered after %s", xName, wName, killed, lostAt, took)
		if took > 3*time.Second {
			t.Errorf("v2 delivered %s after the kill, want within 3s", took)
		}
		if lostAt == 0 {
			t.Errorf("no warning that the watch lost its consumer")
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("v2 not delivered within 10s of the kill of %s", xName)
	}
}

func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	return js
}

// waitWatching waits for the n-th "watching desired state" log line and
// returns the consumer it names.
func waitWatching(t *testing.T, logs *observer.ObservedLogs, n int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if l := logs.FilterMessage("watching desired state").All(); len(l) >= n {
			return l[n-1].ContextMap()["consumer"].(string)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no watch number %d within 20s", n)
		}
		time.Sleep(20 * time.Millisecond) // polling a log
	}
}

// moveStreamLeader steps the desired-state stream's leader down until node
// leads it.
func moveStreamLeader(ctx context.Context, t *testing.T, c *natsserver.Cluster, js jetstream.JetStream, node string) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": node}})
	deadline := time.Now().Add(30 * time.Second)
	for c.StreamLeader(desiredStream) != node {
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not led by %s within 30s (leader %q)", desiredStream, node, c.StreamLeader(desiredStream))
		}
		if leader := c.StreamLeader(desiredStream); leader != "" {
			_, _ = js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+desiredStream, req)
		}
		time.Sleep(100 * time.Millisecond) // polling the cluster's state
	}
	// Wait until both replicas follow the new leader.
	for {
		if s, err := js.Stream(ctx, desiredStream); err == nil && s.CachedInfo().Cluster != nil {
			current := 0
			for _, r := range s.CachedInfo().Cluster.Replicas {
				if r.Current {
					current++
				}
			}
			if current == 2 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s: replicas not current within 30s", desiredStream)
		}
		time.Sleep(50 * time.Millisecond) // polling the cluster's state
	}
}
