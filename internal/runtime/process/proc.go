package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// BasePath is the PATH every process starts with, unless its spec's env
// sets PATH.
const BasePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// errBadStat is returned for a /proc/<pid>/stat line that cannot be parsed.
var errBadStat = errors.New("process: malformed /proc stat line")

// procStat is what the runtime reads from /proc/<pid>/stat.
type procStat struct {
	// State is field 3: R, S, D, T, t, Z, X, ...
	State byte
	// PGrp is field 5, the process group id.
	PGrp int
	// StartTime is field 22, clock ticks after boot.
	StartTime uint64
}

// dead reports whether the state is a zombie or a dying task.
func (s procStat) dead() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// parseStat parses a /proc/<pid>/stat line. The command name (field 2) is
// in parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errBadStat
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3; field n is f[n-3].
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errBadStat
	}
	pgrp, err := strconv.Atoi(f[5-3])
	if err != nil {
		return procStat{}, fmt.Errorf("%w: pgrp: %v", errBadStat, err)
	}
	start, err := strconv.ParseUint(f[22-3], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("%w: start time: %v", errBadStat, err)
	}
	return procStat{State: f[0][0], PGrp: pgrp, StartTime: start}, nil
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// StartTime reports when pid started (field 22 of /proc/<pid>/stat, clock
// ticks after boot; the start_time of a pid file), for a running process or
// a zombie; false when there is no such process. With it, a pid can be told
// from a later process that reuses it.
func StartTime(pid int) (uint64, bool) {
	st, err := readStat(pid)
	return st.StartTime, err == nil
}

// Alive reports whether pid is the process that started at startTime and
// has not exited (a zombie has exited; a stopped process is alive).
func Alive(pid int, startTime uint64) bool { return alive(pid, startTime) }

// alive is Alive, for the package's own use.
func alive(pid int, startTime uint64) bool {
	st, err := readStat(pid)
	return err == nil && st.StartTime == startTime && !st.dead()
}

// pidIsOurs reports whether pid does not name another process than the one
// that started at startTime: ours, alive or a zombie, or no process at all.
// Only then may the process group -pid be signalled: a process group id is
// its creator's pid, and Linux does not hand out a pid still in use as a
// group id.
func pidIsOurs(pid int, startTime uint64) bool {
	st, err := readStat(pid)
	return err != nil || st.StartTime == startTime
}

// groupAlive reports whether the process group pgid has a member that is
// not a zombie. kill(-pgid, 0) answers cheaply when the group is gone; a
// group that still holds zombies (an unreaped leader) needs a /proc scan.
func groupAlive(pgid int) bool {
	if err := unix.Kill(-pgid, 0); errors.Is(err, unix.ESRCH) {
		return false
	}
	if st, err := readStat(pgid); err == nil && st.PGrp == pgid && !st.dead() {
		return true // the leader itself
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err == nil && st.PGrp == pgid && !st.dead() {
			return true
		}
	}
	return false
}

// signalGroup sends sig to the process group pgid; a group that is gone is
// not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := unix.Kill(-pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal process group %d with %v: %w", pgid, sig, err)
	}
	return nil
}

// exitCode is the exit status of a reaped child, 128+signal when a signal
// killed it, -1 when unknown.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// buildEnv returns the child's environment: PATH=BasePath, then env on top,
// sorted by name.
func buildEnv(env map[string]string) []string {
	all := map[string]string{"PATH": BasePath}
	maps.Copy(all, env)
	out := make([]string, 0, len(all))
	for _, k := range slices.Sorted(maps.Keys(all)) {
		out = append(out, k+"="+all[k])
	}
	return out
}

// envPath returns the value of PATH in env.
func envPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return ""
}

// lookPath resolves file like a shell would with the child's PATH (not the
// agent's): a name with a slash is used as is, a bare name is searched in
// the absolute directories of pathEnv. Errors are *exec.Error, which read
// `exec: "/nope": no such file or directory`.
func lookPath(file, pathEnv string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", &exec.Error{Name: file, Err: err}
		}
		return file, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if !filepath.IsAbs(dir) {
			continue // a relative PATH entry would depend on the working dir
		}
		p := filepath.Join(dir, file)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// checkExecutable reports why path is not an executable regular file.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return pe.Err
		}
		return err
	}
	switch {
	case fi.IsDir():
		return syscall.EISDIR
	case fi.Mode()&0o111 == 0:
		return fs.ErrPermission
	}
	return nil
}

// checkDir reports why dir, when set, is not a directory.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return fmt.Errorf("working_dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("working_dir %s: %w", dir, syscall.ENOTDIR)
	}
	return nil
}
