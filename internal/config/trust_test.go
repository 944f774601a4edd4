package config

import (
	"reflect"
	"strings"
	"testing"
)

// Account keys for the tests: public keys only, the seed of the first
// is the seed of fleet/signed's golden vectors (raw seed 0x01 x 32).
const (
	testAccountKey  = "ACFIRY65OQE7DFP5KLNS2PF2LVZMUZYJX4OZIEQ36N2IQANUB5XVYYOU"
	testAccountSeed = "SAAACAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAIBAEAQCAKM5I"
)

func TestValidateTrustKeys(t *testing.T) {
	seed := testAccountSeed
	tests := []struct {
		name     string
		keys     []string
		wantErrs []string
	}{
		{"none", nil, nil},
		{"one", []string{testAccountKey}, nil},
		{"not a key", []string{testAccountKey, "AB3X"}, []string{`trust.keys[1]: signed: not an account key: "AB3X" is not an nkey public key`}},
		{"a user key", []string{"UDWUSKGGFDI4FRXK5EBTRECZSVQSSWJHHJOGH6JWG3AUMFFMQ435C2U4"}, []string{"trust.keys[0]: signed: not an account key: UDWUSKGGFDI4FRXK5EBTRECZSVQSSWJHHJOGH6JWG3AUMFFMQ435C2U4 is a NATS user key"}},
		{"a seed", []string{seed}, []string{"trust.keys[0]: signed: not an account key: a seed (a secret, not shown)"}},
		{"twice", []string{testAccountKey, testAccountKey}, []string{"trust.keys[1]: " + testAccountKey + " is also trust.keys[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Trust.Keys = tt.keys
			err := c.Validate()
			if tt.wantErrs == nil {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			checkErrors(t, "Validate()", err, tt.wantErrs)
			if strings.Contains(err.Error(), seed) {
				t.Errorf("Validate() = %v: it shows a seed", err)
			}
		})
	}
}

func TestLoadTrustKeys(t *testing.T) {
	const second = "AD6ROJBYLKQMOW3E7N4M2YBPUHMZD7PL65VRHRMO24BOVSBV5H3BQHVO"
	t.Run("file", func(t *testing.T) {
		clearEnv(t)
		path := writeFile(t, "device_id: pi-017\ntrust:\n  keys:\n    - "+testAccountKey+"\n    - "+second+"\n")
		got, err := Load(path)
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if want := []string{testAccountKey, second}; !reflect.DeepEqual(got.Trust.Keys, want) {
			t.Errorf("Load trust.keys = %q, want %q", got.Trust.Keys, want)
		}
	})
	t.Run("environment", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("HARMONY_AGENT_DEVICE_ID", "pi-017")
		t.Setenv("HARMONY_AGENT_TRUST_KEYS", testAccountKey+", "+second)
		got, err := Load("")
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if want := []string{testAccountKey, second}; !reflect.DeepEqual(got.Trust.Keys, want) {
			t.Errorf("Load trust.keys = %q, want %q", got.Trust.Keys, want)
		}
	})
	t.Run("bad key named", func(t *testing.T) {
		clearEnv(t)
		path := writeFile(t, "device_id: pi-017\ntrust:\n  keys: [AB3X]\n")
		_, err := Load(path)
		checkErrors(t, "Load", err, []string{`trust.keys[0]: signed: not an account key: "AB3X"`})
	})
	t.Run("not a list", func(t *testing.T) {
		clearEnv(t)
		path := writeFile(t, "device_id: pi-017\ntrust:\n  keys: {a: b}\n")
		_, err := Load(path)
		checkErrors(t, "Load", err, []string{"trust.keys: a mapping is not a list of strings"})
	})
}
