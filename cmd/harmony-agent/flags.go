package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

// errHelp is returned after --help printed the command's help.
var errHelp = errors.New("help shown")

const runHelp = `Usage: harmony-agent run [--config FILE] [--dev]

Runs the agent: watches this device's desired state in NATS, converges the
workloads (podman containers, supervised processes), and publishes every
phase change. It tells systemd READY=1 as soon as the configuration is valid
and the state directory usable, without waiting for NATS: a device may boot
offline. SIGTERM or SIGINT stops it gracefully; workloads keep running.

Examples:
  harmony-agent run                                   # /etc/harmony-agent/agent.yaml
  harmony-agent run --config ./agent.yaml
  harmony-agent run --dev --config configs/dev.yaml   # in-process NATS (dev builds)

Flags:
`

const checkHelp = `Usage: harmony-agent check-config [--config FILE]

Loads and validates the configuration exactly as "run" would, prints every
problem with its key, and exits 0 when it is valid, 2 when it is not.

Examples:
  harmony-agent check-config
  HARMONY_AGENT_DEVICE_ID=pi-017 harmony-agent check-config --config ./agent.yaml

Flags:
`

const versionHelp = `Usage: harmony-agent version

Prints the version, the commit and the build date stamped into the binary
at build time (make build stamps them from git).

Examples:
  harmony-agent version
  harmony-agent --version

`

// commonFlags are the flags of run and check-config.
type commonFlags struct {
	config string
	dev    bool
}

// withConfig and withDev define the flags a command takes, for parseFlags.
func withConfig(fs *pflag.FlagSet, f *commonFlags) {
	fs.StringVarP(&f.config, "config", "c", "", "configuration file (default $HARMONY_AGENT_CONFIG or "+config.DefaultPath+")")
}

func withDev(fs *pflag.FlagSet, f *commonFlags) {
	fs.BoolVar(&f.dev, "dev", false, "run an embedded NATS server on 127.0.0.1:4222 (sets nats.embedded; dev builds only)")
}

// parseFlags parses the arguments of command name, which takes the flags
// the defines define and no other argument. --help prints help (and the
// flags) to stdout and returns errHelp.
func parseFlags(name, help string, args []string, stdout io.Writer, defines ...func(*pflag.FlagSet, *commonFlags)) (commonFlags, error) {
	var f commonFlags
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, define := range defines {
		define(fs, &f)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, help+fs.FlagUsages())
			return f, errHelp
		}
		return f, usageErrorf("%s: %v (see harmony-agent %s --help)", name, err, name)
	}
	if fs.NArg() > 0 {
		return f, usageErrorf("%s: unexpected argument %q (see harmony-agent %s --help)", name, fs.Arg(0), name)
	}
	return f, nil
}

// loadConfig loads and validates the configuration the flags name.
func loadConfig(f commonFlags) (config.Config, string, error) {
	path := config.ResolvePath(f.config)
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, path, usageErrorf("config %s:\n%v\n(give --config FILE or set %s; configs/agent.yaml documents every key)", path, err, config.PathEnv)
	}
	if err != nil {
		return cfg, path, usageErrorf("config %s:\n%v", path, err)
	}
	if f.dev {
		cfg.NATS.Embedded = true
	}
	if err := cfg.Validate(); err != nil {
		return cfg, path, usageErrorf("config %s is invalid:\n%v", path, err)
	}
	return cfg, path, nil
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags("check-config", checkHelp, args, stdout, withConfig)
	if err != nil {
		return err
	}
	cfg, path, err := loadConfig(f)
	if err != nil {
		return err
	}
	if f := cfg.NATS.CredsFile; f != "" {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "harmony-agent: warning: nats.creds_file %s does not exist (yet): the agent runs, and connects once it is installed (harmony-fleet device add issues it)\n", f)
		}
	}
	for _, f := range []string{cfg.NATS.CredsFile, cfg.NATS.NKeyFile, cfg.NATS.PasswordFile, cfg.NATS.TokenFile, cfg.NATS.TLS.KeyFile} {
		if f == "" {
			continue
		}
		if err := natsconn.CheckSecretMode(f); err != nil {
			fmt.Fprintf(stderr, "harmony-agent: warning: %v\n", err)
		}
	}
	fmt.Fprintf(stdout, "config %s is valid (device %s, nats %s, state %s)\n", path, cfg.DeviceID, natsconn.RedactURLs(cfg.NATS.URLs), cfg.StateDir)
	return nil
}

func cmdVersion(args []string, stdout io.Writer) error {
	if _, err := parseFlags("version", versionHelp, args, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "harmony-agent %s (commit %s, built %s)\n", version, commit, date)
	return nil
}
