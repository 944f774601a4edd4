package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the program with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// configFile writes a configuration file and returns its path.
func configFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBadConfig: run and check-config exit 2 on a bad configuration, and
// name every key at fault.
func TestBadConfig(t *testing.T) {
	// No HARMONY_AGENT_ variable of the environment may mend the files.
	t.Setenv("HARMONY_AGENT_DEVICE_ID", "")
	os.Unsetenv("HARMONY_AGENT_DEVICE_ID")
	state := t.TempDir()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"unknown key", "device_id: pi-017\nstate_dir: " + state + "\nreconcile:\n  worker: 3\n",
			[]string{`unknown key "reconcile.worker"`, `did you mean "reconcile.workers"`}},
		{"bad duration", "device_id: pi-017\nstate_dir: " + state + "\nheartbeat_interval: soon\n",
			[]string{"heartbeat_interval", `"soon" is not a duration`}},
		{"duration without unit", "device_id: pi-017\nstate_dir: " + state + "\nreconcile:\n  backoff_initial: 5\n",
			[]string{"reconcile.backoff_initial", "give a unit"}},
		{"missing device_id", "state_dir: " + state + "\n",
			[]string{"device_id: required", "HARMONY_AGENT_DEVICE_ID"}},
		{"all at once", "state_dir: " + state + "\nreconcile:\n  worker: 3\nheartbeat_interval: soon\n",
			[]string{`"reconcile.worker"`, "heartbeat_interval", "device_id"}},
		{"not yaml", "device_id: [pi-017\n", []string{"parse config"}},
	}
	for _, tt := range tests {
		path := configFile(t, tt.text)
		for _, cmd := range []string{"run", "check-config"} {
			t.Run(tt.name+"/"+cmd, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, cmd, "--config", path)
				if code != exitUsage {
					t.Errorf("%s exit code = %d, want %d; stderr:\n%s", cmd, code, exitUsage, stderr)
				}
				for _, want := range append(tt.want, path) {
					if !strings.Contains(stderr, want) {
						t.Errorf("%s stderr does not name %q:\n%s", cmd, want, stderr)
					}
				}
				if strings.Contains(stderr, "usage: config") {
					t.Errorf("%s stderr calls a config error a usage error:\n%s", cmd, stderr)
				}
				if stdout != "" {
					t.Errorf("%s stdout = %q, want nothing", cmd, stdout)
				}
			})
		}
	}
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		for _, cmd := range []string{"run", "check-config"} {
			if code, _, stderr := runCLI(t, cmd, "--config", missing); code != exitUsage || !strings.Contains(stderr, missing) {
				t.Errorf("%s with a missing file: exit %d, stderr %q; want %d naming the file", cmd, code, stderr, exitUsage)
			}
		}
	})
}

// TestConfigEnvOverride: HARMONY_AGENT_DEVICE_ID supplies or overrides
// device_id, and HARMONY_AGENT_CONFIG names the file.
func TestConfigEnvOverride(t *testing.T) {
	state := t.TempDir()
	withoutID := configFile(t, "state_dir: "+state+"\n")
	withID := configFile(t, "device_id: from-file\nstate_dir: "+state+"\n")

	t.Setenv("HARMONY_AGENT_DEVICE_ID", "pi-env")
	for _, path := range []string{withoutID, withID} {
		code, stdout, stderr := runCLI(t, "check-config", "--config", path)
		if code != exitOK || !strings.Contains(stdout, "device pi-env") {
			t.Errorf("check-config %s with HARMONY_AGENT_DEVICE_ID=pi-env: exit %d, stdout %q, stderr %q; want 0 and device pi-env", path, code, stdout, stderr)
		}
	}
	t.Setenv("HARMONY_AGENT_CONFIG", withID)
	t.Setenv("HARMONY_AGENT_DEVICE_ID", "bad id")
	code, _, stderr := runCLI(t, "check-config")
	if code != exitUsage || !strings.Contains(stderr, withID) || !strings.Contains(stderr, "device_id") {
		t.Errorf("check-config with HARMONY_AGENT_DEVICE_ID=%q: exit %d, stderr %q; want %d naming %s and device_id", "bad id", code, stderr, exitUsage, withID)
	}
}

func TestVersion(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "1.2.3", "abc1234", "2026-11-26T10:00:00Z"
	for _, arg := range []string{"version", "--version"} {
		code, stdout, _ := runCLI(t, arg)
		if want := "harmony-agent 1.2.3 (commit abc1234, built 2026-11-26T10:00:00Z)\n"; code != exitOK || stdout != want {
			t.Errorf("%s = %d, %q, want %d, %q", arg, code, stdout, exitOK, want)
		}
	}
	if code, _, stderr := runCLI(t, "version", "extra"); code != exitUsage || !strings.Contains(stderr, `"extra"`) {
		t.Errorf("version extra = %d, %q, want %d naming the argument", code, stderr, exitUsage)
	}
}

func TestHelp(t *testing.T) {
	tests := [][]string{
		{"help"}, {"--help"}, {"-h"},
		{"run", "--help"}, {"run", "-h"},
		{"check-config", "--help"},
		{"version", "--help"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, args...)
			if code != exitOK {
				t.Errorf("exit code = %d, want %d; stderr %q", code, exitOK, stderr)
			}
			if !strings.Contains(stdout, "Usage:") || !strings.Contains(stdout, "Examples:\n  harmony-agent ") {
				t.Errorf("stdout has no usage and examples:\n%s", stdout)
			}
			if args[0] != "help" && len(args) > 1 && !strings.Contains(stdout, "harmony-agent "+args[0]) {
				t.Errorf("help of %s does not show the command:\n%s", args[0], stdout)
			}
		})
	}
}

func TestBadUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"check-config", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("harmony-agent %q = %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}
