package natsserver

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// DefaultPort is the client port of the dev server (`run --dev`), the NATS
// default, so harmony-fleet's default URL reaches it.
const DefaultPort = 4222

// DefaultHost is where the server listens when Options.Host is empty:
// loopback only, the dev server is not meant to be reached from elsewhere.
const DefaultHost = "127.0.0.1"

// readyTimeout bounds the wait for the server to accept connections.
const readyTimeout = 10 * time.Second

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
