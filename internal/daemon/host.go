package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/hostinfo"
	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// graphRooter is what the podman runtime tells of its image store.
type graphRooter interface {
	GraphRoot(ctx context.Context) (string, error)
}

// graphRootRetry is how often an unknown graph root is asked for again;
// graphRootTimeout bounds one ask (it runs in the publisher's goroutine).
const (
	graphRootRetry   = time.Minute
	graphRootTimeout = time.Second
)

// hostSampler samples the host for each DeviceInfo: the state directory
// as the "state" disk and, once podman has told where it is, podman's
// store as the "images" disk.
type hostSampler struct {
	stateDir string
	podman   graphRooter // nil without podman

	mu        sync.Mutex
	sampler   *hostinfo.Sampler // guarded by mu; rebuilt when the disks change
	graphRoot string            // guarded by mu
	lastAsk   time.Time         // guarded by mu
}

func newHostSampler(stateDir string, runtimes map[fleet.RuntimeKind]runtime.Runtime) *hostSampler {
	h := &hostSampler{stateDir: stateDir}
	if g, ok := runtimes[fleet.RuntimePodman].(graphRooter); ok {
		h.podman = g
	}
	h.sampler = hostinfo.New(hostinfo.Options{Disks: h.disks()})
	return h
}

func (h *hostSampler) disks() map[string]string {
	d := map[string]string{fleet.DiskState: h.stateDir}
	if h.graphRoot != "" {
		d[fleet.DiskImages] = h.graphRoot
	}
	return d
}

// Sample is publisher.Config.Host.
func (h *hostSampler) Sample() fleet.HostInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.podman != nil && h.graphRoot == "" && time.Since(h.lastAsk) > graphRootRetry {
		h.lastAsk = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), graphRootTimeout)
		root, err := h.podman.GraphRoot(ctx)
		cancel()
		if err == nil {
			h.graphRoot = root
			// A new sampler loses one CPU sample: cpu_percent is absent once.
			h.sampler = hostinfo.New(hostinfo.Options{Disks: h.disks()})
		}
	}
	return h.sampler.Sample(time.Now())
}
