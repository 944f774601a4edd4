package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/rollout"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

const deployHelp = `Usage: harmony-fleet deploy NAME -f FILE --selector k=v[,k=v] [--batch N|P%]
                           [--max-failed N|P%] [--min-ready DURATION]
                           [--health-timeout DURATION] [--auto-rollback]
                           [--dry-run] [--wait] [-o json] [connection flags]

Creates or updates the fleet deployment NAME (bucket deployments): the spec
of FILE (JSON or YAML, as apply reads it) kept true on every device whose
registry labels (harmony-fleet device add|label) match the selector, now
and later. harmony-fleet serve, the controller, writes the devices' keys.

A new spec is a new generation, rolled out in waves of --batch devices
(a count, or a percentage of the targeted devices; default 1): the next
wave starts when every device of the current one runs the new spec for
--min-ready (default 10s) or has failed (reported failed, or not ready
within --health-timeout, default 5m). When more than --max-failed devices
(default 0) fail, the rollout halts; with --auto-rollback the devices that
took it get the previous spec back. The same spec with another selector or
policy starts no rollout: it retargets.

--dry-run prints the targeted devices and the waves, and writes nothing.
--wait follows the rollout with a progress bar until it is complete (exit
0) or halted (exit 1).

Examples:
  harmony-fleet deploy web -f web.yaml --selector site=lyon
  harmony-fleet deploy web -f web-1.28.yaml --selector site=lyon --batch 10% --max-failed 2 --auto-rollback --wait
  harmony-fleet deploy web -f web.yaml --selector site=lyon,role=edge --dry-run
`

const undeployHelp = `Usage: harmony-fleet undeploy NAME [connection flags]

Deletes the fleet deployment NAME, then the desired-state key of every
device that has it: the agents remove the workload.
`

const rolloutHelp = `Usage: harmony-fleet rollout status [NAME] [--watch] [-o json]
       harmony-fleet rollout pause|resume|undo NAME

status   each fleet deployment's rollout as the controller last wrote it
         (bucket rollouts): state, wave, targeted, updated, ready, failed,
         unavailable devices; --watch prints every change
pause    stops the rollout from spreading (no new wave, no late joiner);
         devices leaving the selector still lose it
resume   undoes pause
undo     rolls back to the previous spec, as a new generation rolled out
         like any other (devices that still run it are only restamped);
         a second undo returns to the version undone
`

// deployFlags are deploy's policy flags.
type deployFlags struct {
	file, selector, batch, maxFailed string
	minReady, healthTimeout          time.Duration
	autoRollback, dryRun, wait       bool
}

func cmdDeploy(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("deploy")
	var f deployFlags
	def := fleet.DefaultRolloutPolicy()
	fs.StringVarP(&f.file, "file", "f", "", "the spec, JSON or YAML")
	fs.StringVar(&f.selector, "selector", "", "registry labels k=v[,k=v] a device must all have")
	fs.StringVar(&f.batch, "batch", def.Batch.String(), "devices per wave: N or P%")
	fs.StringVar(&f.maxFailed, "max-failed", def.MaxFailed.String(), "failed devices tolerated before halting: N or P%")
	fs.DurationVar(&f.minReady, "min-ready", def.MinReady(), "how long a device must run the new spec to be ready")
	fs.DurationVar(&f.healthTimeout, "health-timeout", def.HealthTimeout(), "how long a device may take to be ready")
	fs.BoolVar(&f.autoRollback, "auto-rollback", false, "on halt, write the previous spec back to the devices that took the new one")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the targeted devices and the waves; write nothing")
	fs.BoolVar(&f.wait, "wait", false, "follow the rollout until complete (exit 0) or halted (exit 1)")
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	rest, err := parse(fs, deployHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	if err := conn.resolveWithOutput(fs, "deploy", *output); err != nil {
		return err
	}
	want, err := f.deployment(rest[0])
	if err != nil {
		return err
	}
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	defer nc.Close()

	if f.dryRun {
		return dryRun(ctx, js, out, *output, want)
	}
	kv, err := deploymentsBucket(ctx, js)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	d, err := updateDeployment(ctx, kv, want.Name, func(cur *fleet.FleetDeployment) (fleet.FleetDeployment, error) {
		return rollout.Deploy(cur, want, time.Now()), nil
	})
	if err != nil {
		return fmt.Errorf("deploy %s: %w", want.Name, err)
	}
	warnNoController(ctx, js, out.stderr)
	if *output == outputJSON {
		if err := writeJSON(out.stdout, d); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out.stdout, "fleet deployment %s: generation %d, spec %s, selector %s\n",
			d.Name, d.Generation, fleet.ShortHash(fleet.SpecHash(d.Spec)), formatLabels(d.Selector))
	}
	if !f.wait {
		return nil
	}
	return waitRollout(ctx, js, out, d)
}

// deployment builds the fleet deployment the flags describe.
func (f *deployFlags) deployment(arg string) (fleet.FleetDeployment, error) {
	name, err := fleet.ParseDeploymentName(arg)
	if err != nil {
		return fleet.FleetDeployment{}, usagef("deploy: %v", err)
	}
	if f.file == "" {
		return fleet.FleetDeployment{}, usagef("deploy %s: say which spec: -f FILE", name)
	}
	if f.selector == "" {
		return fleet.FleetDeployment{}, usagef("deploy %s: say which devices: --selector k=v[,k=v]", name)
	}
	spec, _, err := loadSpec(f.file)
	if err != nil {
		return fleet.FleetDeployment{}, usagef("deploy %s: %w", name, err)
	}
	sel, err := parseSelector(f.selector)
	if err != nil {
		return fleet.FleetDeployment{}, usagef("deploy %s: --selector: %v", name, err)
	}
	pol := fleet.DefaultRolloutPolicy()
	a, err := fleet.ParseAmount(f.batch)
	if err != nil {
		return fleet.FleetDeployment{}, usagef("deploy %s: --batch: %v", name, err)
	}
	pol.Batch = fleet.Batch{Amount: a}
	if a, err = fleet.ParseAmount(f.maxFailed); err != nil {
		return fleet.FleetDeployment{}, usagef("deploy %s: --max-failed: %v", name, err)
	}
	pol.MaxFailed = fleet.MaxFailed{Amount: a}
	pol.MinReadySeconds = int(f.minReady.Round(time.Second) / time.Second)
	pol.HealthTimeoutSeconds = int(f.healthTimeout.Round(time.Second) / time.Second)
	pol.AutoRollback = f.autoRollback
	d := fleet.FleetDeployment{Name: name, Selector: sel, Spec: spec, Generation: 1, Rollout: pol}
	if err := d.Validate(); err != nil {
		return fleet.FleetDeployment{}, usagef("deploy %s: %v", name, err)
	}
	return d, nil
}

// deploymentsBucket opens the deployments bucket, creating it (one
// replica) when missing, as init would.
func deploymentsBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	r, _ := natsconn.FleetResource(natsconn.DefaultResourceSettings(), fleet.DeploymentsBucket)
	if err := natsconn.Ensure(ctx, js, []natsconn.Resource{r}, natsconn.EnsureOptions{Create: true, IgnoreReplicas: true}); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, fleet.DeploymentsBucket)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", fleet.DeploymentsBucket, err)
	}
	return kv, nil
}

// getDeployment returns fleet deployment name and its revision; nil and
// 0 when there is none.
func getDeployment(ctx context.Context, kv jetstream.KeyValue, name fleet.DeploymentName) (*fleet.FleetDeployment, uint64, error) {
	e, err := kv.Get(ctx, fleet.DeploymentKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", name, err)
	}
	d, err := fleet.DecodeFleetDeployment(e.Value())
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", name, err)
	}
	return &d, e.Revision(), nil
}

// updateDeployment writes change(current) as fleet deployment name, a
// compare-and-set on its revision, retried when another writer got there
// first.
func updateDeployment(ctx context.Context, kv jetstream.KeyValue, name fleet.DeploymentName, change func(*fleet.FleetDeployment) (fleet.FleetDeployment, error)) (fleet.FleetDeployment, error) {
	for try := 1; ; try++ {
		cur, rev, err := getDeployment(ctx, kv, name)
		if err != nil {
			return fleet.FleetDeployment{}, err
		}
		d, err := change(cur)
		if err != nil {
			return fleet.FleetDeployment{}, err
		}
		b, err := json.Marshal(d)
		if err != nil {
			return fleet.FleetDeployment{}, err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, fleet.DeploymentKey(name), b)
		} else {
			_, err = kv.Update(ctx, fleet.DeploymentKey(name), b, rev)
		}
		if err == nil {
			return d, nil
		}
		if try < maxCASTries && (errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)) {
			continue
		}
		return fleet.FleetDeployment{}, fmt.Errorf("write %s: %w", name, err)
	}
}

// registry reads the device-registry bucket.
func registry(ctx context.Context, js jetstream.JetStream) ([]rollout.Device, error) {
	kv, err := js.KeyValue(ctx, fleet.DeviceRegistryBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", fleet.DeviceRegistryBucket, err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", fleet.DeviceRegistryBucket, err)
	}
	defer func() { _ = lister.Stop() }()
	var out []rollout.Device
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue // removed meanwhile
		}
		var r fleet.DeviceRecord
		if json.Unmarshal(e.Value(), &r) != nil {
			continue
		}
		out = append(out, rollout.Device{ID: r.DeviceID, Labels: r.Labels})
	}
	return out, nil
}

// dryRunJSON is deploy --dry-run -o json.
type dryRunJSON struct {
	Deployment fleet.DeploymentName `json:"deployment"`
	SpecHash   string               `json:"spec_hash"`
	Targeted   []fleet.DeviceID     `json:"targeted"`
	Waves      [][]fleet.DeviceID   `json:"waves"`
}

func dryRun(ctx context.Context, js jetstream.JetStream, out ioStreams, output string, d fleet.FleetDeployment) error {
	reg, err := registry(ctx, js)
	if err != nil {
		return fmt.Errorf("deploy %s: %w", d.Name, err)
	}
	waves := rollout.Waves(d, reg)
	r := dryRunJSON{Deployment: d.Name, SpecHash: fleet.SpecHash(d.Spec), Targeted: []fleet.DeviceID{}, Waves: waves}
	for _, w := range waves {
		r.Targeted = append(r.Targeted, w...)
	}
	if r.Waves == nil {
		r.Waves = [][]fleet.DeviceID{}
	}
	if output == outputJSON {
		return writeJSON(out.stdout, r)
	}
	fmt.Fprintf(out.stdout, "dry run: nothing written\nfleet deployment %s, spec %s, selector %s: %d devices targeted\n",
		d.Name, fleet.ShortHash(r.SpecHash), formatLabels(d.Selector), len(r.Targeted))
	for i, w := range waves {
		ids := make([]string, len(w))
		for j, id := range w {
			ids[j] = string(id)
		}
		fmt.Fprintf(out.stdout, "wave %d: %s\n", i+1, strings.Join(ids, " "))
	}
	return nil
}

// warnNoController says on stderr when no controller holds the lease:
// the deployment is stored, but nothing writes the devices' keys.
func warnNoController(ctx context.Context, js jetstream.JetStream, stderr io.Writer) {
	kv, err := js.KeyValue(ctx, fleet.ControllerBucket)
	if err == nil {
		if _, err = kv.Get(ctx, fleet.LeaderKey); err == nil {
			return
		}
	}
	fmt.Fprintln(stderr, "harmony-fleet: warning: no controller holds the lease: nothing is rolled out until harmony-fleet serve runs")
}

// waitRollout follows d's rollout until complete (nil) or halted (an
// error), printing a progress bar at each change.
func waitRollout(ctx context.Context, js jetstream.JetStream, out ioStreams, d fleet.FleetDeployment) error {
	kv, err := js.KeyValue(ctx, fleet.RolloutsBucket)
	if err != nil {
		return fmt.Errorf("deploy %s: wait: open bucket %s: %w", d.Name, fleet.RolloutsBucket, err)
	}
	w, err := kv.Watch(ctx, fleet.RolloutKey(d.Name))
	if err != nil {
		return fmt.Errorf("deploy %s: wait: %w", d.Name, err)
	}
	defer func() { _ = w.Stop() }()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("deploy %s: wait: watch closed", d.Name)
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var s fleet.RolloutStatus
			if json.Unmarshal(e.Value(), &s) != nil || s.Generation != d.Generation {
				continue
			}
			if line := progressLine(s); line != last {
				fmt.Fprintln(out.stdout, line)
				last = line
			}
			switch s.State {
			case fleet.RolloutComplete:
				return nil
			case fleet.RolloutHalted:
				return fmt.Errorf("deploy %s: rollout halted: %s", d.Name, s.Message)
			}
		}
	}
}

// progressLine draws s as "[#####-----] 5/10 ready  progressing  wave 3: ...".
func progressLine(s fleet.RolloutStatus) string {
	const width = 20
	filled := 0
	if s.Targeted > 0 {
		filled = width * s.Ready / s.Targeted
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", width-filled)
	return fmt.Sprintf("[%s] %d/%d ready, %d updated, %d failed, %d unavailable  %s  %s",
		bar, s.Ready, s.Targeted, s.Updated, s.Failed, s.Unavailable, s.State, s.Message)
}

func cmdUndeploy(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("undeploy")
	conn := addConnFlags(fs)
	rest, err := parse(fs, undeployHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	name, err := fleet.ParseDeploymentName(rest[0])
	if err != nil {
		return usagef("undeploy: %v", err)
	}
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("undeploy: %w", err)
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, fleet.DeploymentsBucket)
	if err != nil {
		return fmt.Errorf("undeploy %s: open bucket %s: %w", name, fleet.DeploymentsBucket, err)
	}
	if cur, _, err := getDeployment(ctx, kv, name); err != nil {
		return fmt.Errorf("undeploy %s: %w", name, err)
	} else if cur == nil {
		return fmt.Errorf("undeploy %s: no such fleet deployment", name)
	}
	if err := kv.Delete(ctx, fleet.DeploymentKey(name)); err != nil {
		return fmt.Errorf("undeploy %s: %w", name, err)
	}
	// The controller plans only fleet deployments: their keys are ours
	// to delete now.
	desired, err := fleetview.OpenBucket(ctx, js, fleet.DesiredStateBucket)
	if err != nil {
		return fmt.Errorf("undeploy %s: %w", name, err)
	}
	lister, err := desired.ListKeysFiltered(ctx, "*."+string(name))
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("undeploy %s: list keys: %w", name, err)
	}
	n := 0
	if lister != nil {
		for key := range lister.Keys() {
			if err := desired.Delete(ctx, key); err != nil {
				return fmt.Errorf("undeploy %s: delete %s: %w", name, key, err)
			}
			n++
		}
	}
	if rk, err := js.KeyValue(ctx, fleet.RolloutsBucket); err == nil {
		_ = rk.Delete(ctx, fleet.RolloutKey(name))
	}
	fmt.Fprintf(out.stdout, "fleet deployment %s deleted, and its key on %d devices\n", name, n)
	return nil
}

func cmdRollout(ctx context.Context, out ioStreams, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(out.stdout, rolloutHelp)
			return errHelp
		}
		return usagef("rollout: say status, pause, resume or undo (see harmony-fleet rollout --help)")
	}
	switch args[0] {
	case "status":
		return rolloutStatus(ctx, out, args[1:])
	case "pause", "resume", "undo":
		return rolloutChange(ctx, out, args[0], args[1:])
	}
	return usagef("rollout: unknown verb %q: want status, pause, resume or undo", args[0])
}

func rolloutChange(ctx context.Context, out ioStreams, verb string, args []string) error {
	cmd := "rollout " + verb
	fs := newFlagSet(cmd)
	conn := addConnFlags(fs)
	rest, err := parse(fs, rolloutHelp, args, out.stdout, 1, 1)
	if err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
		return err
	}
	name, err := fleet.ParseDeploymentName(rest[0])
	if err != nil {
		return usagef("%s: %v", cmd, err)
	}
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, fleet.DeploymentsBucket)
	if err != nil {
		return fmt.Errorf("%s %s: open bucket %s: %w", cmd, name, fleet.DeploymentsBucket, err)
	}
	d, err := updateDeployment(ctx, kv, name, func(cur *fleet.FleetDeployment) (fleet.FleetDeployment, error) {
		if cur == nil {
			return fleet.FleetDeployment{}, errors.New("no such fleet deployment")
		}
		d := *cur
		switch verb {
		case "pause":
			d.Paused = true
		case "resume":
			d.Paused = false
		case "undo":
			return rollout.Undo(d, time.Now())
		}
		return d, nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", cmd, name, err)
	}
	switch verb {
	case "undo":
		fmt.Fprintf(out.stdout, "fleet deployment %s: back to spec %s as generation %d\n", name, fleet.ShortHash(fleet.SpecHash(d.Spec)), d.Generation)
	default:
		fmt.Fprintf(out.stdout, "fleet deployment %s: %sd\n", name, verb)
	}
	return nil
}

func rolloutStatus(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("rollout status")
	watch := fs.Bool("watch", false, "print every change until interrupted")
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	rest, err := parse(fs, rolloutHelp, args, out.stdout, 0, 1)
	if err != nil {
		return err
	}
	if err := conn.resolveWithOutput(fs, "rollout status", *output); err != nil {
		return err
	}
	filter := ">"
	if len(rest) == 1 {
		name, err := fleet.ParseDeploymentName(rest[0])
		if err != nil {
			return usagef("rollout status: %v", err)
		}
		filter = fleet.RolloutKey(name)
	}
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, fleet.RolloutsBucket)
	if err != nil {
		return fmt.Errorf("rollout status: open bucket %s: %w", fleet.RolloutsBucket, err)
	}
	w, err := kv.Watch(ctx, filter)
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	defer func() { _ = w.Stop() }()
	statuses := map[fleet.DeploymentName]fleet.RolloutStatus{}
	timeout := time.After(conn.timeout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timeout:
			return fmt.Errorf("rollout status: no answer from bucket %s within %v", fleet.RolloutsBucket, conn.timeout)
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("rollout status: watch closed")
			}
			if e == nil { // the stored statuses are in
				if err := printStatuses(out.stdout, *output, statuses); err != nil || !*watch {
					return err
				}
				timeout = nil
				continue
			}
			name := fleet.DeploymentName(e.Key())
			if e.Operation() != jetstream.KeyValuePut {
				delete(statuses, name)
				continue
			}
			var s fleet.RolloutStatus
			if json.Unmarshal(e.Value(), &s) != nil {
				continue
			}
			statuses[name] = s
			if timeout == nil { // watching
				if *output == outputJSON {
					if err := writeJSON(out.stdout, s); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(out.stdout, "%s %s\n", s.Deployment, progressLine(s))
				}
			}
		}
	}
}

// rolloutsJSON is rollout status -o json.
type rolloutsJSON struct {
	Rollouts []fleet.RolloutStatus `json:"rollouts"`
}

func printStatuses(w io.Writer, output string, statuses map[fleet.DeploymentName]fleet.RolloutStatus) error {
	names := slices.Sorted(maps.Keys(statuses))
	if output == outputJSON {
		r := rolloutsJSON{Rollouts: make([]fleet.RolloutStatus, 0, len(names))}
		for _, n := range names {
			r.Rollouts = append(r.Rollouts, statuses[n])
		}
		return writeJSON(w, r)
	}
	tw := newTable(w)
	row(tw, "DEPLOYMENT", "STATE", "WAVE", "TARGETED", "UPDATED", "READY", "FAILED", "UNAVAILABLE", "MESSAGE")
	for _, n := range names {
		s := statuses[n]
		row(tw, s.Deployment, s.State, s.Wave, s.Targeted, s.Updated, s.Ready, s.Failed, s.Unavailable, s.Message)
	}
	return tw.Flush()
}

// refuseFleetDeployment refuses name when it is a fleet deployment: its
// keys are the controller's (deploy, undeploy), and a key written by
// hand would be rewritten or deleted by the next plan.
func refuseFleetDeployment(ctx context.Context, js jetstream.JetStream, name fleet.DeploymentName) error {
	kv, err := js.KeyValue(ctx, fleet.DeploymentsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", fleet.DeploymentsBucket, err)
	}
	switch _, err := kv.Get(ctx, fleet.DeploymentKey(name)); {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("get %s %s: %w", fleet.DeploymentsBucket, name, err)
	}
	return usagef("%s is a fleet deployment: its keys are the controller's; use harmony-fleet deploy or undeploy", name)
}
