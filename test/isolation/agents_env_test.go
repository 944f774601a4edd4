//go:build embednats

package isolation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/daemon"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

const module = "github.com/harmony-edge/harmony-agent"

// bins are harmony-agent and harmony-fleet, built once (plain, as
// released) into binDir.
type bins struct{ agent, fleet string }

var (
	buildOnce sync.Once
	built     bins
	buildErr  error
)

func binaries(t *testing.T) bins {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), module+"/cmd/harmony-agent", module+"/cmd/harmony-fleet")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built = bins{agent: filepath.Join(binDir, "harmony-agent"), fleet: filepath.Join(binDir, "harmony-fleet")}
		t.Logf("built harmony-agent and harmony-fleet in %v", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// run runs bin with args and returns its exit code, stdout and stderr.
func run(t *testing.T, env []string, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	return 0, stdout.String(), stderr.String()
}

// fleetCLI runs harmony-fleet with the admin creds against the server.
func (e *env) fleetCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, nil, binaries(t).fleet, append(args, "-s", e.url(), "--creds", e.boot.AdminCreds)...)
}

func (e *env) mustFleet(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := e.fleetCLI(t, args...)
	if code != 0 {
		t.Fatalf("harmony-fleet %v = %d\n%s%s", args, code, out, errOut)
	}
	return out
}

var userKeyRE = regexp.MustCompile(`user (U[A-Z0-9]{55}),`)

// enrol enrols device id with harmony-fleet device add (registry record
// and issued creds), as an operator does.
func (e *env) enrol(t *testing.T, id fleet.DeviceID, labels ...string) {
	t.Helper()
	credsOut := filepath.Join(t.TempDir(), string(id)+".creds")
	args := []string{"device", "add", string(id), "--account-key", e.boot.AccountSigning, "--creds-out", credsOut}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	out := e.mustFleet(t, args...)
	m := userKeyRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("device add %s printed no user key:\n%s", id, out)
	}
	e.credsFile[id], e.userPub[id] = credsOut, m[1]
}

// agentRun is one harmony-agent run in-process (daemon.Run), logging at
// debug level.
type agentRun struct {
	id       fleet.DeviceID
	stateDir string
	logs     *observer.ObservedLogs
	text     *testsupport.SyncBuffer // the log as JSON lines
	done     chan error
	stop     context.CancelFunc
}

// agentConfig is device id's configuration: its creds file, the server,
// the process runtime only.
func (e *env) agentConfig(t *testing.T, id fleet.DeviceID) config.Config {
	cfg := config.Default()
	cfg.DeviceID = id
	cfg.StateDir = t.TempDir()
	cfg.NATS.URLs = []string{e.url()}
	cfg.NATS.CredsFile = e.credsFile[id]
	cfg.Runtime.Podman.Socket = ""
	cfg.Reconcile.StopTimeout = 5 * time.Second
	cfg.HeartbeatInterval = 2 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config of %s: %v", id, err)
	}
	return cfg
}

// startAgent runs an agent with cfg until the test ends (or stopAgent);
// the workloads it started are killed at the end of the test (stopping an
// agent never stops them).
func startAgent(t *testing.T, cfg config.Config) *agentRun {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	text := &testsupport.SyncBuffer{}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewTee(core, zapcore.NewCore(enc, zapcore.AddSync(text), zap.DebugLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	a := &agentRun{id: cfg.DeviceID, stateDir: cfg.StateDir, logs: logs, text: text, done: make(chan error, 1), stop: cancel}
	go func() { a.done <- daemon.Run(ctx, cfg, log, daemon.Options{Version: "isolation-test"}) }()
	t.Cleanup(func() {
		a.stopWait(t)
		killWorkloads(t, cfg.StateDir)
	})
	return a
}

// stopWait stops the agent and waits for Run to return.
func (a *agentRun) stopWait(t *testing.T) {
	t.Helper()
	a.stop()
	select {
	case err, ok := <-a.done:
		if !ok {
			return // stopped before
		}
		if err != nil {
			t.Errorf("agent %s: Run = %v", a.id, err)
		}
		close(a.done) // a second stopWait returns at once
	case <-time.After(waitTimeout):
		t.Errorf("agent %s: Run did not return within %s of the stop", a.id, waitTimeout)
	}
}

// killWorkloads kills the process workloads whose pid files are under
// stateDir.
func killWorkloads(t *testing.T, stateDir string) {
	files, _ := filepath.Glob(filepath.Join(stateDir, "process", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var pf struct {
			PID      int  `json:"pid"`
			ExitCode *int `json:"exit_code"`
		}
		if json.Unmarshal(b, &pf) == nil && pf.PID > 1 && pf.ExitCode == nil {
			if err := syscall.Kill(-pf.PID, syscall.SIGKILL); err != nil {
				_ = syscall.Kill(pf.PID, syscall.SIGKILL)
			}
		}
	}
}

// warned reports whether the agent logged, at warn, a message containing
// msg whose error contains errText.
func (a *agentRun) warned(msg, errText string) bool {
	for _, en := range a.logs.FilterLevelExact(zap.WarnLevel).All() {
		if !strings.Contains(en.Message, msg) {
			continue
		}
		for k, v := range en.ContextMap() {
			if k == "error" && strings.Contains(fmt.Sprint(v), errText) {
				return true
			}
		}
	}
	return false
}

// info returns device id's DeviceInfo as stored, read with the admin
// creds; false when there is none.
func (e *env) info(t *testing.T, id fleet.DeviceID) (fleet.DeviceInfo, bool) {
	t.Helper()
	ctx := ctxT(t, waitTimeout)
	kv, err := e.adminJS.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		return fleet.DeviceInfo{}, false
	}
	en, err := kv.Get(ctx, fleet.DeviceInfoKey(id))
	if err != nil {
		return fleet.DeviceInfo{}, false
	}
	var info fleet.DeviceInfo
	if err := json.Unmarshal(en.Value(), &info); err != nil {
		t.Fatalf("device-info %s: %v", id, err)
	}
	return info, true
}

// waitPhase waits until device id's DeviceInfo shows deployment dep in
// phase.
func (e *env) waitPhase(t *testing.T, id fleet.DeviceID, dep fleet.DeploymentName, phase fleet.Phase) fleet.DeviceInfo {
	t.Helper()
	var info fleet.DeviceInfo
	poll(t, fmt.Sprintf("DeviceInfo of %s shows %s %s", id, dep, phase), func() bool {
		var ok bool
		info, ok = e.info(t, id)
		return ok && info.Deployments[dep].Phase == phase
	})
	return info
}

// events returns the events stored on subject filter, in order, with
// their Msg-Ids (admin creds).
func (e *env) events(t *testing.T, filter string) ([]fleet.StateChangeEvent, []string) {
	t.Helper()
	ctx := ctxT(t, waitTimeout)
	c, err := e.adminJS.OrderedConsumer(ctx, fleet.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("consumer on %s: %v", filter, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pending := int(info.NumPending)
	var evs []fleet.StateChangeEvent
	var ids []string
	for len(evs) < pending {
		batch, err := c.Fetch(pending-len(evs), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev fleet.StateChangeEvent
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatalf("event on %s: %v", m.Subject(), err)
			}
			evs = append(evs, ev)
			ids = append(ids, m.Headers().Get(fleet.MsgIDHeader))
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("events on %s: %d of %d read, then nothing", filter, len(evs), pending)
		}
	}
	return evs, ids
}

// waitEvent waits until an event of device id's deployment dep to phase
// is stored, and returns the events of dep.
func (e *env) waitEvent(t *testing.T, id fleet.DeviceID, dep fleet.DeploymentName, to fleet.Phase) []fleet.StateChangeEvent {
	t.Helper()
	var evs []fleet.StateChangeEvent
	poll(t, fmt.Sprintf("an event of %s %s to %s", id, dep, to), func() bool {
		evs, _ = e.events(t, fleet.EventSubject(id, dep))
		for _, ev := range evs {
			if ev.Transition.To == to {
				return true
			}
		}
		return false
	})
	return evs
}

// putDesired writes device id's desired value of dep (admin creds).
func (e *env) putDesired(t *testing.T, id fleet.DeviceID, dep fleet.DeploymentName, value string) {
	t.Helper()
	ctx := ctxT(t, waitTimeout)
	kv, err := e.adminJS.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "put "+fleet.DesiredKey(id, dep), func() bool {
		_, err := kv.Put(ctx, fleet.DesiredKey(id, dep), []byte(value))
		return err == nil
	})
}
