package fleet_test

// Fuzz targets for every decoder of the wire contract. Their seeds (the
// golden files and the cases below) run in plain `go test`; to search:
//
//	go test -run='^$' -fuzz='^FuzzDecodeSpec$' -fuzztime=30s ./fleet/
//
// The properties: a decoder never panics; when it accepts a value, the value
// validates, and it encodes and decodes back to an equal value.

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// nameOK is the rule of 3.1 written independently of fleet: 1 to 253 bytes
// of A-Z a-z 0-9 - _.
func nameOK(s string) bool {
	if len(s) < 1 || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func FuzzParseName(f *testing.F) {
	for _, tt := range invalidNames {
		f.Add(tt.in)
	}
	for _, s := range validNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := nameOK(s)
		d, errD := fleet.ParseDeviceID(s)
		n, errN := fleet.ParseDeploymentName(s)
		for _, err := range []error{errD, errN} {
			if (err == nil) != want {
				t.Fatalf("Parse(%q) = %v, want ok: %v", s, err, want)
			}
			if err != nil && !errors.Is(err, fleet.ErrInvalidName) {
				t.Fatalf("Parse(%q) = %v, want errors.Is ErrInvalidName", s, err)
			}
		}
		if !want {
			return
		}
		if string(d) != s || string(n) != s {
			t.Fatalf("Parse(%q) = %q, %q, want the input back", s, d, n)
		}
		// As a JSON value and as a map key.
		b, err := json.Marshal(map[fleet.DeploymentName]fleet.DeviceID{n: d})
		if err != nil {
			t.Fatalf("json.Marshal(%q) = %v", s, err)
		}
		var back map[fleet.DeploymentName]fleet.DeviceID
		if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 || back[n] != d {
			t.Fatalf("json.Unmarshal(%s) = %v, %v, want {%q: %q}", b, back, err, n, d)
		}
	})
}

func FuzzParseDesiredKey(f *testing.F) {
	for _, k := range []string{"pi-017.web", "a.b", "a.b.c", ".", "..", "a.", ".b", "pi-017", "pi-017.>", "pi-017.*", "*.web", "pi 017.web", "pi-017.wéb", "", "a\x00.b", strings.Repeat("d", 253) + "." + strings.Repeat("n", 254)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		d, n, err := fleet.ParseDesiredKey(key)
		parts := strings.Split(key, ".")
		want := len(parts) == 2 && nameOK(parts[0]) && nameOK(parts[1])
		if (err == nil) != want {
			t.Fatalf("ParseDesiredKey(%q) = %q, %q, %v, want ok: %v", key, d, n, err, want)
		}
		if err != nil {
			if d != "" || n != "" {
				t.Fatalf("ParseDesiredKey(%q) = %q, %q, %v, want empty values with the error", key, d, n, err)
			}
			return
		}
		if d.Validate() != nil || n.Validate() != nil {
			t.Fatalf("ParseDesiredKey(%q) = %q, %q, which do not validate", key, d, n)
		}
		if got := fleet.DesiredKey(d, n); got != key {
			t.Fatalf("DesiredKey(ParseDesiredKey(%q)) = %q, want %q", key, got, key)
		}
		if got := strings.Count(fleet.EventSubject(d, n), "."); got != 3 {
			t.Fatalf("EventSubject(%q, %q) has %d dots, want 3", d, n, got)
		}
	})
}

func FuzzDecodeSpec(f *testing.F) {
	for _, path := range goldenFiles("spec_") {
		f.Add(readFile(f, path))
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"runtime":"podman"}`, `{"runtime":"process"}`,
		`{"runtime":"podman","image":"x"} {}`,
		`{"runtime":"podman","image":"x","Image":"y"}`,
		`{"runtime":"podman","image":"x","env":{"A":"1","A":"2"}}`,
		`{"runtime":"process","command":["./x"],"working_dir":"rel","restart":"no"}`,
		`{"runtime":"podman","image":"<&>","env":{"\u00e9":"\ud800"},"ports":[{"host_port":65535,"container_port":1,"protocol":"udp"}]}`,
		`{"runtime":"podman","image":"x","grace_period_seconds":1e3}`,
		`{"runtime":"podman","image":"x","grace_period_seconds":9223372036854775808}`,
		`{"runtime":"podman","image":"x","volumes":[{"host_path":"/","container_path":"/a/../b","read_only":false}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := fleet.DecodeSpec(data)
		if json.Valid(data) && len(data) <= fleet.MaxSpecBytes {
			// json.Unmarshal is as strict (it sees the value without
			// surrounding white space, hence the size condition).
			var u fleet.DeploymentSpec
			errU := json.Unmarshal(data, &u)
			if (errU == nil) != (err == nil) || errU != nil && errU.Error() != err.Error() {
				t.Fatalf("json.Unmarshal(%q) = %v, DecodeSpec = %v, want the same", data, errU, err)
			}
			if err == nil && !reflect.DeepEqual(u.WithDefaults(), s) {
				t.Fatalf("json.Unmarshal(%q) = %+v, DecodeSpec = %+v, want it with defaults", data, u, s)
			}
		}
		if err != nil {
			if !errors.Is(err, fleet.ErrInvalidSpec) {
				t.Fatalf("DecodeSpec(%q) = %v, want errors.Is ErrInvalidSpec", data, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("DecodeSpec(%q) = %q, want a one-line error (it becomes a last_error)", data, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("DecodeSpec(%q) = %+v, whose Validate() = %v", data, s, err)
		}
		if d := s.WithDefaults(); !reflect.DeepEqual(d, s) {
			t.Fatalf("DecodeSpec(%q) = %+v, want its defaults filled in: %+v", data, s, d)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", s, err)
		}
		if len(b) > fleet.MaxSpecBytes {
			// Escaping (<, >, &, invalid UTF-8) can grow a value past the
			// limit; such a value cannot travel twice.
			return
		}
		s2, err := fleet.DecodeSpec(b)
		if err != nil {
			t.Fatalf("DecodeSpec(json.Marshal(DecodeSpec(%q))) = %v, want nil", data, err)
		}
		if h1, h2 := fleet.SpecHash(s), fleet.SpecHash(s2); h1 != h2 {
			t.Fatalf("SpecHash changed across a round trip of %q: %s, then %s", data, h1, h2)
		}
		if b2, _ := json.Marshal(s2); !bytes.Equal(b2, b) {
			t.Fatalf("json.Marshal(DecodeSpec(%s)) = %s, want the same bytes", b, b2)
		}
	})
}

// sameTime reports whether a and b are the same instant written the same
// way (same zone offset), which is what a JSON round trip must keep.
func sameTime(a, b time.Time) bool {
	_, oa := a.Zone()
	_, ob := b.Zone()
	return a.Equal(b) && oa == ob
}

func FuzzStateChangeEvent(f *testing.F) {
	for _, path := range goldenFiles("event_") {
		f.Add(readFile(f, path))
	}
	for _, s := range []string{
		`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":1},"transition":{"kind":"applied","to":"pending"},"at":"2026-11-26T10:00:00+01:00"}`,
		`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":9007199254740991,"sequence":18446744073709551615},"transition":{"kind":"removed","from":"failed","x":1},"at":"0000-01-01T00:00:00.123456789Z","y":[]}`,
		`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":1},"transition":{"kind":"applied","to":"failed","last_error":"\ud800 \u0000 <&>"},"at":"9999-12-31T23:59:59.999999999-23:59"}`,
		`{"device_id":"pi.017","deployment":"web"}`, `{}`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e fleet.StateChangeEvent
		if err := json.Unmarshal(data, &e); err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("json.Unmarshal(%q) = %+v, whose Validate() = %v", data, e, err)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", e, err)
		}
		var e2 fleet.StateChangeEvent
		if err := json.Unmarshal(b, &e2); err != nil {
			t.Fatalf("json.Unmarshal(json.Marshal(%+v)) = %v, want nil; JSON %s", e, err, b)
		}
		if !sameTime(e.At, e2.At) {
			t.Fatalf("at: %v after a round trip, want %v", e2.At, e.At)
		}
		e.At, e2.At = time.Time{}, time.Time{}
		if e != e2 {
			t.Fatalf("json.Unmarshal(json.Marshal(%+v)) = %+v, want the same", e, e2)
		}
	})
}

func FuzzDeviceInfo(f *testing.F) {
	for _, path := range goldenFiles("device_info") {
		f.Add(readFile(f, path))
	}
	for _, s := range []string{
		`{"device_id":"pi-017","agent_epoch":1}`,
		`{"device_id":"pi-017","agent_epoch":1,"labels":{},"deployments":{},"revision":null,"started_at":"2026-11-26T10:00:00+05:30"}`,
		`{"device_id":"pi-017","agent_epoch":2,"revision":{"agent_epoch":1,"sequence":3},"deployments":{"a":{"phase":"succeeded","revision":{"agent_epoch":1,"sequence":3}},"b":{"phase":"failed","last_error":"","revision":{"agent_epoch":1,"sequence":1}}}}`,
		`{"device_id":"pi-017","agent_epoch":1,"deployments":{"a.b":{}}}`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var i fleet.DeviceInfo
		if err := json.Unmarshal(data, &i); err != nil {
			return
		}
		if err := i.Validate(); err != nil {
			t.Fatalf("json.Unmarshal(%q) = %+v, whose Validate() = %v", data, i, err)
		}
		b, err := json.Marshal(i)
		if err != nil {
			t.Fatalf("json.Marshal(%+v) = %v", i, err)
		}
		var i2 fleet.DeviceInfo
		if err := json.Unmarshal(b, &i2); err != nil {
			t.Fatalf("json.Unmarshal(json.Marshal(%+v)) = %v, want nil; JSON %s", i, err, b)
		}
		if !sameTime(i.StartedAt, i2.StartedAt) || !sameTime(i.HeartbeatAt, i2.HeartbeatAt) {
			t.Fatalf("started_at, heartbeat_at: %v, %v after a round trip, want %v, %v", i2.StartedAt, i2.HeartbeatAt, i.StartedAt, i.HeartbeatAt)
		}
		i.StartedAt, i.HeartbeatAt, i2.StartedAt, i2.HeartbeatAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(i, i2) {
			t.Fatalf("json.Unmarshal(json.Marshal(%+v)) = %+v, want the same", i, i2)
		}
	})
}
