package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

const devicesHelp = `Usage: harmony-fleet devices [flags]

Lists every device that has a snapshot in bucket device-info or a record
in bucket device-registry: whether it is enrolled, its registry labels
(set by harmony-fleet device add|label: the only labels --selector
matches), the labels it reports itself (shown, never used for targeting),
its agent's version and epoch, the age of its last heartbeat, its
liveness, whether it is converged, and the phase of each of its
deployments. Liveness is online (a heartbeat within two of the agent's
heartbeat intervals), stale (within three) or offline. Converged is yes
when every fleet deployment whose selector matches its registry labels runs
(or succeeded) there with its current spec, no when one does not, unknown
when the agent does not report spec hashes. HOST is the host's last
sample: cpu, memory used of total, the state disk's free space, the
temperature; a throttled device and a state disk under 10% free are also
warned about on stderr. After the table come the devices that report
without being enrolled (no selector targets them) and the enrolled ones
that never reported. Snapshots and records that do not decode are skipped
and reported on stderr.

-o json prints {"devices":[...]}: each device's snapshot as the agent wrote
it (none when it never reported), plus enrolled, registry_labels,
reported, heartbeat_age_seconds (-1 when it never sent one), stale (older
than --stale-after), liveness (online, stale or offline), converged (yes,
no or unknown) and targeted (the fleet deployments that target it).

Examples:
  harmony-fleet devices
  harmony-fleet devices -o json | jq -r '.devices[] | select(.liveness != "online") | .device_id'
  harmony-fleet devices -o json | jq -r '.devices[] | select(.enrolled | not) | .device_id'
  harmony-fleet devices --stale-after 5m
`

// defaultStaleAfter is three default agent heartbeat intervals (30s): a
// snapshot that old means the agent missed three heartbeats.
const defaultStaleAfter = 3 * fleet.DefaultHeartbeatInterval

// devicesJSON is the -o json output of devices.
type devicesJSON struct {
	Devices []deviceJSON `json:"devices"`
}

type deviceJSON struct {
	DeviceID fleet.DeviceID `json:"device_id"`
	// DeviceInfo is the device's snapshot; nil when it never reported.
	*fleet.DeviceInfo
	// Enrolled reports whether the device has a device-registry record;
	// RegistryLabels are its labels there, the ones selectors match.
	Enrolled       bool              `json:"enrolled"`
	RegistryLabels map[string]string `json:"registry_labels,omitempty"`
	Reported       bool              `json:"reported"`
	// HeartbeatAgeSeconds is -1 when the snapshot has no heartbeat time.
	HeartbeatAgeSeconds int64 `json:"heartbeat_age_seconds"`
	Stale               bool  `json:"stale"`
	// Liveness, Converged and Targeted are fleetview.JoinDevices'.
	Liveness  fleetview.Liveness     `json:"liveness"`
	Converged fleetview.Convergence  `json:"converged"`
	Targeted  []fleet.DeploymentName `json:"targeted"`
}

func cmdDevices(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("devices")
	staleAfter := fs.Duration("stale-after", defaultStaleAfter, "mark a device stale when its last heartbeat is older")
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	if _, err := parse(fs, devicesHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	const cmd = "devices"
	if err := conn.resolveWithOutput(fs, cmd, *output); err != nil {
		return err
	}
	if *staleAfter <= 0 {
		return usagef("%s: --stale-after %v: must be positive", cmd, *staleAfter)
	}

	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	defer nc.Close()
	infos, bad, err := fleetview.ListDeviceInfo(ctx, js, conn.timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	reportBad(out.stderr, "device-info snapshot", bad)
	rec, badRec, err := fleetview.ReadRecords(ctx, js, conn.timeout)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	reportBad(out.stderr, "record", badRec)
	now := time.Now()
	list := mergeDevices(infos, rec, now, *staleAfter)
	if err := printDevices(out.stdout, *output, list, now); err != nil {
		return err
	}
	for _, w := range hostWarnings(list) {
		fmt.Fprintln(out.stderr, w)
	}
	return nil
}

func printDevices(w io.Writer, output string, list devicesJSON, now time.Time) error {
	if output == outputJSON {
		return writeJSON(w, list)
	}
	if len(list.Devices) == 0 {
		_, err := fmt.Fprintln(w, "no devices")
		return err
	}
	tw := newTable(w)
	row(tw, "DEVICE", "ENROLLED", "LABELS", "REPORTED", "VERSION", "EPOCH", "HEARTBEAT", "LIVENESS", "CONVERGED", "HOST", "DEPLOYMENTS")
	for _, d := range list.Devices {
		enrolled, labels := "no", "-"
		if d.Enrolled {
			enrolled, labels = "yes", formatLabels(d.RegistryLabels)
		}
		if d.DeviceInfo == nil {
			row(tw, d.DeviceID, enrolled, oneLine(labels), "-", "-", "-", "never", d.Liveness, d.Converged, "-", "-")
			continue
		}
		heartbeat := "never"
		if d.HeartbeatAgeSeconds >= 0 {
			heartbeat = formatAge(now.Sub(d.HeartbeatAt))
		}
		row(tw, d.DeviceID, enrolled, oneLine(labels), oneLine(formatLabels(d.Labels)), oneLine(d.AgentVersion), d.AgentEpoch, heartbeat, d.Liveness, d.Converged, formatHost(d.Host), formatPhases(d.Deployments))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printEnrolment(w, list)
}

// formatPhases writes deployments as name=phase,... sorted by name; "-"
// when there are none.
func formatPhases(deployments map[fleet.DeploymentName]fleet.DeploymentStatus) string {
	if len(deployments) == 0 {
		return "-"
	}
	names := make([]fleet.DeploymentName, 0, len(deployments))
	for n := range deployments {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n) + "=" + string(deployments[n].Phase)
	}
	return strings.Join(parts, ",")
}
