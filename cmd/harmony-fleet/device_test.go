//go:build embednats

package main

import (
	"encoding/json"
	"errors"
	"net"
	"os"
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

// freePort returns a TCP port free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDeviceLifecycle: creds bootstrap writes a server configuration that
// starts as written; device add issues creds that connect, device label
// changes the record, device remove revokes the user through the full
// resolver and deletes the record and desired keys.
func TestDeviceLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	port := freePort(t)
	if code, out, errOut := runCmd(t, "creds", "bootstrap", "--dir", dir, "--port", strconv.Itoa(port)); code != exitOK {
		t.Fatalf("creds bootstrap = %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := runCmd(t, "creds", "bootstrap", "--dir", dir); code != exitUsage {
		t.Errorf("second creds bootstrap = %d, want %d (never overwrite)", code, exitUsage)
	}
	for _, f := range []string{creds.OperatorKeyFile, creds.AccountSigningFile, creds.AdminCredsFile, creds.SystemCredsFile, creds.AccountKeyFile, creds.SystemKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v, want 0600", f, err, fi.Mode().Perm())
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, creds.ServerConfigFile))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
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
	admin := filepath.Join(dir, creds.AdminCredsFile)
	fleetCmd := func(args ...string) (int, string, string) {
		return runCmd(t, append(args, "-s", url, "--creds", admin)...)
	}
	if code, out, errOut := fleetCmd("init"); code != exitOK {
		t.Fatalf("init = %d\n%s%s", code, out, errOut)
	}

	credsOut := filepath.Join(t.TempDir(), "pi-1.creds")
	signing := filepath.Join(dir, creds.AccountSigningFile)
	if code, out, errOut := fleetCmd("device", "add", "pi-1", "--label", "site=lyon", "--label", "role=web", "--account-key", signing, "--creds-out", credsOut); code != exitOK {
		t.Fatalf("device add = %d\n%s%s", code, out, errOut)
	}
	if fi, err := os.Stat(credsOut); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("creds file: %v, want mode 0600", err)
	}
	if code, _, errOut := fleetCmd("device", "add", "pi-1"); code != exitFailure || !strings.Contains(errOut, "already enrolled") {
		t.Errorf("device add twice = %d %q, want %d, already enrolled", code, errOut, exitFailure)
	}
	if code, _, errOut := fleetCmd("device", "add", "pi-x", "--label", "a b=c"); code != exitUsage {
		t.Errorf("device add with a bad label = %d %q, want %d", code, errOut, exitUsage)
	}

	nc, err := nats.Connect(url, nats.UserCredentials(admin))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := ctxT(t)
	reg := func() fleet.DeviceRecord {
		kv, err := js.KeyValue(ctx, fleet.DeviceRegistryBucket)
		if err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, fleet.DeviceRegistryKey("pi-1"))
		if err != nil {
			t.Fatal(err)
		}
		var r fleet.DeviceRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	rec := reg()
	if rec.UserKey == "" || formatLabels(rec.Labels) != "role=web,site=lyon" {
		t.Fatalf("record = %+v, want a user key and role=web,site=lyon", rec)
	}

	if code, out, errOut := fleetCmd("device", "label", "pi-1", "role=db", "site-", "zone=a"); code != exitOK {
		t.Fatalf("device label = %d\n%s%s", code, out, errOut)
	}
	if got := formatLabels(reg().Labels); got != "role=db,zone=a" {
		t.Errorf("labels after device label = %s, want role=db,zone=a", got)
	}

	code, out, _ := runCmd(t, "device", "permissions", "pi-1")
	if code != exitOK || !strings.Contains(out, `"_INBOX_pi-1.>"`) || !strings.Contains(out, "allow_responses: { max: 1 }") {
		t.Errorf("device permissions = %d\n%s", code, out)
	}

	// The device connects with its creds; a desired key of it exists.
	dev, err := nats.Connect(url, nats.UserCredentials(credsOut), nats.CustomInboxPrefix(fleet.InboxPrefix("pi-1")), nats.MaxReconnects(0))
	if err != nil {
		t.Fatalf("connect with the issued creds: %v", err)
	}
	defer dev.Close()
	desired, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := desired.Put(ctx, "pi-1.web", []byte("{}")); err != nil {
		t.Fatal(err)
	}

	if code, out, errOut := fleetCmd("device", "remove", "pi-1", "--revoke-with", dir); code != exitOK {
		t.Fatalf("device remove = %d\n%s%s", code, out, errOut)
	}
	if _, err := desired.Get(ctx, "pi-1.web"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("desired pi-1.web after remove: %v, want not found", err)
	}
	_, err = nats.Connect(url, nats.UserCredentials(credsOut))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("connect after device remove: %v, want an authorization violation", err)
	}
	deadline := time.Now().Add(waitTimeout)
	for !dev.IsClosed() {
		if time.Now().After(deadline) {
			t.Fatal("the device's connection is still open after its revocation")
		}
		time.Sleep(20 * time.Millisecond) // polling the connection state
	}
}

// enrol writes device's registry record with labels, as device add does.
func (e fleetEnv) enrol(t *testing.T, device fleet.DeviceID, labels map[string]string) {
	t.Helper()
	args := []string{"device", "add", string(device)}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	if code, out, errOut := e.run(t, args...); code != exitOK {
		t.Fatalf("%v = %d\n%s%s", args, code, out, errOut)
	}
}

// TestSelectorMatchesRegistryLabels (issue 11, test 3): a device claiming
// role=db in its own snapshot is not targeted by --selector role=db; once
// an operator labels it so, it is.
func TestSelectorMatchesRegistryLabels(t *testing.T) {
	e := start(t, true)
	e.putInfo(t, "pi-1", map[string]string{"role": "db"}, time.Now(), nil)
	e.enrol(t, "pi-1", map[string]string{"site": "lyon"})
	e.enrol(t, "pi-2", map[string]string{"role": "db"})
	spec := writeFile(t, "db.json", `{"runtime":"process","command":["/bin/sleep","60"]}`)
	if code, _, errOut := e.run(t, "apply", "db", "-f", spec, "--selector", "role=db"); code != exitOK {
		t.Fatalf("apply --selector role=db = %d; stderr %s", code, errOut)
	}
	if got, want := e.desiredKeys(t), []string{"pi-2.db"}; !slices.Equal(got, want) {
		t.Fatalf("desired keys = %v, want %v (pi-1's own claim must not count)", got, want)
	}
	if code, _, errOut := e.run(t, "device", "label", "pi-1", "role=db"); code != exitOK {
		t.Fatalf("device label = %d; stderr %s", code, errOut)
	}
	if code, _, errOut := e.run(t, "apply", "db", "-f", spec, "--selector", "role=db"); code != exitOK {
		t.Fatalf("apply --selector role=db = %d; stderr %s", code, errOut)
	}
	if got, want := e.desiredKeys(t), []string{"pi-1.db", "pi-2.db"}; !slices.Equal(got, want) {
		t.Fatalf("desired keys after device label = %v, want %v", got, want)
	}
}
