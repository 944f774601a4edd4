//go:build embednats

package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// The README's cluster example, on one server: the connection flags
// before the command, the command's own after it.
func TestFlagsBeforeCommandConnect(t *testing.T) {
	url := natstest.StartConfig(t, `authorization { token: "s3cret" }`)
	code, out, errOut := runCmd(t, "-s", url, "--token", "s3cret", "--timeout", "5s", "init", "--replicas", "1")
	if want := len(natsconn.FleetResources(natsconn.DefaultResourceSettings())); code != exitOK || strings.Count(out, "created") != want {
		t.Fatalf("harmony-fleet -s URL --token T init = %d, stdout %q, stderr %q; want %d resources created", code, out, errOut, want)
	}
	// -o before the command; after it wins.
	code, out, errOut = runCmd(t, "-s", url, "--token", "s3cret", "-o", "json", "devices")
	if code != exitOK || out != `{"devices":[]}`+"\n" {
		t.Errorf("harmony-fleet -s URL --token T -o json devices = %d, %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "-o", "json", "--token", "s3cret", "status", "-o", "table", "-s", url)
	if code != exitOK || out != "no deployments\n" {
		t.Errorf("harmony-fleet -o json status -o table = %d, %q, stderr %q; want the table", code, out, errOut)
	}
	// The token before the command is the one used: without it, refused.
	if code, _, errOut := runCmd(t, "-s", url, "devices"); code != exitFailure || !strings.Contains(errOut, "Authorization Violation") {
		t.Errorf("devices without the token = %d, %q; want refused", code, errOut)
	}
}

func TestInitJSON(t *testing.T) {
	e := start(t, false)
	for _, wantState := range []string{"created", "exists"} {
		code, out, errOut := e.run(t, "init", "-o", "json")
		if code != exitOK {
			t.Fatalf("init -o json = %d; stderr %s", code, errOut)
		}
		if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"subjects":["fleet.events.>"]`) {
			t.Errorf("init -o json: want one line, with > as it is:\n%s", out)
		}
		var got initJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("init -o json: %v\n%s", err, out)
		}
		fleetResources := natsconn.FleetResources(natsconn.DefaultResourceSettings())
		if len(got.Resources) != len(fleetResources) {
			t.Fatalf("init -o json = %s, want %d resources", out, len(fleetResources))
		}
		var names []string
		for _, r := range got.Resources {
			names = append(names, r.Kind+" "+r.Name+" "+r.Stream)
			if r.State != wantState || r.Storage != "file" || r.Replicas != 1 {
				t.Errorf("init -o json resource %+v: want state %s, file storage, 1 replica", r, wantState)
			}
		}
		var want []string
		for _, r := range fleetResources {
			want = append(want, r.String()+" "+r.Stream.Name)
		}
		if !slices.Equal(names, want) || !slices.Equal(names[:3], []string{"stream FLEET_EVENTS FLEET_EVENTS", "bucket desired-state KV_desired-state", "bucket device-info KV_device-info"}) {
			t.Errorf("init -o json resources = %q, want %q", names, want)
		}
		ev, desired, info := got.Resources[0], got.Resources[1], got.Resources[2]
		if !slices.Equal(ev.Subjects, []string{fleet.EventsSubjects}) || ev.Retention != "limits" ||
			ev.MaxAgeSeconds == nil || *ev.MaxAgeSeconds != int64((7*24*time.Hour)/time.Second) ||
			ev.MaxBytes == nil || *ev.MaxBytes != 0 ||
			ev.DuplicateWindowSeconds == nil || *ev.DuplicateWindowSeconds != 600 || ev.History != 0 {
			t.Errorf("init -o json FLEET_EVENTS = %s", out)
		}
		if desired.History != 5 || info.History != 1 || desired.MaxAgeSeconds != nil || desired.Subjects != nil {
			t.Errorf("init -o json buckets = %s, want history 5 and 1 and no stream-only settings", out)
		}
	}
	// The table says what the JSON says.
	code, out, _ := e.run(t, "init")
	if code != exitOK || !strings.Contains(out, "max age 168h0m0s, max bytes unbounded, duplicate window 10m0s") || !strings.Contains(out, "history 5, file storage, replicas 1") {
		t.Errorf("init table = %d:\n%s", code, out)
	}
}

// columnStarts returns where each column of a header line starts.
func columnStarts(header string) []int {
	var starts []int
	for i := range header {
		if header[i] != ' ' && (i == 0 || header[i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	return starts
}

// Live lines of events --follow align with the header and the stored
// lines, whatever the widths of their cells (each used to be aligned on
// its own).
func TestEventsFollowAligned(t *testing.T) {
	e := start(t, true)
	e.publish(t, applied("pi-1", "web", 1, "", fleet.PhasePending, ""))
	var stdout, stderr testsupport.SyncBuffer
	stop := e.runAsync(t, &stdout, &stderr, "events", "--follow")
	eventually(t, "events --follow prints the stored event", func() bool { return strings.Contains(stdout.String(), "- -> pending") })

	e.publish(t,
		applied("edge-gateway-017", "web", 2, fleet.PhasePending, fleet.PhaseSucceeded, ""),
		applied("pi-1", "metrics-collector", 3, fleet.PhasePending, fleet.PhaseFailed, "exited with code 1"),
		removed("pi-1", "web", 12345, fleet.PhaseRunning),
	)
	eventually(t, "events --follow prints the new events", func() bool { return strings.Contains(stdout.String(), "running -> -") })
	if code := stop(); code != exitOK {
		t.Errorf("events --follow interrupted = %d; stderr %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("events --follow: want a header and 4 lines:\n%s", stdout.String())
	}
	starts := columnStarts(lines[0])
	if len(starts) != 7 {
		t.Fatalf("events --follow header %q: want 7 columns", lines[0])
	}
	for _, line := range lines[1:] {
		for _, p := range starts[1:] {
			if len(line) <= p || line[p] == ' ' || line[p-1] != ' ' || line[p-2] != ' ' {
				t.Errorf("events --follow: a column of %q does not start at %d as in the header:\n%s", line, p, stdout.String())
				break
			}
		}
	}
	if want := fmt.Sprintf("%d/12345", epoch); !strings.Contains(lines[4], want) {
		t.Errorf("events --follow last line %q, want revision %s", lines[4], want)
	}
}

// status --watch prints again only when what it shows changed: a change
// to another deployment does not repeat the same table.
func TestStatusWatchPrintsChangesOnly(t *testing.T) {
	for _, tc := range []struct{ output, print, first, next string }{
		{outputJSON, `{"deployments":`, statusWeb,
			`{"deployments":[{"name":"web","counts":{"pending":0,"running":4,"succeeded":0,"failed":0},"failing":[]}]}`},
		{outputTable, "DEPLOYMENT PENDING RUNNING SUCCEEDED FAILED", "web 0 3 0 1", "web 0 4 0 0"},
	} {
		t.Run(tc.output, func(t *testing.T) {
			e := start(t, true)
			statusFixture(t, e)
			var stdout, stderr testsupport.SyncBuffer
			stop := e.runAsync(t, &stdout, &stderr, "status", "web", "--watch", "-o", tc.output)
			count := func(what string) int { return strings.Count(strings.Join(strings.Fields(stdout.String()), " "), what) }
			eventually(t, "status --watch prints the status", func() bool { return count(tc.first) == 1 })

			// pi-2's snapshot changes db, not web: nothing is printed
			// for three watch intervals (it used to print web again).
			e.putInfo(t, "pi-2", nil, time.Now(), map[fleet.DeploymentName]fleet.DeploymentStatus{
				"web": {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 2}},
				"db":  {Phase: fleet.PhaseRunning, Revision: fleet.Revision{AgentEpoch: epoch, Sequence: 6}},
			})
			deadline := time.Now().Add(3 * watchInterval)
			for time.Now().Before(deadline) {
				if n := count(tc.print); n != 1 {
					t.Fatalf("status web --watch printed %d times with web unchanged:\n%s", n, stdout.String())
				}
				time.Sleep(50 * time.Millisecond)
			}

			// web changes: printed once more.
			e.publish(t, applied("pi-3", "web", 3, fleet.PhaseFailed, fleet.PhaseRunning, ""))
			eventually(t, "status --watch prints the new status", func() bool { return count(tc.next) == 1 })
			if code := stop(); code != exitOK {
				t.Errorf("status --watch interrupted = %d; stderr %s", code, stderr.String())
			}
			if n := count(tc.print); n != 2 {
				t.Errorf("status web --watch printed %d times for 1 change of web, want 2:\n%s", n, stdout.String())
			}
		})
	}
}
