//go:build embednats

package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
)

// listeningSockets returns the inodes of this process's TCP sockets in
// the LISTEN state.
func listeningSockets(t *testing.T) map[string]bool {
	t.Helper()
	mine := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testsupport.SkipOutsideCI(t, "no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	out := map[string]bool{}
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 9 && fs[3] == "0A" && mine[fs[9]] {
				out[fs[9]] = true
			}
		}
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestMetricsListenOff(t *testing.T) {
	srv := natstest.Start(t)
	cfg := agentConfig(t, srv.ClientURL())
	before := listeningSockets(t)
	core, logs := observer.New(zap.InfoLevel)
	ctx, stop := context.WithCancel(context.Background())
	done := start(t, ctx, cfg, zap.New(core))
	waitFor(t, "ready", func() bool { return logs.FilterMessage("ready").Len() == 1 })
	after := listeningSockets(t)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for s := range after {
		if !before[s] {
			t.Errorf("with metrics.listen off, the agent listens (socket %s)", s)
		}
	}
}

func TestMetricsListenOn(t *testing.T) {
	srv := natstest.Start(t)
	cfg := agentConfig(t, srv.ClientURL())
	cfg.NATS.CreateResources = true
	addr := freeAddr(t)
	cfg.Metrics.Listen = ":" + addr[strings.LastIndexByte(addr, ':')+1:] // a bare port: 127.0.0.1
	core, logs := observer.New(zap.InfoLevel)
	ctx, stop := context.WithCancel(context.Background())
	done := start(t, ctx, cfg, zap.New(core))
	defer func() { stop(); <-done }()
	waitFor(t, "ready", func() bool { return logs.FilterMessage("ready").Len() == 1 })

	scrape := func() map[string]float64 {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("scrape does not parse: %v\n%s", err, body)
		}
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				key := name
				for _, l := range m.GetLabel() {
					key += fmt.Sprintf("{%s=%s}", l.GetName(), l.GetValue())
				}
				switch {
				case m.GetCounter() != nil:
					out[key] = m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					out[key] = m.GetGauge().GetValue()
				case m.GetHistogram() != nil:
					out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return out
	}
	first := scrape()
	for _, k := range []string{
		"harmony_agent_transitions_total{phase=running}", "harmony_agent_workload_restarts_total{reason=requested}",
		"harmony_agent_desired_refused_total{reason=invalid}", "harmony_agent_outbox_events",
		"harmony_agent_outbox_dropped_total", "harmony_agent_reconnects_total", "harmony_agent_publish_latency_seconds_count",
	} {
		if _, ok := first[k]; !ok {
			t.Errorf("scrape lacks %s", k)
		}
	}
	if first["harmony_agent_transitions_total{phase=running}"] != 0 {
		t.Errorf("transitions to running before any deployment = %v", first["harmony_agent_transitions_total{phase=running}"])
	}

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var kv jetstream.KeyValue
	waitFor(t, "the desired-state bucket", func() bool {
		kv, err = js.KeyValue(context.Background(), fleet.DesiredStateBucket)
		return err == nil
	})
	if _, err := kv.Put(context.Background(), fleet.DesiredKey(device, "web"), []byte(`{"runtime":"process","command":["/bin/sleep","600"],"grace_period_seconds":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), fleet.DesiredKey(device, "bad"), []byte(`{"runtime":"process"}`)); err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	waitFor(t, "the counters to move", func() bool {
		got = scrape()
		return got["harmony_agent_transitions_total{phase=running}"] >= 1 && got["harmony_agent_deployments{phase=running}"] == 1 &&
			got["harmony_agent_desired_refused_total{reason=invalid}"] >= 1 && got["harmony_agent_publish_latency_seconds_count"] >= 1
	})
	// Leave no process behind.
	if err := kv.Delete(context.Background(), fleet.DesiredKey(device, "web")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web removed", func() bool { return scrape()["harmony_agent_transitions_total{phase=removed}"] >= 1 })
	http.DefaultClient.CloseIdleConnections()
}
