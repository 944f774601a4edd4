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
interrupted. Messages that do not decode are skipped and reported on
stderr.

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
	if !p.json {
		p.tw = newTable(out.stdout)
		row(p.tw, "TIME", "DEVICE", "DEPLOYMENT", "REVISION", "KIND", "TRANSITION", "ERROR")
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
			reportBad(out.stderr, "events", []error{re.Err})
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

// eventPrinter prints events as table rows or JSON lines.
type eventPrinter struct {
	w    io.Writer
	json bool
	tw   *tabwriter.Writer // nil for JSON
}

func (p eventPrinter) print(e fleet.StateChangeEvent) error {
	if p.json {
		return writeJSON(p.w, e)
	}
	t := e.Transition
	row(p.tw, e.At.UTC().Format(timeFormat), e.DeviceID, e.Deployment, e.Revision, t.Kind,
		orDash(string(t.From))+" -> "+orDash(string(t.To)), oneLine(t.LastError))
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
