package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

const (
	// defaultServer is where "harmony-agent run --dev" listens.
	defaultServer = "nats://127.0.0.1:4222"
	// defaultTimeout bounds each request to NATS, as the nats CLI's
	// --timeout does.
	defaultTimeout = 5 * time.Second
	// connName names the connection on the server.
	connName = "harmony-fleet"
)

// connFlags are the connection options, spelled as the nats CLI spells
// them. Each flag not given is read from its HARMONY_FLEET_* variable.
type connFlags struct {
	server   string
	creds    string
	nkey     string
	user     string
	password string
	token    string
	// passwordFile and tokenFile hold the secret, read by natsconn.
	passwordFile string
	tokenFile    string
	tlsCA        string
	tlsCert      string
	tlsKey       string
	timeout      time.Duration
}

// connEnv maps each connection flag to its environment variable.
var connEnv = []struct{ flag, env string }{
	{"server", "HARMONY_FLEET_SERVER"},
	{"creds", "HARMONY_FLEET_CREDS"},
	{"nkey", "HARMONY_FLEET_NKEY"},
	{"user", "HARMONY_FLEET_USER"},
	{"password", "HARMONY_FLEET_PASSWORD"},
	{"token", "HARMONY_FLEET_TOKEN"},
	{"password-file", "HARMONY_FLEET_PASSWORD_FILE"},
	{"token-file", "HARMONY_FLEET_TOKEN_FILE"},
	{"tlsca", "HARMONY_FLEET_TLSCA"},
	{"tlscert", "HARMONY_FLEET_TLSCERT"},
	{"tlskey", "HARMONY_FLEET_TLSKEY"},
	{"timeout", "HARMONY_FLEET_TIMEOUT"},
}

// addConnFlags adds the connection flags to fs.
func addConnFlags(fs *pflag.FlagSet) *connFlags {
	var c connFlags
	fs.StringVarP(&c.server, "server", "s", defaultServer, "NATS server URLs, separated by commas ($HARMONY_FLEET_SERVER)")
	fs.StringVar(&c.creds, "creds", "", "user credentials (JWT + nkey) file ($HARMONY_FLEET_CREDS)")
	fs.StringVar(&c.nkey, "nkey", "", "nkey seed file ($HARMONY_FLEET_NKEY)")
	fs.StringVar(&c.user, "user", "", "user name, with --password ($HARMONY_FLEET_USER)")
	fs.StringVar(&c.password, "password", "", "password, visible to other local users: prefer --password-file ($HARMONY_FLEET_PASSWORD)")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the password, with --user ($HARMONY_FLEET_PASSWORD_FILE)")
	fs.StringVar(&c.token, "token", "", "authentication token, visible to other local users: prefer --token-file ($HARMONY_FLEET_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the authentication token ($HARMONY_FLEET_TOKEN_FILE)")
	fs.StringVar(&c.tlsCA, "tlsca", "", "CA bundle that signs the servers' certificates; turns TLS on ($HARMONY_FLEET_TLSCA)")
	fs.StringVar(&c.tlsCert, "tlscert", "", "client certificate file, with --tlskey ($HARMONY_FLEET_TLSCERT)")
	fs.StringVar(&c.tlsKey, "tlskey", "", "client private key file, with --tlscert ($HARMONY_FLEET_TLSKEY)")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "how long to wait for the connection and for each answer from NATS ($HARMONY_FLEET_TIMEOUT)")
	return &c
}

// resolve fills the flags not given from the environment and checks the
// combination: one way to authenticate, certificate and key together.
func (c *connFlags) resolve(fs *pflag.FlagSet) error {
	cmd := fs.Name()
	for _, e := range connEnv {
		v, ok := os.LookupEnv(e.env)
		if !ok || v == "" || fs.Changed(e.flag) {
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			return usagef("%s: $%s: %v", cmd, e.env, err)
		}
	}
	if len(c.urls()) == 0 {
		return usagef("%s: --server: no URL", cmd)
	}
	for _, u := range c.urls() {
		if err := natsconn.CheckURL(u); err != nil {
			return usagef("%s: --server: %v", cmd, err)
		}
	}
	if c.timeout <= 0 {
		return usagef("%s: --timeout %v: must be positive", cmd, c.timeout)
	}
	kinds := 0
	for _, set := range []bool{c.creds != "", c.nkey != "", c.user != "" || c.password != "" || c.passwordFile != "", c.token != "" || c.tokenFile != ""} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return usagef("%s: give one of --creds, --nkey, --user/--password, --token", cmd)
	case c.password != "" && c.passwordFile != "":
		return usagef("%s: give one of --password and --password-file", cmd)
	case c.token != "" && c.tokenFile != "":
		return usagef("%s: give one of --token and --token-file", cmd)
	case (c.user == "") != (c.password == "" && c.passwordFile == ""):
		return usagef("%s: --user and --password go together", cmd)
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return usagef("%s: --tlscert and --tlskey go together", cmd)
	}
	return nil
}

// resolveWithOutput is resolve, then the -o check every command that
// talks to NATS makes.
func (c *connFlags) resolveWithOutput(fs *pflag.FlagSet, cmd, output string) error {
	if err := c.resolve(fs); err != nil {
		return err
	}
	return checkOutput(cmd, output)
}

// urls returns the server URLs.
func (c *connFlags) urls() []string {
	var out []string
	for u := range strings.SplitSeq(c.server, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// servers returns the server URLs for messages, passwords redacted.
func (c *connFlags) servers() string { return natsconn.RedactURLs(c.urls()) }

// connect connects to NATS and returns the connection, which the caller
// closes, and its JetStream with --timeout as the request timeout. Unlike
// the agent, it does not wait for a server: when none answers, it fails at
// once and says so.
func (c *connFlags) connect(ctx context.Context) (*nats.Conn, jetstream.JetStream, error) {
	c.warnReadable(ctx)
	nc, err := c.connectCore()
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(c.timeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	// A server without JetStream answers every JetStream request with
	// "no responders": say what that means once, here.
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	_, err = js.AccountInfo(actx)
	cancel()
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) || errors.Is(err, nats.ErrNoResponders) {
		nc.Close()
		return nil, nil, fmt.Errorf("no JetStream at %s: start nats-server with -js (or a jetstream block in its configuration), and enable it for this account (%w)", c.servers(), err)
	}
	return nc, js, nil
}

// connectCore connects without JetStream: for the system account, which
// has none.
func (c *connFlags) connectCore() (*nats.Conn, error) {
	nc, err := natsconn.Connect(natsconn.ConnOptions{
		URLs: c.urls(),
		Name: connName,
		// Replies come to an inbox of this run's own, never _INBOX, so
		// the CLI's permissions need not include _INBOX.> either.
		InboxPrefix:    inboxPrefix(),
		ConnectTimeout: c.timeout,
		CredsFile:      c.creds,
		NKeyFile:       c.nkey,
		User:           c.user,
		Password:       c.password,
		PasswordFile:   c.passwordFile,
		Token:          c.token,
		TokenFile:      c.tokenFile,
		TLSCAFile:      c.tlsCA,
		TLSCertFile:    c.tlsCert,
		TLSKeyFile:     c.tlsKey,
		FailFast:       true,
	}, nil)
	if err != nil {
		if errors.Is(err, natsconn.ErrAuthConflict) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return nil, usagef("%w", err) // a missing or unreadable file
		}
		return nil, connectError(c.urls(), err)
	}
	return nc, nil
}

// warnReadable warns, on the context's warnings writer, about each secret
// file of c that group or others can read (ARCHITECTURE 8.5).
func (c *connFlags) warnReadable(ctx context.Context) {
	for _, f := range []struct{ flag, path string }{{"--creds", c.creds}, {"--nkey", c.nkey}, {"--password-file", c.passwordFile}, {"--token-file", c.tokenFile}} {
		if f.path == "" {
			continue
		}
		if err := natsconn.CheckSecretMode(f.path); err != nil {
			fmt.Fprintf(warnings(ctx), "harmony-fleet: warning: %s: %v\n", f.flag, err)
		}
	}
}

// warningsKey is the context key of the writer warnings go to.
type warningsKey struct{}

// withWarnings returns ctx carrying w, where the commands' warnings that
// have no other way out (the connection's) are written.
func withWarnings(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, warningsKey{}, w)
}

// warnings returns the writer withWarnings put in ctx, or io.Discard.
func warnings(ctx context.Context) io.Writer {
	if w, ok := ctx.Value(warningsKey{}).(io.Writer); ok {
		return w
	}
	return io.Discard
}

// inboxPrefix is this run's inbox prefix: _INBOX_harmony-fleet, then a
// random token of this run.
func inboxPrefix() string {
	return fleet.InboxPrefixBase + connName + "." + fleet.NewMsgIDNonce()
}

// loopback reports whether every URL names this host (the dev default),
// where "is the agent running with --dev" is a fair question.
func loopback(urls []string) bool {
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			return false
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// connectError explains why no connection could be made to urls; cause
// is nil when nats.go did not say. Only a local URL (the dev default)
// suggests --dev.
func connectError(urls []string, cause error) error {
	servers := natsconn.RedactURLs(urls)
	hint := "is the server running, and reachable from here?"
	if loopback(urls) {
		hint = "is the agent running with --dev, or set -s"
	}
	var op *net.OpError
	var nerr net.Error
	switch {
	case cause == nil, errors.Is(cause, nats.ErrNoServers):
		return fmt.Errorf("no NATS server at %s: %s", servers, hint)
	case errors.As(cause, &op) && op.Op == "dial", errors.As(cause, &nerr) && nerr.Timeout(), errors.Is(cause, nats.ErrTimeout):
		return fmt.Errorf("no NATS server at %s: %s (%v)", servers, hint, cause)
	}
	return cause // natsconn.Connect's error names the servers, redacted
}
