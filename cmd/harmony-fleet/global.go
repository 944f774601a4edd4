package main

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"
)

// splitCommand returns the command named in args and the arguments to
// give it. The connection flags, --timeout and -o may come before the
// command as well as after it (harmony-fleet -s URL --creds F init): those
// given before are handed to the command ahead of its own arguments, so a
// flag repeated after the command wins. With no flag before the command,
// args is returned as it is. --help before the command asks for the help.
func splitCommand(args []string) (string, []string, error) {
	if !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:], nil
	}
	fs := newFlagSet("harmony-fleet")
	fs.SetInterspersed(false) // stop at the command
	addConnFlags(fs)
	addOutputFlag(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return "help", nil, nil
		}
		return "", nil, usagef("%v (before the command, only the connection flags and -o; see harmony-fleet --help)", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return "", nil, usagef("no command after the flags (see harmony-fleet --help)")
	}
	var cmdArgs []string
	fs.Visit(func(f *pflag.Flag) {
		cmdArgs = append(cmdArgs, "--"+f.Name+"="+f.Value.String())
	})
	return rest[0], append(cmdArgs, rest[1:]...), nil
}
