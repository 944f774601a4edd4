//go:build embednats

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// TestApplySigned: apply --signing-key writes, for each device, a value
// that verifies with fleet/signed for that device and deployment; the same
// spec again leaves it unchanged; a new spec (by the flag or the
// environment) gets a larger generation; a key file readable by others is
// refused and nothing is written.
func TestApplySigned(t *testing.T) {
	e := start(t, true)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.nk")
	code, stdout, stderr := runCmd(t, "keys", "new", "-o", keyFile)
	if code != exitOK {
		t.Fatalf("keys new = %d; stderr %s", code, stderr)
	}
	pub := strings.TrimSpace(stdout)
	spec1 := writeFile(t, "v1.yaml", "runtime: process\ncommand: [/bin/sleep, \"60\"]\n")
	spec2 := writeFile(t, "v2.yaml", "runtime: process\ncommand: [/bin/sleep, \"61\"]\n")
	spec3 := writeFile(t, "v3.yaml", "runtime: process\ncommand: [/bin/sleep, \"62\"]\n")
	kv := e.kv(t, fleet.DesiredStateBucket)
	devices := []fleet.DeviceID{"pi-017", "pi-018"}

	// verify reads every device's value and returns its statements.
	verify := func(what string) map[fleet.DeviceID]signed.Statement {
		t.Helper()
		out := map[fleet.DeviceID]signed.Statement{}
		for _, d := range devices {
			entry, err := kv.Get(ctxT(t), fleet.DesiredKey(d, "web"))
			if err != nil {
				t.Fatalf("%s: get %s: %v", what, d, err)
			}
			st, err := signed.Verify(entry.Value(), []string{pub}, d, "web")
			if err != nil {
				t.Fatalf("%s: the value of %s does not verify: %v\n%s", what, d, err, entry.Value())
			}
			// The value of one device is refused for another.
			other := devices[0]
			if d == other {
				other = devices[1]
			}
			if _, err := signed.Verify(entry.Value(), []string{pub}, other, "web"); err == nil || err.Error() != "signed for device "+string(d) {
				t.Errorf("%s: %s's value under %s: Verify = %v, want %q", what, d, other, err, "signed for device "+string(d))
			}
			out[d] = st
		}
		return out
	}
	apply := func(spec string, extra ...string) keysJSON {
		t.Helper()
		args := append([]string{"apply", "web", "-f", spec, "--device", "pi-017,pi-018", "-o", "json"}, extra...)
		code, stdout, stderr := e.run(t, args...)
		if code != exitOK {
			t.Fatalf("apply %s = %d; stderr %s", spec, code, stderr)
		}
		var k keysJSON
		if err := json.Unmarshal([]byte(stdout), &k); err != nil {
			t.Fatalf("apply -o json: %v\n%s", err, stdout)
		}
		return k
	}

	r := apply(spec1, "--signing-key", keyFile)
	first := verify("first apply")
	for _, k := range r.Keys {
		if k.Action != "created" || k.Generation != first[k.Device].Generation {
			t.Errorf("first apply %s: %+v, want created at generation %d", k.Device, k, first[k.Device].Generation)
		}
	}
	if got := first["pi-017"].Spec.Command; len(got) != 2 || got[1] != "60" {
		t.Errorf("signed spec command = %q, want [/bin/sleep 60]", got)
	}

	r = apply(spec1, "--signing-key", keyFile)
	same := verify("same spec again")
	for _, k := range r.Keys {
		if k.Action != "unchanged" || same[k.Device].Generation != first[k.Device].Generation {
			t.Errorf("same spec again %s: %+v, generation %d; want unchanged at %d", k.Device, k, same[k.Device].Generation, first[k.Device].Generation)
		}
	}

	r = apply(spec2, "--signing-key", keyFile)
	second := verify("second spec")
	for _, d := range devices {
		if second[d].Generation <= first[d].Generation {
			t.Errorf("second apply %s: generation %d, want above %d", d, second[d].Generation, first[d].Generation)
		}
	}
	for _, k := range r.Keys {
		if k.Action != "updated" {
			t.Errorf("second apply %s: %+v, want updated", k.Device, k)
		}
	}

	t.Setenv(signingKeyEnv, keyFile)
	apply(spec3)
	third := verify("third spec, key from the environment")
	for _, d := range devices {
		if third[d].Generation <= second[d].Generation {
			t.Errorf("third apply %s: generation %d, want above %d", d, third[d].Generation, second[d].Generation)
		}
	}

	// A key file readable by others: refused, exit 2, nothing written.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = e.run(t, "apply", "web", "-f", spec1, "--device", "pi-017", "--signing-key", keyFile)
	if code != exitUsage || !strings.Contains(stderr, "chmod 600 "+keyFile) {
		t.Errorf("apply with a 0644 key = %d, stderr %q; want %d with the chmod fix", code, stderr, exitUsage)
	}
	if now := verify("after the refused apply"); now["pi-017"].Generation != third["pi-017"].Generation {
		t.Errorf("a refused apply wrote pi-017: generation %d, want %d", now["pi-017"].Generation, third["pi-017"].Generation)
	}
}

// TestApplySignedOverBare: a key holding a bare spec, or a value signed by
// another key, is replaced by a signed value; the generation continues
// from the other key's.
func TestApplySignedOverBare(t *testing.T) {
	e := start(t, true)
	dir := t.TempDir()
	keyA, keyB := filepath.Join(dir, "a.nk"), filepath.Join(dir, "b.nk")
	var pubs []string
	for _, f := range []string{keyA, keyB} {
		code, stdout, stderr := runCmd(t, "keys", "new", "-o", f)
		if code != exitOK {
			t.Fatalf("keys new = %d; stderr %s", code, stderr)
		}
		pubs = append(pubs, strings.TrimSpace(stdout))
	}
	spec := writeFile(t, "v1.yaml", "runtime: process\ncommand: [/bin/true]\n")
	kv := e.kv(t, fleet.DesiredStateBucket)
	get := func() []byte {
		entry, err := kv.Get(ctxT(t), fleet.DesiredKey("pi-017", "web"))
		if err != nil {
			t.Fatal(err)
		}
		return entry.Value()
	}
	if code, _, stderr := e.run(t, "apply", "web", "-f", spec, "--device", "pi-017"); code != exitOK {
		t.Fatalf("apply unsigned = %d; stderr %s", code, stderr)
	}
	if signed.IsEnvelope(get()) {
		t.Fatal("apply without a key wrote an envelope")
	}
	// Signed by key B over the bare spec.
	if code, _, stderr := e.run(t, "apply", "web", "-f", spec, "--device", "pi-017", "--signing-key", keyB); code != exitOK {
		t.Fatalf("apply -signing-key b = %d; stderr %s", code, stderr)
	}
	stB, err := signed.Verify(get(), pubs[1:], "pi-017", "web")
	if err != nil {
		t.Fatalf("over a bare spec: %v", err)
	}
	if code, _, stderr := e.run(t, "apply", "web", "-f", spec, "--device", "pi-017", "--signing-key", keyA); code != exitOK {
		t.Fatalf("apply -signing-key a = %d; stderr %s", code, stderr)
	}
	stA, err := signed.Verify(get(), pubs[:1], "pi-017", "web")
	if err != nil {
		t.Fatalf("same spec under another key: %v (it must be re-signed)", err)
	}
	if stA.Generation <= stB.Generation {
		t.Errorf("generation under key A %d, want above key B's %d", stA.Generation, stB.Generation)
	}
}
