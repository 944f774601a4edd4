package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const statusHelp = `Usage: harmony-fleet status [NAME] [--watch] [flags]

Shows, per deployment, how many devices are in each phase (pending,
running, succeeded, failed) and the failing devices with their last error.
NAME shows one deployment.

It reads the newest event of each device and deployment in stream
FLEET_EVENTS, then every snapshot in bucket device-info, and folds them
together (fleet/aggregate): the snapshots repair events that were lost, and
the read costs what the fleet is, not what the stream holds. A fleet
deployment (bucket deployments) also shows how many enrolled devices its
selector targets (bucket device-registry) and its rollout (bucket
rollouts). Events, snapshots and records that do not decode are skipped
and reported on stderr.

With --watch it keeps reading new events, snapshots and records and prints
again when what it shows changed, at most once a second, until interrupted.

-o json prints one line (one per change with --watch):
  {"deployments":[{"name":"web",
    "counts":{"pending":0,"running":2,"succeeded":0,"failed":1,"targeted":3},
    "failing":[{"device_id":"pi-3","last_error":"...","revision":{...}}],
    "rollout":{"deployment":"web","state":"progressing","targeted":3,...}}]}
  (targeted and rollout only for a fleet deployment; rollout once the
  controller wrote one)

Examples:
  harmony-fleet status
  harmony-fleet status web --watch
  harmony-fleet status -o json | jq '.deployments[] | select(.counts.failed > 0)'
`

// watchInterval is the shortest time between two prints of status
// --watch.
const watchInterval = time.Second

func cmdStatus(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("status")
	watch := fs.BoolP("watch", "w", false, "keep watching and print again on every change")
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	rest, err := parse(fs, statusHelp, args, out.stdout, 0, 1)
	if err != nil {
		return err
	}
	cmd := "status"
	var name fleet.DeploymentName
	if len(rest) == 1 {
		if name, err = fleet.ParseDeploymentName(rest[0]); err != nil {
			return usagef("%s: %v", cmd, err)
		}
		cmd += " " + string(name)
	}
	if err := conn.resolveWithOutput(fs, cmd, *output); err != nil {
		return err
	}

	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	filter := fleetview.EventsFilter("", name)
	p := &changePrinter{w: out.stdout, stamp: *watch && *output == outputTable, now: time.Now}
	if !*watch {
		// The newest event of every subject, then every snapshot: the
		// order fleet/aggregate is built for, and O(devices x
		// deployments) whatever the stream holds.
		s, bad, err := fleetview.ReadStatus(ctx, js, name, conn.timeout)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		reportBad(out.stderr, "input", bad)
		return printStatus(out.stdout, *output, s)
	}

	// --watch: the same fold, kept live; printed when it changed, at most
	// once per watchInterval.
	live := fleetview.StartLive(ctx, js, fleetview.LiveOptions{
		Filter: filter, Timeout: conn.timeout,
		OnBad: func(err error) { reportBad(out.stderr, "input", []error{err}) },
	})
	defer live.Close()
	if err := live.WaitReady(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: %w", cmd, err)
	}
	show := func() error {
		return p.print(func(w io.Writer) error { return printStatus(w, *output, live.Status(name)) })
	}
	shown := live.Version()
	if err := show(); err != nil {
		return err
	}
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-live.Done():
			if err := live.Err(); err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
			return nil
		case <-tick.C:
			if v := live.Version(); v != shown {
				shown = v
				if err := show(); err != nil {
					return err
				}
			}
		}
	}
}

// printStatus prints s as a table of counts and one of failing devices,
// or as JSON. The TARGETED and ROLLOUT columns are shown when some
// deployment is a fleet deployment.
func printStatus(w io.Writer, output string, s fleetview.Status) error {
	if output == outputJSON {
		return writeJSON(w, s)
	}
	if len(s.Deployments) == 0 {
		_, err := fmt.Fprintln(w, "no deployments")
		return err
	}
	withFleet := false
	for _, d := range s.Deployments {
		withFleet = withFleet || d.Counts.Targeted != nil
	}
	tw := newTable(w)
	if withFleet {
		row(tw, "DEPLOYMENT", "TARGETED", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "ROLLOUT")
	} else {
		row(tw, "DEPLOYMENT", "PENDING", "RUNNING", "SUCCEEDED", "FAILED")
	}
	failing := 0
	for _, d := range s.Deployments {
		c := d.Counts
		if withFleet {
			targeted := "-"
			if c.Targeted != nil {
				targeted = fmt.Sprint(*c.Targeted)
			}
			row(tw, d.Name, targeted, c.Pending, c.Running, c.Succeeded, c.Failed, formatRollout(d.Rollout))
		} else {
			row(tw, d.Name, c.Pending, c.Running, c.Succeeded, c.Failed)
		}
		failing += len(d.Failing)
	}
	if failing > 0 {
		row(tw)
		row(tw, "FAILING", "DEVICE", "REVISION", "LAST ERROR")
		for _, d := range s.Deployments {
			for _, f := range d.Failing {
				row(tw, d.Name, f.DeviceID, f.Revision, oneLine(f.LastError))
			}
		}
	}
	return tw.Flush()
}

// formatRollout writes a rollout as "state updated/targeted updated,
// ready, failed"; "-" for none.
func formatRollout(r *fleet.RolloutStatus) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%s %d/%d updated, %d ready, %d failed", r.State, r.Updated, r.Targeted, r.Ready, r.Failed)
}
