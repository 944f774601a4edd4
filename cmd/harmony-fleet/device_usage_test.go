package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// TestDeviceUsageErrors: bad input to device and creds exits 2 before any
// connection is made, saying what is wrong.
func TestDeviceUsageErrors(t *testing.T) {
	kp, _ := nkeys.CreateAccount()
	seed, _ := kp.Seed()
	open := filepath.Join(t.TempDir(), "open.nk")
	if err := os.WriteFile(open, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"device"}, "want a subcommand"},
		{"unknown subcommand", []string{"device", "frob"}, "unknown subcommand"},
		{"bad id", []string{"device", "add", "pi.1"}, "contains '.'"},
		{"bad label", []string{"device", "add", "pi-1", "--label", "role"}, "want k=v"},
		{"label with a space", []string{"device", "add", "pi-1", "--label", "role=a b"}, "contains ' '"},
		{"creds-out without key", []string{"device", "add", "pi-1", "--creds-out", "x.creds"}, "go with --account-key"},
		{"readable account key", []string{"device", "add", "pi-1", "--account-key", open, "--account", "A"}, "readable by group or others"},
		{"label without change", []string{"device", "label", "pi-1"}, "missing argument"},
		{"bad label change", []string{"device", "label", "pi-1", "role"}, "want k=v (set) or k- (remove)"},
		{"operator key alone", []string{"device", "remove", "pi-1", "--operator-key", "op.nk"}, "go together"},
		{"revoke-with and more", []string{"device", "remove", "pi-1", "--revoke-with", "d", "--system-creds", "s"}, "excludes"},
		{"bad nkey", []string{"device", "permissions", "pi-1", "--nkey", "AB"}, "not a user public key"},
		{"bootstrap without dir", []string{"creds", "bootstrap"}, "--dir is required"},
		{"creds without subcommand", []string{"creds"}, "want a subcommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("%v = %d, %q; want %d and %q", tt.args, code, errOut, exitUsage, tt.want)
			}
		})
	}
}

func TestDevicePermissionsCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "device", "permissions", "pi-1")
	if code != exitOK {
		t.Fatalf("device permissions = %d %s", code, errOut)
	}
	for _, want := range []string{`user: "pi-1"`, `"fleet.events.pi-1.>"`, `"_INBOX_pi-1.>"`, `"fleet.device.pi-1.>"`} {
		if !strings.Contains(out, want) {
			t.Errorf("device permissions lacks %s:\n%s", want, out)
		}
	}
}
