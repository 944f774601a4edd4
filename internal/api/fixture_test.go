package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// testNow is the tests' clock.
var testNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const testEpoch fleet.AgentEpoch = 1875123456789012

func ptr[T any](v T) *T { return &v }

// pullError is the failing device's error in the small fleet.
const pullError = "pull docker.io/library/nginx:1.99: manifest unknown"

// deviceInfo returns a snapshot of id with the given phases (name:phase
// or name:failed:error) as of sequence seq, its heartbeat age ago.
func deviceInfo(id fleet.DeviceID, ago time.Duration, seq uint64, labels map[string]string, phases ...string) fleet.DeviceInfo {
	info := fleet.DeviceInfo{
		DeviceID: id, AgentEpoch: testEpoch, AgentVersion: "0.3.0", Hostname: string(id), OS: "linux", Arch: "arm64",
		Labels: labels, StartedAt: testNow.Add(-time.Hour), HeartbeatAt: testNow.Add(-ago),
		Revision:    fleet.Revision{AgentEpoch: testEpoch, Sequence: seq},
		Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{},
	}
	for i, p := range phases {
		parts := strings.SplitN(p, ":", 3)
		st := fleet.DeploymentStatus{Phase: fleet.Phase(parts[1]), Revision: fleet.Revision{AgentEpoch: testEpoch, Sequence: uint64(i + 1)}}
		if len(parts) == 3 {
			st.LastError = fleet.ErrorText(parts[2])
		}
		info.Deployments[fleet.DeploymentName(parts[0])] = st
	}
	return info
}

// event returns an applied event of id/dep at sequence seq.
func event(id fleet.DeviceID, dep fleet.DeploymentName, seq uint64, from, to fleet.Phase, lastError string) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{
		DeviceID: id, Deployment: dep, Revision: fleet.Revision{AgentEpoch: testEpoch, Sequence: seq},
		Transition: fleet.Applied(from, to, lastError), At: testNow,
	}
}

// smallFleet: pi-1 and pi-2 at site lyon, targeted by fleet deployment
// web (pi-1 running, pi-2 failed), pi-3 at paris running job; pi-1 online
// with host metrics, pi-2 stale, pi-3 offline.
func smallFleet() *memView {
	v := newMemView(func() time.Time { return testNow })
	lyon, paris := map[string]string{"site": "lyon"}, map[string]string{"site": "paris"}
	v.enroll("pi-1", lyon)
	v.enroll("pi-2", lyon)
	v.enroll("pi-3", paris)
	i1 := deviceInfo("pi-1", 10*time.Second, 2, map[string]string{"site": "lyon", "room": "b2"}, "web:running", "job:succeeded")
	i1.Host = &fleet.HostInfo{
		UptimeSeconds: ptr(uint64(86400)), CPUPercent: ptr(3.5), TemperatureCelsius: ptr(48.3),
		Memory:    &fleet.HostMemory{TotalBytes: ptr(uint64(4_000_000_000)), AvailableBytes: ptr(uint64(3_000_000_000))},
		Disks:     map[string]fleet.HostDisk{fleet.DiskState: {Path: "/var/lib/harmony-agent", TotalBytes: 32_000_000_000, FreeBytes: 20_000_000_000}},
		Throttled: []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageNow},
	}
	v.snapshot(i1)
	v.snapshot(deviceInfo("pi-2", 75*time.Second, 1, lyon, "web:failed:"+pullError))
	v.snapshot(deviceInfo("pi-3", 10*time.Minute, 1, paris, "job:running"))
	v.setFleet("web", lyon, &fleet.RolloutStatus{
		Deployment: "web", Generation: 1875123456789, SpecHash: "c275", State: fleet.RolloutProgressing,
		Targeted: 2, Updated: 2, Ready: 1, Failed: 1, Wave: 1, Message: "wave 1: 1 of 2 failed", UpdatedAt: testNow,
	})
	return v
}

// bigFleet: n devices, each with web, db (fleet deployments over all
// sites) and job; one device in a hundred has web failed.
func bigFleet(n int) *memView {
	v := newMemView(func() time.Time { return testNow })
	for i := range n {
		id := fleet.DeviceID(fmt.Sprintf("dev-%05d", i))
		labels := map[string]string{"site": fmt.Sprintf("site-%d", i%20)}
		v.enroll(id, labels)
		web := "web:running"
		if i%100 == 7 {
			web = "web:failed:" + pullError
		}
		v.snapshot(deviceInfo(id, time.Duration(i%120)*time.Second, 3, labels, web, "db:running", "job:succeeded"))
	}
	v.setFleet("web", nil, &fleet.RolloutStatus{Deployment: "web", State: fleet.RolloutProgressing, Targeted: n, Updated: n / 2, Ready: n / 2, UpdatedAt: testNow})
	v.setFleet("db", nil, &fleet.RolloutStatus{Deployment: "db", State: fleet.RolloutComplete, Targeted: n, Updated: n, Ready: n, UpdatedAt: testNow})
	return v
}

// newTestServer serves v (and rollouts r) on a loopback httptest server.
func newTestServer(t testing.TB, o Options) (*Server, *httptest.Server) {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

// do sends a request and returns the status, the header and the body.
func do(t testing.TB, method, url string, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// getJSON GETs url, wants 200 and decodes the body into v.
func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	code, _, b := do(t, http.MethodGet, url, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", url, b, err)
	}
}
