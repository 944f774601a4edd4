package desired

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/atomicfile"
)

// Cache keeps the last desired value of every deployment on disk, so the
// agent converges after a reboot with NATS unreachable. Apply changes the
// copy in memory and never blocks; Run writes in the background, one write
// for a whole burst of changes, so a desired change is acted upon without
// waiting for the disk.
//
// Each deployment has a file of its own in the cache's directory (see
// cacheFile), written atomically and synced (internal/atomicfile), and
// only when its value changed: a desired change writes one deployment's
// value, not every deployment's, and a full snapshot that repeats what is
// on disk (each watch recreation delivers one) writes nothing. SD cards
// die of writes. A crash leaves each file old or new; after one in the
// middle of a burst, some deployments may hold their new value and others
// their old one, as the agent saw them during the burst.
type Cache struct {
	dir string
	// legacy is the one-file cache of earlier versions (dir + ".json"),
	// read by Load when it exists and removed once its entries are in dir.
	legacy string
	// dirty says the files are behind. Size 1: changes made while a
	// write is pending coalesce into it.
	dirty chan struct{}

	mu     sync.Mutex
	values map[fleet.DeploymentName]string // guarded by mu

	// written is what the files hold, owned by Load and then by Run's
	// goroutine (never both at once: the agent calls Load before Run).
	written       map[fleet.DeploymentName]string
	legacyPending bool // legacy exists and is to be removed; owned as written
}

// cacheSuffix ends every cache file's name; a file without it (such as
// atomicfile's temporary ".<name>.tmp-*") is not an entry.
const cacheSuffix = ".desired"

// maxPlainName is the longest deployment name used as is in a file name:
// with cacheSuffix and atomicfile's temporary prefix and suffix, a longer
// one (names reach 253 bytes) would pass NAME_MAX (255).
const maxPlainName = 200

// cacheFile is the file name of deployment name's entry: the name and
// cacheSuffix, or for a name longer than maxPlainName, its first
// maxPlainName-17 bytes, "-" and 16 hex digits of its SHA-256. The file
// holds the name, a newline, and the value as the watch delivered it.
func cacheFile(name fleet.DeploymentName) string {
	if len(name) <= maxPlainName {
		return string(name) + cacheSuffix
	}
	sum := sha256.Sum256([]byte(name))
	return string(name[:maxPlainName-17]) + "-" + hex.EncodeToString(sum[:8]) + cacheSuffix
}

// OpenCache returns a Cache over the directory dir, creating it.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open desired cache: %w", err)
	}
	return &Cache{
		dir:     dir,
		legacy:  filepath.Clean(dir) + ".json",
		dirty:   make(chan struct{}, 1),
		values:  make(map[fleet.DeploymentName]string),
		written: make(map[fleet.DeploymentName]string),
	}, nil
}

// Load reads the cache into memory and returns its entries; none when
// it is empty. Entries of the one-file cache of earlier versions come
// first, overridden by the directory's (written later, by this version);
// Run moves them into the directory. Files that are not a valid entry
// are skipped and reported in the error, beside what could be read.
func (c *Cache) Load() ([]Entry, error) {
	var errs []error
	loaded := make(map[fleet.DeploymentName]string)
	legacy, err := c.loadLegacy()
	if err != nil {
		errs = append(errs, err)
	}
	maps.Copy(loaded, legacy)
	onDisk, err := c.loadDir()
	if err != nil {
		errs = append(errs, err)
	}
	maps.Copy(loaded, onDisk)

	c.mu.Lock()
	defer c.mu.Unlock()
	var entries []Entry
	for name, v := range loaded {
		c.values[name] = v
		entries = append(entries, Entry{Deployment: name, Value: []byte(v)})
	}
	c.written = onDisk
	if len(legacy) > 0 || c.legacyPending {
		c.legacyPending = true
		select { // move the legacy entries into the directory
		case c.dirty <- struct{}{}:
		default:
		}
	}
	return entries, errors.Join(errs...)
}

// loadLegacy reads the one-file cache of earlier versions, a JSON object
// of deployment name to value.
func (c *Cache) loadLegacy() (map[fleet.DeploymentName]string, error) {
	b, err := os.ReadFile(c.legacy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	c.legacyPending = true // read or not, it is to go
	if err != nil {
		return nil, fmt.Errorf("read desired cache: %w", err)
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("read desired cache %s: %w", c.legacy, err)
	}
	out := make(map[fleet.DeploymentName]string, len(raw))
	var errs []error
	for k, v := range raw {
		name, err := fleet.ParseDeploymentName(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("desired cache %s: %w", c.legacy, err))
			continue
		}
		out[name] = v
	}
	return out, errors.Join(errs...)
}

// loadDir reads the directory's entries.
func (c *Cache) loadDir() (map[fleet.DeploymentName]string, error) {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return map[fleet.DeploymentName]string{}, fmt.Errorf("read desired cache: %w", err)
	}
	out := make(map[fleet.DeploymentName]string, len(des))
	var errs []error
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") && strings.Contains(de.Name(), ".tmp-") {
			_ = os.Remove(filepath.Join(c.dir, de.Name())) // left by a crash mid-write
			continue
		}
		if !de.Type().IsRegular() || !strings.HasSuffix(de.Name(), cacheSuffix) {
			continue
		}
		path := filepath.Join(c.dir, de.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read desired cache: %w", err))
			continue
		}
		first, value, ok := bytes.Cut(b, []byte("\n"))
		if !ok {
			errs = append(errs, fmt.Errorf("desired cache %s: no deployment name line", path))
			continue
		}
		name, err := fleet.ParseDeploymentName(string(first))
		if err != nil {
			errs = append(errs, fmt.Errorf("desired cache %s: %w", path, err))
			continue
		}
		if cacheFile(name) != de.Name() {
			errs = append(errs, fmt.Errorf("desired cache %s: holds deployment %s, whose file is %s", path, name, cacheFile(name)))
			continue
		}
		out[name] = string(value)
	}
	return out, errors.Join(errs...)
}

// Apply takes u into the cache (a full update replaces it) and asks Run
// to write the files. It does no I/O.
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

// Run writes the files whenever the cache changed, until ctx is done;
// then it writes what is left and returns. It reports write errors through
// report (the agent logs them) and keeps going: a full disk must not stop
// the agent. An entry that could not be written is tried again at the
// next change.
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

// write brings the files to the values in memory: it writes each entry
// whose value differs from its file's, removes those of deployments gone,
// then the legacy file once every entry is written.
func (c *Cache) write() error {
	c.mu.Lock()
	snapshot := maps.Clone(c.values)
	c.mu.Unlock()
	var errs []error
	for name, v := range snapshot {
		if w, ok := c.written[name]; ok && w == v {
			continue
		}
		data := make([]byte, 0, len(name)+1+len(v))
		data = append(append(append(data, name...), '\n'), v...)
		if err := atomicfile.Write(filepath.Join(c.dir, cacheFile(name)), data, 0o600); err != nil {
			errs = append(errs, fmt.Errorf("write desired cache %s: %w", name, err))
			continue
		}
		c.written[name] = v
	}
	removed := false
	for name := range c.written {
		if _, ok := snapshot[name]; ok {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, cacheFile(name))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("write desired cache: %w", err))
			continue
		}
		delete(c.written, name)
		removed = true
	}
	if removed {
		if err := syncDir(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("write desired cache: %w", err))
		}
	}
	if c.legacyPending && len(errs) == 0 {
		err := os.Remove(c.legacy)
		if err == nil {
			err = syncDir(filepath.Dir(c.legacy))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("write desired cache: %w", err))
		} else {
			c.legacyPending = false
		}
	}
	return errors.Join(errs...)
}

// syncDir makes the removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
