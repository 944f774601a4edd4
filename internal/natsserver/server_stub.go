//go:build !embednats

package natsserver

// Compiled reports whether the embedded server is compiled into this binary
// (build tag embednats).
const Compiled = false

// Server is a running in-process nats-server. In this build (no embednats
// tag) Start never returns one.
type Server struct{}

// Start returns ErrNotCompiled: this binary was built without the embednats
// tag.
func Start(o Options) (*Server, error) { return nil, ErrNotCompiled }

// ClientURL returns "": no server runs in this build.
func (s *Server) ClientURL() string { return "" }

// Shutdown does nothing: no server runs in this build.
func (s *Server) Shutdown() {}

// Restart returns ErrNotCompiled.
func (s *Server) Restart() error { return ErrNotCompiled }

// Cluster is a running cluster of in-process servers. In this build (no
// embednats tag) StartCluster never returns one.
type Cluster struct{}

// StartCluster returns ErrNotCompiled: this binary was built without the
// embednats tag.
func StartCluster(o ClusterOptions) (*Cluster, error) { return nil, ErrNotCompiled }

// Name returns "": no server runs in this build.
func (s *Server) Name() string { return "" }
