package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/harmony-edge/harmony-agent/internal/creds"
)

const credsHelp = `Usage: harmony-fleet creds bootstrap --dir DIR [--port N]

Makes, in DIR, everything an operator-mode nats-server needs, for users
without nsc: an operator, a system account, a fleet account (JetStream
enabled) with a signing key, admin creds for harmony-fleet, system-account
creds (device remove pushes revocations with them), and a nats-server
configuration (full resolver under DIR/jwt, JetStream under DIR/jetstream,
client port N) that works as written:

  nats-server -c DIR/nats-server.conf

Secrets (*.nk, *.creds) are written 0600, DIR 0700. An existing bootstrap is
never overwritten. Accounts made with nsc work as well: device add takes any
account signing key seed.

Examples:
  harmony-fleet creds bootstrap --dir /etc/harmony-fleet/nats
  harmony-fleet creds bootstrap --dir ./nats --port 4333
`

func cmdCreds(_ context.Context, out ioStreams, args []string) error {
	if len(args) == 0 || args[0] != "bootstrap" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(out.stdout, credsHelp)
			return errHelp
		}
		return usagef("creds: want a subcommand: bootstrap (see harmony-fleet creds --help)")
	}
	fs := newFlagSet("creds bootstrap")
	dir := fs.String("dir", "", "directory to write into (created 0700)")
	port := fs.Int("port", 4222, "client port of the server configuration")
	if _, err := parse(fs, credsHelp, args[1:], out.stdout, 0, 0); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("creds bootstrap: --dir is required")
	}
	if *port < 1 || *port > 65535 {
		return usagef("creds bootstrap: --port %d: want 1..65535", *port)
	}
	b, err := creds.Bootstrap(*dir, *port)
	if errors.Is(err, creds.ErrBootstrapExists) {
		return usagef("creds bootstrap: %w", err)
	}
	if err != nil {
		return fmt.Errorf("creds bootstrap: %w", err)
	}
	fmt.Fprintf(out.stdout, `operator        %s
system account  %s
fleet account   %s (signing key %s)

start the server:   nats-server -c %s
create the fleet:   harmony-fleet init --creds %s -s nats://127.0.0.1:%d
enrol a device:     harmony-fleet device add pi-1 --account-key %s --creds-out pi-1.creds --creds %s
remove a device:    harmony-fleet device remove pi-1 --revoke-with %s --creds %s
`, b.OperatorPub, b.SystemAccountPub, b.AccountPub, b.SigningKeyPub,
		b.ConfigFile, b.AdminCreds, *port, b.AccountSigning, b.AdminCreds, b.Dir, b.AdminCreds)
	return nil
}
