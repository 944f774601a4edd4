package natsconn

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
)

// Connection defaults.
const (
	// DefaultReconnectWait is the pause between reconnect attempts to one
	// server; a random jitter of up to half of it (all of it with TLS) is
	// added so a fleet does not reconnect in lockstep after a server restart.
	DefaultReconnectWait = 2 * time.Second
	// DefaultConnectTimeout bounds one dial and handshake; edge links are
	// slow.
	DefaultConnectTimeout = 5 * time.Second
	// pingInterval and maxPingsOut detect a dead link within about a minute
	// (the nats.go default is several minutes).
	pingInterval = 20 * time.Second
	maxPingsOut  = 3
)

var (
	// ErrNoServers is returned by Connect when ConnOptions.URLs is empty.
	ErrNoServers = errors.New("natsconn: no NATS server URL")
	// ErrAuthConflict is returned by Connect when ConnOptions names more
	// than one way to authenticate, or half of one.
	ErrAuthConflict = errors.New("natsconn: conflicting NATS credentials")
)

// ConnOptions says how to reach NATS. The agent and harmony-fleet fill it
// from their configuration. File fields are paths; secrets are read from
// files, never taken on the command line.
type ConnOptions struct {
	// URLs lists the servers of the cluster, e.g. nats://10.0.0.1:4222;
	// the client picks among them and follows the cluster's gossip.
	URLs []string
	// Name identifies the connection on the server (monitoring, logs).
	Name string
	// InboxPrefix replaces nats.go's _INBOX as the prefix of the subjects
	// replies to this connection's requests come to, so its permissions
	// need not include _INBOX.>, through which other clients' replies are
	// readable: fleet.InboxPrefix(device) for an agent. Empty: _INBOX.
	InboxPrefix string

	// At most one way to authenticate: CredsFile (a JWT + nkey .creds file),
	// NKeyFile (an nkey seed file), User with PasswordFile or Password, or
	// TokenFile or Token. The agent reads secrets from files only; the
	// value fields serve harmony-fleet's --password and --token.
	CredsFile    string
	NKeyFile     string
	User         string
	PasswordFile string
	Password     string
	TokenFile    string
	Token        string

	// TLSCAFile is a PEM bundle of the CAs that sign the servers'
	// certificates; setting it turns TLS on. TLSCertFile and TLSKeyFile are
	// an optional client certificate (both or neither).
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string

	// ReconnectWait is the pause between reconnect attempts; 0 means
	// DefaultReconnectWait.
	ReconnectWait time.Duration
	// ConnectTimeout bounds one dial and handshake; 0 means
	// DefaultConnectTimeout. With FailFast it bounds Connect for each URL.
	ConnectTimeout time.Duration
	// FailFast makes Connect return the first attempt's error when no
	// server answers, instead of connecting in the background: for a
	// command-line tool, not for a device that may boot offline.
	FailFast bool

	// OnReconnect is called each time the connection comes up after Connect
	// returned without it: after every reconnect, and when a device that
	// booted offline connects for the first time. OnDisconnect is called
	// when the connection is lost. Both are optional, run on nats.go's
	// callback goroutine and must not block.
	OnReconnect  func()
	OnDisconnect func()
}

// Connect returns a connection to the servers of o, logging its state
// changes to log (Named "nats"; nil logs nothing). It does not wait for a
// server: a device that boots offline gets a connection that connects
// later, and every connection reconnects forever. An error means the
// options are wrong (no URL, conflicting or unreadable credentials, bad
// TLS files); it names the file it could not use.
func Connect(o ConnOptions, log *zap.Logger) (*nats.Conn, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("nats")
	if len(o.URLs) == 0 {
		return nil, fmt.Errorf("connect: %w", ErrNoServers)
	}
	servers := RedactURLs(o.URLs) // for messages: no password in a log
	for _, u := range o.URLs {
		if err := CheckURL(u); err != nil {
			return nil, err
		}
	}
	opts, err := o.natsOptions(log)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", servers, err)
	}

	// late reports whether the connection was down when Connect returned,
	// so the first ConnectedCB is a late first connection (OnReconnect) and
	// not the immediate one the caller already sees. Connect holds lateMu
	// until late is decided; the callbacks run on nats.go's goroutine.
	var (
		lateMu sync.Mutex
		late   bool
	)
	onUp := func(nc *nats.Conn, what string) {
		log.Info(what, zap.String("server", nc.ConnectedUrlRedacted()))
		if o.OnReconnect != nil {
			o.OnReconnect()
		}
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = DefaultReconnectWait
	}
	connectTimeout := o.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	// Why the connection cannot be made (authorization violation, x509,
	// refused) is logged at warn once per change of reason, not once per
	// attempt: a device retries forever, and its log must stay readable.
	var (
		reasonMu sync.Mutex
		reason   string // the last reason logged; "" once connected
	)
	failed := func(what string, err error) {
		reasonMu.Lock()
		changed := err.Error() != reason
		reason = err.Error()
		reasonMu.Unlock()
		if changed {
			log.Warn(what+"; retrying", zap.String("servers", servers), zap.Error(err))
		} else {
			log.Debug(what+" again", zap.Error(err))
		}
	}
	connected := func() {
		reasonMu.Lock()
		reason = ""
		reasonMu.Unlock()
	}
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	opts = append(opts,
		nats.Name(o.Name),
		nats.RetryOnFailedConnect(!o.FailFast),
		nats.MaxReconnects(-1),
		// A refused credential or certificate does not end the
		// connection: credentials get rotated, a clock gets fixed.
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/2, wait),
		nats.Timeout(connectTimeout),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ConnectHandler(func(nc *nats.Conn) {
			connected()
			lateMu.Lock()
			wasLate := late
			late = false
			lateMu.Unlock()
			if wasLate {
				onUp(nc, "connected")
			} else {
				log.Info("connected", zap.String("server", nc.ConnectedUrlRedacted()))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			connected()
			onUp(nc, "reconnected")
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected", zap.Error(err))
			} else {
				log.Info("disconnected")
			}
			if o.OnDisconnect != nil {
				o.OnDisconnect()
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			failed("cannot connect to NATS", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Info("connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub == nil && (errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked)) {
				failed("NATS refused the credentials", err)
				return
			}
			fields := []zap.Field{zap.Error(err)}
			if sub != nil {
				fields = append(fields, zap.String("subject", sub.Subject))
			}
			log.Warn("nats error", fields...)
		}),
	)

	lateMu.Lock()
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		lateMu.Unlock()
		return nil, fmt.Errorf("connect %s: %w", servers, err)
	}
	late = !nc.IsConnected()
	wasDown := late
	lateMu.Unlock()
	if wasDown {
		log.Warn("no NATS server reachable yet; connecting in the background", zap.String("servers", servers))
	}
	return nc, nil
}

// natsOptions turns the credential and TLS fields into nats options,
// reading each secret file now so a wrong path fails here, by name, and
// not in a background reconnect loop.
func (o ConnOptions) natsOptions(log *zap.Logger) ([]nats.Option, error) {
	kinds := 0
	for _, set := range []bool{o.CredsFile != "", o.NKeyFile != "", o.User != "" || o.PasswordFile != "" || o.Password != "", o.TokenFile != "" || o.Token != ""} {
		if set {
			kinds++
		}
	}
	if kinds > 1 || o.PasswordFile != "" && o.Password != "" || o.TokenFile != "" && o.Token != "" {
		return nil, fmt.Errorf("%w: set one of creds file, nkey file, user and password, token", ErrAuthConflict)
	}
	var opts []nats.Option
	switch {
	case o.CredsFile != "":
		// nats.go re-reads the file on every connect (rotation); read it
		// once now to fail early.
		_, err := readSecret("creds file", o.CredsFile, log)
		switch {
		case err == nil:
			opts = append(opts, nats.UserCredentials(o.CredsFile))
		case o.FailFast || !errors.Is(err, os.ErrNotExist):
			return nil, err
		default:
			// A device installed before its creds keeps running and
			// connects once the file is there (the .deb names it
			// before the operator copies it in); a command fails.
			log.Warn("creds file missing; connecting once it is installed", zap.String("file", o.CredsFile), zap.Error(err))
			opts = append(opts, untilInstalled(o.CredsFile))
		}
	case o.NKeyFile != "":
		if _, err := readSecret("nkey seed file", o.NKeyFile, log); err != nil {
			return nil, err
		}
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nkey seed file %s: %w", o.NKeyFile, err)
		}
		opts = append(opts, opt)
	case o.User != "" || o.PasswordFile != "" || o.Password != "":
		if o.User == "" || o.PasswordFile == "" && o.Password == "" {
			return nil, fmt.Errorf("%w: user and password go together", ErrAuthConflict)
		}
		if o.PasswordFile == "" {
			opts = append(opts, nats.UserInfo(o.User, o.Password))
			break
		}
		pw, err := readSecret("password file", o.PasswordFile, log)
		if err != nil {
			return nil, err
		}
		// Read again at every attempt, so a rotated password is picked up
		// without a restart; an unreadable file keeps the last one.
		f := &rereader{kind: "password file", path: o.PasswordFile, last: pw, log: log}
		opts = append(opts, nats.UserInfoHandler(func() (string, string) { return o.User, f.read() }))
	case o.TokenFile != "" || o.Token != "":
		if o.TokenFile == "" {
			opts = append(opts, nats.Token(o.Token))
			break
		}
		tok, err := readSecret("token file", o.TokenFile, log)
		if err != nil {
			return nil, err
		}
		f := &rereader{kind: "token file", path: o.TokenFile, last: tok, log: log}
		opts = append(opts, nats.TokenHandler(f.read))
	}

	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return nil, errors.New("tls: client certificate and key files go together")
	}
	if o.TLSCAFile != "" {
		if _, err := readFile("tls ca file", o.TLSCAFile); err != nil {
			return nil, err
		}
		opts = append(opts, nats.RootCAs(o.TLSCAFile))
	}
	if o.TLSCertFile != "" {
		for _, f := range [][2]string{{"tls cert file", o.TLSCertFile}, {"tls key file", o.TLSKeyFile}} {
			read := readFile
			if f[0] == "tls key file" {
				read = func(kind, path string) (string, error) { return readSecret(kind, path, log) }
			}
			if _, err := read(f[0], f[1]); err != nil {
				return nil, err
			}
		}
		opts = append(opts, nats.ClientCert(o.TLSCertFile, o.TLSKeyFile))
	}
	return opts, nil
}

// untilInstalled is nats.UserCredentials(path), except that while the file
// is missing it connects without credentials, which the server refuses
// (and the connection retries), instead of failing for good: nats.go's
// option reads the file once when applied and gives up if it cannot.
// The file is read at every attempt, as nats.go does.
func untilInstalled(path string) nats.Option {
	read := func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	user := func() (string, error) {
		b, err := read()
		if b == nil || err != nil {
			return "", err
		}
		return nkeys.ParseDecoratedJWT(b)
	}
	sign := func(nonce []byte) ([]byte, error) {
		b, err := read()
		if b == nil || err != nil {
			return nil, err
		}
		kp, err := nkeys.ParseDecoratedNKey(b)
		if err != nil {
			return nil, fmt.Errorf("creds file %s: %w", path, err)
		}
		defer kp.Wipe()
		return kp.Sign(nonce)
	}
	return nats.UserJWT(user, sign)
}

// readSecret reads a secret file (readFile), warning on log when group
// or others may read it (ARCHITECTURE 8.5).
func readSecret(kind, path string, log *zap.Logger) (string, error) {
	s, err := readFile(kind, path)
	if err != nil {
		return "", err
	}
	if err := CheckSecretMode(path); err != nil {
		log.Warn("secret file readable by others", zap.String("kind", kind), zap.Error(err))
	}
	return s, nil
}

// ErrSecretReadable is wrapped by CheckSecretMode's error.
var ErrSecretReadable = errors.New("natsconn: secret file readable by group or others")

// CheckSecretMode reports, wrapping ErrSecretReadable, whether the file at
// path can be read by its group or by others; nil when it cannot (or
// cannot be looked at: reading it reports that).
func CheckSecretMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if m := fi.Mode().Perm(); m&0o044 != 0 {
		return fmt.Errorf("%s: %w (mode %04o; chmod 600 it)", path, ErrSecretReadable, m)
	}
	return nil
}

// readFile reads a file holding one value, trimming the trailing newline
// editors add. An empty file is an error: an empty password or token is a
// mistake.
func readFile(kind, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", kind, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s %s: empty", kind, path)
	}
	return s, nil
}

// rereader reads a secret file again at each connection attempt; when it
// cannot, it says why once and keeps the last value read.
type rereader struct {
	kind, path string
	log        *zap.Logger

	mu      sync.Mutex
	last    string // guarded by mu
	lastErr string // guarded by mu: the last failure logged
}

func (r *rereader) read() string {
	s, err := readFile(r.kind, r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if err.Error() != r.lastErr {
			r.lastErr = err.Error()
			r.log.Warn("secret file unreadable; using its last value", zap.Error(err))
		}
		return r.last
	}
	r.last, r.lastErr = s, ""
	return s
}

// urlSchemes are the schemes nats.go speaks.
var urlSchemes = []string{"nats", "tls", "ws", "wss"}

// CheckURL reports why s is not a NATS server URL (scheme nats, tls, ws or
// wss, and a host), or nil. The error never repeats a password in s.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error repeats s, password included: keep its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("server URL %s: %w", redactURL(s), err)
	}
	if !slices.Contains(urlSchemes, u.Scheme) {
		return fmt.Errorf("server URL %s: scheme %q is not one of %s", u.Redacted(), u.Scheme, strings.Join(urlSchemes, ", "))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("server URL %s: no host", u.Redacted())
	}
	return nil
}

// redactURL masks what may be a password in s, a URL that does not parse:
// whatever lies between "://" and the last "@".
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return s
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// RedactURLs joins urls for messages, with any password in them masked.
func RedactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = u
		if p, err := url.Parse(u); err != nil {
			out[i] = redactURL(u)
		} else if p.User != nil {
			out[i] = p.Redacted()
		}
	}
	return strings.Join(out, ",")
}
