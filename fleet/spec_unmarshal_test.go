package fleet_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// TestUnmarshalSpecStrict: json.Unmarshal into a DeploymentSpec, alone or
// inside a record, refuses what DecodeSpec refuses, with the same error, and
// leaves the destination untouched.
func TestUnmarshalSpecStrict(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"unknown field", `{"runtime":"podman","image":"x","imagePullPolicy":"always"}`},
		{"unknown nested field", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":80,"hostIP":"0.0.0.0"}]}`},
		{"case-only difference", `{"runtime":"podman","IMAGE":"x"}`},
		{"case-only difference nested", `{"runtime":"podman","image":"x","volumes":[{"Host_Path":"/a","container_path":"/b"}]}`},
		{"duplicate field", `{"runtime":"podman","image":"x","image":"y"}`},
		{"duplicate field differing in case", `{"runtime":"podman","image":"x","Image":"y"}`},
		{"duplicate env key", `{"runtime":"podman","image":"x","env":{"A":"1","A":"2"}}`},
		{"duplicate nested field", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"host_port":81,"container_port":80}]}`},
		{"rule broken", `{"runtime":"process","command":["./x"],"working_dir":"rel","restart":"no"}`},
		{"missing runtime", `{"image":"x"}`},
		{"empty object", `{}`},
		{"wrong type", `{"runtime":"podman","image":5}`},
		{"array", `[{"runtime":"podman","image":"x"}]`},
		{"string", `"podman"`},
		{"null", `null`},
		{"over 64 KiB", string(padTo(fleet.MaxSpecBytes + 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, want := fleet.DecodeSpec([]byte(tt.in))
			if want == nil {
				t.Fatalf("DecodeSpec(%.200s) = nil error, the case is wrong", tt.in)
			}

			before := fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "kept"}
			got := before
			err := json.Unmarshal([]byte(tt.in), &got)
			if !errors.Is(err, fleet.ErrInvalidSpec) || err.Error() != want.Error() {
				t.Errorf("json.Unmarshal(%.200s) = %v, want %v (DecodeSpec's)", tt.in, err, want)
			}
			if !reflect.DeepEqual(got, before) {
				t.Errorf("json.Unmarshal(%.200s) changed the spec to %+v on error", tt.in, got)
			}

			// Through a json.Decoder, and as a field of a record (a signed
			// statement, a fleet deployment).
			var viaDecoder fleet.DeploymentSpec
			if err := json.NewDecoder(bytes.NewReader([]byte(tt.in))).Decode(&viaDecoder); !errors.Is(err, fleet.ErrInvalidSpec) {
				t.Errorf("json.Decoder.Decode(%.200s) = %v, want errors.Is ErrInvalidSpec", tt.in, err)
			}
			var record struct {
				Spec fleet.DeploymentSpec `json:"spec"`
			}
			if err := json.Unmarshal([]byte(`{"spec":`+tt.in+`}`), &record); !errors.Is(err, fleet.ErrInvalidSpec) {
				t.Errorf("json.Unmarshal({\"spec\":%.200s}) = %v, want errors.Is ErrInvalidSpec", tt.in, err)
			}
		})
	}
}

// TestUnmarshalSpecAccepted: a valid spec decodes as written (no defaults
// filled in, so it re-encodes to the same bytes), and DecodeSpec's result is
// that value with its defaults.
func TestUnmarshalSpecAccepted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want fleet.DeploymentSpec
	}{
		{"minimal podman", `{"runtime":"podman","image":"x"}`, fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x"}},
		{"process with env", `{"runtime":"process","command":["sleep","60"],"env":{"A":"1","a":"2"},"restart":"never"}`,
			fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"sleep", "60"}, Env: map[string]string{"A": "1", "a": "2"}, Restart: fleet.RestartNever}},
		{"port without protocol", `{"runtime":"podman","image":"x","ports":[{"host_port":80,"container_port":8080}]}`,
			fleet.DeploymentSpec{Runtime: fleet.RuntimePodman, Image: "x", Ports: []fleet.PortMapping{{HostPort: 80, ContainerPort: 8080}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got fleet.DeploymentSpec
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("json.Unmarshal(%s) = %+v, want %+v", tt.in, got, tt.want)
			}
			if b, _ := json.Marshal(got); string(b) != tt.in {
				t.Errorf("json.Marshal(json.Unmarshal(%s)) = %s, want the input back", tt.in, b)
			}
			decoded, err := fleet.DecodeSpec([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeSpec(%s) = %v, want nil", tt.in, err)
			}
			if want := tt.want.WithDefaults(); !reflect.DeepEqual(decoded, want) {
				t.Errorf("DecodeSpec(%s) = %+v, want %+v", tt.in, decoded, want)
			}
		})
	}
}

// TestUnmarshalSpecSyntaxError: a value that is not JSON is refused by
// encoding/json itself before DeploymentSpec sees it.
func TestUnmarshalSpecSyntaxError(t *testing.T) {
	for _, in := range []string{`{"runtime":"podman"`, `{"runtime":"podman","image":"x"} {}`, `runtime: podman`} {
		var s fleet.DeploymentSpec
		var syntax *json.SyntaxError
		if err := json.Unmarshal([]byte(in), &s); !errors.As(err, &syntax) {
			t.Errorf("json.Unmarshal(%s) = %v, want a *json.SyntaxError", in, err)
		}
	}
}
