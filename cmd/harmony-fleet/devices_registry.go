package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

// mergeDevices lists every device that reports (a snapshot in infos) or
// is enrolled (a record in rec's registry), sorted by device, joined by
// fleetview.JoinDevices: its registry labels, the only ones selectors match
// (ARCHITECTURE 8.2), liveness, convergence and the fleet deployments that
// target it. A device that never reported has no snapshot and is stale.
func mergeDevices(infos []fleet.DeviceInfo, rec fleetview.Records, now time.Time, staleAfter time.Duration) devicesJSON {
	byID := make(map[fleet.DeviceID]fleet.DeviceInfo, len(infos))
	for _, info := range infos {
		byID[info.DeviceID] = info
	}
	joined := fleetview.JoinDevices(rec, byID, now)
	list := devicesJSON{Devices: make([]deviceJSON, 0, len(joined))}
	for _, j := range joined {
		d := deviceJSON{DeviceID: j.DeviceID, DeviceInfo: j.Info, Reported: j.Info != nil, HeartbeatAgeSeconds: -1, Stale: true,
			Liveness: j.Liveness, Converged: j.Converged, Targeted: j.Targeted}
		if j.Record != nil {
			d.Enrolled, d.RegistryLabels = true, j.Record.Labels
		}
		if j.Info != nil && !j.Info.HeartbeatAt.IsZero() {
			age := now.Sub(j.Info.HeartbeatAt)
			d.HeartbeatAgeSeconds, d.Stale = int64(max(age, 0)/time.Second), age > staleAfter
		}
		list.Devices = append(list.Devices, d)
	}
	return list
}

// printEnrolment writes, after the table, the devices that report without
// being enrolled (no selector targets them) and the enrolled ones that
// never reported.
func printEnrolment(w io.Writer, list devicesJSON) error {
	var unenrolled, silent []string
	for _, d := range list.Devices {
		switch {
		case !d.Enrolled:
			unenrolled = append(unenrolled, string(d.DeviceID))
		case !d.Reported:
			silent = append(silent, string(d.DeviceID))
		}
	}
	if len(unenrolled) > 0 {
		if _, err := fmt.Fprintf(w, "not enrolled, reporting: %s (no --selector targets %s; harmony-fleet device add ID)\n",
			strings.Join(unenrolled, ", "), pronoun(len(unenrolled))); err != nil {
			return err
		}
	}
	if len(silent) > 0 {
		if _, err := fmt.Fprintf(w, "enrolled, never reported: %s\n", strings.Join(silent, ", ")); err != nil {
			return err
		}
	}
	return nil
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
