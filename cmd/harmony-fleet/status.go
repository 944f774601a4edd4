package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/aggregate"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const statusHelp = `Usage: harmony-fleet status [NAME] [--watch] [flags]

Shows, per deployment, how many devices are in each phase (pending,
running, succeeded, failed) and the failing devices with their last error.
NAME shows one deployment.

It reads every event in stream FLEET_EVENTS, then every snapshot in bucket
device-info, and folds them together (fleet/aggregate): duplicated or
reordered events do not change the result, and the snapshots repair events
that were lost. Events and snapshots that do not decode are skipped and
reported on stderr.

With --watch it keeps reading new events and snapshots and prints again when
what it shows changed, at most once a second, until interrupted.

-o json prints one line (one per change with --watch):
  {"deployments":[{"name":"web",
    "counts":{"pending":0,"running":2,"succeeded":0,"failed":1},
    "failing":[{"device_id":"pi-3","last_error":"...","revision":{...}}]}]}

Examples:
  harmony-fleet status
  harmony-fleet status web --watch
  harmony-fleet status -o json | jq '.deployments[] | select(.counts.failed > 0)'
`

// watchInterval is the shortest time between two prints of status
// --watch.
const watchInterval = time.Second

// statusJSON is the -o json output of status.
type statusJSON struct {
	Deployments []deploymentJSON `json:"deployments"`
}

type deploymentJSON struct {
	Name    fleet.DeploymentName `json:"name"`
	Counts  aggregate.Counts     `json:"counts"`
	Failing []aggregate.Failing  `json:"failing"`
}

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
	infoKV, err := fleetview.OpenBucket(ctx, js, fleet.DeviceInfoBucket)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	filter := fleet.EventsSubjects
	if name != "" {
		filter = fleet.DeploymentEventsSubject(name)
	}
	r, err := fleetview.OpenEvents(ctx, js, filter, conn.timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer r.Stop()

	// Every event stored, then every snapshot: the order fleet/aggregate
	// is built for.
	agg := aggregate.New()
	var badEvents []error
	for r.Backlog() {
		re, err := r.Next(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if re.Err != nil {
			badEvents = append(badEvents, re.Err)
			continue
		}
		agg.Apply(re.Event)
	}
	iw, err := fleetview.WatchInfo(ctx, infoKV, conn.timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer iw.Stop()
	infos, badInfos, err := iw.Stored(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	for _, info := range infos {
		agg.ApplySnapshot(info)
	}
	reportBad(out.stderr, "event", badEvents)
	reportBad(out.stderr, "device-info snapshot", badInfos)

	p := &changePrinter{w: out.stdout, stamp: *watch && *output == outputTable, now: time.Now}
	show := func() error {
		return p.print(func(w io.Writer) error { return printStatus(w, *output, statusOf(agg, name)) })
	}
	if err := show(); err != nil || !*watch {
		return err
	}
	if err := watchStatus(ctx, r, iw, agg, show, out.stderr); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// watchStatus folds the events r reads and the snapshots iw sees into agg
// and calls show when agg changed, at most once per watchInterval, until
// ctx is done (which is not an error).
func watchStatus(ctx context.Context, r *fleetview.EventReader, iw *fleetview.InfoWatch, agg *aggregate.Aggregator, show func() error, stderr io.Writer) error {
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// events lets the reader run a little ahead of folding and printing.
	events := make(chan fleetview.ReadEvent, 64)
	// readErr takes the reader's one last error.
	readErr := make(chan error, 1)
	wg.Go(func() {
		for {
			re, err := r.Next(rctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case events <- re:
			case <-rctx.Done():
				readErr <- rctx.Err()
				return
			}
		}
	})

	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	changed := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case re := <-events:
			if re.Err != nil {
				reportBad(stderr, "event", []error{re.Err})
				continue
			}
			changed = agg.Apply(re.Event) || changed
		case e, ok := <-iw.Updates():
			if !ok {
				return fmt.Errorf("watch bucket %s: stopped", fleet.DeviceInfoBucket)
			}
			if e == nil {
				continue
			}
			info, err := fleetview.DecodeInfo(e)
			if err != nil {
				reportBad(stderr, "device-info snapshot", []error{err})
				continue
			}
			changed = agg.ApplySnapshot(info) || changed
		case <-tick.C:
			if !changed {
				continue
			}
			changed = false
			if err := show(); err != nil {
				return err
			}
		}
	}
}

// statusOf returns the status of deployment name in agg, or of every
// deployment that has a device when name is "".
func statusOf(agg *aggregate.Aggregator, name fleet.DeploymentName) statusJSON {
	names := []fleet.DeploymentName{name}
	if name == "" {
		names = agg.Deployments()
	}
	s := statusJSON{Deployments: make([]deploymentJSON, 0, len(names))}
	for _, n := range names {
		s.Deployments = append(s.Deployments, deploymentJSON{Name: n, Counts: agg.Counts(n), Failing: agg.Failing(n)})
	}
	return s
}

// printStatus prints s as a table of counts and one of failing devices,
// or as JSON.
func printStatus(w io.Writer, output string, s statusJSON) error {
	if output == outputJSON {
		return writeJSON(w, s)
	}
	if len(s.Deployments) == 0 {
		_, err := fmt.Fprintln(w, "no deployments")
		return err
	}
	tw := newTable(w)
	row(tw, "DEPLOYMENT", "PENDING", "RUNNING", "SUCCEEDED", "FAILED")
	failing := 0
	for _, d := range s.Deployments {
		c := d.Counts
		row(tw, d.Name, c.Pending, c.Running, c.Succeeded, c.Failed)
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
