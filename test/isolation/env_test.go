//go:build embednats

package isolation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/creds"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// waitTimeout bounds every wait for a result; generous for a loaded
// 2-core machine.
const waitTimeout = 30 * time.Second

// deniedTimeout bounds the wait for the server's refusal of one attack.
const deniedTimeout = 10 * time.Second

// env is an operator-mode server made by creds.Bootstrap, with the fleet's
// resources created by the admin user and devices enrolled with
// creds.IssueDeviceUser.
type env struct {
	boot      creds.Bootstrapped
	srvLog    *serverLog
	mu        sync.Mutex
	opts      *server.Options
	srv       *server.Server
	admin     *nats.Conn
	adminJS   jetstream.JetStream
	credsFile map[fleet.DeviceID]string
	userPub   map[fleet.DeviceID]string
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newEnv bootstraps, starts the server from the bootstrap's configuration
// file as written (but on loopback and a random port), creates the
// buckets and stream as harmony-fleet init does, and enrols devices
// (creds.IssueDeviceUser only: enrol is device add).
func newEnv(t *testing.T, devices ...fleet.DeviceID) *env {
	t.Helper()
	boot, err := creds.Bootstrap(filepath.Join(t.TempDir(), "boot"), -1)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	opts, err := server.ProcessConfigFile(boot.ConfigFile)
	if err != nil {
		b, _ := os.ReadFile(boot.ConfigFile)
		t.Fatalf("ProcessConfigFile: %v\n%s", err, b)
	}
	opts.Host = "127.0.0.1"
	opts.NoSigs = true
	e := &env{boot: boot, srvLog: &serverLog{}, opts: opts, credsFile: map[fleet.DeviceID]string{}, userPub: map[fleet.DeviceID]string{}}
	e.start(t)
	t.Cleanup(e.shutdown)
	// Pin the port for restarts.
	if addr, ok := e.srv.Addr().(*net.TCPAddr); ok {
		e.opts.Port = addr.Port
	}

	e.admin = e.connect(t, boot.AdminCreds, "", nil)
	e.adminJS, err = jetstream.New(e.admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, waitTimeout)
	// What harmony-fleet init creates (device-registry included).
	if err := natsconn.EnsureResources(ctx, e.adminJS, natsconn.ResourceSettings{}); err != nil {
		t.Fatalf("create the fleet's resources: %v", err)
	}

	signing, err := creds.LoadSeed(boot.AccountSigning, nkeys.PrefixByteAccount)
	if err != nil {
		t.Fatalf("LoadSeed: %v", err)
	}
	for _, id := range devices {
		c, pub, err := creds.IssueDeviceUser(signing, boot.AccountPub, id)
		if err != nil {
			t.Fatalf("IssueDeviceUser(%s): %v", id, err)
		}
		p := filepath.Join(t.TempDir(), string(id)+".creds")
		if err := os.WriteFile(p, c, 0o600); err != nil {
			t.Fatal(err)
		}
		e.credsFile[id], e.userPub[id] = p, pub
	}
	return e
}

func (e *env) start(t *testing.T) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	srv, err := server.NewServer(e.opts.Clone())
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	srv.SetLoggerV2(e.srvLog, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("server not ready after 10s")
	}
	e.srv = srv
}

func (e *env) shutdown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.srv = nil
	}
}

// restart stops the server and starts it again on the same port and
// store: clients reconnect.
func (e *env) restart(t *testing.T) {
	t.Helper()
	e.shutdown()
	e.start(t)
}

func (e *env) url() string {
	return "nats://" + net.JoinHostPort(e.opts.Host, strconv.Itoa(e.opts.Port))
}

// connect connects with a creds file; inbox is the custom inbox prefix
// ("" for the default); errs, when set, records the async errors.
func (e *env) connect(t *testing.T, credsFile, inbox string, errs *errSink, extra ...nats.Option) *nats.Conn {
	t.Helper()
	opts := []nats.Option{nats.UserCredentials(credsFile), nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
	if inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(inbox))
	}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(errs.handle))
	}
	nc, err := nats.Connect(e.url(), append(opts, extra...)...)
	if err != nil {
		t.Fatalf("connect with %s: %v", filepath.Base(credsFile), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// device connects as device id, as an agent does: its creds and its inbox
// prefix.
func (e *env) device(t *testing.T, id fleet.DeviceID, errs *errSink) *nats.Conn {
	t.Helper()
	return e.connect(t, e.credsFile[id], fleet.InboxPrefix(id), errs)
}

// errSink records a connection's async errors (nats.ErrorHandler): a
// denied publish or subscribe arrives there, not as a return value.
type errSink struct {
	mu   sync.Mutex
	errs []error
}

func (s *errSink) handle(_ *nats.Conn, _ *nats.Subscription, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *errSink) all() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// violations returns the permission violations recorded.
func (s *errSink) violations() []error {
	var out []error
	for _, err := range s.all() {
		if errors.Is(err, nats.ErrPermissionViolation) {
			out = append(out, err)
		}
	}
	return out
}

// waitDenied waits until the server refused op (publish or subscription)
// on subject, as a permissions violation naming it.
func (s *errSink) waitDenied(t *testing.T, op, subject string) {
	t.Helper()
	want := fmt.Sprintf("Permissions Violation for %s to %q", op, subject)
	deadline := time.Now().Add(deniedTimeout)
	for {
		for _, err := range s.violations() {
			if strings.Contains(err.Error(), want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refusal %q from the server within %s; async errors: %v", want, deniedTimeout, s.all())
		}
		time.Sleep(10 * time.Millisecond) // polling for the refusal
	}
}

// serverLog is the server's logger; it keeps the error lines
// (permission violations are logged at error level).
type serverLog struct {
	mu     sync.Mutex
	errors []string
}

func (l *serverLog) Noticef(string, ...any) {}
func (l *serverLog) Warnf(string, ...any)   {}
func (l *serverLog) Debugf(string, ...any)  {}
func (l *serverLog) Tracef(string, ...any)  {}
func (l *serverLog) Fatalf(format string, v ...any) {
	l.Errorf(format, v...)
}
func (l *serverLog) Errorf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, fmt.Sprintf(format, v...))
}

// all returns the server's logged errors.
func (l *serverLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// authFailures returns the server's logged refusals of a connection's
// credentials (the lines do not name the user).
func (l *serverLog) authFailures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.errors {
		if strings.Contains(line, "authentication error") {
			out = append(out, line)
		}
	}
	return out
}

// violations returns the server's logged permission violations.
func (l *serverLog) violations() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.errors {
		if strings.Contains(line, "Violation") {
			out = append(out, line)
		}
	}
	return out
}

// poll calls cond until it reports true or waitTimeout passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, waitTimeout, cond, func() string { return what })
}

// pollWithin calls cond until it reports true or d passes.
func pollWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testsupport.Poll(t, d, cond, func() string { return what })
}
