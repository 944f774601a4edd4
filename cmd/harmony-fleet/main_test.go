package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runCmd runs harmony-fleet with args and returns its exit code and
// output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFile writes content to name in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"init", "--help"}, {"apply", "--help"}, {"delete", "-h"},
		{"status", "--help"}, {"devices", "--help"}, {"events", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, args...)
			if code != exitOK {
				t.Fatalf("run(%q) = %d, want %d; stderr %s", args, code, exitOK, errOut)
			}
			if !strings.Contains(out, "Examples:") {
				t.Errorf("run(%q) stdout has no Examples:\n%s", args, out)
			}
			if len(args) == 2 && !strings.Contains(out, "--server") {
				t.Errorf("run(%q) stdout does not list the connection flags:\n%s", args, out)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	spec := writeFile(t, "web.yaml", "runtime: process\ncommand: [/bin/true]\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"deploy"}, `unknown command "deploy"`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"devices", "extra"}, `unexpected argument "extra"`},
		{[]string{"status", "-o", "yaml"}, `--output "yaml": want table or json`},
		{[]string{"apply"}, "missing argument"},
		{[]string{"apply", "web.v2", "-f", spec, "--device", "pi-1"}, "contains '.'"},
		{[]string{"apply", "web", "-f", spec}, "--device ID or --selector"},
		{[]string{"apply", "web", "-f", spec, "--device", "pi-1", "--selector", "a=b"}, "exclude each other"},
		{[]string{"apply", "web", "-f", spec, "--selector", "site"}, `"site": want key=value`},
		{[]string{"apply", "web", "--device", "pi-1"}, "-f FILE"},
		{[]string{"apply", "web", "-f", spec, "--device", "pi 1"}, "whitespace"},
		{[]string{"delete", "web", "--device", "pi>"}, "wildcard"},
		{[]string{"events", "--deployment", "a*"}, "wildcard"},
		{[]string{"init", "--replicas", "7"}, "--replicas 7"},
		{[]string{"devices", "--user", "u"}, "--user and --password go together"},
		{[]string{"devices", "--token", "t", "--creds", "c"}, "give one of"},
		{[]string{"devices", "--tlscert", "c"}, "--tlscert and --tlskey"},
		{[]string{"devices", "--timeout", "0s"}, "--timeout"},
		{[]string{"devices", "-s", " , "}, "no URL"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runCmd(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("run(%q) = %d, want %d; stderr %s", tc.args, code, exitUsage, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tc.args, errOut, tc.want)
			}
		})
	}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func TestNoServer(t *testing.T) {
	url := "nats://127.0.0.1:" + closedPort(t)
	for _, args := range [][]string{
		{"devices", "-s", url},
		{"status", "-s", url},
		{"devices", "-s", url, "--token", "secret"}, // the path for secret values
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errOut := runCmd(t, args...)
			if code != exitFailure {
				t.Fatalf("run(%q) = %d, want %d; stderr %s", args, code, exitFailure, errOut)
			}
			want := "no NATS server at " + url + ": is the agent running with --dev, or set -s"
			if !strings.Contains(errOut, want) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", args, errOut, want)
			}
		})
	}
}

func TestServerFromEnvironment(t *testing.T) {
	url := "nats://127.0.0.1:" + closedPort(t)
	t.Setenv("HARMONY_FLEET_SERVER", url)
	code, _, errOut := runCmd(t, "devices")
	if code != exitFailure || !strings.Contains(errOut, "no NATS server at "+url) {
		t.Errorf("devices with $HARMONY_FLEET_SERVER=%s = %d, %q; want %d naming the server", url, code, errOut, exitFailure)
	}
	// A flag wins over the environment.
	other := "nats://127.0.0.1:" + closedPort(t)
	if _, _, errOut := runCmd(t, "devices", "-s", other); !strings.Contains(errOut, other) {
		t.Errorf("devices -s %s stderr = %q, want it to name %s", other, errOut, other)
	}
	t.Setenv("HARMONY_FLEET_TIMEOUT", "soon")
	if code, _, errOut := runCmd(t, "devices"); code != exitUsage || !strings.Contains(errOut, "$HARMONY_FLEET_TIMEOUT") {
		t.Errorf("devices with a bad $HARMONY_FLEET_TIMEOUT = %d, %q; want %d naming it", code, errOut, exitUsage)
	}
}

func TestMissingCredsFile(t *testing.T) {
	code, _, errOut := runCmd(t, "devices", "--creds", filepath.Join(t.TempDir(), "none.creds"))
	if code != exitUsage || !strings.Contains(errOut, "creds file") {
		t.Errorf("devices --creds <missing> = %d, %q; want %d naming the creds file", code, errOut, exitUsage)
	}
}

func TestLoadSpec(t *testing.T) {
	want := fleet.DeploymentSpec{
		Runtime: fleet.RuntimePodman,
		Image:   "docker.io/library/nginx:1.27",
		Env:     map[string]string{"MODE": "edge", "SINCE": "2026-11-26"},
		Ports:   []fleet.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
		Restart: fleet.RestartAlways, GracePeriodSeconds: fleet.DefaultGracePeriodSeconds,
	}
	for _, tc := range []struct{ name, content string }{
		{"web.yaml", `
# nginx at the edge
runtime: podman
image: docker.io/library/nginx:1.27
env: {MODE: edge, SINCE: 2026-11-26}
ports:
  - host_port: 8080
    container_port: 80
`},
		{"web.json", `{"image":"docker.io/library/nginx:1.27","runtime":"podman","env":{"MODE":"edge","SINCE":"2026-11-26"},"ports":[{"host_port":8080,"container_port":80}]}`},
		{"web.spec", `{"runtime":"podman","image":"docker.io/library/nginx:1.27","env":{"MODE":"edge","SINCE":"2026-11-26"},"ports":[{"host_port":8080,"container_port":80}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, value, err := loadSpec(writeFile(t, tc.name, tc.content))
			if err != nil {
				t.Fatalf("loadSpec: %v", err)
			}
			if fleet.SpecHash(spec) != fleet.SpecHash(want) {
				t.Errorf("loadSpec = %+v, want %+v", spec, want)
			}
			canonical, _ := json.Marshal(want)
			if !bytes.Equal(value, canonical) {
				t.Errorf("loadSpec value = %s, want %s", value, canonical)
			}
		})
	}
}

func TestLoadSpecYAMLScalars(t *testing.T) {
	_, _, err := loadSpec(writeFile(t, "proc.yaml", "runtime: process\ncommand: [/bin/echo]\nenv: {PORT: 8080}\n"))
	if err == nil || !strings.Contains(err.Error(), "env") || !strings.Contains(err.Error(), "quote the value") {
		t.Fatalf("loadSpec(env: {PORT: 8080}) error = %v, want one on env that says to quote", err)
	}
	// YAML 1.2: yes is a string; aliases expand; a timestamp stays as written.
	spec, _, err := loadSpec(writeFile(t, "proc.yaml", `
runtime: process
command: [/usr/bin/python3, -m, http.server, &port "8081"]
env: {A: yes, PORT: *port, SINCE: 2026-11-26T10:00:00Z}
`))
	if err != nil {
		t.Fatalf("loadSpec: %v", err)
	}
	if got := strings.Join(spec.Command, " "); got != "/usr/bin/python3 -m http.server 8081" {
		t.Errorf("command = %q, want %q", got, "/usr/bin/python3 -m http.server 8081")
	}
	if got := formatLabels(spec.Env); got != "A=yes,PORT=8081,SINCE=2026-11-26T10:00:00Z" {
		t.Errorf("env = %s, want A=yes,PORT=8081,SINCE=2026-11-26T10:00:00Z", got)
	}
}

func TestLoadSpecErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, content, want string }{
		{"unknown field", "web.yaml", "runtime: podman\nimage: nginx\nimagePullPolicy: always\n", `unknown field "imagePullPolicy"`},
		{"no image", "web.yaml", "runtime: podman\n", "image: required for runtime podman"},
		{"port range", "web.json", `{"runtime":"podman","image":"nginx","ports":[{"host_port":70000,"container_port":80}]}`, "ports[0].host_port: 70000 out of range"},
		{"wrong type", "web.yaml", "runtime: podman\nimage: nginx\nports: [{host_port: \"80\", container_port: 80}]\n", "host_port"},
		{"unknown runtime", "web.yaml", "runtime: docker\nimage: nginx\n", `unknown runtime "docker"`},
		{"relative path", "web.yaml", "runtime: process\ncommand: [./run]\n", "command[0]: relative path"},
		{"not yaml", "web.yaml", "runtime: [podman\n", "not YAML"},
		{"not json", "web.json", `{"runtime":"podman",}`, "not JSON"},
		{"two documents", "web.yaml", "runtime: podman\nimage: nginx\n---\nruntime: process\n", "second YAML document"},
		{"duplicate key", "web.yaml", "runtime: podman\nimage: a\nimage: b\n", `key "image" given twice`},
		{"empty", "web.yaml", "# nothing\n", "empty"},
		{"list", "web.yaml", "- runtime: podman\n", "want a JSON object"},
		{"nan", "web.yaml", "runtime: podman\nimage: nginx\ngrace_period_seconds: .nan\n", "not a JSON number"},
		{"merge key", "web.yaml", "base: &b {image: nginx}\nruntime: podman\n<<: *b\n", "merge keys"},
		{"too big", "web.json", `{"runtime":"process","command":["/bin/echo","` + strings.Repeat("x", fleet.MaxSpecBytes) + `"]}`, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			_, _, err := loadSpec(path)
			if err == nil {
				t.Fatalf("loadSpec(%q) = nil error, want one containing %q", tc.content, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("loadSpec(%q) = %v, want it to name %s and contain %q", tc.content, err, path, tc.want)
			}
		})
	}
	if _, _, err := loadSpec(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("loadSpec(missing file) = nil error")
	}
}

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{in: "site=lyon", want: map[string]string{"site": "lyon"}},
		{in: "site=lyon, tier=edge", want: map[string]string{"site": "lyon", "tier": "edge"}},
		{in: "empty=", want: map[string]string{"empty": ""}},
		{in: "a=1,a=1", want: map[string]string{"a": "1"}},
		{in: "a=1,a=2", wantErr: true},
		{in: "=x", wantErr: true},
		{in: "site", wantErr: true},
		{in: "a=1,", wantErr: true},
	} {
		got, err := parseSelector(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("parseSelector(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && formatLabels(got) != formatLabels(tc.want) {
			t.Errorf("parseSelector(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	labels := map[string]string{"site": "lyon", "tier": "edge"}
	for _, tc := range []struct {
		sel  map[string]string
		want bool
	}{
		{map[string]string{"site": "lyon"}, true},
		{map[string]string{"site": "lyon", "tier": "edge"}, true},
		{map[string]string{"site": "lyon", "tier": "core"}, false},
		{map[string]string{"rack": ""}, false},
	} {
		if got := matches(labels, tc.sel); got != tc.want {
			t.Errorf("matches(%v, %v) = %v, want %v", labels, tc.sel, got, tc.want)
		}
	}
}

func TestFormatAge(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{90 * time.Second, "90s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{119 * time.Minute, "119m"},
		{3 * time.Hour, "3h"},
		{72 * time.Hour, "3d"},
	} {
		if got := formatAge(tc.d); got != tc.want {
			t.Errorf("formatAge(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
