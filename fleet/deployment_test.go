package fleet_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// goldenDeployment is the fleet deployment of ARCHITECTURE 3.9, with a
// previous version; its specs have their defaults filled in, as decoding
// returns them.
var goldenDeployment = fleet.FleetDeployment{
	Name:       "web",
	Selector:   map[string]string{"site": "lyon"},
	Spec:       goldenSpecs[0].spec.WithDefaults(),
	Generation: 1875123456789,
	Rollout: fleet.RolloutPolicy{
		Batch:                fleet.Batch{Amount: fleet.Amount{N: 10, Percent: true}},
		MaxFailed:            fleet.MaxFailed{Amount: fleet.Amount{N: 5, Percent: true}},
		MinReadySeconds:      10,
		HealthTimeoutSeconds: 300,
		AutoRollback:         true,
	},
	Previous: &fleet.PreviousVersion{Spec: goldenSpecs[1].spec.WithDefaults(), Generation: 1875123000000},
}

var goldenRollout = fleet.RolloutStatus{
	Deployment: "web", Generation: 1875123456789,
	SpecHash:         fleet.SpecHash(goldenSpecs[0].spec),
	PreviousSpecHash: fleet.SpecHash(goldenSpecs[1].spec),
	State:            fleet.RolloutProgressing,
	Targeted:         120, Updated: 40, Ready: 38, Failed: 2, Unavailable: 3, Wave: 4,
	Message:   "wave 4: 2 of 12 failed",
	UpdatedAt: time.Date(2026, 11, 26, 10, 0, 0, 123_000_000, time.UTC),
}

func TestGoldenFleetDeployment(t *testing.T) {
	if err := goldenDeployment.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	checkGolden(t, "fleet_deployment.json", marshalIndent(t, goldenDeployment))
	var got fleet.FleetDeployment
	if err := json.Unmarshal(readFile(t, filepath.Join("testdata", "fleet_deployment.json")), &got); err != nil {
		t.Fatalf("json.Unmarshal(fleet_deployment.json) = %v, want nil", err)
	}
	if !reflect.DeepEqual(got, goldenDeployment) {
		t.Errorf("json.Unmarshal(fleet_deployment.json) = %+v, want %+v", got, goldenDeployment)
	}
}

func TestGoldenRolloutStatus(t *testing.T) {
	checkGolden(t, "rollout_status.json", marshalIndent(t, goldenRollout))
	file := readFile(t, filepath.Join("testdata", "rollout_status.json"))
	for _, doc := range [][]byte{file, setPath(t, file, "from a newer controller", "note")} {
		var got fleet.RolloutStatus
		if err := json.Unmarshal(doc, &got); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v, want nil", doc, err)
		}
		if !reflect.DeepEqual(got, goldenRollout) {
			t.Errorf("json.Unmarshal(rollout_status.json) = %+v, want %+v", got, goldenRollout)
		}
	}
}

func TestRolloutStatusRejects(t *testing.T) {
	file := readFile(t, filepath.Join("testdata", "rollout_status.json"))
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{"unknown state", setPath(t, file, "done", "state"), `unknown rollout state "done"`},
		{"negative count", setPath(t, file, -1, "failed"), "failed: -1 is negative"},
		{"bad name", setPath(t, file, "a.b", "deployment"), `deployment name "a.b": contains`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got fleet.RolloutStatus
			if err := json.Unmarshal(tt.doc, &got); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("json.Unmarshal(%s) = %v, want an error containing %q", tt.doc, err, tt.want)
			}
		})
	}
}

// TestFleetDeploymentDefaults: a rollout policy left out, or partly, takes
// ARCHITECTURE 9's defaults.
func TestFleetDeploymentDefaults(t *testing.T) {
	const spec = `{"runtime":"process","command":["/bin/true"]}`
	tests := []struct {
		name string
		doc  string
		want fleet.RolloutPolicy
	}{
		{"no rollout", `{"name":"w","selector":{"a":"b"},"spec":` + spec + `,"generation":5}`, fleet.DefaultRolloutPolicy()},
		{"null rollout", `{"name":"w","selector":{"a":"b"},"spec":` + spec + `,"generation":5,"rollout":null}`, fleet.DefaultRolloutPolicy()},
		{"partial", `{"name":"w","selector":{"a":"b"},"spec":` + spec + `,"generation":5,"rollout":{"batch":3,"min_ready_seconds":0}}`,
			fleet.RolloutPolicy{Batch: fleet.Batch{Amount: fleet.Amount{N: 3}}, HealthTimeoutSeconds: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := fleet.DecodeFleetDeployment([]byte(tt.doc))
			if err != nil {
				t.Fatalf("DecodeFleetDeployment(%s) = %v, want nil", tt.doc, err)
			}
			if d.Rollout != tt.want {
				t.Errorf("DecodeFleetDeployment(%s).Rollout = %+v, want %+v", tt.doc, d.Rollout, tt.want)
			}
		})
	}
	if p := fleet.DefaultRolloutPolicy(); p.Batch.String() != "1" || p.MaxFailed.String() != "0" || p.MinReadySeconds != 10 || p.HealthTimeoutSeconds != 300 || p.AutoRollback {
		t.Errorf("DefaultRolloutPolicy() = %+v, want batch 1, max_failed 0, 10 s, 300 s, no auto-rollback", p)
	}
}

// TestFleetDeploymentRejects: each broken rule fails decoding, through
// json.Unmarshal too, with an error naming the field.
func TestFleetDeploymentRejects(t *testing.T) {
	file := readFile(t, filepath.Join("testdata", "fleet_deployment.json"))
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{"unknown top field", setPath(t, file, 1, "replicas"), `unknown field "replicas"`},
		{"upper-case field", []byte(strings.Replace(string(file), `"paused"`, `"Paused"`, 1)), `unknown field "Paused"`},
		{"duplicate field", []byte(strings.Replace(string(file), `"paused": false`, `"paused": false, "paused": true`, 1)), "paused: duplicate field"},
		{"unknown rollout field", setPath(t, file, 1, "rollout", "max_surge"), `unknown field "rollout.max_surge"`},
		{"unknown previous field", setPath(t, file, 1, "previous", "at"), `unknown field "previous.at"`},
		{"unknown spec field", setPath(t, file, "x", "spec", "imagee"), `spec: unknown field "imagee"`},
		{"invalid spec", setPath(t, file, "", "spec", "image"), "spec: image: required for runtime podman"},
		{"missing spec", setPath(t, file, deleteField, "spec"), "spec: required"},
		{"bad name", setPath(t, file, "web.v2", "name"), "name: deployment name \"web.v2\": contains '.'"},
		{"empty selector", setPath(t, file, map[string]any{}, "selector"), "selector: empty"},
		{"empty selector value", setPath(t, file, map[string]any{"site": ""}, "selector"), "selector.site: empty value"},
		{"zero generation", setPath(t, file, 0, "generation"), "generation: 0 is not in 1..2^53-1"},
		{"generation a string", setPath(t, file, "7", "generation"), "generation: want uint64, got JSON string"},
		{"batch zero", setPath(t, file, "0", "rollout", "batch"), "rollout.batch: 0: at least 1"},
		{"batch not a count", setPath(t, file, "ten", "rollout", "batch"), `rollout.batch: "ten" is not a count or a percentage`},
		{"batch fraction", setPath(t, file, "2.5%", "rollout", "batch"), `rollout.batch: "2.5%" is not a count`},
		{"batch over 100%", setPath(t, file, "101%", "rollout", "batch"), `rollout.batch: "101%" is over 100%`},
		{"max_failed negative", setPath(t, file, -1, "rollout", "max_failed"), `rollout.max_failed: "-1" is not a count`},
		{"min_ready negative", setPath(t, file, -1, "rollout", "min_ready_seconds"), "rollout.min_ready_seconds: -1 out of range"},
		{"health timeout not after min ready", setPath(t, file, 10, "rollout", "health_timeout_seconds"), "rollout.health_timeout_seconds: 10 is not more than min_ready_seconds 10"},
		{"previous not older", setPath(t, file, 1875123456789, "previous", "generation"), "previous.generation: 1875123456789 is not in 1..generation-1"},
		{"previous spec invalid", setPath(t, file, "podman", "previous", "spec", "runtime"), "previous.spec: image: required for runtime podman"},
		{"array", []byte(`[]`), "value: want a JSON object, got JSON array"},
		{"null", []byte(`null`), "value: want a JSON object, got JSON null"},
		{"trailing data", append(append([]byte{}, file...), []byte(` {}`)...), "data after the object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fleet.DecodeFleetDeployment(tt.doc)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, fleet.ErrInvalidFleetDeployment) {
				t.Errorf("DecodeFleetDeployment(%s) = %v, want an ErrInvalidFleetDeployment containing %q", tt.doc, err, tt.want)
			}
			var d fleet.FleetDeployment
			if err := json.Unmarshal(tt.doc, &d); err == nil {
				t.Errorf("json.Unmarshal(%s) = nil, want an error", tt.doc)
			}
		})
	}
}

func TestAmountResolve(t *testing.T) {
	tests := []struct {
		in                   string
		targeted             int
		wantBatch, wantFails int
	}{
		{"3", 100, 3, 3},
		{"0", 100, 1, 0},
		{"10%", 100, 10, 10},
		{"10%", 15, 2, 1},
		{"10%", 9, 1, 0},
		{"1%", 1, 1, 0},
		{"100%", 7, 7, 7},
		{"0%", 50, 1, 0},
		{"5", 0, 5, 5},
		{"50%", 0, 1, 0},
	}
	for _, tt := range tests {
		a, err := fleet.ParseAmount(tt.in)
		if err != nil {
			t.Fatalf("ParseAmount(%q) = %v", tt.in, err)
		}
		if a.String() != tt.in {
			t.Errorf("ParseAmount(%q).String() = %q, want it back", tt.in, a.String())
		}
		if got := (fleet.Batch{Amount: a}).Resolve(tt.targeted); got != tt.wantBatch {
			t.Errorf("Batch(%s).Resolve(%d) = %d, want %d", tt.in, tt.targeted, got, tt.wantBatch)
		}
		if got := (fleet.MaxFailed{Amount: a}).Resolve(tt.targeted); got != tt.wantFails {
			t.Errorf("MaxFailed(%s).Resolve(%d) = %d, want %d", tt.in, tt.targeted, got, tt.wantFails)
		}
	}
}

func TestRolloutStateValid(t *testing.T) {
	for _, s := range []fleet.RolloutState{fleet.RolloutProgressing, fleet.RolloutPaused, fleet.RolloutHalted, fleet.RolloutRollingBack, fleet.RolloutComplete} {
		if !s.Valid() {
			t.Errorf("RolloutState(%q).Valid() = false, want true", s)
		}
	}
	for _, s := range []fleet.RolloutState{"", "Progressing", "done"} {
		if s.Valid() {
			t.Errorf("RolloutState(%q).Valid() = true, want false", s)
		}
	}
}

// FuzzDecodeFleetDeployment: the decoder never panics; what it accepts
// validates and round-trips to an equal value.
func FuzzDecodeFleetDeployment(f *testing.F) {
	f.Add(readFile(f, filepath.Join("testdata", "fleet_deployment.json")))
	f.Add([]byte(`{"name":"w","selector":{"a":"b"},"spec":{"runtime":"process","command":["/bin/true"]},"generation":5,"rollout":{"batch":3}}`))
	f.Add([]byte(`{"name":"w","selector":{"a":"b"},"spec":{"runtime":"process","command":["/bin/true"]},"generation":5,"rollout":{"batch":"10%","max_failed":"0%"},"previous":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := fleet.DecodeFleetDeployment(data)
		if err != nil {
			if !errors.Is(err, fleet.ErrInvalidFleetDeployment) {
				t.Fatalf("DecodeFleetDeployment(%q) = %v, want errors.Is ErrInvalidFleetDeployment", data, err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("DecodeFleetDeployment(%q) accepted %+v, which does not validate: %v", data, d, err)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", d, err)
		}
		back, err := fleet.DecodeFleetDeployment(b)
		if err != nil || !reflect.DeepEqual(back, d) {
			t.Fatalf("DecodeFleetDeployment(json.Marshal(%+v)) = %+v, %v, want it back", d, back, err)
		}
	})
}
