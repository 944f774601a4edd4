package main

import (
	"os"
	"strings"
	"testing"
)

// TestCheckConfigTrustKeys: check-config names a bad trust key, and never
// shows a seed put where a public key belongs.
func TestCheckConfigTrustKeys(t *testing.T) {
	t.Setenv("HARMONY_AGENT_DEVICE_ID", "")
	os.Unsetenv("HARMONY_AGENT_DEVICE_ID")
	// The test seed of fleet/signed's golden vectors, and its public key.
	const (
		seed = "SAAACAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAKM5I"
		pub  = "ACFIRY65OQE7DFP5KLNS2PF2LVZMUZYJX4OZIEQ36N2IQANUB5XVYYOU"
	)
	state := t.TempDir()
	good := configFile(t, "device_id: pi-017\nstate_dir: "+state+"\ntrust:\n  keys: ["+pub+"]\n")
	if code, _, stderr := runCLI(t, "check-config", "--config", good); code != exitOK {
		t.Errorf("check-config with a good trust key = %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	bad := configFile(t, "device_id: pi-017\nstate_dir: "+state+"\ntrust:\n  keys: ["+pub+", AB3X, "+seed+"]\n")
	code, stdout, stderr := runCLI(t, "check-config", "--config", bad)
	if code != exitUsage {
		t.Errorf("check-config with bad trust keys = %d, want %d", code, exitUsage)
	}
	for _, want := range []string{`trust.keys[1]: signed: not an account key: "AB3X"`, "trust.keys[2]: signed: not an account key: a seed (a secret, not shown)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check-config stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout+stderr, seed) {
		t.Errorf("check-config shows the seed:\n%s%s", stdout, stderr)
	}
}
