package hostinfo

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// Options configures New. The zero value samples this host without disks.
type Options struct {
	// Root is where /proc and /sys are read from; empty means "/". Tests
	// point it at a fixture tree.
	Root string
	// Disks maps a key of fleet.HostInfo.Disks (fleet.DiskState,
	// fleet.DiskImages) to a path on the file system to report; a path
	// that cannot be examined is left out.
	Disks map[string]string
	// Statfs returns the total and free (available to unprivileged users)
	// bytes of the file system holding path; nil uses statfs(2). Tests
	// give fixed figures.
	Statfs func(path string) (total, free uint64, err error)
}

// Sampler samples the host. It keeps the previous CPU sample, so
// cpu_percent covers the time between two calls of Sample; it is safe for
// concurrent use.
type Sampler struct {
	root   string
	disks  map[string]string
	statfs func(string) (uint64, uint64, error)

	mu      sync.Mutex
	prevCPU cpuTimes // zero until the first sample
}

// New returns a Sampler as o says.
func New(o Options) *Sampler {
	s := &Sampler{root: o.Root, disks: o.Disks, statfs: o.Statfs}
	if s.root == "" {
		s.root = "/"
	}
	if s.statfs == nil {
		s.statfs = statfs
	}
	return s
}

// Sample reads the host's metrics now. The first call has no cpu_percent:
// it needs a previous sample. now is accepted for symmetry with the other
// pure samplers of the agent and for future rate figures; the figures
// themselves come from the kernel's counters.
func (s *Sampler) Sample(now time.Time) fleet.HostInfo {
	_ = now
	var h fleet.HostInfo
	h.UptimeSeconds = s.uptime()
	h.Load1 = s.load1()
	h.CPUPercent = s.cpuPercent()
	h.Memory = s.memory()
	h.Disks = s.diskUsage()
	h.TemperatureCelsius = s.temperature()
	h.Throttled = s.throttled()
	return h
}

func (s *Sampler) path(p string) string { return filepath.Join(s.root, p) }

func (s *Sampler) read(p string) ([]byte, bool) {
	b, err := os.ReadFile(s.path(p))
	return b, err == nil
}

// uptime reads the first figure of /proc/uptime, in whole seconds.
func (s *Sampler) uptime() *uint64 {
	b, ok := s.read("proc/uptime")
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(firstField(b), 64)
	if err != nil || f < 0 {
		return nil
	}
	v := uint64(f)
	return &v
}

// load1 reads the one-minute load average of /proc/loadavg.
func (s *Sampler) load1() *float64 {
	b, ok := s.read("proc/loadavg")
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(firstField(b), 64)
	if err != nil || f < 0 {
		return nil
	}
	return &f
}

func firstField(b []byte) string {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuTimes are the aggregate counters of /proc/stat's "cpu" line.
type cpuTimes struct{ busy, total uint64 }

// cpuPercent is the busy share of CPU time since the previous sample.
func (s *Sampler) cpuPercent() *float64 {
	b, ok := s.read("proc/stat")
	if !ok {
		return nil
	}
	cur, ok := parseCPU(b)
	if !ok {
		return nil
	}
	s.mu.Lock()
	prev := s.prevCPU
	s.prevCPU = cur
	s.mu.Unlock()
	if prev.total == 0 || cur.total <= prev.total || cur.busy < prev.busy {
		return nil // no previous sample, or the counters went back
	}
	p := 100 * float64(cur.busy-prev.busy) / float64(cur.total-prev.total)
	p = min(max(p, 0), 100)
	return &p
}

// parseCPU reads the "cpu" line: user nice system idle iowait irq softirq
// steal (guest and guest_nice are already counted in user and nice). Idle
// and iowait are not busy.
func parseCPU(b []byte) (cpuTimes, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i, v := range f[1:min(len(f), 9)] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return cpuTimes{}, false
			}
			t.total += n
			if i != 3 && i != 4 { // idle, iowait
				t.busy += n
			}
		}
		return t, true
	}
	return cpuTimes{}, false
}

// memory reads MemTotal and MemAvailable of /proc/meminfo.
func (s *Sampler) memory() *fleet.HostMemory {
	b, ok := s.read("proc/meminfo")
	if !ok {
		return nil
	}
	var m fleet.HostMemory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		if len(f) >= 3 && f[2] == "kB" {
			n *= 1024
		}
		switch f[0] {
		case "MemTotal:":
			m.TotalBytes = &n
		case "MemAvailable:":
			m.AvailableBytes = &n
		}
	}
	if m.TotalBytes == nil && m.AvailableBytes == nil {
		return nil
	}
	return &m
}

// diskUsage examines every configured path.
func (s *Sampler) diskUsage() map[string]fleet.HostDisk {
	var out map[string]fleet.HostDisk
	for key, p := range s.disks {
		if p == "" {
			continue
		}
		total, free, err := s.statfs(p)
		if err != nil || total == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]fleet.HostDisk, len(s.disks))
		}
		out[key] = fleet.HostDisk{Path: p, TotalBytes: total, FreeBytes: free}
	}
	return out
}

// cpuZoneTypes are the thermal zone types that measure the CPU or SoC,
// best first; a host with none of them reports thermal_zone0.
var cpuZoneTypes = []string{"x86_pkg_temp", "cpu-thermal", "cpu_thermal", "soc-thermal", "soc_thermal", "cpu", "soc"}

// temperature reads the CPU's thermal zone (millidegrees Celsius).
func (s *Sampler) temperature() *float64 {
	zones, _ := filepath.Glob(s.path("sys/class/thermal/thermal_zone*"))
	best, bestRank := "", len(cpuZoneTypes)
	for _, z := range zones {
		b, err := os.ReadFile(filepath.Join(z, "type"))
		if err != nil {
			continue
		}
		if r := slices.Index(cpuZoneTypes, strings.TrimSpace(string(b))); r >= 0 && r < bestRank {
			best, bestRank = z, r
		}
	}
	if best == "" {
		best = s.path("sys/class/thermal/thermal_zone0")
	}
	b, err := os.ReadFile(filepath.Join(best, "temp"))
	if err != nil {
		return nil
	}
	milli, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return nil
	}
	c := float64(milli) / 1000
	return &c
}

// throttledPath is the Raspberry Pi firmware driver's file (Raspberry Pi OS
// kernels): the word of `vcgencmd get_throttled`, in hex.
const throttledPath = "sys/devices/platform/soc/soc:firmware/get_throttled"

// throttleBits maps the firmware word's bits to their flags.
var throttleBits = []struct {
	bit  uint
	flag fleet.ThrottleFlag
}{
	{0, fleet.ThrottleUnderVoltageNow},
	{1, fleet.ThrottleFrequencyCappedNow},
	{2, fleet.ThrottleThrottledNow},
	{3, fleet.ThrottleSoftTempLimitNow},
	{16, fleet.ThrottleUnderVoltageOccurred},
	{17, fleet.ThrottleFrequencyCappedOccurred},
	{18, fleet.ThrottleThrottledOccurred},
	{19, fleet.ThrottleSoftTempLimitOccurred},
}

// throttled reads the firmware's flags: nil without the firmware file,
// empty when it reports none.
func (s *Sampler) throttled() []fleet.ThrottleFlag {
	b, ok := s.read(throttledPath)
	if !ok {
		return nil
	}
	flags, ok := ParseThrottled(string(b))
	if !ok {
		return nil
	}
	return flags
}

// ParseThrottled decodes the firmware's throttling word ("50005",
// "0x50005", as get_throttled and vcgencmd print it) into its flags, in
// bit order; false when it is not a hex number.
func ParseThrottled(text string) ([]fleet.ThrottleFlag, bool) {
	text = strings.TrimSpace(text)
	text = strings.TrimPrefix(strings.TrimPrefix(text, "throttled="), "0x")
	w, err := strconv.ParseUint(text, 16, 32)
	if err != nil {
		return nil, false
	}
	flags := []fleet.ThrottleFlag{}
	for _, b := range throttleBits {
		if w&(1<<b.bit) != 0 {
			flags = append(flags, b.flag)
		}
	}
	return flags, true
}
