package fleet_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// goldenOps has one value of every device-operation wire type.
var goldenOps = []struct {
	file string
	v    any
	zero func() any
}{
	{"op_logs_request.json", &fleet.LogsRequest{Deployment: "web", TailLines: 100, Follow: true, Stream: "s-1", WaitMillis: 2000},
		func() any { return new(fleet.LogsRequest) }},
	{"op_logs_reply.json", &fleet.LogsReply{Deployment: "web", Output: "hello\nworld\n", Truncated: true, Stream: "s-1", End: fleet.EndTimeout},
		func() any { return new(fleet.LogsReply) }},
	{"op_restart_request.json", &fleet.RestartRequest{Deployment: "web"}, func() any { return new(fleet.RestartRequest) }},
	{"op_restart_reply.json", &fleet.RestartReply{Deployment: "web", Status: fleet.RestartQueued}, func() any { return new(fleet.RestartReply) }},
	{"op_ping_reply.json", &fleet.PingReply{DeviceID: "pi-017", AgentVersion: "0.3.0", AgentEpoch: testEpoch, StartedAt: testStartedAt,
		UptimeSeconds: 108.123, Connection: "connected", ConnectedURL: "nats://127.0.0.1:4222",
		Deployments: map[fleet.Phase]int{fleet.PhaseRunning: 2, fleet.PhaseFailed: 1}, At: testAt},
		func() any { return new(fleet.PingReply) }},
	{"op_error.json", &fleet.OpError{Error: "logs web: unknown deployment"}, func() any { return new(fleet.OpError) }},
}

func TestGoldenDeviceOps(t *testing.T) {
	for _, g := range goldenOps {
		t.Run(g.file, func(t *testing.T) {
			checkGolden(t, g.file, marshalIndent(t, g.v))
			file := readFile(t, filepath.Join("testdata", g.file))
			got := g.zero()
			if err := json.Unmarshal(file, got); err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", g.file, err)
			}
			if !reflect.DeepEqual(got, g.v) {
				t.Errorf("json.Unmarshal(%s) = %+v, want %+v", g.file, got, g.v)
			}
			if again := marshalIndent(t, got); !bytes.Equal(again, file) {
				t.Errorf("json.Marshal(json.Unmarshal(%s)) = \n%s\nwant\n%s", g.file, again, file)
			}
		})
	}
}

func TestLogsRequestDecode(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"minimal", `{"deployment":"web"}`, ""},
		{"follow pull", `{"deployment":"web","follow":true,"stream":"x","wait_ms":5000}`, ""},
		{"stop", `{"deployment":"web","follow":true,"stream":"x","stop":true}`, ""},
		{"unknown field", `{"deployment":"web","tail":3}`, `unknown field "tail"`},
		{"no deployment", `{}`, "deployment: "},
		{"bad deployment", `{"deployment":"a.b"}`, "contains '.'"},
		{"negative tail", `{"deployment":"web","tail_lines":-1}`, "tail_lines: -1 is outside"},
		{"huge tail", `{"deployment":"web","tail_lines":100001}`, "tail_lines"},
		{"long wait", `{"deployment":"web","follow":true,"stream":"x","wait_ms":5001}`, "wait_ms"},
		{"stream without follow", `{"deployment":"web","stream":"x"}`, "stream: set without follow"},
		{"stop without stream", `{"deployment":"web","follow":true,"stop":true}`, "stop: set without stream"},
		{"trailing data", `{"deployment":"web"} {}`, "after top-level value"},
		{"wrong type", `{"deployment":"web","tail_lines":"3"}`, "tail_lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r fleet.LogsRequest
			err := json.Unmarshal([]byte(tt.in), &r)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", tt.in, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("json.Unmarshal(%s) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestOpRepliesDecode(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		v                 any
	}{
		{"restart request unknown field", `{"deployment":"web","force":true}`, `unknown field "force"`, new(fleet.RestartRequest)},
		{"restart request bad name", `{"deployment":""}`, `deployment name "": empty`, new(fleet.RestartRequest)},
		{"restart reply no status", `{"deployment":"web"}`, "status: missing", new(fleet.RestartReply)},
		{"logs reply unknown end", `{"deployment":"web","output":"","end":"later"}`, `end: unknown "later"`, new(fleet.LogsReply)},
		{"logs reply unknown field ignored", `{"deployment":"web","output":"x","later":1}`, "", new(fleet.LogsReply)},
		{"ping reply bad phase", `{"device_id":"pi-1","deployments":{"sleeping":1}}`, `unknown phase "sleeping"`, new(fleet.PingReply)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tt.in), tt.v)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", tt.in, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("json.Unmarshal(%s) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestDecodeOpReply(t *testing.T) {
	var r fleet.RestartReply
	if err := fleet.DecodeOpReply([]byte(`{"error":"busy"}`), &r); err == nil || err.Error() != "agent: busy" {
		t.Errorf("DecodeOpReply(error) = %v, want agent: busy", err)
	}
	if err := fleet.DecodeOpReply([]byte(`{"deployment":"web","status":"queued"}`), &r); err != nil || r.Status != "queued" {
		t.Errorf("DecodeOpReply(reply) = %v, %+v", err, r)
	}
}
