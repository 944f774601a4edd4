// Package hostinfo samples the host metrics of DeviceInfo's "host" object
// (ARCHITECTURE 3.5, section 11): uptime, load, CPU use, memory, the free
// and total bytes of given paths' file systems, the CPU's temperature and
// the Raspberry Pi firmware's throttling flags. It reads /proc and /sys
// under a root that tests point at fixture trees (testdata/), and reports a
// field only where the host can tell.
//
// hostinfo imports fleet and the standard library (and golang.org/x/sys for
// statfs); it neither logs nor touches NATS.
package hostinfo
