package hostinfo

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func ptr[T any](v T) *T { return &v }

// fixture copies testdata/name to a temporary root, restoring the Pi
// firmware directory's real name (see testdata/README.md).
func fixture(t *testing.T, name string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", name))); err != nil {
		t.Fatal(err)
	}
	soc := filepath.Join(root, "sys/devices/platform/soc")
	if _, err := os.Stat(filepath.Join(soc, "soc_firmware")); err == nil {
		if err := os.Rename(filepath.Join(soc, "soc_firmware"), filepath.Join(soc, "soc:firmware")); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func write(t *testing.T, root, path, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, path), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixedStatfs reports the same figures for every path.
func fixedStatfs(total, free uint64) func(string) (uint64, uint64, error) {
	return func(string) (uint64, uint64, error) { return total, free, nil }
}

var at = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestSampleFixtures(t *testing.T) {
	tests := []struct {
		name string
		// next is the second sample's /proc/stat "cpu" line.
		next string
		want fleet.HostInfo
	}{
		{"rpi4", "cpu  120900 500 40100 9003000 3000 0 1500 0 0 0\n", fleet.HostInfo{
			UptimeSeconds:      ptr[uint64](86400),
			Load1:              ptr(0.12),
			CPUPercent:         ptr(25.0), // busy 1000 of 4000
			Memory:             &fleet.HostMemory{TotalBytes: ptr[uint64](3884300 * 1024), AvailableBytes: ptr[uint64](2832044 * 1024)},
			Disks:              map[string]fleet.HostDisk{fleet.DiskState: {Path: "/var/lib/harmony-agent", TotalBytes: 1000, FreeBytes: 400}, fleet.DiskImages: {Path: "/var/lib/containers/storage", TotalBytes: 1000, FreeBytes: 400}},
			TemperatureCelsius: ptr(48.312),
			Throttled:          []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageNow, fleet.ThrottleThrottledNow, fleet.ThrottleUnderVoltageOccurred, fleet.ThrottleThrottledOccurred},
		}},
		{"x86", "cpu  4705 356 584 3699976 23260 0 277 0 0 0\n", fleet.HostInfo{
			UptimeSeconds:      ptr[uint64](3600),
			Load1:              ptr(1.5),
			CPUPercent:         ptr(0.0), // only idle and iowait moved
			Memory:             &fleet.HostMemory{TotalBytes: ptr[uint64](16303428 * 1024), AvailableBytes: ptr[uint64](12345678 * 1024)},
			Disks:              map[string]fleet.HostDisk{fleet.DiskState: {Path: "/var/lib/harmony-agent", TotalBytes: 1000, FreeBytes: 400}, fleet.DiskImages: {Path: "/var/lib/containers/storage", TotalBytes: 1000, FreeBytes: 400}},
			TemperatureCelsius: ptr(45.0), // x86_pkg_temp, not acpitz (zone0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t, tt.name)
			s := New(Options{Root: root, Statfs: fixedStatfs(1000, 400), Disks: map[string]string{
				fleet.DiskState: "/var/lib/harmony-agent", fleet.DiskImages: "/var/lib/containers/storage",
			}})
			first := s.Sample(at)
			if first.CPUPercent != nil {
				t.Errorf("first Sample: cpu_percent = %v, want absent (no previous sample)", *first.CPUPercent)
			}
			write(t, root, "proc/stat", tt.next)
			got := s.Sample(at.Add(30 * time.Second))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Sample(%s) =\n%s\nwant\n%s", tt.name, show(got), show(tt.want))
			}
			first.CPUPercent = tt.want.CPUPercent
			if !reflect.DeepEqual(first, tt.want) {
				t.Errorf("first Sample(%s) =\n%s\nwant (but cpu_percent)\n%s", tt.name, show(first), show(tt.want))
			}
		})
	}
}

func show(h fleet.HostInfo) string {
	var b strings.Builder
	f := func(name string, p any) {
		switch v := p.(type) {
		case *uint64:
			if v != nil {
				b.WriteString(name + "=" + strconv.FormatUint(*v, 10) + " ")
			}
		case *float64:
			if v != nil {
				b.WriteString(name + "=" + strconv.FormatFloat(*v, 'g', -1, 64) + " ")
			}
		}
	}
	f("uptime", h.UptimeSeconds)
	f("load1", h.Load1)
	f("cpu", h.CPUPercent)
	f("temp", h.TemperatureCelsius)
	if h.Memory != nil {
		f("mem.total", h.Memory.TotalBytes)
		f("mem.avail", h.Memory.AvailableBytes)
	}
	b.WriteString("disks=" + strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(h.Disks), "\n", " "), "  ", " ")))
	if h.Throttled != nil {
		b.WriteString(" throttled=" + strings.Join(flagStrings(h.Throttled), ","))
	}
	return b.String()
}

func toString(m map[string]fleet.HostDisk) string {
	var parts []string
	for k, d := range m {
		parts = append(parts, k+":"+d.Path+":"+strconv.FormatUint(d.TotalBytes, 10)+"/"+strconv.FormatUint(d.FreeBytes, 10))
	}
	return strings.Join(parts, ",")
}

func flagStrings(fs []fleet.ThrottleFlag) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

// TestThrottledFlags: every bit of the Pi firmware's word, read from the
// fixture's get_throttled file.
func TestThrottledFlags(t *testing.T) {
	tests := []struct {
		word string
		want []fleet.ThrottleFlag
	}{
		{"0\n", []fleet.ThrottleFlag{}},
		{"1\n", []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageNow}},
		{"2\n", []fleet.ThrottleFlag{fleet.ThrottleFrequencyCappedNow}},
		{"4\n", []fleet.ThrottleFlag{fleet.ThrottleThrottledNow}},
		{"8\n", []fleet.ThrottleFlag{fleet.ThrottleSoftTempLimitNow}},
		{"10000\n", []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageOccurred}},
		{"20000\n", []fleet.ThrottleFlag{fleet.ThrottleFrequencyCappedOccurred}},
		{"40000\n", []fleet.ThrottleFlag{fleet.ThrottleThrottledOccurred}},
		{"80000\n", []fleet.ThrottleFlag{fleet.ThrottleSoftTempLimitOccurred}},
		{"0x50005\n", []fleet.ThrottleFlag{fleet.ThrottleUnderVoltageNow, fleet.ThrottleThrottledNow, fleet.ThrottleUnderVoltageOccurred, fleet.ThrottleThrottledOccurred}},
		{"f000f", []fleet.ThrottleFlag{
			fleet.ThrottleUnderVoltageNow, fleet.ThrottleFrequencyCappedNow, fleet.ThrottleThrottledNow, fleet.ThrottleSoftTempLimitNow,
			fleet.ThrottleUnderVoltageOccurred, fleet.ThrottleFrequencyCappedOccurred, fleet.ThrottleThrottledOccurred, fleet.ThrottleSoftTempLimitOccurred,
		}},
		{"fff0fff0", []fleet.ThrottleFlag{}}, // bits the firmware does not define
		{"not hex", nil},
		{"", nil},
	}
	root := fixture(t, "rpi4")
	s := New(Options{Root: root})
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.word), func(t *testing.T) {
			write(t, root, throttledPath, tt.word)
			got := s.Sample(at).Throttled
			if !reflect.DeepEqual(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("throttled for get_throttled %q = %#v, want %#v", tt.word, got, tt.want)
			}
			for _, f := range got {
				if !f.Valid() {
					t.Errorf("flag %q is not Valid()", f)
				}
			}
		})
	}
}

// TestSampleNothingKnown: a root with no /proc or /sys reports nothing.
func TestSampleNothingKnown(t *testing.T) {
	s := New(Options{Root: t.TempDir(), Disks: map[string]string{fleet.DiskState: filepath.Join(t.TempDir(), "missing")}})
	for range 2 {
		if got := s.Sample(at); !reflect.DeepEqual(got, fleet.HostInfo{}) {
			t.Errorf("Sample(empty root) = %s, want nothing", show(got))
		}
	}
}

// TestSampleThisHost: this machine's memory total is /proc/meminfo's
// MemTotal, and / has a plausible size.
func TestSampleThisHost(t *testing.T) {
	s := New(Options{Disks: map[string]string{fleet.DiskState: "/"}})
	h := s.Sample(time.Now())
	want := memTotal(t)
	if h.Memory == nil || h.Memory.TotalBytes == nil || *h.Memory.TotalBytes != want {
		t.Errorf("memory total = %v, want /proc/meminfo's MemTotal %d bytes", h.Memory, want)
	}
	if h.Memory != nil && h.Memory.AvailableBytes != nil && *h.Memory.AvailableBytes > want {
		t.Errorf("memory available %d > total %d", *h.Memory.AvailableBytes, want)
	}
	d, ok := h.Disks[fleet.DiskState]
	if !ok || d.Path != "/" || d.FreeBytes == 0 || d.TotalBytes < d.FreeBytes {
		t.Errorf("disk of / = %+v (present %v), want total >= free > 0", d, ok)
	}
	if h.UptimeSeconds == nil || *h.UptimeSeconds == 0 || h.Load1 == nil {
		t.Errorf("uptime %v, load1 %v: want both present, uptime > 0", h.UptimeSeconds, h.Load1)
	}
	if h2 := s.Sample(time.Now()); h2.CPUPercent == nil && h2.UptimeSeconds != nil {
		// Two samples within the same clock tick: the counters may not have
		// moved. Not an error; the fixtures check the figure exactly.
		t.Log("cpu_percent absent: the counters did not move between samples")
	} else if h2.CPUPercent != nil && (*h2.CPUPercent < 0 || *h2.CPUPercent > 100) {
		t.Errorf("cpu_percent = %v, want 0-100", *h2.CPUPercent)
	}
}

func memTotal(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		testsupport.SkipOutsideCI(t, "no /proc/meminfo on this system: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}
