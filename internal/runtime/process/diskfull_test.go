package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// smallStateDir returns a directory on a tmpfs of 64 KiB of its own,
// unmounted when the test ends. It needs root (CAP_SYS_ADMIN): without it
// the test fails in CI and is skipped elsewhere, saying why.
func smallStateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0750"); err != nil {
		msg := "mount a 64 KiB tmpfs for a full state directory: " + err.Error() + " (run as root)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("outside CI, skipped: " + msg)
	}
	// Registered after TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes to a file in dir until the filesystem is full, and returns
// the file's path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return path
		}
	}
}

// TestReplaceOnFullDiskKeepsOldRunning: a replace whose pid file cannot be
// recorded (state directory full) fails saying why, and the old process
// still runs, recorded as before. Once there is room, the replace works.
func TestReplaceOnFullDiskKeepsOldRunning(t *testing.T) {
	h := newHarness(t)
	h.dir = smallStateDir(t)
	r := h.runtime(Config{})
	const name = "web"
	old := h.apply(r, workload(name, shell(`exec sleep 1000`)))
	oldPid := pidOf(t, old)
	oldStart := startTimeOf(t, oldPid)
	filler := fill(t, h.dir)

	st, err := r.Apply(context.Background(), workload(name, shell(`echo new; exec sleep 1000`)))
	if err == nil {
		h.track(pidOf(t, st))
		t.Fatalf("Apply(new spec) on a full state dir = %+v, nil; want an error", st)
	}
	for _, want := range []string{"replace web", "no space left on device", "left as it was"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Apply(new spec) = %q, want it to say %q", err, want)
		}
	}
	if st.ID != old.ID {
		t.Errorf("Apply(new spec) status = %+v, want the old process %s", st, old.ID)
	}
	if !alive(oldPid, oldStart) {
		t.Fatalf("old process %d stopped by a replace that could not be recorded", oldPid)
	}
	if got, err := r.Observe(context.Background(), dev, name); err != nil || got.ID != old.ID || got.State != old.State {
		t.Errorf("Observe() = %+v, %v; want the old process %s running", got, err, old.ID)
	}
	if tmps, _ := filepath.Glob(filepath.Join(h.dir, "*.tmp*")); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	st = h.apply(r, workload(name, shell(`echo new; exec sleep 1000`)))
	if st.ID == old.ID {
		t.Errorf("Apply(new spec) with room = %+v, want a new process", st)
	}
	waitFor(t, "the old process to be gone", func() bool { return !groupAlive(oldPid) })
}
