package main

import (
	"slices"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func ptr[T any](v T) *T { return &v }

func TestFormatHost(t *testing.T) {
	const gi = 1 << 30
	full := &fleet.HostInfo{
		CPUPercent:         ptr(3.5),
		Memory:             &fleet.HostMemory{TotalBytes: ptr(uint64(4 * gi)), AvailableBytes: ptr(uint64(3 * gi))},
		Disks:              map[string]fleet.HostDisk{fleet.DiskState: {Path: "/var/lib/harmony-agent", TotalBytes: 100 * gi, FreeBytes: 5 * gi}},
		TemperatureCelsius: ptr(48.3),
		Throttled:          []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageNow, fleet.ThrottleThrottledOccurred},
	}
	tests := []struct {
		name string
		h    *fleet.HostInfo
		want string
	}{
		{"none", nil, "-"},
		{"empty", &fleet.HostInfo{}, "cpu=-,mem=-"},
		{"full", full, "cpu=4%,mem=1.0Gi/4.0Gi,state=5.0Gi-free!,48°C,throttled!"},
		{"since boot only", &fleet.HostInfo{Throttled: []fleet.ThrottleFlag{fleet.ThrottleThrottledOccurred}}, "cpu=-,mem=-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatHost(tt.h); got != tt.want {
				t.Errorf("formatHost = %q, want %q", got, tt.want)
			}
		})
	}
	warn := hostWarnings(devicesJSON{Devices: []deviceJSON{
		{DeviceID: "pi-1", DeviceInfo: &fleet.DeviceInfo{DeviceID: "pi-1", Host: full}},
		{DeviceID: "pi-2", DeviceInfo: &fleet.DeviceInfo{DeviceID: "pi-2", Host: &fleet.HostInfo{Throttled: []fleet.ThrottleFlag{}}}},
		{DeviceID: "pi-3", DeviceInfo: &fleet.DeviceInfo{DeviceID: "pi-3"}},
		{DeviceID: "pi-4", Enrolled: true}, // never reported
	}})
	want := []string{
		"warning: pi-1: throttling: under-voltage-now, throttled-occurred (check its power supply and cooling)",
		"warning: pi-1: state disk /var/lib/harmony-agent has 5.0Gi free of 100.0Gi (under 10%)",
	}
	if !slices.Equal(warn, want) {
		t.Errorf("hostWarnings = %q, want %q", warn, want)
	}
}
