package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// lowDiskFraction: a state disk with less free space than this is warned
// about.
const lowDiskFraction = 0.10

// formatHost is the HOST column, without spaces: cpu%, memory used of
// total, the state disk's free space, the temperature ("-" for what the
// device did not say), with "!" after a state disk under 10% free and
// "throttled!" while the firmware throttles.
func formatHost(h *fleet.HostInfo) string {
	if h == nil {
		return "-"
	}
	parts := []string{"cpu=" + optFloat(h.CPUPercent, "%.0f%%")}
	if m := h.Memory; m != nil && m.TotalBytes != nil && m.AvailableBytes != nil && *m.TotalBytes > 0 {
		used := *m.TotalBytes - min(*m.AvailableBytes, *m.TotalBytes)
		parts = append(parts, fmt.Sprintf("mem=%s/%s", bytesIEC(used), bytesIEC(*m.TotalBytes)))
	} else {
		parts = append(parts, "mem=-")
	}
	if d, ok := h.Disks[fleet.DiskState]; ok && d.TotalBytes > 0 {
		s := "state=" + bytesIEC(d.FreeBytes) + "-free"
		if lowDisk(d) {
			s += "!"
		}
		parts = append(parts, s)
	}
	if h.TemperatureCelsius != nil {
		parts = append(parts, optFloat(h.TemperatureCelsius, "%.0f°C"))
	}
	if throttledNow(h.Throttled) {
		parts = append(parts, "throttled!")
	}
	return strings.Join(parts, ",")
}

func optFloat(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func lowDisk(d fleet.HostDisk) bool {
	return d.TotalBytes > 0 && float64(d.FreeBytes) < lowDiskFraction*float64(d.TotalBytes)
}

// throttledNow reports whether a flag of the present is set.
func throttledNow(flags []fleet.ThrottleFlag) bool {
	return slices.ContainsFunc(flags, func(f fleet.ThrottleFlag) bool { return strings.HasSuffix(string(f), "-now") })
}

// hostWarnings are the lines devices prints on stderr: throttling (now or
// since boot) and a state disk under 10% free.
func hostWarnings(list devicesJSON) []string {
	var out []string
	for _, d := range list.Devices {
		if d.DeviceInfo == nil { // enrolled, never reported
			continue
		}
		h := d.Host
		if h == nil {
			continue
		}
		if len(h.Throttled) > 0 {
			flags := make([]string, len(h.Throttled))
			for i, f := range h.Throttled {
				flags[i] = string(f)
			}
			out = append(out, fmt.Sprintf("warning: %s: throttling: %s (check its power supply and cooling)", d.DeviceID, strings.Join(flags, ", ")))
		}
		if s, ok := h.Disks[fleet.DiskState]; ok && lowDisk(s) {
			out = append(out, fmt.Sprintf("warning: %s: state disk %s has %s free of %s (under %.0f%%)",
				d.DeviceID, s.Path, bytesIEC(s.FreeBytes), bytesIEC(s.TotalBytes), lowDiskFraction*100))
		}
	}
	return out
}

// bytesIEC prints n bytes as 512B, 1.5Ki, 3.8Gi.
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ci", float64(n)/float64(div), "KMGTPE"[exp])
}
