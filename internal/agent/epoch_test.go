package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

var epochNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// timeBased reports whether e is the time-based epoch of now (any random
// bits).
func timeBased(e fleet.AgentEpoch, now time.Time) bool {
	return uint64(e)>>10 == uint64(now.UnixMilli())
}

func savedEpoch(t *testing.T, dir string) fleet.AgentEpoch {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, EpochFile))
	if err != nil {
		t.Fatalf("read saved epoch: %v", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("saved epoch %q: %v", b, err)
	}
	return fleet.AgentEpoch(v)
}

func TestNewEpochIncreases(t *testing.T) {
	dir := t.TempDir()
	var last fleet.AgentEpoch
	// The same instant, then a clock that goes backwards: every epoch is
	// still larger than the one before.
	nows := []time.Time{epochNow, epochNow, epochNow, epochNow.Add(-time.Hour), epochNow.Add(-24 * time.Hour), epochNow.Add(time.Millisecond)}
	for i, now := range nows {
		e, err := NewEpoch(dir, now)
		if err != nil {
			t.Fatalf("NewEpoch #%d = %v", i, err)
		}
		if e <= last {
			t.Fatalf("NewEpoch #%d = %d, want > %d", i, e, last)
		}
		if e > fleet.MaxEpoch {
			t.Fatalf("NewEpoch #%d = %d, above 2^53-1", i, e)
		}
		if got := savedEpoch(t, dir); got != e {
			t.Fatalf("saved epoch after #%d = %d, want %d", i, got, e)
		}
		last = e
	}
	if first, _ := NewEpoch(t.TempDir(), epochNow); !timeBased(first, epochNow) {
		t.Errorf("first epoch in an empty dir = %d, want the time-based value of %v", first, epochNow)
	}
}

func TestNewEpochUnwritableDir(t *testing.T) {
	// A state directory under a regular file can be neither read nor
	// written, even by root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "state")
	e, err := NewEpoch(dir, epochNow)
	if err == nil {
		t.Fatalf("NewEpoch(%s) error = nil, want one", dir)
	}
	if !strings.Contains(err.Error(), "save epoch") || !errors.Is(err, ErrEpochNotSaved) {
		t.Errorf("NewEpoch(%s) error = %v, want it to say the epoch was not saved (ErrEpochNotSaved)", dir, err)
	}
	if !timeBased(e, epochNow) {
		t.Errorf("NewEpoch(%s) = %d, want the time-based epoch of %v", dir, e, epochNow)
	}
}

func TestNewEpochSavedFile(t *testing.T) {
	tests := []struct {
		name    string
		saved   string
		wantErr string // "" none
		// want checks the epoch returned
		want func(fleet.AgentEpoch) bool
	}{
		{"corrupt", "not-an-epoch\n", "not a number", func(e fleet.AgentEpoch) bool { return timeBased(e, epochNow) }},
		{"empty", "", "not a number", func(e fleet.AgentEpoch) bool { return timeBased(e, epochNow) }},
		{"exhausted", strconv.FormatUint(uint64(fleet.MaxEpoch), 10), "exhausted", func(e fleet.AgentEpoch) bool { return timeBased(e, epochNow) }},
		{"from the future", "9000000000000000\n", "", func(e fleet.AgentEpoch) bool { return e == 9000000000000001 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, EpochFile), []byte(tt.saved), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := NewEpoch(dir, epochNow)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewEpoch = %d, %v, want no error", e, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewEpoch error = %v, want one containing %q", err, tt.wantErr)
			}
			if !tt.want(e) {
				t.Errorf("NewEpoch = %d, not the epoch wanted", e)
			}
			// Loading failed, saving worked: the error says which.
			if tt.wantErr != "" && (!errors.Is(err, ErrEpochUnreadable) || errors.Is(err, ErrEpochNotSaved)) {
				t.Errorf("NewEpoch error = %v, want ErrEpochUnreadable and not ErrEpochNotSaved", err)
			}
			if tt.name == "exhausted" && !errors.Is(err, fleet.ErrEpochExhausted) {
				t.Errorf("NewEpoch error = %v, want %v", err, fleet.ErrEpochExhausted)
			}
			// The file is repaired: the next run starts above this one,
			// without an error.
			if got := savedEpoch(t, dir); got != e {
				t.Errorf("saved epoch = %d, want %d", got, e)
			}
			next, err := NewEpoch(dir, epochNow)
			if err != nil || next <= e {
				t.Errorf("next NewEpoch = %d, %v, want > %d and no error", next, err, e)
			}
		})
	}
}
