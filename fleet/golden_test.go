package fleet_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the Go values")

// The epoch and time of the examples in ARCHITECTURE.md 3.4 and 3.5.
const testEpoch fleet.AgentEpoch = 1875123456789012

var (
	testAt        = time.Date(2026, 11, 26, 10, 0, 0, 123_000_000, time.UTC)
	testStartedAt = time.Date(2026, 11, 26, 9, 58, 12, 0, time.UTC)
)

func rev(seq uint64) fleet.Revision { return fleet.Revision{AgentEpoch: testEpoch, Sequence: seq} }

func event(t fleet.LifecycleTransition, seq uint64) fleet.StateChangeEvent {
	return fleet.StateChangeEvent{DeviceID: "pi-017", Deployment: "web", Revision: rev(seq), Transition: t, At: testAt}
}

// testSpecHash is the spec_hash of the examples (3.4, 3.5).
const testSpecHash = "c275172d7b6e4f0a9d1c3b5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a"

func withHash(e fleet.StateChangeEvent) fleet.StateChangeEvent {
	e.SpecHash = testSpecHash
	return e
}

// goldenEvents has one event per transition shape of 3.3.
var goldenEvents = []struct {
	file  string
	event fleet.StateChangeEvent
}{
	{"event_applied_first.json", event(fleet.Applied("", fleet.PhasePending, ""), 41)},
	{"event_applied_running.json", withHash(event(fleet.Applied(fleet.PhasePending, fleet.PhaseRunning, ""), 42))},
	{"event_applied_failed.json", event(fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, "exit status 137: OOM killed"), 43)},
	{"event_removed.json", event(fleet.Removed(fleet.PhaseRunning), 44)},
}

var goldenInfo = struct {
	file string
	info fleet.DeviceInfo
}{"device_info.json", fleet.DeviceInfo{
	DeviceID:      "pi-017",
	AgentEpoch:    testEpoch,
	AgentVersion:  "0.3.0",
	Hostname:      "pi-017",
	OS:            "linux",
	Arch:          "arm64",
	Labels:        map[string]string{"site": "lyon", "board": "rpi4"},
	StartedAt:     testStartedAt,
	HeartbeatAt:   testAt,
	Revision:      rev(42),
	OutboxDropped: 3,
	Deployments: map[fleet.DeploymentName]fleet.DeploymentStatus{
		"web":    {Phase: fleet.PhaseRunning, SpecHash: testSpecHash, Revision: rev(41)},
		"sensor": {Phase: fleet.PhaseFailed, LastError: "exit status 1", Revision: rev(42)},
	},
}}

// goldenSpecs are the two examples of 3.6, as an operator writes them (no
// defaults filled in). The process example's "env":{} is omitted: an empty
// env marshals to nothing (TestSpecExamplesOfArchitecture decodes the
// literal text).
var goldenSpecs = []struct {
	file string
	spec fleet.DeploymentSpec
}{
	{"spec_podman.json", fleet.DeploymentSpec{
		Runtime: fleet.RuntimePodman,
		Image:   "docker.io/library/nginx:1.27",
		Command: []string{"nginx", "-g", "daemon off;"},
		Env:     map[string]string{"MODE": "edge"},
		Ports:   []fleet.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
		Volumes: []fleet.VolumeMount{{HostPath: "/srv/web", ContainerPath: "/usr/share/nginx/html", ReadOnly: true}},
		Restart: fleet.RestartAlways,
	}},
	{"spec_process.json", fleet.DeploymentSpec{
		Runtime:    fleet.RuntimeProcess,
		Command:    []string{"/usr/bin/python3", "-m", "http.server", "8081"},
		WorkingDir: "/srv",
		Restart:    fleet.RestartOnFailure,
	}},
}

// goldenFiles lists every file under testdata/ that holds a wire value; the
// fuzz targets seed from them.
func goldenFiles(prefix string) []string {
	var files []string
	for _, g := range goldenEvents {
		files = append(files, g.file)
	}
	files = append(files, goldenInfo.file, goldenInfoHost.file)
	for _, g := range goldenSpecs {
		files = append(files, g.file)
	}
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f, prefix) {
			out = append(out, filepath.Join("testdata", f))
		}
	}
	return out
}

// indentJSON is the one layout of the golden files: two-space indent, a
// final newline.
func indentJSON(t testing.TB, compact []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, compact, "", "  "); err != nil {
		t.Fatalf("json.Indent(%s) = %v", compact, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func marshalIndent(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%+v) = %v", v, err)
	}
	return indentJSON(t, b)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/file, or rewrites the file under
// -update.
func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := readFile(t, path); !bytes.Equal(got, want) {
		t.Errorf("json.Marshal = \n%s\nwant (%s)\n%s", got, path, want)
	}
}

func TestGoldenEvents(t *testing.T) {
	for _, g := range goldenEvents {
		t.Run(g.file, func(t *testing.T) {
			if err := g.event.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			checkGolden(t, g.file, marshalIndent(t, g.event))

			file := readFile(t, filepath.Join("testdata", g.file))
			var got fleet.StateChangeEvent
			if err := json.Unmarshal(file, &got); err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", g.file, err)
			}
			if !reflect.DeepEqual(got, g.event) {
				t.Errorf("json.Unmarshal(%s) = %+v, want %+v", g.file, got, g.event)
			}
			if again := marshalIndent(t, got); !bytes.Equal(again, file) {
				t.Errorf("json.Marshal(json.Unmarshal(%s)) = \n%s\nwant\n%s", g.file, again, file)
			}
		})
	}
}

func TestGoldenDeviceInfo(t *testing.T) {
	g := goldenInfo
	if err := g.info.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	checkGolden(t, g.file, marshalIndent(t, g.info))

	file := readFile(t, filepath.Join("testdata", g.file))
	var got fleet.DeviceInfo
	if err := json.Unmarshal(file, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", g.file, err)
	}
	if !reflect.DeepEqual(got, g.info) {
		t.Errorf("json.Unmarshal(%s) = %+v, want %+v", g.file, got, g.info)
	}
	if again := marshalIndent(t, got); !bytes.Equal(again, file) {
		t.Errorf("json.Marshal(json.Unmarshal(%s)) = \n%s\nwant\n%s", g.file, again, file)
	}
}

// TestGoldenSpecs: a spec's golden file is what an operator writes; DecodeSpec
// fills in the defaults, so the round trip is checked twice: plain
// json.Unmarshal gives the file back byte for byte, and DecodeSpec gives the
// defaulted value, whose own encoding decodes to itself.
func TestGoldenSpecs(t *testing.T) {
	for _, g := range goldenSpecs {
		t.Run(g.file, func(t *testing.T) {
			if err := g.spec.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			checkGolden(t, g.file, marshalIndent(t, g.spec))

			file := readFile(t, filepath.Join("testdata", g.file))
			var plain fleet.DeploymentSpec
			if err := json.Unmarshal(file, &plain); err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", g.file, err)
			}
			if again := marshalIndent(t, plain); !bytes.Equal(again, file) {
				t.Errorf("json.Marshal(json.Unmarshal(%s)) = \n%s\nwant\n%s", g.file, again, file)
			}

			got, err := fleet.DecodeSpec(file)
			if err != nil {
				t.Fatalf("DecodeSpec(%s) = %v, want nil", g.file, err)
			}
			if want := g.spec.WithDefaults(); !reflect.DeepEqual(got, want) {
				t.Errorf("DecodeSpec(%s) = %+v, want %+v", g.file, got, want)
			}
			again, err := fleet.DecodeSpec(marshalIndent(t, got))
			if err != nil {
				t.Fatalf("DecodeSpec(json.Marshal(DecodeSpec(%s))) = %v, want nil", g.file, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Errorf("DecodeSpec(json.Marshal(DecodeSpec(%s))) = %+v, want %+v", g.file, again, got)
			}
		})
	}
}

// setPath returns doc with the value at path (object keys) replaced by v,
// or removed when v is deleteField. Numbers keep their exact text.
func setPath(t testing.TB, doc []byte, v any, path ...string) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	m := root
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("setPath: %q is not an object in %s", k, doc)
		}
		m = next
	}
	if last := path[len(path)-1]; v == deleteField {
		delete(m, last)
	} else {
		m[last] = v
	}
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type deleteMarker struct{}

var deleteField any = deleteMarker{}

// TestForwardCompatible: a newer agent may add fields anywhere in an event
// or a DeviceInfo; an older central side must still read what it knows.
func TestForwardCompatible(t *testing.T) {
	extra := map[string]any{"shard": 3, "note": "from a newer agent", "nested": map[string]any{"x": []any{1, "y"}}}
	t.Run("events", func(t *testing.T) {
		for _, g := range goldenEvents {
			file := readFile(t, filepath.Join("testdata", g.file))
			for _, path := range [][]string{{"trace_id"}, {"transition", "reason"}, {"revision", "shard"}} {
				doc := setPath(t, file, extra, path...)
				var got fleet.StateChangeEvent
				if err := json.Unmarshal(doc, &got); err != nil {
					t.Errorf("json.Unmarshal(%s with %v) = %v, want nil", g.file, path, err)
					continue
				}
				if !reflect.DeepEqual(got, g.event) {
					t.Errorf("json.Unmarshal(%s with %v) = %+v, want %+v", g.file, path, got, g.event)
				}
			}
		}
	})
	t.Run("device info", func(t *testing.T) {
		file := readFile(t, filepath.Join("testdata", goldenInfo.file))
		for _, path := range [][]string{{"kernel"}, {"revision", "shard"}, {"deployments", "web", "restarts"}, {"deployments", "web", "revision", "shard"}} {
			doc := setPath(t, file, extra, path...)
			var got fleet.DeviceInfo
			if err := json.Unmarshal(doc, &got); err != nil {
				t.Errorf("json.Unmarshal(%s with %v) = %v, want nil", goldenInfo.file, path, err)
				continue
			}
			if !reflect.DeepEqual(got, goldenInfo.info) {
				t.Errorf("json.Unmarshal(%s with %v) = %+v, want %+v", goldenInfo.file, path, got, goldenInfo.info)
			}
		}
	})
}

// TestSpecRejectsUnknownFields: unlike events, a spec with a field it does
// not know is a typo, and the error names it.
func TestSpecRejectsUnknownFields(t *testing.T) {
	file := readFile(t, filepath.Join("testdata", "spec_podman.json"))
	tests := []struct {
		name  string
		doc   []byte
		field string
	}{
		{"top level", setPath(t, file, "docker.io/library/nginx:1.27", "imagee"), `"imagee"`},
		{"top level future field", setPath(t, file, 2, "replicas"), `"replicas"`},
		{"in ports", []byte(`{"runtime":"podman","image":"x","ports":[{"host_port":1,"container_port":2,"hostport":3}]}`), `"hostport"`},
		{"in volumes", []byte(`{"runtime":"podman","image":"x","volumes":[{"host_path":"/a","container_path":"/b","readonly":true}]}`), `"readonly"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fleet.DecodeSpec(tt.doc)
			if err == nil || !strings.Contains(err.Error(), "unknown field "+tt.field) {
				t.Errorf("DecodeSpec(%s) = %v, want an error containing %q", tt.doc, err, "unknown field "+tt.field)
			}
		})
	}
}
