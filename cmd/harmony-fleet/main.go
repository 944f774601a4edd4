// Command harmony-fleet is the central side of harmony-agent: it creates
// the fleet's NATS resources, writes and deletes desired state, and shows
// what the agents report.
//
//	harmony-fleet init [--replicas N]
//	harmony-fleet apply NAME -f FILE (--device ID ... | --selector k=v,...)
//	harmony-fleet delete NAME (--device ID ... | --selector k=v,...)
//	harmony-fleet status [NAME] [--watch]
//	harmony-fleet devices
//	harmony-fleet events [--device ID] [--deployment NAME] [--follow]
//
// Exit codes: 0 success; 1 the operation failed; 2 bad usage or invalid
// input (a bad flag, name or spec file).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Stamped by the Makefile (-ldflags -X).
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

var (
	// errUsage is matched by the errors that exit with exitUsage: bad usage
	// or invalid input. usagef makes them.
	errUsage = errors.New("usage")
	// errHelp is returned after --help printed a command's help.
	errHelp = errors.New("help shown")
)

// usageError marks its error as bad usage or invalid input (exitUsage)
// without changing its message.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// Is reports whether target is errUsage.
func (usageError) Is(target error) bool { return target == errUsage }

// usagef returns a usage error formatted like fmt.Errorf.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `harmony-fleet writes the fleet's desired state to NATS and shows what the
agents report.

Usage:
  harmony-fleet init [--replicas N]                  create the buckets and the stream (idempotent)
  harmony-fleet apply NAME -f FILE (--device ID ... | --selector k=v,...)
                                                     write a deployment's desired state
  harmony-fleet delete NAME (--device ID ... | --selector k=v,...)
                                                     delete a deployment's desired state
  harmony-fleet deploy NAME -f FILE --selector k=v,... [--batch N|P%] [--max-failed N|P%]
                [--min-ready D] [--health-timeout D] [--auto-rollback] [--dry-run] [--wait]
                                                     create or update a fleet deployment (rolled out by serve)
  harmony-fleet undeploy NAME                        delete a fleet deployment and its keys
  harmony-fleet rollout status [NAME] [--watch]      each rollout's progress
  harmony-fleet rollout pause|resume|undo NAME       act on a rollout
  harmony-fleet serve [--signing-key FILE]           run the fleet controller (one of several replicas)
  harmony-fleet status [NAME] [--watch]              devices per phase, failing devices
  harmony-fleet devices                              every device, its labels and heartbeat
  harmony-fleet events [--device ID] [--deployment NAME] [--follow]
                                                     the phase changes, one per line
  harmony-fleet logs DEVICE DEPLOYMENT [--tail N] [--follow] [--timestamps]
                                                     a workload's output, asked of its agent
  harmony-fleet restart DEPLOYMENT --device ID       stop and start a workload on one device
  harmony-fleet ping DEVICE [--count N]              the agent's version, epoch, uptime; round-trip times
  harmony-fleet device add|label|remove|permissions ID ...
                                                     enrol devices: credentials, operator-owned labels
  harmony-fleet creds bootstrap --dir DIR            operator, accounts and a nats-server config, for users without nsc
  harmony-fleet keys new|public ...                  signing keys for desired state
  harmony-fleet version [-o json]                    print version, commit and build date
  harmony-fleet help                                 this text

Every command takes the connection flags of the nats CLI (-s/--server,
--creds, --nkey, --user/--password, --token, --tlsca/--tlscert/--tlskey,
--timeout), and --password-file and --token-file, each also from the
environment as HARMONY_FLEET_SERVER, HARMONY_FLEET_CREDS, ...; secrets are
best given in files or the environment: --password and --token (and a
password inside a URL) are visible to other local users in ps. The server
defaults to nats://127.0.0.1:4222,
where "harmony-agent run --dev" (make run) listens. init, apply, delete,
status, devices, events and version take -o table (the default) or
-o json, one JSON document per line, for scripts.
These flags may come before the command or after it; after it wins.
"harmony-fleet COMMAND --help" says more.

Examples:
  harmony-fleet init
  harmony-fleet apply web -f web.yaml --selector site=lyon
  harmony-fleet status web --watch
  harmony-fleet devices -o json
  harmony-fleet -s nats://nats-1:4222,nats://nats-2:4222 --creds admin.creds init --replicas 3
  harmony-fleet events --device pi-017 --follow

Exit codes: 0 ok; 1 the operation failed; 2 bad usage or invalid input.
`

// command is one subcommand: its entry point, given the arguments after
// its name.
type command func(ctx context.Context, out ioStreams, args []string) error

// ioStreams are where a command writes.
type ioStreams struct {
	stdout, stderr io.Writer
}

var commands = map[string]command{
	"init":     cmdInit,
	"apply":    cmdApply,
	"delete":   cmdDelete,
	"status":   cmdStatus,
	"devices":  cmdDevices,
	"events":   cmdEvents,
	"keys":     cmdKeys,
	"device":   cmdDevice,
	"serve":    cmdServe,
	"deploy":   cmdDeploy,
	"undeploy": cmdUndeploy,
	"rollout":  cmdRollout,
	"creds":    cmdCreds,
	"version":  cmdVersion,
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "--version":
		args = append([]string{"version"}, args[1:]...)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	name, args, err := splitCommand(args)
	if err != nil {
		fmt.Fprintf(stderr, "harmony-fleet: %v\n", err)
		return exitUsage
	}
	if name == "help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "harmony-fleet: unknown command %q\n\n%s", name, usage)
		return exitUsage
	}
	err = cmd(withWarnings(ctx, stderr), ioStreams{stdout: stdout, stderr: stderr}, args)
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "harmony-fleet: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "harmony-fleet: %v\n", err)
		return exitFailure
	}
}
