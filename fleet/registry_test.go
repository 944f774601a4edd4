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

const testUserKey = "UAJJT27ATX6HJ46GRGC57YBLCKVL43YLXSFBDRM2AZH3REHYMSO4QTXE"

var goldenRecord = struct {
	file   string
	record fleet.DeviceRecord
}{"device_record.json", fleet.DeviceRecord{
	DeviceID:   "pi-017",
	Labels:     map[string]string{"site": "lyon", "role": "web"},
	EnrolledAt: testStartedAt,
	UserKey:    testUserKey,
}}

func TestGoldenDeviceRecord(t *testing.T) {
	g := goldenRecord
	if err := g.record.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	checkGolden(t, g.file, marshalIndent(t, g.record))
	file := readFile(t, filepath.Join("testdata", g.file))
	var got fleet.DeviceRecord
	if err := json.Unmarshal(file, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", g.file, err)
	}
	if !reflect.DeepEqual(got, g.record) {
		t.Errorf("json.Unmarshal(%s) = %+v, want %+v", g.file, got, g.record)
	}
	if again := marshalIndent(t, got); !bytes.Equal(again, file) {
		t.Errorf("json.Marshal(json.Unmarshal(%s)) = \n%s\nwant\n%s", g.file, again, file)
	}
}

func TestDeviceRecordDecode(t *testing.T) {
	const at = `"enrolled_at":"2026-11-26T09:58:12Z"`
	tests := []struct {
		name, in, wantErr string
	}{
		{"minimal", `{"device_id":"pi-1",` + at + `}`, ""},
		{"unknown field ignored", `{"device_id":"pi-1",` + at + `,"later":1}`, ""},
		{"label with dot and slash", `{"device_id":"pi-1","labels":{"example.com/role":"db_1-a"},` + at + `}`, ""},
		{"bad device id", `{"device_id":"pi.1",` + at + `}`, "contains '.'"},
		{"no device id", `{` + at + `}`, "device_id"},
		{"no enrolled_at", `{"device_id":"pi-1"}`, "enrolled_at: missing"},
		{"empty label key", `{"device_id":"pi-1","labels":{"":"x"},` + at + `}`, "label key \"\": empty"},
		{"empty label value", `{"device_id":"pi-1","labels":{"role":""},` + at + `}`, "empty"},
		{"space in label", `{"device_id":"pi-1","labels":{"role":"a b"},` + at + `}`, "contains ' '"},
		{"comma in label", `{"device_id":"pi-1","labels":{"a,b":"x"},` + at + `}`, "contains ','"},
		{"equals in label", `{"device_id":"pi-1","labels":{"a":"x=y"},` + at + `}`, "contains '='"},
		{"long label", `{"device_id":"pi-1","labels":{"a":"` + strings.Repeat("x", 64) + `"},` + at + `}`, "longer than 63 bytes"},
		{"user key not U", `{"device_id":"pi-1",` + at + `,"user_key":"A` + testUserKey[1:] + `"}`, "not a user public key"},
		{"user key short", `{"device_id":"pi-1",` + at + `,"user_key":"UABC"}`, "4 characters, want 56"},
		{"user key not base32", `{"device_id":"pi-1",` + at + `,"user_key":"` + testUserKey[:55] + `1"}`, "not base32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r fleet.DeviceRecord
			err := json.Unmarshal([]byte(tt.in), &r)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("json.Unmarshal(%s) = %v, want nil", tt.in, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("json.Unmarshal(%s) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestValidateLabel(t *testing.T) {
	tests := []struct {
		k, v string
		ok   bool
	}{
		{"site", "lyon", true},
		{strings.Repeat("k", 63), strings.Repeat("v", 63), true},
		{strings.Repeat("k", 64), "v", false},
		{"site", "ly\ton", false},
		{"sité", "lyon", false},
		{"site", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.k+"="+tt.v, func(t *testing.T) {
			if err := fleet.ValidateLabel(tt.k, tt.v); (err == nil) != tt.ok {
				t.Errorf("ValidateLabel(%q, %q) = %v, want ok=%v", tt.k, tt.v, err, tt.ok)
			}
		})
	}
}
