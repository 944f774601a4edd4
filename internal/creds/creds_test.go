package creds_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/internal/creds"
)

// TestDevicePermissionsLocked locks the literal permission set: 8.1, plus
// the consumer delete nats.go needs (test/isolation).
func TestDevicePermissionsLocked(t *testing.T) {
	p := creds.DevicePermissions("pi-1")
	wantPub := []string{
		"$KV.device-info.pi-1",
		"fleet.events.pi-1.>",
		"$JS.API.STREAM.INFO.KV_desired-state",
		"$JS.API.STREAM.INFO.KV_device-info",
		"$JS.API.CONSUMER.CREATE.KV_desired-state.*.$KV.desired-state.pi-1.>",
		"$JS.API.CONSUMER.DELETE.KV_desired-state.*",
		"$JS.FC.KV_desired-state.>",
	}
	wantSub := []string{"_INBOX_pi-1.>", "fleet.device.pi-1.>"}
	if !slices.Equal(p.PubAllow, wantPub) {
		t.Errorf("DevicePermissions(pi-1).PubAllow = %q, want %q", p.PubAllow, wantPub)
	}
	if !slices.Equal(p.SubAllow, wantSub) {
		t.Errorf("DevicePermissions(pi-1).SubAllow = %q, want %q", p.SubAllow, wantSub)
	}
	if p.RespMaxMsgs != 1 {
		t.Errorf("RespMaxMsgs = %d, want 1", p.RespMaxMsgs)
	}
}

func TestIssueDeviceUser(t *testing.T) {
	acct, _ := nkeys.CreateAccount()
	acctPub, _ := acct.PublicKey()
	signing, _ := nkeys.CreateAccount()
	signingPub, _ := signing.PublicKey()
	tests := []struct {
		name          string
		signer        nkeys.KeyPair
		wantIssuer    string
		wantIssuerAcc string
	}{
		{"signing key", signing, signingPub, acctPub},
		{"account key", acct, acctPub, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, pub, err := creds.IssueDeviceUser(tt.signer, acctPub, "pi-1")
			if err != nil {
				t.Fatalf("IssueDeviceUser: %v", err)
			}
			token, err := jwt.ParseDecoratedJWT(file)
			if err != nil {
				t.Fatal(err)
			}
			uc, err := jwt.DecodeUserClaims(token)
			if err != nil {
				t.Fatal(err)
			}
			if uc.Subject != pub || uc.Name != "pi-1" || uc.Issuer != tt.wantIssuer || uc.IssuerAccount != tt.wantIssuerAcc {
				t.Errorf("claims sub %s name %s iss %s issuer_account %s, want %s pi-1 %s %q", uc.Subject, uc.Name, uc.Issuer, uc.IssuerAccount, pub, tt.wantIssuer, tt.wantIssuerAcc)
			}
			want := creds.DevicePermissions("pi-1")
			if !slices.Equal(uc.Pub.Allow, want.PubAllow) || !slices.Equal(uc.Sub.Allow, want.SubAllow) || uc.Resp == nil || uc.Resp.MaxMsgs != 1 || len(uc.Pub.Deny)+len(uc.Sub.Deny) != 0 {
				t.Errorf("claims permissions %+v, want %+v", uc.Permissions, want)
			}
			kp, err := jwt.ParseDecoratedUserNKey(file)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := kp.PublicKey(); got != pub {
				t.Errorf("creds seed is of %s, want %s", got, pub)
			}
		})
	}
	if _, _, err := creds.IssueDeviceUser(signing, "not-a-key", "pi-1"); err == nil {
		t.Error("IssueDeviceUser with a bad account = nil error")
	}
	if _, _, err := creds.IssueDeviceUser(signing, acctPub, "pi.1"); err == nil {
		t.Error("IssueDeviceUser(pi.1) = nil error")
	}
}

func TestBootstrapAndRevoke(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	b, err := creds.Bootstrap(dir, 4222)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if _, err := creds.Bootstrap(dir, 4222); !errors.Is(err, creds.ErrBootstrapExists) {
		t.Errorf("second Bootstrap = %v, want ErrBootstrapExists", err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode: %v %v, want 0700", fi.Mode().Perm(), err)
	}
	for name, want := range map[string]os.FileMode{
		creds.OperatorKeyFile: 0o600, creds.SystemKeyFile: 0o600, creds.AccountKeyFile: 0o600,
		creds.AccountSigningFile: 0o600, creds.AdminCredsFile: 0o600, creds.SystemCredsFile: 0o600,
		creds.OperatorJWTFile: 0o644, creds.AccountJWTFile: 0o644, creds.ServerConfigFile: 0o644,
	} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want mode %04o", name, err, want)
		}
	}
	conf, _ := os.ReadFile(b.ConfigFile)
	for _, want := range []string{"port: 4222", "type: full", "system_account: " + b.SystemAccountPub, b.AccountPub + ": ey"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	acctJWT, _ := os.ReadFile(b.AccountJWT)
	ac, err := jwt.DecodeAccountClaims(strings.TrimSpace(string(acctJWT)))
	if err != nil {
		t.Fatal(err)
	}
	if !ac.SigningKeys.Contains(b.SigningKeyPub) || ac.Limits.JetStreamLimits.DiskStorage == 0 || ac.Issuer != b.OperatorPub {
		t.Errorf("account claims: signing keys %v, jetstream %+v, issuer %s", ac.SigningKeys, ac.Limits.JetStreamLimits, ac.Issuer)
	}

	op, err := creds.LoadSeed(b.OperatorKey, nkeys.PrefixByteOperator)
	if err != nil {
		t.Fatalf("LoadSeed(operator): %v", err)
	}
	if _, err := creds.LoadSeed(b.OperatorKey, nkeys.PrefixByteAccount); err == nil {
		t.Error("LoadSeed(operator key as account) = nil error")
	}
	signing, err := creds.LoadSeed(b.AccountSigning, nkeys.PrefixByteAccount)
	if err != nil {
		t.Fatal(err)
	}
	_, pub, err := creds.IssueDeviceUser(signing, b.AccountPub, "pi-2")
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now().Add(-time.Second)
	if ok, _ := creds.IsRevoked(string(acctJWT), pub, issued); ok {
		t.Fatal("revoked before Revoke")
	}
	revoked, err := creds.Revoke(string(acctJWT), op, pub, time.Now())
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if ok, err := creds.IsRevoked(revoked, pub, issued); err != nil || !ok {
		t.Errorf("IsRevoked after Revoke = %v, %v, want true", ok, err)
	}
	if sub, _ := creds.AccountPublicKey(revoked); sub != b.AccountPub {
		t.Errorf("revoked account subject %s, want %s", sub, b.AccountPub)
	}
	if _, err := creds.Revoke(string(acctJWT), signing, pub, time.Now()); err == nil {
		t.Error("Revoke signed by an account key = nil error")
	}
}

func TestLoadSeedRefusesReadableFile(t *testing.T) {
	kp, _ := nkeys.CreateAccount()
	seed, _ := kp.Seed()
	p := filepath.Join(t.TempDir(), "k.nk")
	if err := os.WriteFile(p, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.LoadSeed(p, nkeys.PrefixByteAccount); !errors.Is(err, creds.ErrInsecureFile) {
		t.Errorf("LoadSeed(0644) = %v, want ErrInsecureFile", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.LoadSeed(p, nkeys.PrefixByteAccount); err != nil {
		t.Errorf("LoadSeed(0600) = %v", err)
	}
}
