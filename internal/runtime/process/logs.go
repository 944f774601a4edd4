package process

import (
	"bytes"
	"errors"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// prevSuffix names the previous segment of a log: <deployment>.log.1.
const prevSuffix = ".1"

// openLog creates or truncates the log at path for a new run, removes its
// previous segment, and returns it opened for appending: the child gets
// this very file as stdout and stderr.
func openLog(path string) (*os.File, error) {
	if err := os.Remove(path + prevSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o640)
}

// readTail returns up to n bytes from the end of the file at path. A
// missing file reads as empty.
func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// The writer may append, or the capper truncate, meanwhile: read at
	// most n bytes from off, whatever is there.
	return io.ReadAll(io.NewSectionReader(f, max(fi.Size()-n, 0), n))
}

// lineTail returns at most n bytes of the end of a text, from a line start
// when one fits. b is the end of the text, up to n+1 bytes of it: with
// n+1, the first byte only tells whether the rest starts a line.
func lineTail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n-1:]
	lead, rest := b[0], b[1:]
	if lead == '\n' {
		return rest
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 && i+1 < len(rest) {
		return rest[i+1:]
	}
	return rest
}

// tailLog returns up to maxBytes of the end of a deployment's output: the
// log at path, preceded when it is short by the end of its previous
// segment, from a line start when one fits.
func tailLog(path string, maxBytes int) (string, error) {
	if maxBytes <= 0 {
		return "", nil
	}
	want := maxBytes + 1 // one byte of look-behind for lineTail
	buf, err := readTail(path, int64(want))
	if err != nil {
		return "", err
	}
	if len(buf) < want {
		prev, err := readTail(path+prevSuffix, int64(want-len(buf)))
		if err != nil {
			return "", err
		}
		buf = append(prev, buf...)
	}
	return string(lineTail(buf, maxBytes)), nil
}

// capLog keeps the log at path under maxBytes: when it is bigger, it is
// truncated and its last maxBytes/2 bytes (from a line start) become the
// previous segment. The child's descriptor is O_APPEND, so its next write
// lands at the new end. hook, when not nil, is called after each step
// ("read", "truncated"), for tests to hold the capper there. The caller holds the
// deployment's log lock: a start or a removal in between would have the
// new run's log truncated, or a removed log's segment written back.
func capLog(path string, maxBytes int64, hook func(step string)) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Size() <= maxBytes {
		return nil
	}
	keep := maxBytes / 2
	tail, err := readTail(path, keep+1)
	if err != nil {
		return err
	}
	if hook != nil {
		hook("read")
	}
	// Truncate at once: what the child writes between the read and the
	// truncation is lost, so nothing slow (the fsyncs) goes in between.
	if err := os.Truncate(path, 0); err != nil {
		return err
	}
	if hook != nil {
		hook("truncated")
	}
	return writeFileAtomic(path+prevSuffix, lineTail(tail, int(keep)))
}

// logNames returns the deployments whose logs are in dir.
func logNames(dir string) ([]fleet.DeploymentName, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	var names []fleet.DeploymentName
	for _, p := range paths {
		n := fleet.DeploymentName(strings.TrimSuffix(filepath.Base(p), ".log"))
		if n.Validate() == nil {
			names = append(names, n)
		}
	}
	return names, nil
}

// logLockStripes is how many locks the logs of all deployments share: a
// few, so that capping one log rarely delays the start of another.
const logLockStripes = 16

// logLocks serialise, per deployment, what touches its log files: opening
// it for a new run, capping it, reading its tail and deleting it.
type logLocks [logLockStripes]sync.Mutex

// of returns the lock of deployment name's log.
func (l *logLocks) of(name fleet.DeploymentName) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(name))
	return &l[h.Sum32()%logLockStripes]
}
