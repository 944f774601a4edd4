package podman

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

// ContainerSpec is what CreateContainer creates: the subset of libpod's
// SpecGenerator the agent uses.
type ContainerSpec struct {
	Name  string
	Image string
	// Command replaces the image's CMD (the ENTRYPOINT stays); empty keeps
	// the image's.
	Command []string
	Env     map[string]string
	Labels  map[string]string
	// WorkDir is the working directory; empty keeps the image's.
	WorkDir string
	Ports   []PortMapping
	Mounts  []Mount
	// StopTimeout is how long a stop waits after the stop signal before
	// SIGKILL; it is rounded up to whole seconds. Zero keeps podman's
	// default.
	StopTimeout time.Duration
	// NetNS is the network namespace mode: "" for podman's default (bridge
	// when rootful), "none", "host", "bridge", "private".
	NetNS string
	// Init runs an init process (catatonit) as PID 1, which forwards
	// signals and reaps zombies.
	Init bool
	// RestartPolicy is podman's restart policy ("no", "always",
	// "on-failure", "unless-stopped"); empty means podman's default.
	RestartPolicy string
}

// PortMapping publishes ContainerPort on HostPort.
type PortMapping struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	// Protocol is "tcp" (when empty), "udp" or "sctp".
	Protocol string
}

// Mount binds the host path Source at Destination.
type Mount struct {
	Source      string
	Destination string
	ReadOnly    bool
}

// specGenerator is the JSON body of containers/create.
type specGenerator struct {
	Name          string            `json:"name,omitempty"`
	Image         string            `json:"image"`
	Command       []string          `json:"command,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	WorkDir       string            `json:"work_dir,omitempty"`
	PortMappings  []portMapping     `json:"portmappings,omitempty"`
	Mounts        []mount           `json:"mounts,omitempty"`
	StopTimeout   *uint             `json:"stop_timeout,omitempty"`
	NetNS         *namespace        `json:"netns,omitempty"`
	Init          bool              `json:"init,omitempty"`
	RestartPolicy string            `json:"restart_policy,omitempty"`
}

type portMapping struct {
	HostIP        string `json:"host_ip,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	HostPort      uint16 `json:"host_port"`
	Protocol      string `json:"protocol,omitempty"`
}

type mount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options,omitempty"`
}

type namespace struct {
	NSMode string `json:"nsmode"`
}

// body returns the create request for s.
func (s ContainerSpec) body() (specGenerator, error) {
	g := specGenerator{
		Name:          s.Name,
		Image:         s.Image,
		Command:       s.Command,
		Env:           s.Env,
		Labels:        s.Labels,
		WorkDir:       s.WorkDir,
		Init:          s.Init,
		RestartPolicy: s.RestartPolicy,
	}
	if s.NetNS != "" {
		g.NetNS = &namespace{NSMode: s.NetNS}
	}
	if s.StopTimeout > 0 {
		secs := uint(math.Ceil(s.StopTimeout.Seconds()))
		g.StopTimeout = &secs
	}
	for _, p := range s.Ports {
		if p.HostPort < 1 || p.HostPort > 65535 || p.ContainerPort < 1 || p.ContainerPort > 65535 {
			return g, fmt.Errorf("port %d:%d: out of range 1-65535", p.HostPort, p.ContainerPort)
		}
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		g.PortMappings = append(g.PortMappings, portMapping{
			HostIP:        p.HostIP,
			ContainerPort: uint16(p.ContainerPort),
			HostPort:      uint16(p.HostPort),
			Protocol:      proto,
		})
	}
	for _, m := range s.Mounts {
		opts := []string{"rbind"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		g.Mounts = append(g.Mounts, mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	return g, nil
}

// CreateContainer creates a container and returns its id and podman's
// warnings (such as port mappings discarded for want of a network). An
// image that is not present locally is not pulled: the call fails with
// ErrNotFound.
func (c *Client) CreateContainer(ctx context.Context, s ContainerSpec) (id string, warnings []string, err error) {
	body, err := s.body()
	if err != nil {
		return "", nil, fmt.Errorf("create container %s: %w", s.Name, err)
	}
	var out struct {
		ID       string   `json:"Id"`
		Warnings []string `json:"Warnings"`
	}
	if _, err := c.call(ctx, http.MethodPost, "/containers/create", nil, body, &out); err != nil {
		return "", nil, fmt.Errorf("create container %s: %w", s.Name, err)
	}
	return out.ID, out.Warnings, nil
}

// Start starts a container; starting a running one is not an error.
func (c *Client) Start(ctx context.Context, nameOrID string) error {
	if _, err := c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(nameOrID)+"/start", nil, nil, nil); err != nil {
		return fmt.Errorf("start container %s: %w", nameOrID, err)
	}
	return nil
}

// Stop sends the container's stop signal and, after timeout (rounded up to
// whole seconds), SIGKILL; it returns once the container has stopped.
// Stopping a stopped container is not an error.
func (c *Client) Stop(ctx context.Context, nameOrID string, timeout time.Duration) error {
	q := url.Values{"timeout": {strconv.Itoa(int(math.Ceil(max(timeout, 0).Seconds())))}}
	if _, err := c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(nameOrID)+"/stop", q, nil, nil); err != nil {
		return fmt.Errorf("stop container %s: %w", nameOrID, err)
	}
	return nil
}

// Kill sends signal (like "SIGKILL" or "TERM"; empty means SIGKILL) to a
// running container; podman answers an error (500 "container state
// improper" in 4.x) when it does not run.
func (c *Client) Kill(ctx context.Context, nameOrID, signal string) error {
	if signal == "" {
		signal = "SIGKILL"
	}
	q := url.Values{"signal": {signal}}
	if _, err := c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(nameOrID)+"/kill", q, nil, nil); err != nil {
		return fmt.Errorf("kill container %s: %w", nameOrID, err)
	}
	return nil
}

// Remove deletes a container and its anonymous volumes. With force a
// running container is killed first; without, removing a running one fails
// with ErrConflict. ErrNotFound when there is no such container.
func (c *Client) Remove(ctx context.Context, nameOrID string, force bool) error {
	q := url.Values{"force": {strconv.FormatBool(force)}, "v": {"true"}}
	var reports []struct {
		ID  string `json:"Id"`
		Err string `json:"Err"`
	}
	if _, err := c.call(ctx, http.MethodDelete, "/containers/"+url.PathEscape(nameOrID), q, nil, &reports); err != nil {
		return fmt.Errorf("remove container %s: %w", nameOrID, err)
	}
	for _, r := range reports {
		if r.Err != "" {
			return fmt.Errorf("remove container %s: %w", nameOrID, &apiError{status: http.StatusInternalServerError, message: r.Err})
		}
	}
	return nil
}

// ContainerInfo is what Inspect reports of a container.
type ContainerInfo struct {
	ID     string
	Name   string
	Image  string
	Labels map[string]string
	// Status is podman's state name: created, configured, initialized,
	// running, paused, stopping, stopped, exited, removing, unknown.
	Status     string
	Running    bool
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	OOMKilled  bool
	// StopTimeout is the container's configured stop timeout.
	StopTimeout time.Duration
	// RestartPolicy is podman's restart policy name ("no" or "" for none).
	RestartPolicy string
	Mounts        []MountInfo
}

// MountInfo is one mount of an inspected container.
type MountInfo struct {
	Type        string
	Source      string
	Destination string
	RW          bool
}

type inspectJSON struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	Image string `json:"ImageName"`
	State struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		ExitCode   int       `json:"ExitCode"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
		OOMKilled  bool      `json:"OOMKilled"`
	} `json:"State"`
	Config struct {
		Labels      map[string]string `json:"Labels"`
		StopTimeout uint              `json:"StopTimeout"`
	} `json:"Config"`
	HostConfig struct {
		RestartPolicy struct {
			Name string `json:"Name"`
		} `json:"RestartPolicy"`
	} `json:"HostConfig"`
	Mounts []struct {
		Type        string `json:"Type"`
		Source      string `json:"Source"`
		Destination string `json:"Destination"`
		RW          bool   `json:"RW"`
	} `json:"Mounts"`
}

// Inspect reports a container; ErrNotFound when there is none.
func (c *Client) Inspect(ctx context.Context, nameOrID string) (ContainerInfo, error) {
	var j inspectJSON
	if _, err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(nameOrID)+"/json", nil, nil, &j); err != nil {
		return ContainerInfo{}, fmt.Errorf("inspect container %s: %w", nameOrID, err)
	}
	info := ContainerInfo{
		ID:            j.ID,
		Name:          j.Name,
		Image:         j.Image,
		Labels:        j.Config.Labels,
		Status:        j.State.Status,
		Running:       j.State.Running,
		ExitCode:      j.State.ExitCode,
		StartedAt:     nonZeroTime(j.State.StartedAt),
		FinishedAt:    nonZeroTime(j.State.FinishedAt),
		OOMKilled:     j.State.OOMKilled,
		StopTimeout:   time.Duration(j.Config.StopTimeout) * time.Second,
		RestartPolicy: j.HostConfig.RestartPolicy.Name,
	}
	for _, m := range j.Mounts {
		info.Mounts = append(info.Mounts, MountInfo{Type: m.Type, Source: m.Source, Destination: m.Destination, RW: m.RW})
	}
	return info, nil
}

// nonZeroTime maps podman's "0001-01-01T00:00:00Z" and the Unix epoch to
// the zero time.
func nonZeroTime(t time.Time) time.Time {
	if t.IsZero() || t.Unix() == 0 {
		return time.Time{}
	}
	return t
}

// ContainerSummary is one entry of List.
type ContainerSummary struct {
	ID     string
	Names  []string
	Image  string
	Labels map[string]string
	// State is podman's state name, as in ContainerInfo.Status.
	State string
}

// List reports every container (running or not) carrying all the given
// labels; each is "key" or "key=value".
func (c *Client) List(ctx context.Context, labels ...string) ([]ContainerSummary, error) {
	q := url.Values{"all": {"true"}}
	if len(labels) > 0 {
		f, err := json.Marshal(map[string][]string{"label": labels})
		if err != nil {
			return nil, err
		}
		q.Set("filters", string(f))
	}
	var out []struct {
		ID     string            `json:"Id"`
		Names  []string          `json:"Names"`
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
		State  string            `json:"State"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/containers/json", q, nil, &out); err != nil {
		return nil, fmt.Errorf("list containers %v: %w", labels, err)
	}
	list := make([]ContainerSummary, 0, len(out))
	for _, o := range out {
		list = append(list, ContainerSummary(o))
	}
	return list, nil
}

// Logs returns the end of a container's stdout and stderr, interleaved as
// written: at most the last tailLines lines (all when tailLines < 0), and of
// those at most the last maxBytes bytes (no limit when maxBytes <= 0),
// starting at a character boundary. ErrNotFound when there is no such
// container.
func (c *Client) Logs(ctx context.Context, nameOrID string, tailLines, maxBytes int) ([]byte, error) {
	q := url.Values{"stdout": {"true"}, "stderr": {"true"}}
	if tailLines >= 0 {
		q.Set("tail", strconv.Itoa(tailLines))
	}
	resp, err := c.request(ctx, http.MethodGet, "/containers/"+url.PathEscape(nameOrID)+"/logs", q, nil)
	if err != nil {
		return nil, fmt.Errorf("logs of container %s: %w", nameOrID, err)
	}
	defer resp.Body.Close()
	out, err := demux(resp.Body, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("logs of container %s: %w", nameOrID, err)
	}
	return out, nil
}

// demux reads a log stream and returns its payload, keeping only the last
// maxBytes (all when maxBytes <= 0). Without a tty, podman multiplexes the
// stream into frames, each an 8-byte header {stream, 0, 0, 0, size as
// big-endian uint32} and size bytes; with a tty the stream is raw, which is
// recognised by a first header that does not fit that shape.
func demux(r io.Reader, maxBytes int) ([]byte, error) {
	br := bufio.NewReader(r)
	var out []byte
	keep := func() {
		// Trim from the front when well over the limit, so that the
		// cost stays linear.
		if maxBytes > 0 && len(out) > 2*maxBytes {
			out = append(out[:0], out[len(out)-maxBytes:]...)
		}
	}
	head, err := br.Peek(8)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(head) < 8 || head[0] > 2 || head[1] != 0 || head[2] != 0 || head[3] != 0 {
		// Raw stream.
		buf := make([]byte, 32<<10)
		for {
			n, err := br.Read(buf)
			out = append(out, buf[:n]...)
			keep()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
		return tail(out, maxBytes), nil
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("read log frame header: %w", err)
		}
		size := int(binary.BigEndian.Uint32(hdr[4:]))
		start := len(out)
		out = append(out, make([]byte, size)...)
		if _, err := io.ReadFull(br, out[start:]); err != nil {
			return nil, fmt.Errorf("read log frame of %d bytes: %w", size, err)
		}
		keep()
	}
	return tail(out, maxBytes), nil
}

// tail returns the last maxBytes of b (all when maxBytes <= 0), moved
// forward to the start of a UTF-8 character.
func tail(b []byte, maxBytes int) []byte {
	if maxBytes <= 0 || len(b) <= maxBytes {
		return b
	}
	b = b[len(b)-maxBytes:]
	for i := 0; i < len(b) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(b[i]) {
			return b[i:]
		}
	}
	return b
}
