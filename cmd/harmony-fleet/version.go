package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

const versionHelp = `Usage: harmony-fleet version [-o json]

Prints harmony-fleet's version, the commit it was built from and the build
date. It does not connect to NATS: connection flags are accepted (so an
alias that sets them works) and ignored.

-o json prints {"version":"...","commit":"...","build_date":"..."}.

Examples:
  harmony-fleet version
  harmony-fleet version -o json | jq -r .version
`

// versionJSON is the -o json output of version.
type versionJSON struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
}

func cmdVersion(_ context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("version")
	output := addOutputFlag(fs)
	addConnFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) { f.Hidden = f.Name != "output" })
	if _, err := parse(fs, versionHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	if err := checkOutput("version", *output); err != nil {
		return err
	}
	if *output == outputJSON {
		return writeJSON(out.stdout, versionJSON{Version: version, Commit: commit, BuildDate: date})
	}
	_, err := fmt.Fprintf(out.stdout, "harmony-fleet %s (commit %s, built %s)\n", version, commit, date)
	return err
}
