package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const applyHelp = `Usage: harmony-fleet apply NAME -f FILE (--device ID ... | --selector k=v,...) [flags]

Writes the desired state of deployment NAME for each device: the spec in
FILE goes to bucket desired-state under the key <device>.NAME, where the
device's agent picks it up. With --selector, the devices are the enrolled
ones whose device-registry labels (harmony-fleet device add|label) have
every label given; the labels a device reports itself never count.

FILE is YAML (.yaml, .yml) or JSON (.json, or any file starting with '{').
It is checked first by the agents' own rules: an unknown field, a missing
image or command, a port out of range... is reported with its field, exit 2,
and nothing is written. What is stored is the spec's canonical JSON, its
defaults filled in; SPEC shows the start of the hash the agents compute
over it. A key that already holds the same spec is left unchanged.

With --signing-key FILE (or $HARMONY_FLEET_SIGNING_KEY_FILE), each device's
value is a signed envelope for that device and deployment (what agents with
trust.keys require), at generation max(now in Unix ms, the key's current
generation + 1). FILE holds an account seed (harmony-fleet keys new) and
must not be readable by group or others. A key already holding the same
spec signed by the same key is left unchanged.

A spec, in YAML:
  runtime: podman                # or process (then command, no image)
  image: docker.io/library/nginx:1.27
  ports:
    - {host_port: 8080, container_port: 80}
  volumes:
    - {host_path: /srv/web, container_path: /usr/share/nginx/html, read_only: true}
  env: {MODE: edge}
  restart: always                # on-failure, never

Examples:
  harmony-fleet apply web -f web.yaml --device pi-017
  harmony-fleet apply web -f web.yaml --device pi-017,pi-018
  harmony-fleet apply web -f web.json --selector site=lyon,tier=edge -o json
  harmony-fleet apply web -f web.yaml --device pi-017 --signing-key signing.nk
`

const deleteHelp = `Usage: harmony-fleet delete NAME (--device ID ... | --selector k=v,...) [flags]

Deletes the desired state of deployment NAME on each device: the key
<device>.NAME of bucket desired-state. The device's agent then removes the
workload. With --selector, the devices are the enrolled ones whose
device-registry labels have every label given. A key that does not exist is reported as absent.

Examples:
  harmony-fleet delete web --device pi-017
  harmony-fleet delete web --selector site=lyon
  harmony-fleet delete web --device pi-017,pi-018 -o json
`

// keyResult is what apply or delete did to one key.
type keyResult struct {
	Device fleet.DeviceID `json:"device_id"`
	Key    string         `json:"key"`
	// Action is created, updated or unchanged (apply), deleted or absent
	// (delete), or failed.
	Action string `json:"action"`
	// Revision is the key's revision after apply.
	Revision uint64 `json:"revision,omitempty"`
	// Generation is the signed value's generation (apply --signing-key).
	Generation uint64 `json:"generation,omitempty"`
	Error      string `json:"error,omitempty"`
}

// keysJSON is the -o json output of apply and delete.
type keysJSON struct {
	Deployment fleet.DeploymentName `json:"deployment"`
	SpecHash   string               `json:"spec_hash,omitempty"`
	Keys       []keyResult          `json:"keys"`
}

func cmdApply(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("apply")
	file := fs.StringP("filename", "f", "", "spec file, YAML or JSON")
	signingKey := addSigningKeyFlag(fs)
	targets := addTargetFlags(fs)
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	name, cmd, t, err := parseTargeted(fs, applyHelp, args, out, targets, output, conn)
	if err != nil {
		return err
	}
	if *file == "" {
		return usagef("%s: say which spec: -f FILE", cmd)
	}
	spec, value, err := loadSpec(*file)
	if err != nil {
		return usagef("%s: %w", cmd, err)
	}
	hash := fleet.SpecHash(spec)
	kp, err := resolveSigningKey(fs, *signingKey)
	if err != nil {
		return err
	}
	if kp != nil {
		defer kp.Wipe()
		return eachKey(ctx, out, cmd, conn, t, targets.selector, true, *output, keysJSON{Deployment: name, SpecHash: hash},
			func(kv jetstream.KeyValue, d fleet.DeviceID) keyResult {
				return applySignedKey(ctx, kv, kp, d, name, spec)
			})
	}

	return eachKey(ctx, out, cmd, conn, t, targets.selector, true, *output, keysJSON{Deployment: name, SpecHash: hash},
		func(kv jetstream.KeyValue, d fleet.DeviceID) keyResult {
			return applyKey(ctx, kv, d, name, value, conn.timeout)
		})
}

// applyKey writes value under device's key of deployment name unless the
// key holds it already.
// The read is retried within timeout while JetStream elects a leader.
func applyKey(ctx context.Context, kv jetstream.KeyValue, device fleet.DeviceID, name fleet.DeploymentName, value []byte, timeout time.Duration) keyResult {
	r := keyResult{Device: device, Key: fleet.DesiredKey(device, name)}
	cur, err := fleetview.Get(ctx, kv, r.Key, timeout)
	switch {
	case err == nil && bytes.Equal(cur.Value(), value):
		r.Action, r.Revision = "unchanged", cur.Revision()
		return r
	case err == nil:
		r.Action = "updated"
	case errors.Is(err, jetstream.ErrKeyNotFound):
		r.Action = "created"
	default:
		return failed(r, fmt.Errorf("get %s: %w", r.Key, err))
	}
	rev, err := kv.Put(ctx, r.Key, value)
	if err != nil {
		return failed(r, fmt.Errorf("put %s: %w", r.Key, err))
	}
	r.Revision = rev
	return r
}

// eachKey connects, resolves the target devices (warnMissing: say when a
// named device has no snapshot yet), calls do for each device's key in
// the desired-state bucket, prints the results into report and fails
// when any key failed: the common body of apply and delete.
func eachKey(ctx context.Context, out ioStreams, cmd string, conn *connFlags, t target, selector string, warnMissing bool,
	output string, report keysJSON, do func(jetstream.KeyValue, fleet.DeviceID) keyResult) error {
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	kv, err := fleetview.OpenBucket(ctx, js, fleet.DesiredStateBucket)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if err := refuseFleetDeployment(ctx, js, report.Deployment); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	devices, err := resolveTargets(ctx, js, t, selector, conn.timeout, warnMissing, out.stderr)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	report.Keys = make([]keyResult, 0, len(devices))
	for _, d := range devices {
		report.Keys = append(report.Keys, do(kv, d))
	}
	if err := printKeys(out.stdout, output, report); err != nil {
		return err
	}
	return failures(cmd, report.Keys)
}

// parseTargeted parses what apply and delete share: NAME, the target,
// output and connection flags. cmd is "<verb> NAME", for messages.
func parseTargeted(fs *pflag.FlagSet, help string, args []string, out ioStreams, targets *targetFlags, output *string, conn *connFlags) (fleet.DeploymentName, string, target, error) {
	rest, err := parse(fs, help, args, out.stdout, 1, 1)
	if err != nil {
		return "", "", target{}, err
	}
	name, err := fleet.ParseDeploymentName(rest[0])
	if err != nil {
		return "", "", target{}, usagef("%s: %v", fs.Name(), err)
	}
	cmd := fs.Name() + " " + string(name)
	if err := conn.resolveWithOutput(fs, cmd, *output); err != nil {
		return "", "", target{}, err
	}
	t, err := targets.check(cmd)
	return name, cmd, t, err
}

func cmdDelete(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("delete")
	targets := addTargetFlags(fs)
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	name, cmd, t, err := parseTargeted(fs, deleteHelp, args, out, targets, output, conn)
	if err != nil {
		return err
	}

	return eachKey(ctx, out, cmd, conn, t, targets.selector, false, *output, keysJSON{Deployment: name},
		func(kv jetstream.KeyValue, d fleet.DeviceID) keyResult {
			return deleteKey(ctx, kv, d, name, conn.timeout)
		})
}

// deleteKey deletes device's key of deployment name when it exists.
// The read is retried within timeout while JetStream elects a leader.
func deleteKey(ctx context.Context, kv jetstream.KeyValue, device fleet.DeviceID, name fleet.DeploymentName, timeout time.Duration) keyResult {
	r := keyResult{Device: device, Key: fleet.DesiredKey(device, name)}
	switch _, err := fleetview.Get(ctx, kv, r.Key, timeout); {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		r.Action = "absent"
		return r
	case err != nil:
		return failed(r, fmt.Errorf("get %s: %w", r.Key, err))
	}
	if err := kv.Delete(ctx, r.Key); err != nil {
		return failed(r, fmt.Errorf("delete %s: %w", r.Key, err))
	}
	r.Action = "deleted"
	return r
}

func failed(r keyResult, err error) keyResult {
	r.Action, r.Error = "failed", err.Error()
	return r
}

// failures returns an error naming the keys that failed, or nil.
func failures(cmd string, results []keyResult) error {
	var msgs []string
	for _, r := range results {
		if r.Error != "" {
			msgs = append(msgs, r.Error)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %s failed: %s", cmd, len(msgs), plural(len(results), "key"), strings.Join(msgs, "; "))
}

// printKeys prints the results of apply or delete.
func printKeys(w io.Writer, output string, k keysJSON) error {
	if output == outputJSON {
		return writeJSON(w, k)
	}
	tw := newTable(w)
	if k.SpecHash != "" {
		row(tw, "DEVICE", "KEY", "ACTION", "SPEC", "REVISION")
	} else {
		row(tw, "DEVICE", "KEY", "ACTION")
	}
	for _, r := range k.Keys {
		action := r.Action
		if r.Error != "" {
			action += ": " + oneLine(r.Error)
		}
		if k.SpecHash == "" {
			row(tw, r.Device, r.Key, action)
			continue
		}
		rev := "-"
		if r.Revision != 0 {
			rev = fmt.Sprint(r.Revision)
		}
		row(tw, r.Device, r.Key, action, fleet.ShortHash(k.SpecHash), rev)
	}
	return tw.Flush()
}

// resolveTargets returns the devices t names: its list, or the enrolled
// devices whose device-registry labels match its selector (selector is
// the flag's text, for messages). No device matching is an error. With warnUnknown,
// a listed device that has no snapshot yet is reported on stderr: its
// desired state waits for its agent.
func resolveTargets(ctx context.Context, js jetstream.JetStream, t target, selector string, timeout time.Duration, warnUnknown bool, stderr io.Writer) ([]fleet.DeviceID, error) {
	if t.selector == nil {
		if warnUnknown {
			kv, err := fleetview.OpenBucket(ctx, js, fleet.DeviceInfoBucket)
			if err != nil {
				return nil, err
			}
			for _, d := range t.devices {
				switch _, err := fleetview.Get(ctx, kv, fleet.DeviceInfoKey(d), timeout); {
				case errors.Is(err, jetstream.ErrKeyNotFound):
					fmt.Fprintf(stderr, "harmony-fleet: warning: device %s has not reported yet (no device-info snapshot); its agent picks the state up when it starts\n", d)
				case err != nil:
					return nil, fmt.Errorf("get device-info %s: %w", d, err)
				}
			}
		}
		return t.devices, nil
	}
	// Operator-owned labels only (ARCHITECTURE 8.2): the labels a device
	// reports in its snapshot never target it.
	recs, bad, err := listDeviceRecords(ctx, js)
	if err != nil {
		return nil, err
	}
	reportBad(stderr, "device-registry records", bad)
	var out []fleet.DeviceID
	for _, rec := range recs {
		if matches(rec.Labels, t.selector) {
			out = append(out, rec.DeviceID)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no enrolled device matches --selector %s (%s enrolled; harmony-fleet device label sets labels)", selector, plural(len(recs), "device"))
	}
	return out, nil
}

// reportBad writes, on w, the values that did not decode and were
// skipped: the first few, then how many; what names one ("event").
func reportBad(w io.Writer, what string, bad []error) {
	const shown = 5
	for i, err := range bad {
		if i == shown {
			fmt.Fprintf(w, "harmony-fleet: warning: %d more %s skipped\n", len(bad)-shown, nounFor(len(bad)-shown, what))
			break
		}
		fmt.Fprintf(w, "harmony-fleet: warning: skipped: %v\n", err)
	}
}
