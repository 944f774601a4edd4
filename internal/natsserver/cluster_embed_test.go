//go:build embednats

package natsserver_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// TestCluster: three nodes with distinct URLs and a meta leader; an R3
// stream gets a leader and two current replicas; losing one node leaves a
// working cluster, and the node comes back on its ports.
func TestCluster(t *testing.T) {
	c := natstest.StartCluster(t)
	nodes := c.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("Nodes() = %d servers, want 3", len(nodes))
	}
	var names, urls []string
	for _, n := range nodes {
		names = append(names, n.Name())
		urls = append(urls, n.ClientURL())
	}
	if want := []string{"harmony-1", "harmony-2", "harmony-3"}; !slices.Equal(names, want) {
		t.Errorf("node names = %v, want %v", names, want)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(urls)))) != 3 {
		t.Errorf("client URLs = %v, want 3 distinct", urls)
	}
	if got := c.ClientURLs(); got != strings.Join(urls, ",") {
		t.Errorf("ClientURLs() = %q, want %q", got, strings.Join(urls, ","))
	}
	if c.MetaLeader() == "" {
		t.Fatal("MetaLeader() = \"\" after StartCluster")
	}

	nc := connect(t, c.ClientURLs())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatalf("CreateStream R3: %v", err)
	}
	waitFor(t, "a leader of T", func() bool { return c.StreamLeader("T") != "" })

	// Lose a node that leads nothing, publish through the others.
	var lost int
	for i, n := range nodes {
		if n.Name() != c.MetaLeader() && n.Name() != c.StreamLeader("T") {
			lost = i
		}
	}
	nodes[lost].Shutdown()
	// Through a node that stays up: a connection to the lost one would
	// first have to notice and reconnect. Each attempt is bounded, since a
	// request sent while the cluster re-forms may get no answer.
	up := connect(t, c.Node(c.StreamLeader("T")).ClientURL())
	jsUp, err := jetstream.New(up)
	if err != nil {
		t.Fatal(err)
	}
	var perr error
	waitFor(t, "a publish acknowledged with "+nodes[lost].Name()+" down", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		_, perr = jsUp.Publish(pctx, "t.a", []byte("x"), jetstream.WithMsgID("one"))
		return perr == nil
	})
	if err := nodes[lost].Restart(); err != nil {
		t.Fatalf("Restart %s: %v", nodes[lost].Name(), err)
	}
	if got := nodes[lost].ClientURL(); got != urls[lost] {
		t.Errorf("ClientURL() after Restart = %q, want %q", got, urls[lost])
	}
	nc2 := connect(t, urls[lost], nats.MaxReconnects(0))
	js2, _ := jetstream.New(nc2)
	waitFor(t, "T's message seen from the restarted node", func() bool {
		s, err := js2.Stream(ctx, "T")
		return err == nil && s.CachedInfo().State.Msgs == 1 && len(s.CachedInfo().Cluster.Replicas) == 2
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	testsupport.Poll(t, 30*time.Second, ok, func() string { return what })
}
