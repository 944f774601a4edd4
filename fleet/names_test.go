package fleet_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// invalidNames has one case per rule of 3.1; rule is a substring of the
// message naming it.
var invalidNames = []struct {
	name string
	in   string
	rule string
}{
	{"empty", "", "empty"},
	{"254 bytes", strings.Repeat("a", 254), "longer than 253 bytes (254)"},
	{"254 bytes of bad characters", strings.Repeat("é", 127), "longer than 253 bytes (254)"},
	{"dot", "web.v2", "contains '.'"},
	{"leading dot", ".web", "contains '.'"},
	{"star", "web*", "NATS wildcard '*'"},
	{"greater than", "web>", "NATS wildcard '>'"},
	{"lone star", "*", "NATS wildcard '*'"},
	{"space", "my web", "contains whitespace"},
	{"tab", "web\t1", "contains whitespace"},
	{"newline", "web\n", "contains whitespace"},
	{"carriage return", "\rweb", "contains whitespace"},
	{"no-break space", "web\u00a0", "contains whitespace"},
	{"slash", "web/v2", "contains '/'"},
	{"e acute", "café", "contains 'é'"},
	{"colon", "web:80", "contains ':'"},
	{"NUL", "web\x00", `contains '\x00'`},
	{"invalid UTF-8", "web\xff", `contains '�'`},
}

var validNames = []string{"web", "pi-017", "A_b-9", "-", "_", "0", strings.Repeat("a", fleet.MaxNameBytes)}

func TestParseNameInvalid(t *testing.T) {
	parsers := []struct {
		kind  string
		parse func(string) (string, error)
	}{
		{"deployment name", func(s string) (string, error) { n, err := fleet.ParseDeploymentName(s); return string(n), err }},
		{"device id", func(s string) (string, error) { d, err := fleet.ParseDeviceID(s); return string(d), err }},
	}
	for _, tt := range invalidNames {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range parsers {
				got, err := p.parse(tt.in)
				if err == nil || !strings.Contains(err.Error(), tt.rule) || !strings.Contains(err.Error(), p.kind) {
					t.Errorf("Parse %s(%q) = %q, %v; want an error naming %q and %q", p.kind, tt.in, got, err, p.kind, tt.rule)
				}
				if !errors.Is(err, fleet.ErrInvalidName) {
					t.Errorf("Parse %s(%q) = %v, want errors.Is ErrInvalidName", p.kind, tt.in, err)
				}
				if got != "" {
					t.Errorf("Parse %s(%q) = %q, want \"\" with the error", p.kind, tt.in, got)
				}
			}
			if err := fleet.DeploymentName(tt.in).Validate(); err == nil || !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("DeploymentName(%q).Validate() = %v, want an error naming %q", tt.in, err, tt.rule)
			}
			if err := fleet.DeviceID(tt.in).Validate(); err == nil || !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("DeviceID(%q).Validate() = %v, want an error naming %q", tt.in, err, tt.rule)
			}
			n := fleet.DeploymentName("unchanged")
			if err := n.UnmarshalText([]byte(tt.in)); !errors.Is(err, fleet.ErrInvalidName) || n != "unchanged" {
				t.Errorf("DeploymentName.UnmarshalText(%q) = %v leaving %q, want ErrInvalidName leaving \"unchanged\"", tt.in, err, n)
			}
			d := fleet.DeviceID("unchanged")
			if err := d.UnmarshalText([]byte(tt.in)); !errors.Is(err, fleet.ErrInvalidName) || d != "unchanged" {
				t.Errorf("DeviceID.UnmarshalText(%q) = %v leaving %q, want ErrInvalidName leaving \"unchanged\"", tt.in, err, d)
			}
		})
	}
}

func TestParseNameTruncatesLongInput(t *testing.T) {
	in := strings.Repeat("x", 10_000)
	_, err := fleet.ParseDeviceID(in)
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("ParseDeviceID(10,000 bytes) = %v, want an error of at most 200 bytes", err)
	}
}

func TestParseNameValid(t *testing.T) {
	for _, in := range validNames {
		t.Run(in[:min(len(in), 10)], func(t *testing.T) {
			if n, err := fleet.ParseDeploymentName(in); err != nil || string(n) != in {
				t.Errorf("ParseDeploymentName(%q) = %q, %v, want %q, nil", in, n, err, in)
			}
			if d, err := fleet.ParseDeviceID(in); err != nil || string(d) != in {
				t.Errorf("ParseDeviceID(%q) = %q, %v, want %q, nil", in, d, err, in)
			}
			if err := fleet.DeploymentName(in).Validate(); err != nil {
				t.Errorf("DeploymentName(%q).Validate() = %v, want nil", in, err)
			}
			if err := fleet.DeviceID(in).Validate(); err != nil {
				t.Errorf("DeviceID(%q).Validate() = %v, want nil", in, err)
			}
			var n fleet.DeploymentName
			if err := json.Unmarshal([]byte(`"`+in+`"`), &n); err != nil || string(n) != in {
				t.Errorf("json.Unmarshal(%q) = %q, %v, want %q, nil", in, n, err, in)
			}
		})
	}
}

// TestDecodeInvalidName: an invalid name is rejected at the wire, as a value
// and as a map key.
func TestDecodeInvalidName(t *testing.T) {
	event := readFile(t, filepath.Join("testdata", "event_applied_running.json"))
	info := readFile(t, filepath.Join("testdata", "device_info.json"))
	renameKey := func(doc []byte, from, to string) []byte {
		s := strings.Replace(string(doc), `"`+from+`": {`, `"`+to+`": {`, 1)
		if s == string(doc) {
			t.Fatalf("no key %q in %s", from, doc)
		}
		return []byte(s)
	}
	tests := []struct {
		name string
		doc  []byte
		into any
		rule string
	}{
		{"event device_id", setPath(t, event, "pi.017", "device_id"), new(fleet.StateChangeEvent), "device id \"pi.017\": contains '.'"},
		{"event device_id wildcard", setPath(t, event, "pi-*", "device_id"), new(fleet.StateChangeEvent), "device id \"pi-*\": contains the NATS wildcard"},
		{"event deployment", setPath(t, event, "web app", "deployment"), new(fleet.StateChangeEvent), "deployment name \"web app\": contains whitespace"},
		{"event empty device_id", setPath(t, event, "", "device_id"), new(fleet.StateChangeEvent), "device id \"\": empty"},
		{"device info device_id", setPath(t, info, "pi/017", "device_id"), new(fleet.DeviceInfo), "device id \"pi/017\": contains '/'"},
		{"device info deployments key", renameKey(info, "web", "web>"), new(fleet.DeviceInfo), "deployment name \"web>\": contains the NATS wildcard"},
		{"device info deployments empty key", renameKey(info, "web", ""), new(fleet.DeviceInfo), "deployment name \"\": empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := json.Unmarshal(tt.doc, tt.into)
			if err == nil || !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("json.Unmarshal(%s) = %v, want an error containing %q", tt.doc, err, tt.rule)
			}
			if !errors.Is(err, fleet.ErrInvalidName) {
				t.Errorf("json.Unmarshal(%s) = %v, want errors.Is ErrInvalidName", tt.doc, err)
			}
		})
	}
}

// TestNamesLocked: other programs are written against these literal values;
// changing one is a breaking change of the wire contract.
func TestNamesLocked(t *testing.T) {
	r := fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 42}
	e := fleet.StateChangeEvent{DeviceID: "pi-017", Deployment: "web", Revision: r}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"DesiredStateBucket", fleet.DesiredStateBucket, "desired-state"},
		{"DeviceInfoBucket", fleet.DeviceInfoBucket, "device-info"},
		{"EventsStream", fleet.EventsStream, "FLEET_EVENTS"},
		{"EventsSubjectPrefix", fleet.EventsSubjectPrefix, "fleet.events"},
		{"EventsSubjects", fleet.EventsSubjects, "fleet.events.>"},
		{"MsgIDHeader", fleet.MsgIDHeader, "Nats-Msg-Id"},
		{"LabelDevice", fleet.LabelDevice, "io.harmony.device"},
		{"LabelDeployment", fleet.LabelDeployment, "io.harmony.deployment"},
		{"LabelSpecHash", fleet.LabelSpecHash, "io.harmony.spec-hash"},
		{`DesiredKey("pi-017", "web")`, fleet.DesiredKey("pi-017", "web"), "pi-017.web"},
		{`DesiredFilter("pi-017")`, fleet.DesiredFilter("pi-017"), "pi-017.>"},
		{`DeviceInfoKey("pi-017")`, fleet.DeviceInfoKey("pi-017"), "pi-017"},
		{`EventSubject("pi-017", "web")`, fleet.EventSubject("pi-017", "web"), "fleet.events.pi-017.web"},
		{`DeviceEventsSubject("pi-017")`, fleet.DeviceEventsSubject("pi-017"), "fleet.events.pi-017.>"},
		{`DeploymentEventsSubject("web")`, fleet.DeploymentEventsSubject("web"), "fleet.events.*.web"},
		{`MsgID("pi-017", 1875123456789012/42, "00c0ffee00c0ffee")`, fleet.MsgID("pi-017", r, "00c0ffee00c0ffee"), "pi-017.1875123456789012.42.00c0ffee00c0ffee"},
		{"StateChangeEvent.Subject", e.Subject(), "fleet.events.pi-017.web"},
		{"StateChangeEvent.MsgID", e.MsgID("00c0ffee00c0ffee"), "pi-017.1875123456789012.42.00c0ffee00c0ffee"},
		{"DeviceRegistryBucket", fleet.DeviceRegistryBucket, "device-registry"},
		{"DeploymentsBucket", fleet.DeploymentsBucket, "deployments"},
		{"RolloutsBucket", fleet.RolloutsBucket, "rollouts"},
		{"ControllerBucket", fleet.ControllerBucket, "fleet-controller"},
		{"LeaderKey", fleet.LeaderKey, "leader"},
		{`DeviceRegistryKey("pi-017")`, fleet.DeviceRegistryKey("pi-017"), "pi-017"},
		{`DeploymentKey("web")`, fleet.DeploymentKey("web"), "web"},
		{`RolloutKey("web")`, fleet.RolloutKey("web"), "web"},
		{`DeviceOpSubject("pi-017", OpLogs)`, fleet.DeviceOpSubject("pi-017", fleet.OpLogs), "fleet.device.pi-017.logs"},
		{`DeviceOpSubject("pi-017", OpRestart)`, fleet.DeviceOpSubject("pi-017", fleet.OpRestart), "fleet.device.pi-017.restart"},
		{`DeviceOpSubject("pi-017", OpPing)`, fleet.DeviceOpSubject("pi-017", fleet.OpPing), "fleet.device.pi-017.ping"},
		{`DeviceOpsSubjects("pi-017")`, fleet.DeviceOpsSubjects("pi-017"), "fleet.device.pi-017.>"},
		{`InboxPrefix("pi-017")`, fleet.InboxPrefix("pi-017"), "_INBOX_pi-017"},
		{"MaxNameBytes", strconv.Itoa(fleet.MaxNameBytes), "253"},
		{"MaxSpecBytes", strconv.Itoa(fleet.MaxSpecBytes), "65536"},
		{"DefaultGracePeriodSeconds", strconv.Itoa(fleet.DefaultGracePeriodSeconds), "10"},
		{"MaxGracePeriodSeconds", strconv.Itoa(fleet.MaxGracePeriodSeconds), "3600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestParseDesiredKey(t *testing.T) {
	tests := []struct {
		key        string
		wantDevice fleet.DeviceID
		wantName   fleet.DeploymentName
		wantErr    string // substring; "" means success
		invalidErr bool   // errors.Is(err, ErrInvalidName)
	}{
		{key: "pi-017.web", wantDevice: "pi-017", wantName: "web"},
		{key: "A.b", wantDevice: "A", wantName: "b"},
		{key: strings.Repeat("d", 253) + "." + strings.Repeat("n", 253), wantDevice: fleet.DeviceID(strings.Repeat("d", 253)), wantName: fleet.DeploymentName(strings.Repeat("n", 253))},
		{key: "pi-017web", wantErr: "want <device>.<deployment>"},
		{key: "", wantErr: "want <device>.<deployment>"},
		{key: ".web", wantErr: `device id "": empty`, invalidErr: true},
		{key: "pi-017.", wantErr: `deployment name "": empty`, invalidErr: true},
		{key: "pi 017.web", wantErr: "device id \"pi 017\": contains whitespace", invalidErr: true},
		{key: "pi-017.web*", wantErr: "deployment name \"web*\": contains the NATS wildcard", invalidErr: true},
		{key: "pi-017.>", wantErr: "deployment name \">\": contains the NATS wildcard", invalidErr: true},
		{key: "a.b.c", wantErr: "deployment name \"b.c\": contains '.'", invalidErr: true},
		{key: "pi-017.wéb", wantErr: "deployment name \"wéb\": contains 'é'", invalidErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.key[:min(len(tt.key), 20)], func(t *testing.T) {
			d, n, err := fleet.ParseDesiredKey(tt.key)
			if tt.wantErr == "" {
				if err != nil || d != tt.wantDevice || n != tt.wantName {
					t.Errorf("ParseDesiredKey(%q) = %q, %q, %v, want %q, %q, nil", tt.key, d, n, err, tt.wantDevice, tt.wantName)
				}
				if got := fleet.DesiredKey(d, n); got != tt.key {
					t.Errorf("DesiredKey(ParseDesiredKey(%q)) = %q, want %q", tt.key, got, tt.key)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "desired key") {
				t.Errorf("ParseDesiredKey(%q) = %q, %q, %v, want an error containing %q", tt.key, d, n, err, tt.wantErr)
			}
			if errors.Is(err, fleet.ErrInvalidName) != tt.invalidErr {
				t.Errorf("errors.Is(ParseDesiredKey(%q), ErrInvalidName) = %v, want %v", tt.key, !tt.invalidErr, tt.invalidErr)
			}
			if d != "" || n != "" {
				t.Errorf("ParseDesiredKey(%q) = %q, %q with an error, want empty values", tt.key, d, n)
			}
		})
	}
}
