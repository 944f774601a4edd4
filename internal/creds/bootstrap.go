package creds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Names of the files Bootstrap writes in its directory. Files marked
// secret are written 0600, the others 0644; the directory is 0700.
const (
	OperatorJWTFile    = "operator.jwt"
	OperatorKeyFile    = "operator.nk" // secret: signs account JWTs (revocations)
	SystemJWTFile      = "sys.jwt"
	SystemKeyFile      = "sys.nk" // secret
	SystemCredsFile    = "sys.creds"
	AccountJWTFile     = "fleet.jwt"
	AccountKeyFile     = "fleet.nk"         // secret: the account's identity key
	AccountSigningFile = "fleet-signing.nk" // secret: signs the users (device add --account-key)
	AdminCredsFile     = "admin.creds"      // secret: harmony-fleet's own user
	ServerConfigFile   = "nats-server.conf"
	ResolverDir        = "jwt"
	JetStreamDir       = "jetstream"
)

// Account names in the bootstrap's JWTs.
const (
	OperatorName      = "harmony"
	SystemAccountName = "SYS"
	FleetAccountName  = "FLEET"
)

// ErrBootstrapExists is returned by Bootstrap when its directory already
// holds a bootstrap: secrets are never overwritten.
var ErrBootstrapExists = errors.New("creds: bootstrap directory already holds a server configuration")

// Bootstrapped says what Bootstrap made: public keys, and absolute paths.
type Bootstrapped struct {
	Dir              string
	ConfigFile       string // nats-server -c
	OperatorPub      string
	SystemAccountPub string
	AccountPub       string // the fleet account
	SigningKeyPub    string // the fleet account's signing key
	OperatorKey      string // file paths of the secrets and the account JWT
	AccountJWT       string
	AccountSigning   string
	AdminCreds       string
	SystemCreds      string
}

// Bootstrap makes, in dir (created 0700 when missing), what an
// operator-mode nats-server needs, for users without nsc: an operator, a
// system account, a fleet account with JetStream enabled and a signing
// key, admin creds for the fleet account (no restrictions: harmony-fleet's
// own user), system-account creds (to push account JWTs to the resolver),
// and a server configuration listening on port (-1: a random port) with a
// full resolver under dir/jwt and JetStream under dir/jetstream. It refuses
// a dir that already holds a configuration (ErrBootstrapExists).
func Bootstrap(dir string, port int) (Bootstrapped, error) {
	if port < -1 || port > 65535 {
		return Bootstrapped{}, fmt.Errorf("bootstrap: port %d: want 1..65535 (or -1: random)", port)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Bootstrapped{}, fmt.Errorf("bootstrap %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(abs, ServerConfigFile)); err == nil {
		return Bootstrapped{}, fmt.Errorf("bootstrap %s: %w", abs, ErrBootstrapExists)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return Bootstrapped{}, fmt.Errorf("bootstrap %s: %w", abs, err)
	}
	b := Bootstrapped{
		Dir:            abs,
		ConfigFile:     filepath.Join(abs, ServerConfigFile),
		OperatorKey:    filepath.Join(abs, OperatorKeyFile),
		AccountJWT:     filepath.Join(abs, AccountJWTFile),
		AccountSigning: filepath.Join(abs, AccountSigningFile),
		AdminCreds:     filepath.Join(abs, AdminCredsFile),
		SystemCreds:    filepath.Join(abs, SystemCredsFile),
	}
	files, err := b.make(port)
	if err != nil {
		return Bootstrapped{}, fmt.Errorf("bootstrap %s: %w", abs, err)
	}
	// The configuration last: its presence marks a complete bootstrap.
	for _, f := range files {
		if err := writeFile(filepath.Join(abs, f.name), f.data, f.secret); err != nil {
			return Bootstrapped{}, fmt.Errorf("bootstrap %s: %w", abs, err)
		}
	}
	return b, nil
}

type file struct {
	name   string
	data   []byte
	secret bool
}

// make creates the keys and JWTs and returns the files to write, the
// server configuration last.
func (b *Bootstrapped) make(port int) ([]file, error) {
	op, err := nkeys.CreateOperator()
	if err != nil {
		return nil, err
	}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	acct, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	signing, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	b.OperatorPub, _ = op.PublicKey()
	b.SystemAccountPub, _ = sys.PublicKey()
	b.AccountPub, _ = acct.PublicKey()
	b.SigningKeyPub, _ = signing.PublicKey()

	oc := jwt.NewOperatorClaims(b.OperatorPub)
	oc.Name = OperatorName
	oc.SystemAccount = b.SystemAccountPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		return nil, fmt.Errorf("operator jwt: %w", err)
	}

	sc := jwt.NewAccountClaims(b.SystemAccountPub)
	sc.Name = SystemAccountName
	sysJWT, err := sc.Encode(op)
	if err != nil {
		return nil, fmt.Errorf("system account jwt: %w", err)
	}

	ac := jwt.NewAccountClaims(b.AccountPub)
	ac.Name = FleetAccountName
	ac.SigningKeys.Add(b.SigningKeyPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit,
		DiskStorage:   jwt.NoLimit,
		Streams:       jwt.NoLimit,
		Consumer:      jwt.NoLimit,
		MaxAckPending: jwt.NoLimit,
	}
	acctJWT, err := ac.Encode(op)
	if err != nil {
		return nil, fmt.Errorf("fleet account jwt: %w", err)
	}

	adminCreds, _, err := issueUser(signing, b.AccountPub, "harmony-fleet", jwt.Permissions{})
	if err != nil {
		return nil, err
	}
	sysCreds, _, err := issueUser(sys, b.SystemAccountPub, "system", jwt.Permissions{})
	if err != nil {
		return nil, err
	}
	seeds := make(map[string][]byte)
	for name, kp := range map[string]nkeys.KeyPair{OperatorKeyFile: op, SystemKeyFile: sys, AccountKeyFile: acct, AccountSigningFile: signing} {
		s, err := kp.Seed()
		if err != nil {
			return nil, err
		}
		seeds[name] = append(s, '\n')
	}
	conf := serverConfig(b.Dir, port, b.SystemAccountPub, map[string]string{
		b.SystemAccountPub: sysJWT,
		b.AccountPub:       acctJWT,
	})
	return []file{
		{OperatorKeyFile, seeds[OperatorKeyFile], true},
		{SystemKeyFile, seeds[SystemKeyFile], true},
		{AccountKeyFile, seeds[AccountKeyFile], true},
		{AccountSigningFile, seeds[AccountSigningFile], true},
		{AdminCredsFile, adminCreds, true},
		{SystemCredsFile, sysCreds, true},
		{OperatorJWTFile, []byte(opJWT + "\n"), false},
		{SystemJWTFile, []byte(sysJWT + "\n"), false},
		{AccountJWTFile, []byte(acctJWT + "\n"), false},
		{ServerConfigFile, []byte(conf), false},
	}, nil
}

// serverConfig is the nats-server configuration of a bootstrap in dir.
func serverConfig(dir string, port int, sysPub string, accounts map[string]string) string {
	var b strings.Builder
	b.WriteString("# nats-server configuration written by harmony-fleet creds bootstrap.\n")
	b.WriteString("# Operator mode: accounts and users are JWTs; account JWTs live in the full\n")
	b.WriteString("# resolver below (harmony-fleet device remove pushes revocations to it).\n")
	fmt.Fprintf(&b, "port: %d\n", port)
	fmt.Fprintf(&b, "server_name: harmony\n")
	fmt.Fprintf(&b, "jetstream { store_dir: %q }\n", filepath.Join(dir, JetStreamDir))
	fmt.Fprintf(&b, "operator: %q\n", filepath.Join(dir, OperatorJWTFile))
	fmt.Fprintf(&b, "system_account: %s\n", sysPub)
	fmt.Fprintf(&b, "resolver: { type: full, dir: %q, allow_delete: false }\n", filepath.Join(dir, ResolverDir))
	b.WriteString("resolver_preload: {\n")
	for _, pub := range []string{sysPub} {
		fmt.Fprintf(&b, "  %s: %s\n", pub, accounts[pub])
	}
	for pub, token := range accounts {
		if pub != sysPub {
			fmt.Fprintf(&b, "  %s: %s\n", pub, token)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// writeFile writes data to path, 0600 when secret (else 0644), refusing
// to overwrite.
func writeFile(path string, data []byte, secret bool) error {
	mode := os.FileMode(0o644)
	if secret {
		mode = 0o600
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
