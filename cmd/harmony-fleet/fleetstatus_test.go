//go:build embednats

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// heapWatcher is a writer that counts lines and samples the heap every
// sampleLines lines, keeping the largest HeapInuse seen.
type heapWatcher struct {
	lines, next int
	peak        uint64
}

const sampleLines = 5000

func (h *heapWatcher) Write(p []byte) (int, error) {
	h.lines += bytes.Count(p, []byte("\n"))
	if h.lines >= h.next {
		h.next = h.lines + sampleLines
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapInuse)
	}
	return len(p), nil
}

// publishMany publishes n events of 1,000 devices x 10 deployments
// asynchronously, waiting for every ack.
func (e fleetEnv) publishMany(t *testing.T, n int) {
	t.Helper()
	js, err := jetstream.New(e.js.Conn(), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ev := applied(fleet.DeviceID(fmt.Sprintf("pi-%04d", i%1000)), fleet.DeploymentName(fmt.Sprintf("dep-%d", i/1000%10)),
			uint64(i/1000+1), "", fleet.PhaseRunning, "")
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: ev.Subject(), Data: data}, jetstream.WithStallWait(waitTimeout)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * waitTimeout):
		t.Fatalf("%d publishes not acked", js.PublishAsyncPending())
	}
}

// TestEventsBoundedMemory: events prints a stream of 100,000 events as
// it reads it, in every output form: the heap stays far below what
// holding them would take (the table used to hold every row).
func TestEventsBoundedMemory(t *testing.T) {
	if testing.Short() {
		testsupport.SkipOutsideCI(t, "-short: it publishes 100,000 events")
	}
	const n = 100_000
	e := start(t, true)
	e.publishMany(t, n)
	for _, output := range []string{outputTable, outputJSON} {
		t.Run(output, func(t *testing.T) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			w := &heapWatcher{}
			var errOut bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
			defer cancel()
			if code := run(ctx, []string{"events", "-o", output, "-s", e.url}, w, &errOut); code != exitOK {
				t.Fatalf("events = %d; stderr %s", code, errOut.String())
			}
			want := n
			if output == outputTable {
				want++ // the header
			}
			if w.lines != want {
				t.Errorf("events -o %s printed %d lines, want %d", output, w.lines, want)
			}
			const bound = 64 << 20
			grew := int64(w.peak) - int64(base)
			t.Logf("events -o %s over %d events: heap in use grew by at most %.1f MiB", output, n, float64(grew)/(1<<20))
			if grew > bound {
				t.Errorf("events -o %s: heap in use grew by %d MiB, want under %d MiB", output, grew>>20, bound>>20)
			}
		})
	}
}

// TestEventsSinceFlag: --since takes a duration or an RFC 3339 time and
// the server selects the events stored since.
func TestEventsSinceFlag(t *testing.T) {
	e := start(t, true)
	e.publish(t, applied("pi-1", "web", 1, "", fleet.PhasePending, ""))
	st, err := e.js.Stream(ctxT(t), fleet.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctxT(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(t, applied("pi-1", "web", 2, fleet.PhasePending, fleet.PhaseRunning, ""))
	for _, tc := range []struct {
		since string
		want  int
	}{
		{m.Time.Add(time.Nanosecond).Format(time.RFC3339Nano), 1},
		{m.Time.Add(-time.Second).Format(time.RFC3339), 2},
		{"1h", 2},
		{time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 0},
	} {
		t.Run(tc.since, func(t *testing.T) {
			code, out, errOut := e.run(t, "events", "-o", "json", "--since", tc.since)
			if code != exitOK {
				t.Fatalf("events --since %s = %d; stderr %s", tc.since, code, errOut)
			}
			if got := strings.Count(out, "\n"); got != tc.want {
				t.Errorf("events --since %s printed %d events, want %d:\n%s", tc.since, got, tc.want, out)
			}
		})
	}
	if code, _, errOut := e.run(t, "events", "--since", "yesterday"); code != exitUsage || !strings.Contains(errOut, "--since") {
		t.Errorf("events --since yesterday = %d, %q; want a usage error", code, errOut)
	}
}

// TestStatusFleetDeployment: a fleet deployment's status shows how many
// enrolled devices it targets and its rollout; other deployments do not.
func TestStatusFleetDeployment(t *testing.T) {
	e := start(t, true)
	statusFixture(t, e)
	put := func(bucket, key string, v any) {
		t.Helper()
		kv, err := e.js.CreateOrUpdateKeyValue(ctxT(t), jetstream.KeyValueConfig{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(v)
		if _, err := kv.Put(ctxT(t), key, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []fleet.DeviceID{"pi-1", "pi-2", "pi-9"} {
		put(fleet.DeviceRegistryBucket, string(id), fleet.DeviceRecord{DeviceID: id, Labels: map[string]string{"site": "lyon"}, EnrolledAt: time.Now()})
	}
	put(fleet.DeploymentsBucket, "web", fleet.FleetDeployment{Name: "web", Selector: map[string]string{"site": "lyon"}, Generation: 1,
		Spec: fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/true"}}, Rollout: fleet.DefaultRolloutPolicy()})
	put(fleet.RolloutsBucket, "web", fleet.RolloutStatus{Deployment: "web", Generation: 1, SpecHash: "abc", State: fleet.RolloutProgressing,
		Targeted: 3, Updated: 2, Ready: 1, UpdatedAt: time.Now()})

	code, out, errOut := e.run(t, "status", "-o", "json")
	if code != exitOK {
		t.Fatalf("status = %d; stderr %s", code, errOut)
	}
	var got struct {
		Deployments []struct {
			Name    string               `json:"name"`
			Counts  map[string]int       `json:"counts"`
			Rollout *fleet.RolloutStatus `json:"rollout"`
		} `json:"deployments"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Deployments) != 1 {
		t.Fatalf("status -o json = %s (%v)", out, err)
	}
	web := got.Deployments[0]
	if web.Counts["targeted"] != 3 || web.Counts["running"] != 3 || web.Rollout == nil || web.Rollout.Updated != 2 {
		t.Errorf("status web = %+v, want targeted 3, running 3 and the rollout", web)
	}
	code, out, _ = e.run(t, "status")
	lines := strings.Split(out, "\n")
	if code != exitOK || len(lines) < 2 ||
		strings.Join(strings.Fields(lines[0]), " ") != "DEPLOYMENT TARGETED PENDING RUNNING SUCCEEDED FAILED ROLLOUT" ||
		strings.Join(strings.Fields(lines[1]), " ") != "web 3 0 3 0 1 progressing 2/3 updated, 1 ready, 0 failed" {
		t.Errorf("status table:\n%s", out)
	}
}
