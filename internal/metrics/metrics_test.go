package metrics

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testRegistry() (*Registry, *Counter, *CounterVec, *Histogram) {
	r := &Registry{}
	c := r.Counter("test_events_total", "Events seen.")
	v := r.CounterVec("test_transitions_total", "Transitions by phase.", "phase", "running", "failed")
	r.GaugeFunc("test_depth", "Queue depth.", func() float64 { return 3 })
	r.GaugeVecFunc("test_by_phase", "Things by \"phase\"\nsecond line.", "phase", func() map[string]float64 {
		return map[string]float64{"running": 2, `we"ird\`: 1}
	})
	h := r.Histogram("test_latency_seconds", "Latency.", []float64{0.01, 0.1, 1})
	return r, c, v, h
}

// TestTextParses: what WriteText writes is what the Prometheus text
// parser reads, with the right values.
func TestTextParses(t *testing.T) {
	r, c, v, h := testRegistry()
	c.Inc()
	c.Inc()
	v.With("running").Inc()
	for _, x := range []float64{0.005, 0.05, 0.05, 5} {
		h.Observe(x)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", buf.String(), err)
	}
	if got := fams["test_events_total"].GetMetric()[0].GetCounter().GetValue(); got != 2 {
		t.Errorf("test_events_total = %v, want 2", got)
	}
	got := map[string]float64{}
	for _, m := range fams["test_transitions_total"].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	if got["running"] != 1 || got["failed"] != 0 || len(got) != 2 {
		t.Errorf("test_transitions_total = %v, want running 1, failed 0", got)
	}
	weird := false
	for _, m := range fams["test_by_phase"].GetMetric() {
		weird = weird || m.GetLabel()[0].GetValue() == `we"ird\`
	}
	if !weird {
		t.Errorf("a label value with a quote and a backslash did not round-trip:\n%s", buf.String())
	}
	hist := fams["test_latency_seconds"].GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 4 || hist.GetSampleSum() != 5.105 {
		t.Errorf("histogram count %d sum %v, want 4 and 5.105", hist.GetSampleCount(), hist.GetSampleSum())
	}
	wantCum := []uint64{1, 3, 3, 4} // the parser keeps the +Inf bucket
	for i, b := range hist.GetBucket() {
		if b.GetCumulativeCount() != wantCum[i] {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), wantCum[i])
		}
	}
}

func TestListen(t *testing.T) {
	r, c, _, _ := testRegistry()
	c.Inc()
	s, err := Listen("127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "test_events_total 1\n") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("GET /metrics = %d %q:\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	http.DefaultClient.CloseIdleConnections()
}
