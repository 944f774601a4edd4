package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// The README's cluster example puts the connection flags before the
// command: they are taken there as after it.
func TestFlagsBeforeCommand(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "operator.creds")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"readme cluster example", []string{"-s", "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222", "--creds", missing, "init", "--replicas", "3"}, exitUsage, "creds file"},
		{"flag=value", []string{"--server=nats://a:4222", "--creds=" + missing, "devices"}, exitUsage, "creds file"},
		{"timeout before", []string{"--timeout", "0s", "devices"}, exitUsage, "--timeout 0s: must be positive"},
		{"output before", []string{"-o", "yaml", "status"}, exitUsage, `status: --output "yaml": want table or json`},
		{"the command's checks still apply", []string{"-s", "nats://a:4222", "init", "--replicas", "9"}, exitUsage, "--replicas 9"},
		{"unknown flag before", []string{"--bogus", "status"}, exitUsage, "unknown flag: --bogus"},
		{"command flag before", []string{"--replicas", "3", "init"}, exitUsage, "unknown flag: --replicas"},
		{"no command", []string{"-s", "nats://a:4222"}, exitUsage, "no command after the flags"},
		{"unknown command", []string{"-s", "nats://a:4222", "bogus"}, exitUsage, `unknown command "bogus"`},
		{"missing value", []string{"-s"}, exitUsage, "flag needs an argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
			}
			if strings.Contains(errOut, `unknown command "-`) {
				t.Errorf("run(%q) took a flag for the command: %q", tc.args, errOut)
			}
		})
	}
	if code, out, _ := runCmd(t, "-s", "nats://a:4222", "--help"); code != exitOK || !strings.Contains(out, "Usage:") {
		t.Errorf("run(-s URL --help) = %d, %q; want the usage", code, out)
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantName string
		wantArgs []string
	}{
		{[]string{"status", "-s", "x"}, "status", []string{"-s", "x"}},
		{[]string{"-s", "nats://a:4222", "-o", "json", "status", "web"}, "status", []string{"--server=nats://a:4222", "--output=json", "web"}},
		{[]string{"--timeout=2s", "init", "--replicas", "3"}, "init", []string{"--timeout=2s", "--replicas", "3"}},
	} {
		name, args, err := splitCommand(tc.args)
		if err != nil || name != tc.wantName || strings.Join(args, " ") != strings.Join(tc.wantArgs, " ") {
			t.Errorf("splitCommand(%q) = %q, %q, %v; want %q, %q", tc.args, name, args, err, tc.wantName, tc.wantArgs)
		}
	}
}

func TestVersion(t *testing.T) {
	want := "harmony-fleet " + version + " (commit " + commit + ", built " + date + ")\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-s", "nats://a:4222", "version"}, {"version", "--creds", "/none"}} {
		if code, out, errOut := runCmd(t, args...); code != exitOK || out != want {
			t.Errorf("run(%q) = %d, %q (stderr %q); want %d, %q", args, code, out, errOut, exitOK, want)
		}
	}
	for _, args := range [][]string{{"version", "-o", "json"}, {"-o", "json", "version"}, {"--version", "--output=json"}} {
		code, out, errOut := runCmd(t, args...)
		var got versionJSON
		if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
			t.Fatalf("run(%q) = %d, %q (stderr %q): %v", args, code, out, errOut, err)
		}
		if got != (versionJSON{Version: version, Commit: commit, BuildDate: date}) || strings.Count(out, "\n") != 1 {
			t.Errorf("run(%q) = %q, want one line of JSON with version %s, commit %s, build_date %s", args, out, version, commit, date)
		}
	}
	if code, _, errOut := runCmd(t, "version", "-o", "yaml"); code != exitUsage || !strings.Contains(errOut, `--output "yaml"`) {
		t.Errorf("version -o yaml = %d, %q; want %d", code, errOut, exitUsage)
	}
	code, out, _ := runCmd(t, "version", "--help")
	if code != exitOK || !strings.Contains(out, "-o, --output") || strings.Contains(out, "--server") {
		t.Errorf("version --help = %d, want -o listed and the ignored connection flags hidden:\n%s", code, out)
	}
}

// Every command the usage says takes -o json takes it: init and version
// too (they used to refuse or ignore it).
func TestOutputFlagEverywhere(t *testing.T) {
	for _, name := range []string{"init", "apply", "delete", "status", "devices", "events", "version"} {
		if !strings.Contains(usage, name) {
			t.Errorf("usage does not mention %s", name)
		}
		t.Run(name, func(t *testing.T) {
			code, out, _ := runCmd(t, name, "--help")
			if code != exitOK || !strings.Contains(out, "-o, --output") {
				t.Errorf("%s --help = %d, does not list -o:\n%s", name, code, out)
			}
		})
	}
}

// yaml.v3 names the line where the enclosing mapping starts, or counts
// from 0: each file below is wrong on line 5, and the error says so.
func TestYAMLErrorLine(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"indentation in a nested mapping", "runtime: podman\nimage: nginx\nenv:\n  MODE: edge\n bad: x\nrestart: always\n", "did not find expected key"},
		{"indentation at the top", "runtime: podman\nimage: nginx\nenv: {A: b}\nports: []\n  restart: always\n", "did not find expected key"},
		{"tab", "runtime: podman\nimage: nginx\nenv:\n  A: b\n\tB: c\n", "tab character"},
		{"unclosed flow sequence", "# c\nruntime: podman\nimage: nginx\nenv:\n  MODE: [edge\nrestart: always\n", "did not find expected ',' or ']'"},
		{"unclosed quote", "runtime: podman\nimage: nginx\nports:\n  - host_port: 8080\n    container_port: \"80\nrestart: always\n", "end of stream"},
		{"mapping value", "runtime: podman\nimage: nginx\nenv: {A: b}\nports: []\ncommand: foo: bar\n", "mapping values are not allowed"},
		{"after a multi-line flow sequence", "command: [/bin/sh,\n  -c, 'sleep 1']\nenv:\n  A: b\n bad: x\nruntime: process\n", "did not find expected key"},
		{"in a second document", "runtime: podman\nimage: nginx\n---\nruntime: podman\n  image: nginx\n", "not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "web.yaml", tc.content)
			_, _, err := loadSpec(path)
			if err == nil {
				t.Fatalf("loadSpec(%q) = nil error", tc.content)
			}
			if want := path + ": not YAML: line 5: "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadSpec(%q) = %v, want it to contain %q and %q", tc.content, err, want, tc.want)
			}
		})
	}
}

func TestBadLine(t *testing.T) {
	for _, tc := range []struct {
		data string
		want int
	}{
		{"a: 1\n", 0},
		{"a: [1\n", 1},
		{"a: 1\nb: [2,\n  3]\n", 0},
		{"a: 1\n b: 2", 2},         // no final newline
		{"a: 1\nb: 2\n c: 3\n", 3}, // a key less indented than the mapping's
	} {
		if got := badLine([]byte(tc.data)); got != tc.want {
			t.Errorf("badLine(%q) = %d, want %d", tc.data, got, tc.want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 devices"}, {1, "1 device"}, {2, "2 devices"}} {
		if got := plural(tc.n, "device"); got != tc.want {
			t.Errorf("plural(%d, device) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := failures("apply web", []keyResult{{Error: "put x: denied"}}); got == nil || !strings.Contains(got.Error(), "1 of 1 key failed") {
		t.Errorf("failures(one of one) = %v, want 1 of 1 key failed", got)
	}
	var b bytes.Buffer
	reportBad(&b, "event", []error{errors.New("1"), errors.New("2"), errors.New("3"), errors.New("4"), errors.New("5"), errors.New("6")})
	if !strings.Contains(b.String(), "warning: 1 more event skipped\n") {
		t.Errorf("reportBad(6 events) = %q, want 1 more event skipped", b.String())
	}
}

func TestFixedRow(t *testing.T) {
	var b bytes.Buffer
	widths := []int{4, 3}
	for _, cells := range [][]any{{"AB", "CD", "last one"}, {"ABCD", "é", "x"}, {"ABCDEF", "x", "y"}} {
		if err := fixedRow(&b, widths, cells...); err != nil {
			t.Fatal(err)
		}
	}
	want := "AB    CD   last one\nABCD  é    x\nABCDEF  x    y\n"
	if b.String() != want {
		t.Errorf("fixedRow rows =\n%q\nwant\n%q", b.String(), want)
	}
}

func TestChangePrinter(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	p := changePrinter{w: &b, stamp: true, now: func() time.Time { return at }}
	for _, s := range []string{"A\n", "A\n", "B\n", "B\n", "A\n"} {
		if err := p.print(func(w io.Writer) error { _, err := io.WriteString(w, s); return err }); err != nil {
			t.Fatal(err)
		}
	}
	stamp := "\n# 2026-11-26T10:00:00.000Z\n"
	if want := stamp + "A\n" + stamp + "B\n" + stamp + "A\n"; b.String() != want {
		t.Errorf("changePrinter printed\n%q\nwant\n%q", b.String(), want)
	}
	failing := errors.New("render failed")
	if err := p.print(func(io.Writer) error { return failing }); !errors.Is(err, failing) {
		t.Errorf("changePrinter.print = %v, want the render's error", err)
	}
}

// The example specs are valid, and the README walkthrough applies
// configs/examples/web.yaml and shows its hash.
func TestExampleSpecs(t *testing.T) {
	files, err := filepath.Glob("../../configs/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("configs/examples/*.yaml: %v, %d files", err, len(files))
	}
	for _, f := range files {
		if _, _, err := loadSpec(f); err != nil {
			t.Errorf("loadSpec(%s) = %v", f, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := loadSpec("../../configs/examples/web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := "apply web -f configs/examples/web.yaml --device dev-device\nDEVICE      KEY             ACTION   SPEC          REVISION\n" +
		"dev-device  dev-device.web  created  " + fleet.ShortHash(fleet.SpecHash(spec))
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not show\n%s", want)
	}
}
