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

// NewEpoch picks this run's epoch (fleet.NextEpoch over the saved one, the
// clock and 10 random bits) and saves it, synced, before anything is
// published. When the state directory cannot be read or written, it still
// returns the time-based epoch, with the error to log: the agent keeps
// reconciling.
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
	saveErr := atomicfile.Write(path, []byte(strconv.FormatUint(uint64(epoch), 10)+"\n"), 0o644)
	if saveErr != nil {
		saveErr = fmt.Errorf("save epoch %s: %w", path, saveErr)
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
