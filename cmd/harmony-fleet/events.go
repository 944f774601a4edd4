package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const eventsHelp = `Usage: harmony-fleet events [--device ID] [--deployment NAME] [--since WHEN] [--follow] [flags]

Prints the phase changes the agents published to stream FLEET_EVENTS, oldest
first, one per line: time, device, deployment, revision (epoch/sequence),
kind (applied or removed), from -> to ("-" for none), and the last error.
--device and --deployment select by subject, and --since by the time the
server stored them (a duration back from now, such as 90m, or an RFC 3339
time), so the server does the filtering. With --follow it then prints new
events as they come, until interrupted. Each event is printed as it is
read, whatever the stream holds (memory stays bounded): the table's columns
have fixed widths, so that its lines align with the header. Messages that
do not decode are skipped and reported on stderr.

-o json prints each event as one line of JSON, as published.

Examples:
  harmony-fleet events
  harmony-fleet events --device pi-017 --deployment web
  harmony-fleet events --deployment web --follow
  harmony-fleet events --since 1h
  harmony-fleet events --since 2026-11-26T10:00:00Z --device pi-017
  harmony-fleet events -o json | jq 'select(.transition.to == "failed")'
`

func cmdEvents(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("events")
	device := fs.StringP("device", "d", "", "only the events of this device")
	deployment := fs.String("deployment", "", "only the events of this deployment")
	follow := fs.BoolP("follow", "f", false, "keep printing new events until interrupted")
	sinceArg := fs.String("since", "", "only the events stored since then: a duration back from now (90m) or an RFC 3339 time")
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
	var since time.Time
	if *sinceArg != "" {
		if since, err = parseSince(*sinceArg, time.Now()); err != nil {
			return usagef("%s: --since: %v", cmd, err)
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
	r, err := fleetview.OpenEventsSince(ctx, js, fleetview.EventsFilter(id, name), since, conn.timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer r.Stop()

	// Each event is printed as it is read: nothing is held but the
	// reader's batch, whatever the stream holds.
	w := bufio.NewWriterSize(out.stdout, 64<<10)
	p := eventPrinter{w: w, json: *output == outputJSON}
	if !p.json {
		if err := fixedRow(w, eventWidths, eventColumns...); err != nil {
			return err
		}
	}
	for *follow || r.Backlog() {
		re, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() != nil && *follow {
				return w.Flush() // interrupted: the normal end of --follow
			}
			_ = w.Flush()
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if re.Err != nil {
			_ = w.Flush() // keep stdout and stderr in order
			reportBad(out.stderr, "event", []error{re.Err})
		} else if err := p.print(re.Event); err != nil {
			return err
		}
		if re.CaughtUp {
			// Nothing more stored: show what was read before waiting.
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// parseSince reads --since: a duration back from now, or an RFC 3339
// time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a negative duration", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a duration (90m) or an RFC 3339 time (2006-01-02T15:04:05Z)", s)
	}
	return t, nil
}

// eventColumns are the columns of the events table.
var eventColumns = []any{"TIME", "DEVICE", "DEPLOYMENT", "REVISION", "KIND", "TRANSITION", "ERROR"}

// eventWidths are the widths of the columns of the events table but the
// last: it prints each event when it reads it, so it cannot align them by
// their content. A time is 24 characters;
// a revision is an epoch of 16 digits, '/' and a sequence; a transition
// is at most "succeeded -> succeeded"; device ids and deployment names of
// up to 20 characters fit, a longer one pushes the rest of its line right.
var eventWidths = []int{len("2006-01-02T15:04:05.000Z"), 20, 20, 24, len(fleet.KindApplied), len("succeeded -> succeeded")}

// eventPrinter prints events as table rows or JSON lines.
type eventPrinter struct {
	w    io.Writer
	json bool
}

func (p eventPrinter) print(e fleet.StateChangeEvent) error {
	if p.json {
		return writeJSON(p.w, e)
	}
	t := e.Transition
	return fixedRow(p.w, eventWidths, e.At.UTC().Format(timeFormat), e.DeviceID, e.Deployment, e.Revision, t.Kind,
		orDash(string(t.From))+" -> "+orDash(string(t.To)), oneLine(t.LastError))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
