package fleet_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func TestPhaseValid(t *testing.T) {
	tests := []struct {
		p    fleet.Phase
		want bool
	}{
		{fleet.PhasePending, true},
		{fleet.PhaseRunning, true},
		{fleet.PhaseSucceeded, true},
		{fleet.PhaseFailed, true},
		{"", false},
		{"Running", false},
		{"stopped", false},
		{"running ", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.p), func(t *testing.T) {
			if got := tt.p.Valid(); got != tt.want {
				t.Errorf("Phase(%q).Valid() = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	want := [...]fleet.Phase{"pending", "running", "succeeded", "failed"}
	if fleet.Phases != want {
		t.Errorf("Phases = %q, want %q", fleet.Phases, want)
	}
}

func TestPhaseJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    fleet.Phase
		wantErr string
	}{
		{in: `"pending"`, want: fleet.PhasePending},
		{in: `"succeeded"`, want: fleet.PhaseSucceeded},
		{in: `"crashlooping"`, wantErr: `unknown phase "crashlooping"`},
		{in: `""`, wantErr: `unknown phase ""`},
		{in: `"RUNNING"`, wantErr: `unknown phase "RUNNING"`},
		{in: `3`, wantErr: "cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got fleet.Phase
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("json.Unmarshal(%s) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("json.Unmarshal(%s) = %q, %v, want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

func TestTransitionValidate(t *testing.T) {
	tests := []struct {
		name    string
		tr      fleet.LifecycleTransition
		wantErr string
	}{
		{name: "applied first", tr: fleet.Applied("", fleet.PhasePending, "")},
		{name: "applied with error", tr: fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, "boom")},
		{name: "applied to the same phase", tr: fleet.Applied(fleet.PhaseFailed, fleet.PhaseFailed, "again")},
		{name: "removed", tr: fleet.Removed(fleet.PhaseSucceeded)},
		{name: "zero", tr: fleet.LifecycleTransition{}, wantErr: `transition.kind: unknown kind ""`},
		{name: "unknown kind", tr: fleet.LifecycleTransition{Kind: "restarted", From: fleet.PhaseRunning, To: fleet.PhaseRunning}, wantErr: `transition.kind: unknown kind "restarted"`},
		{name: "applied without to", tr: fleet.Applied(fleet.PhasePending, "", ""), wantErr: `transition.to: unknown phase ""`},
		{name: "applied to unknown", tr: fleet.Applied(fleet.PhasePending, "gone", ""), wantErr: `transition.to: unknown phase "gone"`},
		{name: "applied from unknown", tr: fleet.Applied("gone", fleet.PhaseRunning, ""), wantErr: `transition.from: unknown phase "gone"`},
		{name: "removed without from", tr: fleet.Removed(""), wantErr: "transition.from: removed needs a phase"},
		{name: "removed from unknown", tr: fleet.Removed("gone"), wantErr: "transition.from: removed needs a phase"},
		{name: "removed with to", tr: fleet.LifecycleTransition{Kind: fleet.KindRemoved, From: fleet.PhaseRunning, To: fleet.PhaseFailed}, wantErr: "removed carries no to or last_error"},
		{name: "removed with last_error", tr: fleet.LifecycleTransition{Kind: fleet.KindRemoved, From: fleet.PhaseRunning, LastError: "x"}, wantErr: "removed carries no to or last_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.tr.Validate()
			_, merr := json.Marshal(tt.tr)
			if tt.wantErr == "" {
				if err != nil || merr != nil {
					t.Errorf("%+v: Validate() = %v, json.Marshal = %v, want nil, nil", tt.tr, err, merr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v.Validate() = %v, want an error containing %q", tt.tr, err, tt.wantErr)
			}
			if merr == nil || !strings.Contains(merr.Error(), tt.wantErr) {
				t.Errorf("json.Marshal(%+v) = %v, want an error containing %q", tt.tr, merr, tt.wantErr)
			}
		})
	}
}

func TestTransitionJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    fleet.LifecycleTransition
		wantErr string
	}{
		{in: `{"kind":"applied","from":null,"to":"pending","last_error":null}`, want: fleet.Applied("", fleet.PhasePending, "")},
		{in: `{"kind":"applied","to":"pending"}`, want: fleet.Applied("", fleet.PhasePending, "")},
		{in: `{"kind":"applied","from":"running","to":"failed","last_error":"boom"}`, want: fleet.Applied(fleet.PhaseRunning, fleet.PhaseFailed, "boom")},
		{in: `{"kind":"removed","from":"running"}`, want: fleet.Removed(fleet.PhaseRunning)},
		{in: `{"kind":"removed","from":"running","to":null,"last_error":null}`, want: fleet.Removed(fleet.PhaseRunning)},
		{in: `{"kind":"restarted","from":"running"}`, wantErr: `transition.kind: unknown kind "restarted"`},
		{in: `{"from":"running"}`, wantErr: `transition.kind: unknown kind ""`},
		{in: `{"kind":"removed"}`, wantErr: "transition.from: removed needs a phase"},
		{in: `{"kind":"removed","from":null}`, wantErr: "transition.from: removed needs a phase"},
		{in: `{"kind":"removed","from":"running","to":"failed"}`, wantErr: "removed carries no to"},
		{in: `{"kind":"applied","from":"pending"}`, wantErr: `transition.to: unknown phase ""`},
		{in: `{"kind":"applied","from":"pending","to":null}`, wantErr: `transition.to: unknown phase ""`},
		{in: `{"kind":"applied","from":"pending","to":"exploded"}`, wantErr: `unknown phase "exploded"`},
		{in: `{"kind":"applied","from":"","to":"running"}`, wantErr: `unknown phase ""`},
		{in: `{"kind":"applied","to":"running","last_error":7}`, wantErr: "transition: "},
		{in: `null`, wantErr: `transition.kind: unknown kind ""`},
		{in: `[]`, wantErr: "transition: "},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got fleet.LifecycleTransition
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Errorf("json.Unmarshal(%s) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("json.Unmarshal(%s) = %+v, %v, want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			if got != (fleet.LifecycleTransition{}) {
				t.Errorf("json.Unmarshal(%s) stored %+v with an error, want the zero value", tt.in, got)
			}
		})
	}
}

// TestEventRejected: each rule of an event, broken on a Go value (Validate)
// and on the wire (json.Unmarshal of the golden file with one field changed).
func TestEventRejected(t *testing.T) {
	good := goldenEvents[1].event
	file := readFile(t, filepath.Join("testdata", goldenEvents[1].file))
	tests := []struct {
		name    string
		mutate  func(*fleet.StateChangeEvent)
		doc     []byte
		wantErr string
	}{
		{"device_id missing", func(e *fleet.StateChangeEvent) { e.DeviceID = "" },
			setPath(t, file, deleteField, "device_id"), "device_id: fleet: invalid name"},
		{"deployment missing", func(e *fleet.StateChangeEvent) { e.Deployment = "" },
			setPath(t, file, deleteField, "deployment"), "deployment: fleet: invalid name"},
		{"zero revision", func(e *fleet.StateChangeEvent) { e.Revision = fleet.Revision{} },
			setPath(t, file, deleteField, "revision"), "revision: agent_epoch and sequence must be at least 1"},
		{"sequence 0", func(e *fleet.StateChangeEvent) { e.Revision.Sequence = 0 },
			setPath(t, file, 0, "revision", "sequence"), "revision: agent_epoch and sequence must be at least 1"},
		{"agent_epoch 0", func(e *fleet.StateChangeEvent) { e.Revision.AgentEpoch = 0 },
			setPath(t, file, 0, "revision", "agent_epoch"), "revision: agent_epoch and sequence must be at least 1"},
		{"agent_epoch 2^53", func(e *fleet.StateChangeEvent) { e.Revision.AgentEpoch = fleet.MaxEpoch + 1 },
			setPath(t, file, json.Number("9007199254740992"), "revision", "agent_epoch"), "revision.agent_epoch: 9007199254740992 is above 2^53-1"},
		{"transition missing", func(e *fleet.StateChangeEvent) { e.Transition = fleet.LifecycleTransition{} },
			setPath(t, file, deleteField, "transition"), "transition.kind"},
		{"transition unknown kind", func(e *fleet.StateChangeEvent) { e.Transition.Kind = "paused" },
			setPath(t, file, "paused", "transition", "kind"), `transition.kind: unknown kind "paused"`},
		{"at missing", func(e *fleet.StateChangeEvent) { e.At = time.Time{} },
			setPath(t, file, deleteField, "at"), "at: missing"},
		{"at not a time", nil, setPath(t, file, "yesterday", "at"), "state change event: "},
		{"agent_epoch negative", nil, setPath(t, file, -1, "revision", "agent_epoch"), "revision.agent_epoch"},
		{"agent_epoch a string", nil, setPath(t, file, "1", "revision", "agent_epoch"), "revision.agent_epoch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mutate != nil {
				e := good
				tt.mutate(&e)
				if err := e.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
				}
			}
			var got fleet.StateChangeEvent
			err := json.Unmarshal(tt.doc, &got)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("json.Unmarshal(%s) = %v, want an error containing %q", tt.doc, err, tt.wantErr)
			}
		})
	}
}

// TestDeviceInfoRejected: each rule of a DeviceInfo, on a Go value and on
// the wire.
func TestDeviceInfoRejected(t *testing.T) {
	file := readFile(t, filepath.Join("testdata", goldenInfo.file))
	good := func() fleet.DeviceInfo {
		var i fleet.DeviceInfo
		if err := json.Unmarshal(file, &i); err != nil {
			t.Fatal(err)
		}
		return i
	}
	status := func(i *fleet.DeviceInfo, name fleet.DeploymentName, f func(*fleet.DeploymentStatus)) {
		s := i.Deployments[name]
		f(&s)
		i.Deployments[name] = s
	}
	tests := []struct {
		name    string
		mutate  func(*fleet.DeviceInfo)
		doc     []byte
		wantErr string
	}{
		{"device_id missing", func(i *fleet.DeviceInfo) { i.DeviceID = "" },
			setPath(t, file, deleteField, "device_id"), "device_id: fleet: invalid name"},
		{"agent_epoch 0", func(i *fleet.DeviceInfo) { i.AgentEpoch = 0 },
			setPath(t, file, deleteField, "agent_epoch"), "agent_epoch: 0 is not in 1..2^53-1"},
		{"agent_epoch 2^53", func(i *fleet.DeviceInfo) { i.AgentEpoch = fleet.MaxEpoch + 1 },
			setPath(t, file, json.Number("9007199254740992"), "agent_epoch"), "agent_epoch: 9007199254740992 is not in 1..2^53-1"},
		{"revision sequence without epoch", func(i *fleet.DeviceInfo) { i.Revision.AgentEpoch = 0 },
			setPath(t, file, 0, "revision", "agent_epoch"), "revision: sequence 42 without an agent_epoch"},
		{"revision after agent_epoch", func(i *fleet.DeviceInfo) { i.Revision.AgentEpoch++ },
			setPath(t, file, json.Number("1875123456789013"), "revision", "agent_epoch"), "revision: epoch 1875123456789013 is after agent_epoch 1875123456789012"},
		{"revision epoch 2^53", func(i *fleet.DeviceInfo) { i.Revision.AgentEpoch = fleet.MaxEpoch + 1 },
			setPath(t, file, json.Number("9007199254740992"), "revision", "agent_epoch"), "revision.agent_epoch: 9007199254740992 is above 2^53-1"},
		{"deployment phase unknown", func(i *fleet.DeviceInfo) { status(i, "web", func(s *fleet.DeploymentStatus) { s.Phase = "gone" }) },
			setPath(t, file, "gone", "deployments", "web", "phase"), `unknown phase "gone"`},
		{"deployment phase missing", func(i *fleet.DeviceInfo) { status(i, "web", func(s *fleet.DeploymentStatus) { s.Phase = "" }) },
			setPath(t, file, deleteField, "deployments", "web", "phase"), `deployments.web.phase: unknown phase ""`},
		{"deployment revision zero", func(i *fleet.DeviceInfo) {
			status(i, "web", func(s *fleet.DeploymentStatus) { s.Revision = fleet.Revision{} })
		},
			setPath(t, file, deleteField, "deployments", "web", "revision"), "deployments.web.revision: agent_epoch and sequence must be at least 1"},
		{"deployment revision after the snapshot", func(i *fleet.DeviceInfo) {
			status(i, "web", func(s *fleet.DeploymentStatus) { s.Revision.Sequence = 43 })
		},
			setPath(t, file, 43, "deployments", "web", "revision", "sequence"), "deployments.web.revision: 1875123456789012/43 is after the snapshot's revision 1875123456789012/42"},
		{"deployment entry null", func(i *fleet.DeviceInfo) { i.Deployments["web"] = fleet.DeploymentStatus{} },
			setPath(t, file, nil, "deployments", "web"), "deployments.web.phase"},
		{"deployment name invalid", func(i *fleet.DeviceInfo) { i.Deployments["web.v2"] = i.Deployments["web"] },
			[]byte(strings.Replace(string(file), `"web": {`, `"web.v2": {`, 1)), `deployment name "web.v2": contains '.'`},
		{"last_error not a string", nil, setPath(t, file, 7, "deployments", "web", "last_error"), "device info: "},
		{"labels not strings", nil, setPath(t, file, map[string]any{"site": 7}, "labels"), "device info: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mutate != nil {
				i := good()
				tt.mutate(&i)
				if err := i.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
				}
			}
			var got fleet.DeviceInfo
			err := json.Unmarshal(tt.doc, &got)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("json.Unmarshal(%s) = %v, want an error containing %q", tt.doc, err, tt.wantErr)
			}
		})
	}
}

// TestDeviceInfoMinimal: an agent that has recorded nothing yet has a zero
// revision and no deployments; nil maps travel as null.
func TestDeviceInfoMinimal(t *testing.T) {
	in := fleet.DeviceInfo{DeviceID: "pi-017", AgentEpoch: testEpoch, StartedAt: testStartedAt, HeartbeatAt: testStartedAt}
	if err := in.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"revision":{"agent_epoch":0,"sequence":0}`, `"deployments":null`, `"labels":null`, `"outbox_dropped":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json.Marshal = %s, want it to contain %s", b, want)
		}
	}
	var got fleet.DeviceInfo
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", b, err)
	}
	if got.DeviceID != in.DeviceID || got.AgentEpoch != in.AgentEpoch || !got.Revision.IsZero() || got.Deployments != nil || got.Labels != nil {
		t.Errorf("json.Unmarshal(%s) = %+v, want %+v", b, got, in)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		text fleet.ErrorText
		json string
	}{
		{"", `null`},
		{"exit status 1", `"exit status 1"`},
		{`say "hi"`, `"say \"hi\""`},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			b, err := json.Marshal(tt.text)
			if err != nil || string(b) != tt.json {
				t.Errorf("json.Marshal(%q) = %s, %v, want %s, nil", tt.text, b, err, tt.json)
			}
			got := fleet.ErrorText("previous")
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil || got != tt.text {
				t.Errorf("json.Unmarshal(%s) = %q, %v, want %q, nil", tt.json, got, err, tt.text)
			}
		})
	}
	var got fleet.ErrorText
	if err := json.Unmarshal([]byte(`""`), &got); err != nil || got != "" {
		t.Errorf(`json.Unmarshal("") = %q, %v, want "", nil`, got, err)
	}
	if err := json.Unmarshal([]byte(`false`), &got); err == nil {
		t.Errorf("json.Unmarshal(false) = %q, nil, want an error", got)
	}
}
