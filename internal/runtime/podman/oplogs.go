package podman

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// followChunkBytes bounds one chunk Follow sends.
const followChunkBytes = 32 << 10

// Logs returns the last tailLines lines of the container's stdout and
// stderr (interleaved as written), at most maxBytes of them from a line
// start; truncated reports whether older lines were cut.
// runtime.ErrNoOutput when there is no such container.
func (r *Runtime) Logs(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName, tailLines, maxBytes int) ([]byte, bool, error) {
	info, err := r.client.Inspect(ctx, ContainerName(name))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, false, fmt.Errorf("logs %s: %w", name, runtime.ErrNoOutput)
	case err != nil:
		return nil, false, fmt.Errorf("logs %s: %w", name, err)
	}
	if err := managed(info, device, name); err != nil {
		return nil, false, fmt.Errorf("logs %s: %w", name, err)
	}
	b, err := r.client.Logs(ctx, info.ID, tailLines, maxBytes+1)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, false, fmt.Errorf("logs %s: %w", name, runtime.ErrNoOutput)
	case err != nil:
		return nil, false, fmt.Errorf("logs %s: %w", name, err)
	}
	out, truncated := runtime.LastLines(b, tailLines, maxBytes, len(b) <= maxBytes)
	return out, truncated, nil
}

// Follow sends what the container writes from now on (stdout and
// stderr), in chunks of at most 32 KiB, until ctx is done or the
// container goes away; then it closes the channel. A slow reader holds
// the stream back: nothing is buffered beyond one chunk.
func (r *Runtime) Follow(ctx context.Context, device fleet.DeviceID, name fleet.DeploymentName) (<-chan []byte, error) {
	info, err := r.client.Inspect(ctx, ContainerName(name))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("follow %s: %w", name, runtime.ErrNoOutput)
	case err != nil:
		return nil, fmt.Errorf("follow %s: %w", name, err)
	}
	if err := managed(info, device, name); err != nil {
		return nil, fmt.Errorf("follow %s: %w", name, err)
	}
	q := url.Values{"stdout": {"true"}, "stderr": {"true"}, "follow": {"true"}, "tail": {"0"}}
	resp, err := r.client.request(ctx, http.MethodGet, "/containers/"+url.PathEscape(info.ID)+"/logs", q, nil)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", name, err)
	}
	ch := make(chan []byte) // unbuffered: the reader's pace is the stream's
	go func() {             // owned by ctx: cancelling it ends the request, and so this
		defer close(ch)
		defer resp.Body.Close()
		_ = streamFrames(ctx, resp.Body, ch)
	}()
	return ch, nil
}

// streamFrames sends the payload of a log stream (multiplexed frames, or
// raw with a tty, as demux tells them apart) to ch, chunk by chunk.
func streamFrames(ctx context.Context, r io.Reader, ch chan<- []byte) error {
	send := func(b []byte) error {
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	br := bufio.NewReader(r)
	head, err := br.Peek(8)
	if err != nil {
		return err
	}
	if head[0] > 2 || head[1] != 0 || head[2] != 0 || head[3] != 0 {
		for {
			buf := make([]byte, followChunkBytes)
			n, err := br.Read(buf)
			if n > 0 {
				if err := send(buf[:n]); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
		}
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		size := int64(binary.BigEndian.Uint32(hdr[4:]))
		for size > 0 {
			buf := make([]byte, min(size, followChunkBytes))
			if _, err := io.ReadFull(br, buf); err != nil {
				return err
			}
			size -= int64(len(buf))
			if err := send(buf); err != nil {
				return err
			}
		}
	}
}
