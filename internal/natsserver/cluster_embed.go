//go:build embednats

package natsserver

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartCluster starts a JetStream cluster of o.Nodes in-process servers
// (default 3) on free ports of o.Host, each storing under its own
// directory below o.StoreDir, routed to one another, and waits (at most
// 30 seconds) until the cluster has a JetStream meta leader that every
// node follows. Tests use it to lose a node (Node(i).Shutdown) and bring it
// back (Node(i).Restart: same ports, same store).
func StartCluster(o ClusterOptions) (*Cluster, error) {
	if o.StoreDir == "" {
		return nil, ErrNoStoreDir
	}
	n := o.Nodes
	if n == 0 {
		n = DefaultClusterNodes
	}
	if n < 1 {
		return nil, fmt.Errorf("natsserver: start cluster: %d nodes", n)
	}
	name := o.Name
	if name == "" {
		name = DefaultClusterName
	}
	host := o.Host
	if host == "" {
		host = DefaultHost
	}
	// Every node routes to every other, so any of them can be lost and
	// restarted: the route ports are chosen before the first node starts.
	ports, err := freePorts(host, n)
	if err != nil {
		return nil, fmt.Errorf("natsserver: start cluster: %w", err)
	}
	routes := make([]*url.URL, n)
	for i, p := range ports {
		routes[i] = &url.URL{Scheme: "nats", Host: net.JoinHostPort(host, strconv.Itoa(p))}
	}
	c := &Cluster{}
	for i := range n {
		node := fmt.Sprintf("%s-%d", name, i+1)
		so := Options{Host: host, StoreDir: filepath.Join(o.StoreDir, node), Log: o.Log}
		if o.Log != nil {
			so.Log = o.Log.Named(node)
		}
		others := make([]*url.URL, 0, n-1)
		for j, r := range routes {
			if j != i {
				others = append(others, r)
			}
		}
		s, err := start(so, node, &server.ClusterOpts{Name: name, Host: host, Port: ports[i]}, others)
		if err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("natsserver: start cluster node %s: %w", node, err)
		}
		c.nodes = append(c.nodes, s)
	}
	if err := c.WaitMetaLeader(clusterReadyTimeout); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// clusterReadyTimeout bounds StartCluster's wait for a meta leader.
const clusterReadyTimeout = 30 * time.Second

// freePorts returns n distinct ports free on host now.
func freePorts(host string, n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Cluster is a running cluster of in-process servers.
type Cluster struct {
	nodes []*Server
}

// Nodes returns the cluster's servers, in the order of their names
// (<name>-1, <name>-2, ...).
func (c *Cluster) Nodes() []*Server { return c.nodes }

// Node returns the server named name, or nil.
func (c *Cluster) Node(name string) *Server {
	for _, s := range c.nodes {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// ClientURLs is every node's client URL, comma-separated, as nats.Connect
// takes them.
func (c *Cluster) ClientURLs() string {
	urls := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// MetaLeader returns the name of the running node that is the JetStream
// meta leader, or "".
func (c *Cluster) MetaLeader() string {
	for _, s := range c.nodes {
		if srv := s.running(); srv != nil && srv.JetStreamIsLeader() {
			return s.Name()
		}
	}
	return ""
}

// WaitMetaLeader waits until a running node is the meta leader and every
// running node follows it.
func (c *Cluster) WaitMetaLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if c.MetaLeader() != "" && c.allCurrent() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natsserver: cluster: %w: no JetStream meta leader after %s", ErrNotReady, timeout)
		}
		time.Sleep(20 * time.Millisecond) // polling the servers' state
	}
}

func (c *Cluster) allCurrent() bool {
	for _, s := range c.nodes {
		if srv := s.running(); srv != nil && !srv.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

// StreamLeader returns the name of the running node leading stream (of the
// global account), or "".
func (c *Cluster) StreamLeader(stream string) string {
	for _, s := range c.nodes {
		if srv := s.running(); srv != nil && srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return s.Name()
		}
	}
	return ""
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for _, s := range c.nodes {
		s.Shutdown()
	}
}

// Name is the server's name (its node name in a cluster).
func (s *Server) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.ServerName
}

// running returns the running server, or nil.
func (s *Server) running() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}
