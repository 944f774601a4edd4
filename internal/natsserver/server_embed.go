//go:build embednats

package natsserver

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// Compiled reports whether the embedded server is compiled into this binary
// (build tag embednats).
const Compiled = true

// readyTimeout bounds the wait for the server to accept connections:
// generous, since a cluster node on a loaded CI machine took over 10 s.
const readyTimeout = 30 * time.Second

// Server is a running in-process nats-server with JetStream.
type Server struct {
	log *zap.Logger // nil: silent

	mu   sync.Mutex
	opts *server.Options // Port is pinned to the real port after the first start
	srv  *server.Server  // nil after Shutdown
}

// Start starts an in-process nats-server with JetStream as o says and waits
// until it accepts connections (at most 10 seconds).
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, ErrNoStoreDir
	}
	return start(o, "harmony-embedded", nil, nil)
}

// start starts a server named name from o; cluster, when set, makes it a
// node of a cluster routed to routes (Cluster.Port 0 picks a free port,
// pinned afterwards).
func start(o Options, name string, cluster *server.ClusterOpts, routes []*url.URL) (*Server, error) {
	host := o.Host
	if host == "" {
		host = DefaultHost
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s := &Server{
		opts: &server.Options{
			ServerName:             name,
			Host:                   host,
			Port:                   port,
			JetStream:              true,
			StoreDir:               o.StoreDir,
			NoSigs:                 true,
			NoLog:                  o.Log == nil,
			DisableJetStreamBanner: true,
		},
	}
	if cluster != nil {
		s.opts.Cluster = *cluster
		s.opts.Routes = routes
		if s.opts.Cluster.Port == 0 {
			s.opts.Cluster.Port = server.RANDOM_PORT
		}
	}
	if o.Log != nil {
		s.log = o.Log.Named("nats-server")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		return nil, err
	}
	// Pin the port a random pick chose, so Restart comes back on it and
	// clients reconnect.
	if addr, ok := s.srv.Addr().(*net.TCPAddr); ok {
		s.opts.Port = addr.Port
	}
	if cluster != nil {
		if addr := s.srv.ClusterAddr(); addr != nil {
			s.opts.Cluster.Port = addr.Port
		}
	}
	return s, nil
}

// startLocked starts a new server from s.opts. s.mu is held.
func (s *Server) startLocked() error {
	hostPort := net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
	if s.opts.Port != server.RANDOM_PORT {
		// nats-server only logs a busy port and never becomes ready; say
		// it at once instead of after the ready timeout.
		l, err := net.Listen("tcp", hostPort)
		if err != nil {
			return fmt.Errorf("natsserver: start: %w", err)
		}
		_ = l.Close()
	}
	srv, err := server.NewServer(s.opts.Clone())
	if err != nil {
		return fmt.Errorf("natsserver: start %s: %w", hostPort, err)
	}
	if s.log != nil {
		srv.SetLoggerV2(zapLogger{s.log.Sugar()}, s.log.Core().Enabled(zap.DebugLevel), false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		shutdownAndWait(srv)
		return fmt.Errorf("natsserver: start %s: %w: no client connections after %s", hostPort, ErrNotReady, readyTimeout)
	}
	if !srv.JetStreamEnabled() {
		shutdownAndWait(srv)
		return fmt.Errorf("natsserver: start %s: %w: JetStream did not start (store dir %s)", hostPort, ErrNotReady, s.opts.StoreDir)
	}
	s.srv = srv
	return nil
}

// ClientURL is the URL clients connect to, such as nats://127.0.0.1:4222.
// It stays the same across Restart.
func (s *Server) ClientURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Shutdown stops the server and waits until it has stopped. Clients see a
// disconnect. It is safe to call more than once.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		shutdownAndWait(s.srv)
		s.srv = nil
	}
}

// Restart shuts the server down (when it runs) and starts it again on the
// same host, port and store directory: clients reconnect to the same URL
// and JetStream data survives. Tests use it to simulate a server restart or
// an outage (Shutdown, act, Restart).
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		shutdownAndWait(s.srv)
		s.srv = nil
	}
	return s.startLocked()
}

func shutdownAndWait(srv *server.Server) {
	srv.Shutdown()
	srv.WaitForShutdown()
}

// zapLogger adapts a zap logger to nats-server's Logger.
type zapLogger struct{ l *zap.SugaredLogger }

func (z zapLogger) Noticef(format string, v ...any) { z.l.Infof(format, v...) }
func (z zapLogger) Warnf(format string, v ...any)   { z.l.Warnf(format, v...) }

// Fatalf logs at Error: an embedded server must never exit the process.
func (z zapLogger) Fatalf(format string, v ...any) { z.l.Errorf(format, v...) }
func (z zapLogger) Errorf(format string, v ...any) { z.l.Errorf(format, v...) }
func (z zapLogger) Debugf(format string, v ...any) { z.l.Debugf(format, v...) }
func (z zapLogger) Tracef(format string, v ...any) { z.l.Debugf(format, v...) }
