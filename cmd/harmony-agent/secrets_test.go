package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigSecrets: check-config masks a password inside a URL, in
// its output and in its errors, and warns about a secret file others can
// read.
func TestCheckConfigSecrets(t *testing.T) {
	state := t.TempDir()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := configFile(t, "device_id: pi-017\nstate_dir: "+state+"\nnats:\n  urls: [\"nats://pi:hunter2@10.0.0.1:4222\"]\n  user: pi\n  password_file: "+pw+"\n")
	bad := configFile(t, "device_id: pi-017\nstate_dir: "+state+"\nnats:\n  urls: [\"http://pi:hunter2@10.0.0.1:4222\"]\n")
	tests := []struct {
		name, path string
		code       int
		want       string // in stdout or stderr
	}{
		{"valid", good, exitOK, "readable by group or others"},
		{"invalid URL", bad, exitUsage, `scheme "http"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "check-config", "--config", tt.path)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("check-config = %d, stdout %q, stderr %q; want %d saying %q", code, stdout, stderr, tt.code, tt.want)
			}
			if strings.Contains(stdout+stderr, "hunter2") {
				t.Errorf("check-config printed the password: stdout %q, stderr %q", stdout, stderr)
			}
		})
	}
}
