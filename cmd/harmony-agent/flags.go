package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/internal/config"
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

// commonFlags parses the flags of run and check-config.
type commonFlags struct {
	config string
	dev    bool
}

func parseFlags(name, help string, args []string, withDev bool, stdout io.Writer) (commonFlags, error) {
	var f commonFlags
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVarP(&f.config, "config", "c", "", "configuration file (default $HARMONY_AGENT_CONFIG or "+config.DefaultPath+")")
	if withDev {
		fs.BoolVar(&f.dev, "dev", false, "run an embedded NATS server on 127.0.0.1:4222 (sets nats.embedded; dev builds only)")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, help+fs.FlagUsages())
			return f, errHelp
		}
		return f, fmt.Errorf("%w: %s: %v (see harmony-agent %s --help)", errUsage, name, err, name)
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("%w: %s: unexpected argument %q", errUsage, name, fs.Arg(0))
	}
	return f, nil
}

// loadConfig loads and validates the configuration the flags name.
func loadConfig(f commonFlags) (config.Config, string, error) {
	path := config.ResolvePath(f.config)
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, path, fmt.Errorf("%w: config %s:\n%v", errUsage, path, err)
	}
	if f.dev {
		cfg.NATS.Embedded = true
	}
	if err := cfg.Validate(); err != nil {
		return cfg, path, fmt.Errorf("%w: config %s is invalid:\n%v", errUsage, path, err)
	}
	return cfg, path, nil
}

func cmdCheckConfig(args []string, stdout, _ io.Writer) error {
	f, err := parseFlags("check-config", checkHelp, args, false, stdout)
	if err != nil {
		return err
	}
	cfg, path, err := loadConfig(f)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "config %s is valid (device %s, nats %v, state %s)\n", path, cfg.DeviceID, cfg.NATS.URLs, cfg.StateDir)
	return nil
}
