package desired

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
)

// Cache keeps the last desired value of every deployment in a directory,
// one file per deployment, so that the agent can converge after a reboot
// with NATS unreachable. It is not safe for concurrent use.
type Cache struct {
	dir string
}

// cacheExt marks the cache's files; anything else in the directory is
// ignored.
const cacheExt = ".json"

// OpenCache creates dir if needed and returns a Cache over it.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open desired cache: %w", err)
	}
	return &Cache{dir: dir}, nil
}

// Load returns every cached entry. Unreadable or misnamed files are
// skipped and reported in the joined error, next to what could be read.
func (c *Cache) Load() ([]Entry, error) {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("read desired cache %s: %w", c.dir, err)
	}
	var entries []Entry
	var errs []error
	for _, de := range des {
		base, ok := strings.CutSuffix(de.Name(), cacheExt)
		if !ok || de.IsDir() {
			continue
		}
		name, err := fleet.ParseDeploymentName(base)
		if err != nil {
			errs = append(errs, fmt.Errorf("desired cache %s: %w", de.Name(), err))
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.dir, de.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("desired cache: %w", err))
			continue
		}
		entries = append(entries, Entry{Deployment: name, Value: b})
	}
	return entries, errors.Join(errs...)
}

// Store records e: its value is written (atomically) or, when e is a
// deletion, its file removed.
func (c *Cache) Store(e Entry) error {
	path := filepath.Join(c.dir, string(e.Deployment)+cacheExt)
	if e.Deleted {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("desired cache: %w", err)
		}
		return nil
	}
	if err := atomicfile.Write(path, e.Value, 0o600); err != nil {
		return fmt.Errorf("desired cache: %w", err)
	}
	return nil
}

// Replace makes the cache hold exactly entries (after a full snapshot).
func (c *Cache) Replace(entries []Entry) error {
	keep := make(map[string]bool, len(entries))
	var errs []error
	for _, e := range entries {
		if !e.Deleted {
			keep[string(e.Deployment)+cacheExt] = true
		}
		errs = append(errs, c.Store(e))
	}
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("read desired cache %s: %w", c.dir, err)
	}
	for _, de := range des {
		if strings.HasSuffix(de.Name(), cacheExt) && !keep[de.Name()] {
			if err := os.Remove(filepath.Join(c.dir, de.Name())); err != nil {
				errs = append(errs, fmt.Errorf("desired cache: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
