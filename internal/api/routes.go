package api

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
)

//go:embed web
var webFiles embed.FS

// DefaultPageLimit and MaxPageLimit bound GET /api/v1/devices pages.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// routes builds the handler: metrics around authentication around the mux.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc, methods ...string) {
		mux.HandleFunc(pattern, allow(h, methods...))
	}
	handle("/api/v1/deployments", s.ready(s.listDeployments), http.MethodGet)
	handle("/api/v1/deployments/{name}", s.ready(s.getDeployment), http.MethodGet)
	handle("/api/v1/deployments/{name}/pause", s.rollout(Rollouts.Pause), http.MethodPost)
	handle("/api/v1/deployments/{name}/resume", s.rollout(Rollouts.Resume), http.MethodPost)
	handle("/api/v1/devices", s.ready(s.listDevices), http.MethodGet)
	handle("/api/v1/devices/{id}", s.ready(s.getDevice), http.MethodGet)
	handle("/api/v1/events", s.events, http.MethodGet)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s", r.URL.Path))
	})
	handle("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}, http.MethodGet, http.MethodHead)
	handle("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.opts.View.Ready() {
			writeError(w, http.StatusServiceUnavailable, "view not ready: still folding the fleet's state")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}, http.MethodGet, http.MethodHead)
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(s.log.Named("metrics"))})
	handle("/metrics", metrics.ServeHTTP, http.MethodGet)
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(web)
	handle("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	}, http.MethodGet, http.MethodHead)
	return s.observe(s.authenticate(mux))
}

// allow answers 405 with an Allow header to a method not in methods.
func allow(h http.HandlerFunc, methods ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(methods, ", ")))
	}
}

// ready answers 503 until the view is ready.
func (s *Server) ready(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.opts.View.Ready() {
			writeError(w, http.StatusServiceUnavailable, "view not ready: still folding the fleet's state")
			return
		}
		h(w, r)
	}
}

// authenticate lets in requests that carry the token (see Server), and
// turns GET /?token= into the cookie.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token == nil {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/" && r.URL.Query().Has("token") {
			if !s.tokenMatches(r.URL.Query().Get("token")) {
				s.unauthorized(w, r, "bad token")
				return
			}
			http.SetCookie(w, &http.Cookie{
				Name: TokenCookie, Value: string(s.cookie), Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
			})
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if ok, why := s.authorized(r); !ok {
			s.unauthorized(w, r, why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, why string) {
	s.log.Debug("unauthorized", zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr), zap.String("reason", why))
	w.Header().Set("WWW-Authenticate", `Bearer realm="harmony-fleet"`)
	writeError(w, http.StatusUnauthorized, why+" (send Authorization: Bearer <token>; in a browser open /?token=<token> once)")
}

// writeJSON writes v as the JSON body with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode response: `+strings.ReplaceAll(err.Error(), `"`, `'`)+`"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes {"error": msg} with status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// DeploymentList is GET /api/v1/deployments.
type DeploymentList struct {
	Deployments []Deployment `json:"deployments"`
}

// DeviceList is GET /api/v1/devices: one page, and how many match.
type DeviceList struct {
	Devices []Device `json:"devices"`
	Total   int      `json:"total"`
	Offset  int      `json:"offset"`
	Limit   int      `json:"limit"`
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	ds := s.opts.View.Deployments()
	if ds == nil {
		ds = []Deployment{}
	}
	writeJSON(w, http.StatusOK, DeploymentList{Deployments: ds})
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	name, err := fleet.ParseDeploymentName(r.PathValue("name"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("deployment %q: %v", r.PathValue("name"), err))
		return
	}
	d, ok := s.opts.View.Deployment(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown deployment %s", name))
		return
	}
	if d.Failing == nil {
		d.Failing = []FailingDevice{}
	}
	writeJSON(w, http.StatusOK, d)
}

// noQuery answers 400 and reports false when r has a query.
func noQuery(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s takes no query parameters", r.URL.Path))
		return false
	}
	return true
}

// parseDeviceQuery reads ?label=k=v (repeated), ?liveness=, ?limit=,
// ?offset=.
func parseDeviceQuery(q url.Values) (DeviceQuery, error) {
	dq := DeviceQuery{Limit: DefaultPageLimit}
	for k, vs := range q {
		switch k {
		case "label":
			for _, kv := range vs {
				lk, lv, ok := strings.Cut(kv, "=")
				if !ok {
					return dq, fmt.Errorf("label %q: want key=value", kv)
				}
				if err := fleet.ValidateLabel(lk, lv); err != nil {
					return dq, fmt.Errorf("label %q: %w", kv, err)
				}
				if dq.Labels == nil {
					dq.Labels = map[string]string{}
				}
				dq.Labels[lk] = lv
			}
		case "liveness":
			l := Liveness(q.Get(k))
			if !l.Valid() {
				return dq, fmt.Errorf("liveness %q: want online, stale or offline", q.Get(k))
			}
			dq.Liveness = l
		case "limit", "offset":
			n, err := strconv.Atoi(q.Get(k))
			if err != nil || n < 0 {
				return dq, fmt.Errorf("%s %q: want a number >= 0", k, q.Get(k))
			}
			if k == "offset" {
				dq.Offset = n
			} else if n > MaxPageLimit {
				return dq, fmt.Errorf("limit %d: at most %d", n, MaxPageLimit)
			} else {
				dq.Limit = n
			}
		default:
			return dq, fmt.Errorf("unknown query parameter %q (want label, liveness, limit, offset)", k)
		}
	}
	return dq, nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	dq, err := parseDeviceQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, total := s.opts.View.Devices(dq)
	if page == nil {
		page = []Device{}
	}
	now := s.opts.Now()
	for i := range page {
		page[i].HeartbeatAgeSeconds = heartbeatAge(page[i].HeartbeatAt, now)
	}
	writeJSON(w, http.StatusOK, DeviceList{Devices: page, Total: total, Offset: dq.Offset, Limit: dq.Limit})
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	if !noQuery(w, r) {
		return
	}
	id, err := fleet.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("device %q: %v", r.PathValue("id"), err))
		return
	}
	d, ok := s.opts.View.Device(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown device %s", id))
		return
	}
	d.HeartbeatAgeSeconds = heartbeatAge(d.HeartbeatAt, s.opts.Now())
	if d.RecentEvents == nil {
		d.RecentEvents = []fleet.StateChangeEvent{}
	}
	writeJSON(w, http.StatusOK, d)
}

// heartbeatAge returns the age of a heartbeat in seconds, to a tenth, or
// -1 for none.
func heartbeatAge(at, now time.Time) float64 {
	if at.IsZero() {
		return -1
	}
	return math.Round(max(now.Sub(at).Seconds(), 0)*10) / 10
}

// RolloutAction is the answer to POST .../pause and .../resume.
type RolloutAction struct {
	Deployment fleet.DeploymentName `json:"deployment"`
	Paused     bool                 `json:"paused"`
}

// rollout handles POST /api/v1/deployments/{name}/pause|resume with act.
func (s *Server) rollout(act func(Rollouts, context.Context, fleet.DeploymentName) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !noQuery(w, r) {
			return
		}
		name, err := fleet.ParseDeploymentName(r.PathValue("name"))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("deployment %q: %v", r.PathValue("name"), err))
			return
		}
		if s.opts.Rollouts == nil {
			writeError(w, http.StatusServiceUnavailable, "rollouts cannot be changed here: no controller")
			return
		}
		pause := strings.HasSuffix(r.URL.Path, "/pause")
		if err := act(s.opts.Rollouts, r.Context(), name); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrNotFound) {
				code = http.StatusNotFound
			}
			writeError(w, code, err.Error())
			return
		}
		s.log.Info("rollout changed", zap.String("deployment", string(name)), zap.Bool("paused", pause))
		writeJSON(w, http.StatusOK, RolloutAction{Deployment: name, Paused: pause})
	}
}
