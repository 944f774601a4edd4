package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func TestKeysNew(t *testing.T) {
	file := filepath.Join(t.TempDir(), "signing.nk")
	code, stdout, stderr := runCmd(t, "keys", "new", "-o", file)
	if code != exitOK {
		t.Fatalf("keys new = %d; stderr %s", code, stderr)
	}
	pub := strings.TrimSpace(stdout)
	if !nkeys.IsValidPublicAccountKey(pub) {
		t.Fatalf("keys new printed %q, want an account public key", stdout)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("seed file mode %04o, want 0600", perm)
	}
	seed, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout+stderr, strings.TrimSpace(string(seed))) {
		t.Errorf("keys new printed the seed")
	}
	kp, err := nkeys.FromSeed(seed[:len(seed)-1])
	if err != nil {
		t.Fatalf("seed file: %v", err)
	}
	if got, _ := kp.PublicKey(); got != pub {
		t.Errorf("seed file's public key %s, printed %s", got, pub)
	}
	// Never overwritten.
	code, _, stderr = runCmd(t, "keys", "new", "-o", file)
	if code != exitFailure || !strings.Contains(stderr, "exists: not overwriting a key") {
		t.Errorf("keys new on an existing file = %d, stderr %q; want %d, not overwriting", code, stderr, exitFailure)
	}
	if again, _ := os.ReadFile(file); string(again) != string(seed) {
		t.Error("keys new changed an existing key file")
	}
	code, stdout, stderr = runCmd(t, "keys", "public", file)
	if code != exitOK || strings.TrimSpace(stdout) != pub {
		t.Errorf("keys public = %d, %q (stderr %s); want %s", code, stdout, stderr, pub)
	}
}

func TestKeysUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys", "new"}, exitUsage, "-o FILE"},
		{[]string{"keys", "rotate"}, exitUsage, `unknown subcommand "rotate"`},
		{[]string{"keys"}, exitUsage, "missing argument"},
		{[]string{"keys", "--help"}, exitOK, ""},
		{[]string{"keys", "public", "/nonexistent/key"}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("run(%q) = %d, stderr %q; want %d containing %q", tt.args, code, stderr, tt.code, tt.want)
			}
		})
	}
}

// TestLoadSigningKey: a key file readable by group or others is refused
// with the fix; a user seed or garbage is not a signing key.
func TestLoadSigningKey(t *testing.T) {
	dir := t.TempDir()
	acct, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, kp nkeys.KeyPair, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if kp != nil {
			s, err := kp.Seed()
			if err != nil {
				t.Fatal(err)
			}
			content = string(s) + "\n"
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.nk", acct, "", 0o600)
	readOnly := write("ro.nk", acct, "", 0o400)
	group := write("group.nk", acct, "", 0o640)
	world := write("world.nk", acct, "", 0o644)
	userSeed := write("user.nk", user, "", 0o600)
	garbage := write("garbage.nk", nil, "not a seed\n", 0o600)
	tests := []struct {
		file, want string
	}{
		{good, ""},
		{readOnly, ""},
		{group, "signing key " + group + " is readable by group or others (mode 0640): refused; fix with: chmod 600 " + group},
		{world, "(mode 0644): refused; fix with: chmod 600 " + world},
		{userSeed, "not an account seed"},
		{garbage, "not an nkey seed"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			kp, err := loadSigningKey(tt.file)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("loadSigningKey = %v", err)
				}
				want, _ := acct.PublicKey()
				if got, _ := kp.PublicKey(); got != want {
					t.Errorf("loadSigningKey public key %s, want %s", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadSigningKey = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
