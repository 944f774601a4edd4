package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// EventName is the SSE event name of a state change.
const EventName = "state_change"

// events streams the view's events as server-sent events:
//
//	event: state_change
//	data: {...StateChangeEvent...}
//
// with a comment line every KeepAlive, until the client goes or the
// server shuts down. ?device= and ?deployment= filter.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	var device fleet.DeviceID
	var deployment fleet.DeploymentName
	for k, vs := range r.URL.Query() {
		var err error
		switch k {
		case "device":
			device, err = fleet.ParseDeviceID(vs[0])
		case "deployment":
			deployment, err = fleet.ParseDeploymentName(vs[0])
		default:
			err = fmt.Errorf("unknown query parameter (want device, deployment)")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", k, err))
			return
		}
	}
	rc := http.NewResponseController(w)
	ch, stop := s.opts.View.Subscribe(r.Context())
	defer stop()
	s.metrics.sseClients.Inc()
	defer s.metrics.sseClients.Dec()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// retry: how long the browser waits before reconnecting.
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	keep := time.NewTicker(s.opts.KeepAlive)
	defer keep.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-keep.C:
			_, err = fmt.Fprint(w, ": keep-alive\n\n")
		case e, ok := <-ch:
			if !ok {
				return
			}
			if (device != "" && e.DeviceID != device) || (deployment != "" && e.Deployment != deployment) {
				continue
			}
			b, merr := json.Marshal(e)
			if merr != nil {
				s.log.Warn("encode event", zap.String("device", string(e.DeviceID)), zap.Error(merr))
				continue
			}
			_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", EventName, b)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return // the client is gone
		}
	}
}
