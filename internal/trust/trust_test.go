package trust_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
	"github.com/harmony-edge/harmony-agent/internal/trust"
)

const bareSpec = `{"runtime":"process","command":["/bin/sleep","60"]}`

// key returns a fixed account key pair, n in every byte of its raw seed.
func key(t *testing.T, n byte) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteAccount, bytes.Repeat([]byte{n}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

// value signs a statement for device/deployment at generation gen.
func value(t *testing.T, kp nkeys.KeyPair, device fleet.DeviceID, deployment fleet.DeploymentName, gen uint64) []byte {
	t.Helper()
	spec, err := fleet.DecodeSpec([]byte(bareSpec))
	if err != nil {
		t.Fatal(err)
	}
	b, err := signed.Sign(kp, signed.Statement{DeviceID: device, Deployment: deployment, Generation: gen, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newVerifier(t *testing.T, dir string, keys ...string) *trust.Verifier {
	t.Helper()
	v, err := trust.New(keys, dir)
	if err != nil {
		t.Fatalf("trust.New(%v, %s) = %v", keys, dir, err)
	}
	return v
}

// check asserts that Check accepts value (wantMsg "") or refuses it with
// exactly wantMsg, matching wantErr.
func check(t *testing.T, v *trust.Verifier, deployment fleet.DeploymentName, value []byte, wantErr error, wantMsg string) {
	t.Helper()
	spec, err := v.Check("pi-017", deployment, value)
	if wantMsg == "" {
		if err != nil {
			t.Fatalf("Check(%s) = %v, want accepted", deployment, err)
		}
		if spec.Runtime != fleet.RuntimeProcess || spec.Command[0] != "/bin/sleep" {
			t.Errorf("Check(%s) spec = %+v, want the signed spec", deployment, spec)
		}
		return
	}
	if err == nil || err.Error() != wantMsg || (wantErr != nil && !errors.Is(err, wantErr)) {
		t.Fatalf("Check(%s) = %v, want %q (errors.Is %v)", deployment, err, wantMsg, wantErr)
	}
}

func TestCheckRefusals(t *testing.T) {
	trusted, trustedPub := key(t, 1)
	other, otherPub := key(t, 2)
	tampered := func() []byte {
		var m map[string]any
		if err := json.Unmarshal(value(t, trusted, "pi-017", "web", 30), &m); err != nil {
			t.Fatal(err)
		}
		m["payload"] = base64.StdEncoding.EncodeToString([]byte(`{"device_id":"pi-017","deployment":"web","generation":30,"spec":{"runtime":"process","command":["/bin/sh"]}}`))
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	v := newVerifier(t, t.TempDir(), trustedPub)
	check(t, v, "web", value(t, trusted, "pi-017", "web", 23), nil, "")
	tests := []struct {
		name    string
		value   []byte
		wantErr error
		wantMsg string
	}{
		{"bare spec", []byte(bareSpec), trust.ErrUnsigned, "unsigned value refused: trust.keys is set"},
		{"untrusted key", value(t, other, "pi-017", "web", 30), signed.ErrUntrustedKey, "untrusted key " + otherPub},
		{"tampered payload", tampered, signed.ErrBadSignature, "signature does not verify"},
		{"another device's value", value(t, trusted, "pi-016", "web", 30), signed.ErrWrongDevice, "signed for device pi-016"},
		{"another deployment's value", value(t, trusted, "pi-017", "db", 30), signed.ErrWrongDeployment, "signed for deployment db"},
		{"older generation", value(t, trusted, "pi-017", "web", 17), trust.ErrOlder, "generation 17 is older than 23"},
		{"not JSON", []byte(`{"payloadType":`), signed.ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantMsg == "" {
				if _, err := v.Check("pi-017", "web", tt.value); !errors.Is(err, tt.wantErr) {
					t.Fatalf("Check = %v, want errors.Is %v", err, tt.wantErr)
				}
				return
			}
			check(t, v, "web", tt.value, tt.wantErr, tt.wantMsg)
		})
	}
	// A refusal does not move the bar.
	if g, _ := v.Generation("web"); g != 23 {
		t.Errorf("Generation(web) = %d after refusals, want 23", g)
	}
	// The same value again is fine; a newer one raises the bar.
	check(t, v, "web", value(t, trusted, "pi-017", "web", 23), nil, "")
	check(t, v, "web", value(t, trusted, "pi-017", "web", 24), nil, "")
	check(t, v, "web", value(t, trusted, "pi-017", "web", 23), trust.ErrOlder, "generation 23 is older than 24")
	// Deployments have their own generations.
	check(t, v, "db", value(t, trusted, "pi-017", "db", 5), nil, "")
}

// TestRotation: with two keys trusted, values of either run; with the new
// key only, a value signed by the old one is refused.
func TestRotation(t *testing.T) {
	oldKP, oldPub := key(t, 1)
	newKP, newPub := key(t, 2)
	dir := t.TempDir()
	both := newVerifier(t, dir, oldPub, newPub)
	check(t, both, "web", value(t, oldKP, "pi-017", "web", 10), nil, "")
	check(t, both, "web", value(t, newKP, "pi-017", "web", 11), nil, "")
	onlyNew := newVerifier(t, dir, newPub)
	check(t, onlyNew, "web", value(t, oldKP, "pi-017", "web", 12), signed.ErrUntrustedKey, "untrusted key "+oldPub)
	check(t, onlyNew, "web", value(t, newKP, "pi-017", "web", 12), nil, "")
}

// TestRestartRemembers: a new Verifier on the same state directory
// remembers the generations, also of a deployment since removed (nothing
// forgets them).
func TestRestartRemembers(t *testing.T) {
	kp, pub := key(t, 1)
	dir := t.TempDir()
	v := newVerifier(t, dir, pub)
	check(t, v, "web", value(t, kp, "pi-017", "web", 23), nil, "")
	check(t, v, "gone", value(t, kp, "pi-017", "gone", 40), nil, "")
	info, err := os.Stat(filepath.Join(dir, trust.StoreFile))
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("store mode %v, want 0600", perm)
	}
	// Restart; the deployment "gone" was deleted from the bucket meanwhile.
	v = newVerifier(t, dir, pub)
	check(t, v, "web", value(t, kp, "pi-017", "web", 17), trust.ErrOlder, "generation 17 is older than 23")
	check(t, v, "gone", value(t, kp, "pi-017", "gone", 39), trust.ErrOlder, "generation 39 is older than 40")
	check(t, v, "web", value(t, kp, "pi-017", "web", 23), nil, "")
}

// TestNoKeys: without trust keys, bare specs are taken, and envelopes are
// decoded (and refused for another device) but their generation is not
// remembered.
func TestNoKeys(t *testing.T) {
	kp, _ := key(t, 1)
	dir := t.TempDir()
	v := newVerifier(t, dir)
	if v.Signed() {
		t.Error("Signed() = true without keys")
	}
	check(t, v, "web", []byte(bareSpec), nil, "")
	check(t, v, "web", value(t, kp, "pi-017", "web", 1<<40), nil, "")
	check(t, v, "web", value(t, kp, "pi-017", "web", 5), nil, "")
	check(t, v, "web", value(t, kp, "pi-016", "web", 5), signed.ErrWrongDevice, "signed for device pi-016")
	if _, err := v.Check("pi-017", "web", []byte(`{"runtime":"process"}`)); !errors.Is(err, fleet.ErrInvalidSpec) {
		t.Errorf("Check(invalid bare spec) = %v, want fleet.ErrInvalidSpec", err)
	}
	if _, ok := v.Generation("web"); ok {
		t.Error("an unverified generation was remembered")
	}
	if _, err := os.Stat(filepath.Join(dir, trust.StoreFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store written without keys: %v", err)
	}
}

// TestStoreUnwritable: an accepted value whose generation cannot be saved
// is still accepted, with an ErrNotSaved error to log; the generation is
// kept in memory and saved once the directory is back.
func TestStoreUnwritable(t *testing.T) {
	kp, pub := key(t, 1)
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, dir, pub)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	spec, err := v.Check("pi-017", "web", value(t, kp, "pi-017", "web", 23))
	if !errors.Is(err, trust.ErrNotSaved) || !strings.Contains(err.Error(), trust.StoreFile) {
		t.Fatalf("Check with no state directory = %v, want ErrNotSaved naming %s", err, trust.StoreFile)
	}
	if spec.Runtime != fleet.RuntimeProcess {
		t.Errorf("Check with no state directory returned spec %+v, want the accepted spec", spec)
	}
	check(t, v, "web", value(t, kp, "pi-017", "web", 17), trust.ErrOlder, "generation 17 is older than 23")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	check(t, v, "web", value(t, kp, "pi-017", "web", 23), nil, "") // the same generation: saved now
	v = newVerifier(t, dir, pub)
	if g, _ := v.Generation("web"); g != 23 {
		t.Errorf("after restart Generation(web) = %d, want 23", g)
	}
}

func TestNewRefuses(t *testing.T) {
	_, pub := key(t, 1)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	userPub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, trust.StoreFile), []byte(`{"version":1,"generations":{"a.b":3}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	truncated := t.TempDir()
	if err := os.WriteFile(filepath.Join(truncated, trust.StoreFile), []byte(`{"version":1,"gener`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []string
		dir  string
		want string
	}{
		{"user key", []string{pub, userPub}, t.TempDir(), "trust key 1: signed: not an account key"},
		{"no state directory", []string{pub}, "", "a state directory is needed"},
		{"corrupt store", []string{pub}, corrupt, "read " + filepath.Join(corrupt, trust.StoreFile)},
		{"truncated store", []string{pub}, truncated, "read " + filepath.Join(truncated, trust.StoreFile)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := trust.New(tt.keys, tt.dir); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestConcurrentChecks: workers check different deployments at once.
func TestConcurrentChecks(t *testing.T) {
	kp, pub := key(t, 1)
	dir := t.TempDir()
	v := newVerifier(t, dir, pub)
	names := []fleet.DeploymentName{"a", "b", "c", "d"}
	values := make(map[fleet.DeploymentName][][]byte)
	for _, n := range names {
		for g := uint64(1); g <= 5; g++ {
			values[n] = append(values[n], value(t, kp, "pi-017", n, g))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(names)*5) // one per Check at most
	for _, n := range names {
		wg.Go(func() {
			for _, b := range values[n] {
				if _, err := v.Check("pi-017", n, b); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Check: %v", err)
	}
	v = newVerifier(t, dir, pub)
	for _, n := range names {
		if g, _ := v.Generation(n); g != 5 {
			t.Errorf("after restart Generation(%s) = %d, want 5", n, g)
		}
	}
}
