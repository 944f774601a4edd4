package desired

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
)

// Cache keeps the last desired value of every deployment in one file, so
// the agent converges after a reboot with NATS unreachable. Apply changes
// the copy in memory and never blocks; Run writes the file in the
// background (atomically, synced), one write for a whole burst of changes,
// so a desired change is acted upon without waiting for the disk.
type Cache struct {
	path string
	// dirty says the file is behind. Size 1: changes made while a write is
	// pending coalesce into it.
	dirty chan struct{}

	mu     sync.Mutex
	values map[fleet.DeploymentName]string // guarded by mu
}

// OpenCache returns a Cache over the file at path, creating its directory.
func OpenCache(path string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open desired cache: %w", err)
	}
	return &Cache{path: path, dirty: make(chan struct{}, 1), values: make(map[fleet.DeploymentName]string)}, nil
}

// Load reads the file into the cache and returns its entries; none when
// there is no file yet. Entries with an invalid name are skipped and
// reported in the error, beside what could be read.
func (c *Cache) Load() ([]Entry, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read desired cache: %w", err)
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("read desired cache %s: %w", c.path, err)
	}
	var entries []Entry
	var errs []error
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range raw {
		name, err := fleet.ParseDeploymentName(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("desired cache %s: %w", c.path, err))
			continue
		}
		c.values[name] = v
		entries = append(entries, Entry{Deployment: name, Value: []byte(v)})
	}
	return entries, errors.Join(errs...)
}

// Apply takes u into the cache (a full update replaces it) and asks Run
// to write the file. It does no I/O.
func (c *Cache) Apply(u Update) {
	c.mu.Lock()
	if u.Full {
		clear(c.values)
	}
	for _, e := range u.Entries {
		if e.Deleted {
			delete(c.values, e.Deployment)
		} else {
			c.values[e.Deployment] = string(e.Value)
		}
	}
	c.mu.Unlock()
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

// Run writes the file whenever the cache changed, until ctx is done; then
// it writes what is left and returns. It reports write errors through
// report (the agent logs them) and keeps going: a full disk must not stop
// the agent.
func (c *Cache) Run(ctx context.Context, report func(error)) {
	for {
		select {
		case <-c.dirty:
			if err := c.write(); err != nil {
				report(err)
			}
		case <-ctx.Done():
			select {
			case <-c.dirty:
				if err := c.write(); err != nil {
					report(err)
				}
			default:
			}
			return
		}
	}
}

func (c *Cache) write() error {
	c.mu.Lock()
	snapshot := maps.Clone(c.values)
	c.mu.Unlock()
	b, err := json.MarshalIndent(snapshot, "", "  ")
	if err != nil {
		return fmt.Errorf("write desired cache: %w", err)
	}
	if err := atomicfile.Write(c.path, b, 0o600); err != nil {
		return fmt.Errorf("write desired cache: %w", err)
	}
	return nil
}
