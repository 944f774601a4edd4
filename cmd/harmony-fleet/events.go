package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const eventsHelp = `Usage: harmony-fleet events [--device ID] [--deployment NAME] [--follow] [flags]

Prints the phase changes the agents published to stream FLEET_EVENTS, oldest
first, one per line: time, device, deployment, revision (epoch/sequence),
kind (applied or removed), from -> to ("-" for none), and the last error.
--device and --deployment select by subject, so the server does the
filtering. With --follow it then prints new events as they come, until
interrupted; its columns have fixed widths, so that the lines printed as
events come align with the header. Messages that do not decode are skipped
and reported on stderr.

-o json prints each event as one line of JSON, as published.

Examples:
  harmony-fleet events
  harmony-fleet events --device pi-017 --deployment web
  harmony-fleet events --deployment web --follow
  harmony-fleet events -o json | jq 'select(.transition.to == "failed")'
`

func cmdEvents(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("events")
	device := fs.StringP("device", "d", "", "only the events of this device")
	deployment := fs.String("deployment", "", "only the events of this deployment")
	follow := fs.BoolP("follow", "f", false, "keep printing new events until interrupted")
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	if _, err := parse(fs, eventsHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	const cmd = "events"
	var (
		id   fleet.DeviceID
		name fleet.DeploymentName
		err  error
	)
	if *device != "" {
		if id, err = fleet.ParseDeviceID(*device); err != nil {
			return usagef("%s: --device: %v", cmd, err)
		}
	}
	if *deployment != "" {
		if name, err = fleet.ParseDeploymentName(*deployment); err != nil {
			return usagef("%s: --deployment: %v", cmd, err)
		}
	}
	if err := conn.resolveWithOutput(fs, cmd, *output); err != nil {
		return err
	}

	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	r, err := fleetview.OpenEvents(ctx, js, fleetview.EventsFilter(id, name), conn.timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer r.Stop()

	p := eventPrinter{w: out.stdout, json: *output == outputJSON}
	switch {
	case p.json:
	case *follow:
		// Lines are printed as they come: fixed widths align them.
		if err := fixedRow(p.w, followWidths, eventColumns...); err != nil {
			return err
		}
	default:
		p.tw = newTable(out.stdout)
		row(p.tw, eventColumns...)
	}
	for *follow || r.Backlog() {
		re, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() != nil && *follow {
				return p.flush() // interrupted: the normal end of --follow
			}
			p.flush()
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if re.Err != nil {
			reportBad(out.stderr, "event", []error{re.Err})
		} else if err := p.print(re.Event); err != nil {
			return err
		}
		if re.CaughtUp {
			// Align what is stored as one table; then each new event.
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	return p.flush()
}

// eventColumns are the columns of the events table.
var eventColumns = []any{"TIME", "DEVICE", "DEPLOYMENT", "REVISION", "KIND", "TRANSITION", "ERROR"}

// followWidths are the widths of the columns of events --follow but the
// last: it prints each event when it comes, so it cannot align them by
// their content as a table of stored events is. A time is 24 characters;
// a revision is an epoch of 16 digits, '/' and a sequence; a transition
// is at most "succeeded -> succeeded"; device ids and deployment names of
// up to 20 characters fit, a longer one pushes the rest of its line right.
var followWidths = []int{len("2006-01-02T15:04:05.000Z"), 20, 20, 24, len(fleet.KindApplied), len("succeeded -> succeeded")}

// eventPrinter prints events as table rows or JSON lines.
type eventPrinter struct {
	w    io.Writer
	json bool
	// tw aligns the rows of stored events; nil for JSON and --follow,
	// whose rows have fixed widths.
	tw *tabwriter.Writer
}

func (p eventPrinter) print(e fleet.StateChangeEvent) error {
	if p.json {
		return writeJSON(p.w, e)
	}
	t := e.Transition
	cells := []any{e.At.UTC().Format(timeFormat), e.DeviceID, e.Deployment, e.Revision, t.Kind,
		orDash(string(t.From)) + " -> " + orDash(string(t.To)), oneLine(t.LastError)}
	if p.tw == nil {
		return fixedRow(p.w, followWidths, cells...)
	}
	row(p.tw, cells...)
	return nil
}

func (p eventPrinter) flush() error {
	if p.tw == nil {
		return nil
	}
	return p.tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
