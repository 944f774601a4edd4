package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Value returns the count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// CounterVec is a counter per value of one label.
type CounterVec struct {
	mu sync.Mutex
	m  map[string]*Counter // guarded by mu
}

// With returns the counter of label value v, creating it at zero.
func (c *CounterVec) With(v string) *Counter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[v] == nil {
		c.m[v] = &Counter{}
	}
	return c.m[v]
}

func (c *CounterVec) values() map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]float64, len(c.m))
	for k, v := range c.m {
		out[k] = float64(v.Value())
	}
	return out
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	upper []float64 // sorted bucket upper bounds, +Inf excluded

	mu     sync.Mutex
	counts []uint64 // guarded by mu; per bucket, not cumulative; last is +Inf
	sum    float64  // guarded by mu
	count  uint64   // guarded by mu
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.upper, v) // first bound >= v
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// DefaultLatencyBuckets suit round trips to a NATS server, in seconds.
var DefaultLatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Registry holds metrics in the order they were added, and writes them in
// the Prometheus text format.
type Registry struct {
	mu      sync.Mutex
	entries []entry // guarded by mu
}

type entry struct {
	name, help, typ string
	write           func(w *bufio.Writer, name string)
}

func (r *Registry) add(name, help, typ string, write func(*bufio.Writer, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entry{name: name, help: help, typ: typ, write: write})
}

// Counter adds a counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.add(name, help, "counter", func(w *bufio.Writer, n string) { sample(w, n, "", "", float64(c.Value())) })
	return c
}

// CounterVec adds a counter per value of label; every value in preset is
// written from the start, at zero.
func (r *Registry) CounterVec(name, help, label string, preset ...string) *CounterVec {
	c := &CounterVec{m: make(map[string]*Counter)}
	for _, v := range preset {
		c.With(v)
	}
	r.add(name, help, "counter", func(w *bufio.Writer, n string) { labelled(w, n, label, c.values()) })
	return c
}

// CounterFunc adds a counter whose value f reads at scrape time.
func (r *Registry) CounterFunc(name, help string, f func() float64) {
	r.add(name, help, "counter", func(w *bufio.Writer, n string) { sample(w, n, "", "", f()) })
}

// GaugeFunc adds a gauge whose value f reads at scrape time.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.add(name, help, "gauge", func(w *bufio.Writer, n string) { sample(w, n, "", "", f()) })
}

// GaugeVecFunc adds a gauge per value of label, read by f at scrape time.
func (r *Registry) GaugeVecFunc(name, help, label string, f func() map[string]float64) {
	r.add(name, help, "gauge", func(w *bufio.Writer, n string) { labelled(w, n, label, f()) })
}

// Histogram adds a histogram with the given bucket upper bounds.
func (r *Registry) Histogram(name, help string, buckets []float64) *Histogram {
	upper := slices.Clone(buckets)
	slices.Sort(upper)
	h := &Histogram{upper: upper, counts: make([]uint64, len(upper)+1)}
	r.add(name, help, "histogram", func(w *bufio.Writer, n string) {
		h.mu.Lock()
		counts, sum, count := slices.Clone(h.counts), h.sum, h.count
		h.mu.Unlock()
		var cum uint64
		for i, le := range h.upper {
			cum += counts[i]
			sample(w, n+"_bucket", "le", formatFloat(le), float64(cum))
		}
		sample(w, n+"_bucket", "le", "+Inf", float64(count))
		sample(w, n+"_sum", "", "", sum)
		sample(w, n+"_count", "", "", float64(count))
	})
	return h
}

// WriteText writes every metric in the Prometheus text format 0.0.4.
func (r *Registry) WriteText(out io.Writer) error {
	r.mu.Lock()
	entries := slices.Clone(r.entries)
	r.mu.Unlock()
	w := bufio.NewWriter(out)
	for _, e := range entries {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", e.name, escapeHelp(e.help), e.name, e.typ)
		e.write(w, e.name)
	}
	return w.Flush()
}

// ServeHTTP serves the text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = r.WriteText(w)
}

func labelled(w *bufio.Writer, name, label string, values map[string]float64) {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		sample(w, name, label, k, values[k])
	}
}

func sample(w *bufio.Writer, name, label, value string, v float64) {
	w.WriteString(name)
	if label != "" {
		w.WriteString("{" + label + `="` + escapeLabel(value) + `"}`)
	}
	w.WriteString(" " + formatFloat(v) + "\n")
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// Server is the local metrics listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Listen starts serving r on http://addr/metrics in a goroutine the
// Server owns; Close stops it.
func Listen(addr string, r *Registry) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r)
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener broke; Close still returns
		}
	}()
	return s, nil
}

// Addr is the address it listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the listener within a second and waits for its goroutine.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close()
	}
	<-s.done
}
