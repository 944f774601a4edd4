package config

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// clearEnv unsets every HARMONY_AGENT_* variable for the test, restoring
// them afterwards, so the developer's environment cannot leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "") // registers the restore
			os.Unsetenv(k)
		}
	}
}

// writeFile writes content to a file in a fresh temporary directory and
// returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("WriteFile(%q) = %v", path, err)
	}
	return path
}

// errorLines flattens the errors.Join tree under err into the messages of
// its leaves.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var lines []string
		for _, e := range j.Unwrap() {
			lines = append(lines, errorLines(e)...)
		}
		return lines
	}
	return []string{err.Error()}
}

// checkErrors fails t unless err is made of exactly one error per entry of
// want, each containing that entry, in any order.
func checkErrors(t *testing.T, call string, err error, want []string) {
	t.Helper()
	got := errorLines(err)
	used := make([]bool, len(got))
	ok := len(got) == len(want)
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && strings.Contains(g, w) {
				used[i], found = true, true
				break
			}
		}
		ok = ok && found
	}
	if !ok {
		t.Errorf("%s = errors\n\t%s\nwant one each containing\n\t%s",
			call, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestDefault(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	got := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"DeviceID", got.DeviceID, fleet.DeviceID("")},
		{"Labels", got.Labels, map[string]string(nil)},
		{"StateDir", got.StateDir, "/var/lib/harmony-agent"},
		{"NATS", got.NATS, NATS{URLs: []string{"nats://127.0.0.1:4222"}}},
		{"Runtime", got.Runtime, Runtime{Podman: Podman{Socket: DefaultPodmanSocket(), Init: true}, Process: Process{DefaultUser: DefaultProcessUser()}}},
		{"Policy", got.Policy, Policy{}},
		{"Reconcile", got.Reconcile, Reconcile{
			ResyncInterval: 30 * time.Second, Workers: 4, StopTimeout: 10 * time.Second,
			BackoffInitial: time.Second, BackoffMax: 5 * time.Minute,
		}},
		{"HeartbeatInterval", got.HeartbeatInterval, 30 * time.Second},
		{"History", got.History, History{Capacity: 256}},
		{"Outbox", got.Outbox, Outbox{Capacity: 10000}},
		{"Log", got.Log, Log{Level: "info", Format: "json"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("Default().%s = %#v, want %#v", c.name, c.got, c.want)
			}
		})
	}

	// Valid once a device id is set; not before.
	checkErrors(t, "Default().Validate()", got.Validate(), []string{"device_id: required"})
	got.DeviceID = "pi-017"
	if err := got.Validate(); err != nil {
		t.Errorf("Default() with a device id: Validate() = %v, want nil", err)
	}
}

func TestResolvePath(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  string
		want string
	}{
		{"default", "", "", DefaultPath},
		{"env", "", "/etc/other.yaml", "/etc/other.yaml"},
		{"flag wins", "./mine.yaml", "/etc/other.yaml", "./mine.yaml"},
		{"flag only", "/tmp/a.yaml", "", "/tmp/a.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HARMONY_AGENT_CONFIG", tt.env)
			if got := ResolvePath(tt.flag); got != tt.want {
				t.Errorf("ResolvePath(%q) = %q, want %q", tt.flag, got, tt.want)
			}
		})
	}
}

func TestPodmanSocket(t *testing.T) {
	tests := []struct {
		name       string
		euid       int
		runtimeDir string
		want       string
	}{
		{"root", 0, "/run/user/0", "/run/podman/podman.sock"},
		{"user", 1000, "/run/user/1000", "/run/user/1000/podman/podman.sock"},
		{"user without XDG_RUNTIME_DIR", 1001, "", "/run/user/1001/podman/podman.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podmanSocket(tt.euid, tt.runtimeDir); got != tt.want {
				t.Errorf("podmanSocket(%d, %q) = %q, want %q", tt.euid, tt.runtimeDir, got, tt.want)
			}
		})
	}

	t.Run("DefaultPodmanSocket", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
		want := podmanSocket(os.Geteuid(), "/run/user/4242")
		if got := DefaultPodmanSocket(); got != want {
			t.Errorf("DefaultPodmanSocket() = %q, want %q", got, want)
		}
	})
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"device_id":                 "HARMONY_AGENT_DEVICE_ID",
		"nats.urls":                 "HARMONY_AGENT_NATS_URLS",
		"nats.tls.ca_file":          "HARMONY_AGENT_NATS_TLS_CA_FILE",
		"reconcile.resync_interval": "HARMONY_AGENT_RECONCILE_RESYNC_INTERVAL",
		"labels":                    "HARMONY_AGENT_LABELS",
	}
	for key, want := range tests {
		t.Run(key, func(t *testing.T) {
			if got := envName(key); got != want {
				t.Errorf("envName(%q) = %q, want %q", key, got, want)
			}
		})
	}
	// No key may collide with the variable that names the file.
	for _, key := range knownKeys() {
		if envName(key) == PathEnv {
			t.Errorf("envName(%q) = %q, the file's own variable", key, PathEnv)
		}
	}
}

// Every leaf of Config must have a key, or Load could never set it.
func TestEveryFieldHasAKey(t *testing.T) {
	var c Config
	seen := map[any]bool{}
	for _, f := range fields {
		seen[reflect.ValueOf(f.ptr(&c)).Pointer()] = true
	}
	seen[reflect.ValueOf(&c.Labels).Pointer()] = true

	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		if v.Kind() == reflect.Struct {
			for i := range v.NumField() {
				walk(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
			return
		}
		if !seen[v.Addr().Pointer()] {
			t.Errorf("Config%s has no key in fields", name)
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")
}

func TestErrUnknownKeyIs(t *testing.T) {
	clearEnv(t)
	_, err := Load(writeFile(t, "device_id: pi-1\nnats:\n  ulrs: [nats://a]\n"))
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Load() = %v, want an error wrapping %v", err, ErrUnknownKey)
	}
}

func TestProcessUser(t *testing.T) {
	found := func(string) (*user.User, error) { return &user.User{Username: "pi"}, nil }
	missing := func(string) (*user.User, error) { return nil, user.UnknownUserIdError(1000) }
	tests := []struct {
		name   string
		euid   int
		lookup func(string) (*user.User, error)
		want   string
	}{
		{"root runs workloads as nobody", 0, found, "nobody"},
		{"an unprivileged agent runs them as itself", 1000, found, "pi"},
		{"a user without a name by uid:gid", 1000, missing, "1000:1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := processUser(tt.euid, 1001, tt.lookup); got != tt.want {
				t.Errorf("processUser(%d) = %q, want %q", tt.euid, got, tt.want)
			}
		})
	}
}

func TestProcessUsers(t *testing.T) {
	c := Default()
	c.Runtime.Process.DefaultUser = "harmony-app"
	if got := c.ProcessUsers(); !reflect.DeepEqual(got, []string{"harmony-app"}) {
		t.Errorf("ProcessUsers() with none listed = %v, want the default user alone", got)
	}
	c.Policy.Process.Users = []string{"a", "b"}
	if got := c.ProcessUsers(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("ProcessUsers() = %v, want [a b]", got)
	}
}
