package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
	"github.com/harmony-edge/harmony-agent/internal/config"
	"github.com/harmony-edge/harmony-agent/internal/trust"
)

const testDevice fleet.DeviceID = "pi-017"

// testKey returns a new account key pair and its public key.
func testKey(t *testing.T) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

func signFor(t *testing.T, kp nkeys.KeyPair, name fleet.DeploymentName, gen uint64, s fleet.DeploymentSpec) []byte {
	t.Helper()
	b, err := signed.Sign(kp, signed.Statement{DeviceID: testDevice, Deployment: name, Generation: gen, Spec: s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decoderFor returns a decoder of a config trusting keys over stateDir,
// the reasons it refused, and its log.
func decoderFor(t *testing.T, stateDir string, keys ...string) (*decoder, *[]string, *observer.ObservedLogs) {
	t.Helper()
	cfg := config.Default()
	cfg.DeviceID, cfg.StateDir, cfg.Trust.Keys = testDevice, stateDir, keys
	cfg.Runtime.Process.DefaultUser = "harmony-app"
	core, logs := observer.New(zapcore.InfoLevel)
	var reasons []string
	d := newDecoder(cfg, func(r string) { reasons = append(reasons, r) }, zap.New(core))
	return d, &reasons, logs
}

func TestDecoder(t *testing.T) {
	kp, pub := testKey(t)
	other, _ := testKey(t)
	sleeper := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"sleep", "60"}}
	asRoot := sleeper
	asRoot.User = "root"
	bare, _ := json.Marshal(sleeper)
	tests := []struct {
		name   string
		keys   []string
		value  []byte
		want   string // "" accepted, else the error's text contains it
		reason string
	}{
		{"signed by a trusted key", []string{pub}, signFor(t, kp, "web", 1, sleeper), "", ""},
		{"bare, keys set", []string{pub}, bare, "unsigned value refused: trust.keys is set", RefusedUnsigned},
		{"bare, no keys", nil, bare, "", ""},
		{"untrusted key", []string{pub}, signFor(t, other, "web", 1, sleeper), "untrusted key ", RefusedUntrusted},
		{"other deployment", []string{pub}, signFor(t, kp, "api", 1, sleeper), "signed for deployment api", RefusedDeployment},
		{"signed but outside the policy", []string{pub}, signFor(t, kp, "web", 1, asRoot), `policy: refused: user: "root"`, RefusedPolicy},
		{"not JSON", []string{pub}, []byte("{nope"), "", RefusedInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, reasons, _ := decoderFor(t, t.TempDir(), tt.keys...)
			spec, err := d.Decode("web", tt.value)
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("Decode = %v, want accepted", err)
			case tt.reason == "" && spec.Command[0] != "sleep":
				t.Fatalf("Decode = %+v, want the sleeper", spec)
			case tt.reason != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Decode = %v, want an error containing %q", err, tt.want)
			}
			var want []string
			if tt.reason != "" {
				want = []string{tt.reason}
			}
			if strings.Join(*reasons, ",") != strings.Join(want, ",") {
				t.Errorf("refused reasons = %v, want %v", *reasons, want)
			}
		})
	}
}

// TestDecoderStoreUnreadable: a corrupt generation store is logged at
// error and every value is refused, saying so; nothing panics.
func TestDecoderStoreUnreadable(t *testing.T) {
	kp, pub := testKey(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, trust.StoreFile), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, reasons, logs := decoderFor(t, dir, pub)
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d error lines about the store, want 1: %v", n, logs.All())
	}
	_, err := d.Decode("web", signFor(t, kp, "web", 1, fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"sleep"}}))
	if err == nil || !strings.Contains(err.Error(), "trust store is unreadable") || !strings.Contains(err.Error(), trust.StoreFile) {
		t.Fatalf("Decode = %v, want a refusal naming the unreadable store", err)
	}
	if len(*reasons) != 1 || (*reasons)[0] != RefusedStore {
		t.Errorf("refused reasons = %v, want [%s]", *reasons, RefusedStore)
	}
}

// TestDecoderNotSaved: a generation that cannot be saved is logged at
// warn and the value is accepted.
func TestDecoderNotSaved(t *testing.T) {
	kp, pub := testKey(t)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	d, reasons, logs := decoderFor(t, dir, pub)
	// The state directory becomes a file: the store cannot be written.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := d.Decode("web", signFor(t, kp, "web", 7, fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"sleep"}}))
	if err != nil || len(spec.Command) == 0 {
		t.Fatalf("Decode = %+v, %v; want the spec accepted", spec, err)
	}
	if len(*reasons) != 0 {
		t.Errorf("refused reasons = %v, want none", *reasons)
	}
	if logs.FilterMessage("signed value accepted; its generation is not saved").FilterLevelExact(zapcore.WarnLevel).Len() != 1 {
		t.Errorf("no warn line about the unsaved generation: %v", logs.All())
	}
}
