package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
)

// errCorruptPidFile marks a pid file that cannot be trusted; the runtime
// logs it, removes it and treats the deployment as missing.
var errCorruptPidFile = errors.New("process: corrupt pid file")

// pidRecord is the content of <deployment>.json.
type pidRecord struct {
	Device     fleet.DeviceID       `json:"device"`
	Deployment fleet.DeploymentName `json:"deployment"`
	PID        int                  `json:"pid"`
	// StartTime is field 22 of /proc/<pid>/stat: clock ticks since boot.
	StartTime          uint64    `json:"start_time"`
	SpecHash           string    `json:"spec_hash"`
	GracePeriodSeconds int       `json:"grace_period_seconds"`
	StartedAt          time.Time `json:"started_at"`
	// ExitCode and FinishedAt are set once the exit was observed.
	ExitCode   *int       `json:"exit_code,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// grace returns the recorded grace period, or the default.
func (rec pidRecord) grace() time.Duration { return fleet.GracePeriod(rec.GracePeriodSeconds) }

// withExit returns rec with the exit recorded.
func (rec pidRecord) withExit(code int, at time.Time) pidRecord {
	rec.ExitCode = &code
	rec.FinishedAt = &at
	return rec
}

// decodePidRecord parses the pid file of deployment name. Every error wraps
// errCorruptPidFile.
func decodePidRecord(name fleet.DeploymentName, data []byte) (pidRecord, error) {
	var rec pidRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return pidRecord{}, fmt.Errorf("%w: %v", errCorruptPidFile, err)
	}
	switch {
	case rec.Deployment != name:
		return pidRecord{}, fmt.Errorf("%w: deployment %q in the file of %q", errCorruptPidFile, rec.Deployment, name)
	case rec.Device.Validate() != nil:
		return pidRecord{}, fmt.Errorf("%w: %v", errCorruptPidFile, rec.Device.Validate())
	case rec.PID <= 0:
		return pidRecord{}, fmt.Errorf("%w: pid %d", errCorruptPidFile, rec.PID)
	case rec.StartTime == 0:
		return pidRecord{}, fmt.Errorf("%w: no start_time", errCorruptPidFile)
	case rec.SpecHash == "":
		return pidRecord{}, fmt.Errorf("%w: no spec_hash", errCorruptPidFile)
	}
	return rec, nil
}

// writeFileAtomic replaces path with data (0600): the old file or the new
// one survives a crash, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o600)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// writePidRecord writes rec to path atomically.
func writePidRecord(path string, rec pidRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// pidReserveBytes is the room a pidReservation takes: more than any pid
// record needs (about 300 bytes), one block of most filesystems.
const pidReserveBytes = 4096

// pidReservation is room taken for a pid file before anything running is
// stopped: a temporary file in the pid file's directory, its blocks
// allocated (fallocate, or where the filesystem cannot, written with
// zeros) and synced to its full size, so that recording the replacement
// later only fills blocks it already holds. A full or read-only state
// directory is then found out while the old process still runs.
// fallocate writes no data: the pid file's page goes to the disk once,
// when it is recorded, not twice (SD cards die of writes).
type pidReservation struct {
	path string
	f    *os.File
}

// reservePidFile takes room for the pid file at path.
func reservePidFile(path string) (*pidReservation, error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, pidReserveBytes)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		_, err = f.Write(make([]byte, pidReserveBytes))
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return &pidReservation{path: path, f: f}, nil
}

// commit writes rec into the reserved room and renames it to the pid file,
// durably. The reservation is used up, whatever the outcome.
func (p *pidReservation) commit(rec pidRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		p.discard()
		return err
	}
	data = append(data, '\n')
	f, tmp := p.f, p.f.Name()
	p.f = nil
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(p.path))
}

// discard gives the room back unless commit used it. It may be called more
// than once.
func (p *pidReservation) discard() {
	if p.f == nil {
		return
	}
	_ = p.f.Close()
	_ = os.Remove(p.f.Name())
	p.f = nil
}
