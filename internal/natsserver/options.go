package natsserver

import (
	"errors"

	"go.uber.org/zap"
)

// DefaultPort is the client port of the dev server (`run --dev`), the NATS
// default, so harmony-fleet's default URL reaches it.
const DefaultPort = 4222

// DefaultHost is where the server listens when Options.Host is empty:
// loopback only, the dev server is not meant to be reached from elsewhere.
const DefaultHost = "127.0.0.1"

var (
	// ErrNotCompiled is returned by Start in a binary built without the
	// embednats tag.
	ErrNotCompiled = errors.New("natsserver: embedded NATS server not compiled in: build with -tags embednats, e.g. make run or make build-dev")
	// ErrNoStoreDir is returned by Start when Options.StoreDir is empty.
	ErrNoStoreDir = errors.New("natsserver: no store directory")
	// ErrNotReady is returned when the server does not accept connections
	// within 10 seconds, or runs without JetStream.
	ErrNotReady = errors.New("natsserver: not ready")
)

// Options configures Start. The zero value of every field but StoreDir is
// usable.
type Options struct {
	// Host is the listen address; empty means DefaultHost.
	Host string
	// Port is the client port; 0 picks a free port (tests). The dev default
	// is DefaultPort.
	Port int
	// StoreDir is where JetStream keeps its data (under StoreDir/jetstream).
	// Required: a server restarted on the same StoreDir keeps its streams
	// and buckets.
	StoreDir string
	// Log receives the server's log lines (Named "nats-server"); nil keeps
	// the server silent.
	Log *zap.Logger
}

// DefaultClusterNodes is the size of a cluster StartCluster starts when
// ClusterOptions.Nodes is 0, and DefaultClusterName its name.
const (
	DefaultClusterNodes = 3
	DefaultClusterName  = "harmony"
)

// ClusterOptions configures StartCluster. The zero value of every field but
// StoreDir is usable.
type ClusterOptions struct {
	// Nodes is the number of servers; 0 means DefaultClusterNodes.
	Nodes int
	// Name is the cluster's name, and the nodes are <Name>-1, <Name>-2...;
	// empty means DefaultClusterName.
	Name string
	// Host is where every node listens; empty means DefaultHost.
	Host string
	// StoreDir is the root of the nodes' stores: each node keeps its
	// JetStream data under StoreDir/<node name>. Required.
	StoreDir string
	// Log receives the servers' log lines (Named per node); nil keeps them
	// silent.
	Log *zap.Logger
}
