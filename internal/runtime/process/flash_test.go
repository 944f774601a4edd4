package process

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestReservationWritesNothing: the room reserved for a pid file is
// allocated on the disk, not written with zeros: no page of it is in the
// page cache (as a page written and synced would stay), so the pid file's
// page goes to the disk once, when the record is committed (SD cards die
// of writes).
func TestReservationWritesNothing(t *testing.T) {
	dir := t.TempDir()
	res, err := reservePidFile(filepath.Join(dir, "web.json"))
	if err != nil {
		t.Fatalf("reservePidFile: %v", err)
	}
	defer res.discard()
	fi, err := res.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if held := fi.Sys().(*syscall.Stat_t).Blocks * 512; fi.Size() != pidReserveBytes || held < pidReserveBytes {
		t.Fatalf("reservation: size %d, %d bytes of disk held; want %d of each", fi.Size(), held, pidReserveBytes)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	const tmpfsMagic = 0x01021994
	if fs.Type == tmpfsMagic {
		return // tmpfs holds every page in memory: residency tells nothing
	}
	mem, err := unix.Mmap(int(res.f.Fd()), 0, pidReserveBytes, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	vec := make([]byte, 1)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	if vec[0]&1 != 0 {
		t.Errorf("the reservation's page is in the page cache: it was written, want it only allocated")
	}
}

// TestReplacedExitNotRecorded: the exit of a process being replaced is not
// written to its pid file (its successor's record follows at once), unless
// the successor fails to start.
func TestReplacedExitNotRecorded(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Config{})
	s := shell(`exec sleep 600`)
	h.apply(r, workload("web", s))
	rec, ok, err := r.load("web")
	if err != nil || !ok {
		t.Fatalf("load(web) = %v, %v", ok, err)
	}
	r.markReplaced(rec, true)
	if err := r.stop(context.Background(), rec, time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	r.mu.Lock()
	p := r.procs["web"]
	r.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatal("the exit of web was not seen")
	}
	if got, _, err := r.load("web"); err != nil || got.FinishedAt != nil {
		t.Errorf("pid file after the exit of a process being replaced = %+v, %v; want no exit recorded", got, err)
	}
	r.recordReplacedExit(rec) // its successor failed to start
	if got, _, err := r.load("web"); err != nil || got.FinishedAt == nil || got.ExitCode == nil {
		t.Errorf("pid file once the successor failed = %+v, %v; want the exit recorded", got, err)
	}
}
