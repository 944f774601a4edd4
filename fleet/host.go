package fleet

// HostInfo is DeviceInfo's "host" object (ARCHITECTURE 3.5): host metrics
// sampled at each heartbeat. Every field is optional: absent where the host
// cannot tell (no thermal zone, no podman image store, not a Raspberry Pi).
// Decoding ignores unknown fields, as DeviceInfo does, and keeps unknown
// throttling flags (a newer agent may report more).
type HostInfo struct {
	UptimeSeconds *uint64  `json:"uptime_seconds,omitempty"`
	Load1         *float64 `json:"load1,omitempty"`
	// CPUPercent is the share of CPU time (all cores) spent busy between
	// this sample and the previous one, 0-100.
	CPUPercent *float64    `json:"cpu_percent,omitempty"`
	Memory     *HostMemory `json:"memory,omitempty"`
	// Disks are keyed DiskState and DiskImages.
	Disks              map[string]HostDisk `json:"disks,omitempty"`
	TemperatureCelsius *float64            `json:"temperature_celsius,omitempty"`
	// Throttled lists the firmware's throttling flags: nil (absent) when
	// the host has no such firmware, empty when it reports none.
	Throttled []ThrottleFlag `json:"throttled,omitzero"`
}

// HostMemory is the host's memory, from /proc/meminfo.
type HostMemory struct {
	TotalBytes     *uint64 `json:"total_bytes,omitempty"`
	AvailableBytes *uint64 `json:"available_bytes,omitempty"`
}

// HostDisk is the file system holding Path.
type HostDisk struct {
	Path       string `json:"path"`
	TotalBytes uint64 `json:"total_bytes"`
	FreeBytes  uint64 `json:"free_bytes"`
}

// The keys of HostInfo.Disks.
const (
	// DiskState is the file system of the agent's state directory.
	DiskState = "state"
	// DiskImages is the file system of podman's image store.
	DiskImages = "images"
)

// ThrottleFlag is one Raspberry Pi firmware throttling condition, now or
// since boot (the bits of `vcgencmd get_throttled`).
type ThrottleFlag string

// The throttling flags: bits 0-3 of the firmware's word are the "-now"
// ones, bits 16-19 the same conditions "-occurred" since boot.
const (
	ThrottleUnderVoltageNow         ThrottleFlag = "under-voltage-now"
	ThrottleFrequencyCappedNow      ThrottleFlag = "frequency-capped-now"
	ThrottleThrottledNow            ThrottleFlag = "throttled-now"
	ThrottleSoftTempLimitNow        ThrottleFlag = "soft-temp-limit-now"
	ThrottleUnderVoltageOccurred    ThrottleFlag = "under-voltage-occurred"
	ThrottleFrequencyCappedOccurred ThrottleFlag = "frequency-capped-occurred"
	ThrottleThrottledOccurred       ThrottleFlag = "throttled-occurred"
	ThrottleSoftTempLimitOccurred   ThrottleFlag = "soft-temp-limit-occurred"
)

// Valid reports whether f is a known flag.
func (f ThrottleFlag) Valid() bool {
	switch f {
	case ThrottleUnderVoltageNow, ThrottleFrequencyCappedNow, ThrottleThrottledNow, ThrottleSoftTempLimitNow,
		ThrottleUnderVoltageOccurred, ThrottleFrequencyCappedOccurred, ThrottleThrottledOccurred, ThrottleSoftTempLimitOccurred:
		return true
	}
	return false
}
