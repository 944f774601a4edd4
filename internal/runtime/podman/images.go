package podman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// ErrPull is wrapped by the error Pull returns when the pull itself failed
// (unknown image, registry unreachable, denied), as opposed to the API not
// answering.
var ErrPull = errors.New("podman: pull failed")

// ImageExists reports whether the image is present in local storage.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := c.call(ctx, http.MethodGet, "/images/"+url.PathEscape(ref)+"/exists", nil, nil, nil)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("image exists %s: %w", ref, err)
}

// Pull pulls an image, calling progress (when non-nil) with each progress
// line as podman streams it. A failed pull returns an error wrapping ErrPull
// whose text is podman's message, such as "initializing source
// docker://localhost/nope:1: pinging container registry localhost: ...".
func (c *Client) Pull(ctx context.Context, ref string, progress func(line string)) error {
	q := url.Values{"reference": {ref}}
	resp, err := c.request(ctx, http.MethodPost, "/images/pull", q, nil)
	if err != nil {
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		return fmt.Errorf("pull %s: %w", ref, tagged(err.Error(), ErrPull, err))
	}
	defer resp.Body.Close()
	if err := readPullStream(resp.Body, progress); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pull %s: %w", ref, ctx.Err())
		}
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

// readPullStream reads libpod's pull report, one JSON object per line:
// {"stream":"..."} for progress, {"error":"..."} for the failure, then
// {"images":[...],"id":"..."} on success.
func readPullStream(r io.Reader, progress func(string)) error {
	dec := json.NewDecoder(r)
	var lastErr string
	var done bool
	for {
		var rep struct {
			Stream string   `json:"stream"`
			Error  string   `json:"error"`
			Images []string `json:"images"`
			ID     string   `json:"id"`
		}
		err := dec.Decode(&rep)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read pull report: %w", err)
		}
		if s := strings.TrimSpace(rep.Stream); s != "" && progress != nil {
			for _, line := range strings.Split(s, "\n") {
				progress(line)
			}
		}
		if rep.Error != "" {
			lastErr = strings.TrimSpace(rep.Error)
		}
		if rep.ID != "" || len(rep.Images) > 0 {
			done = true
		}
	}
	switch {
	case lastErr != "":
		return tagged(lastErr, ErrPull)
	case !done:
		return tagged("pull report ended without an image id", ErrPull)
	}
	return nil
}

// Info is the part of the info endpoint the agent uses.
type Info struct {
	// GraphRoot is the directory of the image and container store.
	GraphRoot string
	// GraphDriver is the storage driver (overlay, vfs, ...).
	GraphDriver string
	// Version is the podman version.
	Version string
}

// Info reports where podman stores images, and its version.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var j struct {
		Store struct {
			GraphRoot       string `json:"graphRoot"`
			GraphDriverName string `json:"graphDriverName"`
		} `json:"store"`
		Version struct {
			Version string `json:"Version"`
		} `json:"version"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/info", nil, nil, &j); err != nil {
		return Info{}, fmt.Errorf("info: %w", err)
	}
	return Info{GraphRoot: j.Store.GraphRoot, GraphDriver: j.Store.GraphDriverName, Version: j.Version.Version}, nil
}

// FreeDiskBytes reports the bytes available to podman under its image
// store, and the store's path. The store is on this host: the socket is
// local.
func (c *Client) FreeDiskBytes(ctx context.Context) (uint64, string, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("free disk: %w", err)
	}
	if info.GraphRoot == "" {
		return 0, "", fmt.Errorf("free disk: podman reports no graphRoot: %w", ErrAPI)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(info.GraphRoot, &st); err != nil {
		return 0, info.GraphRoot, fmt.Errorf("free disk under %s: %w", info.GraphRoot, err)
	}
	return st.Bavail * uint64(st.Bsize), info.GraphRoot, nil
}
