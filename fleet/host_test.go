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

func ptr[T any](v T) *T { return &v }

// goldenInfoHost is goldenInfo with the host object of 3.5.
var goldenInfoHost = func() struct {
	file string
	info fleet.DeviceInfo
} {
	info := goldenInfo.info
	info.Host = &fleet.HostInfo{
		UptimeSeconds: ptr[uint64](86400),
		Load1:         ptr(0.12),
		CPUPercent:    ptr(3.5),
		Memory:        &fleet.HostMemory{TotalBytes: ptr[uint64](4008000000), AvailableBytes: ptr[uint64](2900000000)},
		Disks: map[string]fleet.HostDisk{
			fleet.DiskState:  {Path: "/var/lib/harmony-agent", TotalBytes: 31_000_000_000, FreeBytes: 20_000_000_000},
			fleet.DiskImages: {Path: "/var/lib/containers/storage", TotalBytes: 31_000_000_000, FreeBytes: 20_000_000_000},
		},
		TemperatureCelsius: ptr(48.3),
		Throttled:          []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageNow},
	}
	return struct {
		file string
		info fleet.DeviceInfo
	}{"device_info_host.json", info}
}()

func TestGoldenDeviceInfoHost(t *testing.T) {
	g := goldenInfoHost
	checkGolden(t, g.file, marshalIndent(t, g.info))
	file := readFile(t, filepath.Join("testdata", g.file))
	var got fleet.DeviceInfo
	if err := json.Unmarshal(file, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil", g.file, err)
	}
	if !reflect.DeepEqual(got, g.info) {
		t.Errorf("json.Unmarshal(%s) = %+v, want %+v", g.file, got.Host, g.info.Host)
	}
	if again := marshalIndent(t, got); !bytes.Equal(again, file) {
		t.Errorf("json.Marshal(json.Unmarshal(%s)) = \n%s\nwant\n%s", g.file, again, file)
	}
}

func TestHostInfoJSON(t *testing.T) {
	tests := []struct {
		name string
		host fleet.HostInfo
		want string
	}{
		{"nothing known", fleet.HostInfo{}, `{}`},
		{"zero values are kept", fleet.HostInfo{Load1: ptr(0.0), CPUPercent: ptr(0.0), UptimeSeconds: ptr[uint64](0)}, `{"uptime_seconds":0,"load1":0,"cpu_percent":0}`},
		{"firmware reports no throttling", fleet.HostInfo{Throttled: []fleet.ThrottleFlag{}}, `{"throttled":[]}`},
		{"memory total only", fleet.HostInfo{Memory: &fleet.HostMemory{TotalBytes: ptr[uint64](1)}}, `{"memory":{"total_bytes":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.host)
			if err != nil || string(b) != tt.want {
				t.Fatalf("json.Marshal(%+v) = %s, %v, want %s", tt.host, b, err, tt.want)
			}
			var back fleet.HostInfo
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, tt.host) {
				t.Fatalf("json.Unmarshal(%s) = %+v, %v, want %+v", b, back, err, tt.host)
			}
		})
	}
}

func TestHostInfoDecodeLenient(t *testing.T) {
	in := `{"uptime_seconds":5,"gpu":{"percent":3},"throttled":["under-voltage-now","melting-now"],"disks":{"state":{"path":"/s","total_bytes":2,"free_bytes":1,"inodes":9}}}`
	var h fleet.HostInfo
	if err := json.Unmarshal([]byte(in), &h); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v, want nil (unknown fields ignored)", in, err)
	}
	want := fleet.HostInfo{UptimeSeconds: ptr[uint64](5), Throttled: []fleet.ThrottleFlag{"under-voltage-now", "melting-now"},
		Disks: map[string]fleet.HostDisk{"state": {Path: "/s", TotalBytes: 2, FreeBytes: 1}}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("json.Unmarshal(%s) = %+v, want %+v", in, h, want)
	}
	var valid []string
	for _, f := range h.Throttled {
		if f.Valid() {
			valid = append(valid, string(f))
		}
	}
	if got := strings.Join(valid, ","); got != "under-voltage-now" {
		t.Errorf("valid flags = %s, want under-voltage-now", got)
	}
}
