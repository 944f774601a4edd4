package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// enrolledDevices returns the device-registry records; a missing bucket
// means no device is enrolled, not an error (servers where devices
// authenticate another way, and the dev default).
func enrolledDevices(ctx context.Context, js jetstream.JetStream) ([]fleet.DeviceRecord, []error, error) {
	if _, err := js.KeyValue(ctx, fleet.DeviceRegistryBucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("open bucket %s: %w", fleet.DeviceRegistryBucket, err)
	}
	return listDeviceRecords(ctx, js)
}

// mergeDevices lists every device that reports (a snapshot in infos) or
// is enrolled (a record in recs), sorted by device: the labels it reports
// and, for an enrolled one, its registry labels, the only ones selectors
// match (ARCHITECTURE 8.2). A device that is enrolled but never reported
// has no snapshot and counts as stale.
func mergeDevices(infos []fleet.DeviceInfo, recs []fleet.DeviceRecord, now time.Time, staleAfter time.Duration) devicesJSON {
	byID := make(map[fleet.DeviceID]*deviceJSON, len(infos)+len(recs))
	for _, info := range infos {
		d := &deviceJSON{DeviceID: info.DeviceID, DeviceInfo: &info, Reported: true, HeartbeatAgeSeconds: -1, Stale: true}
		if !info.HeartbeatAt.IsZero() {
			age := now.Sub(info.HeartbeatAt)
			d.HeartbeatAgeSeconds, d.Stale = int64(max(age, 0)/time.Second), age > staleAfter
		}
		byID[info.DeviceID] = d
	}
	for _, rec := range recs {
		d, ok := byID[rec.DeviceID]
		if !ok {
			d = &deviceJSON{DeviceID: rec.DeviceID, HeartbeatAgeSeconds: -1, Stale: true}
			byID[rec.DeviceID] = d
		}
		d.Enrolled, d.RegistryLabels = true, rec.Labels
	}
	list := devicesJSON{Devices: make([]deviceJSON, 0, len(byID))}
	for _, d := range byID {
		list.Devices = append(list.Devices, *d)
	}
	slices.SortFunc(list.Devices, func(a, b deviceJSON) int { return strings.Compare(string(a.DeviceID), string(b.DeviceID)) })
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
