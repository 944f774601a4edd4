package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultAddr is where the API listens unless told otherwise: loopback,
// where no token is required.
const DefaultAddr = "127.0.0.1:8080"

// DefaultKeepAlive is how often an idle event stream gets a comment line,
// so proxies and browsers keep it open and a gone client is noticed.
const DefaultKeepAlive = 15 * time.Second

// ShutdownTimeout bounds the graceful shutdown when ListenAndServe's
// context ends.
const ShutdownTimeout = 5 * time.Second

// TokenCookie is the cookie the dashboard's first load sets from ?token=
// (see Server).
const TokenCookie = "harmony_token"

// ErrTokenRequired is returned by New for a non-loopback address without a
// token file.
var ErrTokenRequired = errors.New("api: a non-loopback address requires a token file (--http-token-file)")

// Options configures a Server. View is required; the rest is optional.
type Options struct {
	// Addr is the TCP address to listen on; empty means DefaultAddr.
	Addr string
	// TokenFile holds the bearer token (surrounding whitespace trimmed).
	// Required when Addr is not a loopback address; when set, every
	// request must carry the token, on loopback too. It must not be
	// readable by group or others.
	TokenFile string
	// View is the fleet the API serves.
	View View
	// Rollouts pauses and resumes rollouts; nil answers 503 to the POSTs.
	Rollouts Rollouts
	// Log is the server's logger; nil logs nothing.
	Log *zap.Logger
	// EventsFolded returns how many events the view has folded so far
	// (harmony_events_folded_total); nil leaves the metric out.
	EventsFolded func() uint64
	// LeaseHeld reports whether this replica holds the controller lease
	// (harmony_controller_lease_held); nil leaves the metric out.
	LeaseHeld func() bool
	// KeepAlive is the event streams' keep-alive interval; zero means
	// DefaultKeepAlive.
	KeepAlive time.Duration
	// Now is the clock used for heartbeat ages; nil means time.Now.
	Now func() time.Time
}

// Server is the HTTP API, the event stream, /metrics and the dashboard.
//
// Access: with a token configured, a request is let in when it carries
// "Authorization: Bearer <token>", or the cookie TokenCookie derived from
// it (cookieValue). The dashboard cannot put a header on the page load or
// on EventSource, so GET /?token=<token> checks the token, sets the cookie
// (HttpOnly, SameSite=Strict) and redirects to / without it: the token leaves
// the address bar and history at once, never reaches JavaScript
// (sessionStorage would expose it to any injected script) and is never
// written in other URLs, where access logs and Referer headers would keep
// it. A POST authenticated by the cookie alone must also carry the header
// X-Harmony-Dashboard: 1, which a cross-site form cannot send and a
// cross-site fetch cannot send without a CORS preflight this server never
// grants. Tokens are compared in constant time.
type Server struct {
	opts    Options
	token   []byte // nil: no token required
	cookie  []byte // cookieValue(token)
	log     *zap.Logger
	handler http.Handler
	reg     *prometheus.Registry
	metrics *httpMetrics

	// done is closed when shutdown begins, ending the event streams
	// (http.Server.Shutdown does not wait for them to end by themselves).
	done     chan struct{}
	doneOnce sync.Once
}

// New checks o, reads the token file and builds the server. It does not
// listen.
func New(o Options) (*Server, error) {
	if o.View == nil {
		return nil, errors.New("api: options: View is required")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opts: o, log: o.Log, done: make(chan struct{})}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	loopback, err := isLoopback(o.Addr)
	if err != nil {
		return nil, err
	}
	switch {
	case o.TokenFile != "":
		tok, err := readToken(o.TokenFile)
		if err != nil {
			return nil, err
		}
		s.token, s.cookie = tok, []byte(cookieValue(tok))
	case !loopback:
		return nil, fmt.Errorf("listen %s: %w", o.Addr, ErrTokenRequired)
	}
	s.reg = prometheus.NewRegistry()
	s.metrics = newHTTPMetrics(s.reg)
	s.registerFleetMetrics()
	s.handler = s.routes()
	return s, nil
}

// isLoopback reports whether addr's host is a loopback address or
// "localhost". An empty host (all interfaces) is not.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("api: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// readToken reads a token file, refusing one that group or others can
// read or that holds no token.
func readToken(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("read token file %s: mode %04o lets group or others read it; run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, fmt.Errorf("read token file %s: empty", path)
	}
	return []byte(tok), nil
}

// Handler returns the server's handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the configured listen address.
func (s *Server) Addr() string { return s.opts.Addr }

// Listen binds the configured address. The error says which address could
// not be bound and why; a replica that gets one should exit with it.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return ln, nil
}

// ListenAndServe binds the configured address and serves until ctx ends,
// then shuts down gracefully. It returns the bind error, a serve error, or
// nil after a shutdown caused by ctx.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (which it closes) until ctx ends, then stops taking
// connections, ends the event streams and waits up to ShutdownTimeout for
// the requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	s.log.Info("http listening", zap.String("addr", ln.Addr().String()), zap.Bool("token", s.token != nil))
	errc := make(chan error, 1) // Serve's one result
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.doneOnce.Do(func() { close(s.done) })
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // http.ErrServerClosed once Shutdown began
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

// authorized reports whether r carries the token, when one is required.
func (s *Server) authorized(r *http.Request) (ok bool, why string) {
	if s.token == nil {
		return true, ""
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, found := strings.CutPrefix(h, "Bearer ")
		if !found {
			return false, "authorization header is not a bearer token"
		}
		if !s.tokenMatches(tok) {
			return false, "bad bearer token"
		}
		return true, ""
	}
	if c, err := r.Cookie(TokenCookie); err == nil {
		if subtle.ConstantTimeCompare([]byte(c.Value), s.cookie) != 1 {
			return false, "bad token cookie"
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("X-Harmony-Dashboard") != "1" {
			return false, "a " + r.Method + " authenticated by cookie needs the header X-Harmony-Dashboard: 1"
		}
		return true, ""
	}
	return false, "missing bearer token"
}

// cookieValue is the dashboard cookie for token: a hash of it, so the
// cookie holds only cookie-safe characters and never the token itself.
func cookieValue(token []byte) string {
	sum := sha256.Sum256(append([]byte("harmony-dashboard-cookie:"), token...))
	return hex.EncodeToString(sum[:])
}

func (s *Server) tokenMatches(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), s.token) == 1
}
