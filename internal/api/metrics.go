package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// httpMetrics are the server's own metrics.
type httpMetrics struct {
	duration   *prometheus.HistogramVec
	sseClients prometheus.Gauge
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "harmony_api_request_duration_seconds",
			Help:    "Time to answer an API request, by route pattern, method and status code (event streams excluded).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "code"}),
		sseClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "harmony_api_event_streams",
			Help: "Event streams (/api/v1/events) open now.",
		}),
	}
	reg.MustRegister(m.duration, m.sseClients,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerFleetMetrics registers the collector reading the view at each
// scrape, and the callers' counter and gauge.
func (s *Server) registerFleetMetrics() {
	s.reg.MustRegister(&fleetCollector{view: s.opts.View})
	if f := s.opts.EventsFolded; f != nil {
		s.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "harmony_events_folded_total",
			Help: "State-change events folded into the live view.",
		}, func() float64 { return float64(f()) }))
	}
	if f := s.opts.LeaseHeld; f != nil {
		s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "harmony_controller_lease_held",
			Help: "1 when this replica holds the fleet-controller lease and acts, else 0.",
		}, func() float64 {
			if f() {
				return 1
			}
			return 0
		}))
	}
}

var (
	descDevices = prometheus.NewDesc("harmony_devices",
		"Devices by liveness (online: heartbeat within two intervals; offline: none for three).", []string{"liveness"}, nil)
	descPhase = prometheus.NewDesc("harmony_deployment_devices",
		"Devices of each deployment by phase.", []string{"deployment", "phase"}, nil)
	descTargeted = prometheus.NewDesc("harmony_deployment_targeted_devices",
		"Devices a fleet deployment's selector matches.", []string{"deployment"}, nil)
	descRollout = prometheus.NewDesc("harmony_rollout_devices",
		"A rollout's devices: targeted, updated, ready, failed, unavailable.", []string{"deployment", "status"}, nil)
	descRolloutState = prometheus.NewDesc("harmony_rollout_state",
		"1 for a rollout's current state.", []string{"deployment", "state"}, nil)
)

// fleetCollector turns the view into gauges at scrape time.
type fleetCollector struct{ view View }

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDevices, descPhase, descTargeted, descRollout, descRolloutState} {
		ch <- d
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.view.Ready() {
		return
	}
	for _, l := range []Liveness{LivenessOnline, LivenessStale, LivenessOffline} {
		_, n := c.view.Devices(DeviceQuery{Liveness: l})
		ch <- prometheus.MustNewConstMetric(descDevices, prometheus.GaugeValue, float64(n), string(l))
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, d := range c.view.Deployments() {
		name := string(d.Name)
		gauge(descPhase, d.Counts.Pending, name, "pending")
		gauge(descPhase, d.Counts.Running, name, "running")
		gauge(descPhase, d.Counts.Succeeded, name, "succeeded")
		gauge(descPhase, d.Counts.Failed, name, "failed")
		if d.Counts.Targeted != nil {
			gauge(descTargeted, *d.Counts.Targeted, name)
		}
		if ro := d.Rollout; ro != nil {
			gauge(descRollout, ro.Targeted, name, "targeted")
			gauge(descRollout, ro.Updated, name, "updated")
			gauge(descRollout, ro.Ready, name, "ready")
			gauge(descRollout, ro.Failed, name, "failed")
			gauge(descRollout, ro.Unavailable, name, "unavailable")
			gauge(descRolloutState, 1, name, string(ro.State))
		}
	}
}

// observe times every request but the event streams, by route pattern.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by the mux on r; empty when auth refused it
		if route == "/api/v1/events" {
			return
		}
		if route == "" {
			route = "none"
		}
		s.metrics.duration.WithLabelValues(route, r.Method, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

// statusRecorder keeps the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
