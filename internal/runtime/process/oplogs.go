package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// FollowPollInterval is how often Follow looks for new output.
const FollowPollInterval = 100 * time.Millisecond

// followChunkBytes bounds one chunk Follow sends.
const followChunkBytes = 32 << 10

// Logs returns the last tailLines lines of the deployment's output (its
// log, preceded by the previous segment when that is needed), at most
// maxBytes of them from a line start; truncated reports whether older
// lines were cut. It reads under the log's lock, so a cap or a new run
// never shows half done. runtime.ErrNoOutput when there is no log.
func (r *Runtime) Logs(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, tailLines, maxBytes int) ([]byte, bool, error) {
	if err := checkIDs(device, name); err != nil {
		return nil, false, fmt.Errorf("logs %s: %w", name, err)
	}
	if rec, ok, err := r.load(name); err == nil && ok && rec.Device != device {
		return nil, false, fmt.Errorf("logs %s: %w", name, runtime.ErrNotManaged)
	}
	path := r.logPath(name)
	want := maxBytes + 1
	lock := r.logs.of(name)
	lock.Lock()
	buf, err := readTail(path, int64(want))
	if err == nil && len(buf) < want {
		var prev []byte
		prev, err = readTail(path+prevSuffix, int64(want-len(buf)))
		buf = append(prev, buf...)
	}
	_, statErr := os.Stat(path)
	lock.Unlock()
	if err != nil {
		return nil, false, fmt.Errorf("logs %s: %w", name, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) && len(buf) == 0 {
		return nil, false, fmt.Errorf("logs %s: %w", name, runtime.ErrNoOutput)
	}
	out, truncated := runtime.LastLines(buf, tailLines, maxBytes, len(buf) < want)
	return out, truncated, nil
}

// Follow sends what the deployment writes from now on, in chunks of at
// most 32 KiB, until ctx is done or the runtime closes; then it closes
// the channel. It polls the log every FollowPollInterval, reading under
// the log's lock; when the log was cut (capped, or a new run began) it
// goes on from the log's new start. A slow reader holds Follow back: it
// buffers nothing beyond one chunk.
func (r *Runtime) Follow(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName) (<-chan []byte, error) {
	if err := checkIDs(device, name); err != nil {
		return nil, fmt.Errorf("follow %s: %w", name, err)
	}
	if rec, ok, err := r.load(name); err == nil && ok && rec.Device != device {
		return nil, fmt.Errorf("follow %s: %w", name, runtime.ErrNotManaged)
	}
	if r.isClosed() {
		return nil, fmt.Errorf("follow %s: %w", name, ErrClosed)
	}
	path := r.logPath(name)
	lock := r.logs.of(name)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	lock.Lock()
	off := size()
	lock.Unlock()
	ch := make(chan []byte) // unbuffered: the reader's pace is Follow's
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(ch)
		tick := time.NewTicker(FollowPollInterval)
		defer tick.Stop()
		for {
			lock.Lock()
			var chunk []byte
			if n := size(); n < off {
				off = 0 // cut: go on from the new start
			}
			if f, err := os.Open(path); err == nil {
				chunk, _ = io.ReadAll(io.NewSectionReader(f, off, followChunkBytes))
				f.Close()
			}
			lock.Unlock()
			if len(chunk) > 0 {
				off += int64(len(chunk))
				select {
				case ch <- chunk:
				case <-ctx.Done():
					return
				case <-r.closing:
					return
				}
				continue // more may be there already
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			case <-r.closing:
				return
			}
		}
	}()
	return ch, nil
}
