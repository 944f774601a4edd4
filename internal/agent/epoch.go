package agent

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
)

// EpochFile is the file under the state directory that keeps the last
// epoch, so the next run's epoch is larger even if the clock went back.
const EpochFile = "epoch"

var (
	// ErrEpochUnreadable is wrapped by NewEpoch's error when the saved
	// epoch could not be read (or was corrupt): the epoch is then the
	// time-based one.
	ErrEpochUnreadable = errors.New("agent: saved epoch unreadable")
	// ErrEpochNotSaved is wrapped by NewEpoch's error when the new epoch
	// could not be saved: the next run cannot build on it.
	ErrEpochNotSaved = errors.New("agent: epoch not saved")
)

// epochError keeps the text of err and is also kind.
type epochError struct{ kind, err error }

func (e epochError) Error() string   { return e.err.Error() }
func (e epochError) Unwrap() []error { return []error{e.err, e.kind} }

// NewEpoch picks this run's epoch (fleet.NextEpoch over the saved one, the
// clock and 10 random bits) and saves it, synced, before anything is
// published. When the state directory cannot be read or written, it still
// returns the time-based epoch, with the error to log: the agent keeps
// reconciling. The error wraps ErrEpochUnreadable, ErrEpochNotSaved, or
// both, so the caller can say which happened.
func NewEpoch(stateDir string, now time.Time) (fleet.AgentEpoch, error) {
	path := filepath.Join(stateDir, EpochFile)
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	random := binary.LittleEndian.Uint16(b[:])

	last, loadErr := loadEpoch(path)
	epoch, err := fleet.NextEpoch(last, now, random)
	if err != nil {
		// A saved epoch at 2^53-1 is corrupt, not real: start over from
		// the clock, and say so.
		epoch, _ = fleet.NextEpoch(0, now, random)
		loadErr = errors.Join(loadErr, err)
	}
	if loadErr != nil {
		loadErr = epochError{ErrEpochUnreadable, loadErr}
	}
	saveErr := atomicfile.Write(path, []byte(strconv.FormatUint(uint64(epoch), 10)+"\n"), 0o644)
	if saveErr != nil {
		saveErr = epochError{ErrEpochNotSaved, fmt.Errorf("save epoch %s: %w", path, saveErr)}
	}
	return epoch, errors.Join(loadErr, saveErr)
}

func loadEpoch(path string) (fleet.AgentEpoch, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load epoch: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("load epoch %s: not a number: %w", path, err)
	}
	return fleet.AgentEpoch(v), nil
}
