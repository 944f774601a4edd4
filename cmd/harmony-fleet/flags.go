package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// newFlagSet returns the flag set of command name; parse reads it.
func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// parse parses args into fs. --help prints help and the flags to stdout
// and returns errHelp. The positional arguments must number between
// minArgs and maxArgs; they are returned.
func parse(fs *pflag.FlagSet, help string, args []string, stdout io.Writer, minArgs, maxArgs int) ([]string, error) {
	name := fs.Name()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, help+"\nFlags:\n"+fs.FlagUsages())
			return nil, errHelp
		}
		return nil, usagef("%s: %v (see harmony-fleet %s --help)", name, err, name)
	}
	rest := fs.Args()
	switch {
	case len(rest) < minArgs:
		return nil, usagef("%s: missing argument (see harmony-fleet %s --help)", name, name)
	case len(rest) > maxArgs:
		return nil, usagef("%s: unexpected argument %q (see harmony-fleet %s --help)", name, rest[maxArgs], name)
	}
	return rest, nil
}

// Output formats.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// addOutputFlag adds -o/--output; check validates it after parsing.
func addOutputFlag(fs *pflag.FlagSet) *string {
	return fs.StringP("output", "o", outputTable, "output format: table or json")
}

// checkOutput validates the value of -o.
func checkOutput(cmd, o string) error {
	if o != outputTable && o != outputJSON {
		return usagef("%s: --output %q: want table or json", cmd, o)
	}
	return nil
}

// targetFlags select the devices of apply and delete.
type targetFlags struct {
	devices  []string
	selector string
}

func addTargetFlags(fs *pflag.FlagSet) *targetFlags {
	var t targetFlags
	fs.StringSliceVarP(&t.devices, "device", "d", nil, "device id; repeat or separate by commas")
	fs.StringVarP(&t.selector, "selector", "l", "", "every device whose labels match all of k=v,k2=v2")
	return &t
}

// target is what targetFlags resolve to before the devices are looked up:
// a list of devices, or a selector.
type target struct {
	devices  []fleet.DeviceID
	selector map[string]string
}

// check validates t: exactly one of --device and --selector, valid ids,
// a well-formed selector.
func (t *targetFlags) check(cmd string) (target, error) {
	switch {
	case len(t.devices) > 0 && t.selector != "":
		return target{}, usagef("%s: --device and --selector exclude each other", cmd)
	case len(t.devices) == 0 && t.selector == "":
		return target{}, usagef("%s: say which devices: --device ID or --selector k=v", cmd)
	case t.selector != "":
		sel, err := parseSelector(t.selector)
		if err != nil {
			return target{}, usagef("%s: --selector: %v", cmd, err)
		}
		return target{selector: sel}, nil
	}
	var ids []fleet.DeviceID
	for _, s := range t.devices {
		id, err := fleet.ParseDeviceID(strings.TrimSpace(s))
		if err != nil {
			return target{}, usagef("%s: --device: %v", cmd, err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return target{devices: ids}, nil
}

// parseSelector parses k=v,k2=v2: every pair must match. Keys are
// non-empty; a key given twice must be given the same value.
func parseSelector(s string) (map[string]string, error) {
	sel := make(map[string]string)
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return nil, fmt.Errorf("%q: want key=value", pair)
		case k == "":
			return nil, fmt.Errorf("%q: empty key", pair)
		}
		if old, dup := sel[k]; dup && old != v {
			return nil, fmt.Errorf("key %q given twice with different values", k)
		}
		sel[k] = v
	}
	return sel, nil
}

// matches reports whether labels has every pair of sel.
func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// formatLabels writes labels as k=v,k2=v2 sorted by key; "-" when empty.
func formatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + labels[k])
	}
	return b.String()
}
