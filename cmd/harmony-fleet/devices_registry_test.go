//go:build embednats

package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/creds"
)

// TestClaimedLabelsInOperatorMode (issue 11, test 3, against an
// operator-mode server): pi-1, with its own issued creds, writes role=db
// into its own DeviceInfo, as a compromised device can; devices shows the
// claim apart from its registry labels, apply --selector role=db does not
// target it, and after device label pi-1 role=db it does.
func TestClaimedLabelsInOperatorMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	port := freePort(t)
	if code, out, errOut := runCmd(t, "creds", "bootstrap", "--dir", dir, "--port", strconv.Itoa(port)); code != exitOK {
		t.Fatalf("creds bootstrap = %d\n%s%s", code, out, errOut)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, creds.ServerConfigFile))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts.Host, opts.NoSigs, opts.NoLog = "127.0.0.1", true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	fleetCmd := func(args ...string) (int, string, string) {
		return runCmd(t, append(args, "-s", url, "--creds", filepath.Join(dir, creds.AdminCredsFile))...)
	}
	mustFleet := func(args ...string) string {
		t.Helper()
		code, out, errOut := fleetCmd(args...)
		if code != exitOK {
			t.Fatalf("%v = %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	mustFleet("init")
	signing := filepath.Join(dir, creds.AccountSigningFile)
	pi1Creds := filepath.Join(t.TempDir(), "pi-1.creds")
	mustFleet("device", "add", "pi-1", "--label", "site=lyon", "--account-key", signing, "--creds-out", pi1Creds)
	mustFleet("device", "add", "pi-2", "--label", "role=db", "--account-key", signing, "--creds-out", filepath.Join(t.TempDir(), "pi-2.creds"))

	// pi-1's claim, written with pi-1's creds on $KV.device-info.pi-1.
	nc, err := nats.Connect(url, nats.UserCredentials(pi1Creds), nats.CustomInboxPrefix(fleet.InboxPrefix("pi-1")))
	if err != nil {
		t.Fatalf("connect as pi-1: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	info, err := js.KeyValue(ctx, fleet.DeviceInfoBucket)
	if err != nil {
		t.Fatalf("pi-1 KeyValue(%s): %v", fleet.DeviceInfoBucket, err)
	}
	now := time.Now().UTC()
	claim, err := json.Marshal(fleet.DeviceInfo{
		DeviceID: "pi-1", AgentEpoch: epoch, AgentVersion: "0.3.0", Hostname: "pi-1", OS: "linux", Arch: "arm64",
		Labels: map[string]string{"role": "db"}, StartedAt: now, HeartbeatAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := info.Put(ctx, fleet.DeviceInfoKey("pi-1"), claim); err != nil {
		t.Fatalf("pi-1 puts its own DeviceInfo: %v", err)
	}

	out := mustFleet("devices")
	var pi1 []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "pi-1" {
			pi1 = f
		}
	}
	if len(pi1) < 4 || pi1[1] != "yes" || pi1[2] != "site=lyon" || pi1[3] != "role=db" {
		t.Errorf("devices row of pi-1 = %v, want enrolled, registry site=lyon, reported role=db:\n%s", pi1, out)
	}
	if !strings.Contains(out, "enrolled, never reported: pi-2") {
		t.Errorf("devices does not say pi-2 never reported:\n%s", out)
	}

	spec := writeFile(t, "db.json", `{"runtime":"process","command":["/bin/sleep","60"]}`)
	desiredKeys := func() []string {
		t.Helper()
		var got keysJSONForTest
		if err := json.Unmarshal([]byte(mustFleet("apply", "db", "-f", spec, "--selector", "role=db", "-o", "json")), &got); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range got.Keys {
			keys = append(keys, k.Key)
		}
		slices.Sort(keys)
		return keys
	}
	if got, want := desiredKeys(), []string{"pi-2.db"}; !slices.Equal(got, want) {
		t.Fatalf("apply --selector role=db wrote %v, want %v (pi-1's own claim must not count)", got, want)
	}
	mustFleet("device", "label", "pi-1", "role=db")
	if got, want := desiredKeys(), []string{"pi-1.db", "pi-2.db"}; !slices.Equal(got, want) {
		t.Fatalf("apply --selector role=db after device label wrote %v, want %v", got, want)
	}
}

// keysJSONForTest is the part of apply -o json this test reads.
type keysJSONForTest struct {
	Keys []struct {
		Key string `json:"key"`
	} `json:"keys"`
}
