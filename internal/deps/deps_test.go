package deps

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pureDeps maps each pure package (relative to the module) to the other
// packages of the module it may depend on. Beyond those, only the standard
// library. fleet and internal/ringbuf say in their doc.go that they import
// the standard library alone.
var pureDeps = map[string][]string{
	"fleet":               nil,
	"fleet/aggregate":     {"fleet"},
	"fleet/rollout":       {"fleet"},
	"internal/ringbuf":    nil,
	"internal/reconciler": {"fleet", "internal/ringbuf"},
	"internal/policy":     {"fleet"},
	"fleet/signed":        {"fleet"},
}

// pureExternal lists, for the pure packages allowed one outside module,
// the module they import directly and the module paths that one brings in
// (by import path prefix). fleet/signed signs with nkeys, which needs
// golang.org/x/crypto and golang.org/x/sys.
var pureExternal = map[string]struct{ direct, transitive []string }{
	"fleet/signed": {
		direct:     []string{"github.com/nats-io/nkeys"},
		transitive: []string{"github.com/nats-io/nkeys", "golang.org/x/crypto", "golang.org/x/sys"},
	},
}

// allowedExternal reports whether the pure package rel may compile path,
// outside the standard library and the module.
func allowedExternal(rel, path string) bool {
	return slices.ContainsFunc(pureExternal[rel].transitive, func(prefix string) bool { return under(path, prefix) })
}

// importRules: a package whose import path is prefix, or below it, may be
// imported directly only by the module packages in importers (or below
// them). When several prefixes match an import, the longest alone applies
// (nkeys has its own rule inside github.com/nats-io). Only non-test
// imports count: the rules are about what a binary links.
var importRules = []struct {
	prefix    string
	importers []string
}{
	{"github.com/nats-io/nats.go", []string{"internal/natsconn", "internal/desired", "internal/publisher", "internal/deviceops", "internal/fleetview", "internal/controller", "internal/natsserver", "internal/daemon", "cmd"}},
	{"github.com/nats-io/nats-server", []string{"internal/natsserver", "cmd"}},
	{"github.com/nats-io/jwt", []string{"internal/creds"}},
	{"github.com/spf13/viper", []string{"internal/config"}},
	{"github.com/coreos/go-systemd", []string{"internal/systemd"}},
	{"github.com/prometheus/client_golang", []string{"internal/api"}},
	{"github.com/chromedp", []string{"internal/testsupport/browser"}}, // which only tests import
	{"github.com/nats-io/nkeys", []string{"fleet/signed", "internal/creds", "internal/natsconn", "internal/natsserver", "internal/controller", "cmd"}},
}

// ruleFor returns the index in importRules of the rule that applies to
// imp (the longest matching prefix), or -1.
func ruleFor(imp string) int {
	best := -1
	for i, r := range importRules {
		if under(imp, r.prefix) && (best < 0 || len(r.prefix) > len(importRules[best].prefix)) {
			best = i
		}
	}
	return best
}

// operatorForbidden are substrings of import paths that a program importing
// only fleet, fleet/aggregate and fleet/signed must not compile (nkeys,
// which fleet/signed may use, excepted).
var operatorForbidden = []string{"nats", "go.uber.org/zap", "spf13/viper", "podman", "github.com/containers/", "go-systemd"}

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Standard   bool
	Error      *struct{ Err string }
}

// under reports whether path is dir or inside it, as import paths.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// module describes the module under test, as the go command sees it now.
type module struct {
	path string         // module path
	root string         // directory of go.mod
	pkgs map[string]pkg // by path relative to the module ("fleet", "cmd/harmony-agent")
}

// goList runs the go command in the module root and decodes its stream of
// JSON packages.
func goList(t *testing.T, root string, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Dir,Imports,Standard,Error"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list %s: decode: %v", strings.Join(args, " "), err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func loadModule(t *testing.T) *module {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v (is the go command on PATH?)", err)
	}
	path, root, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok {
		t.Fatalf("go list -m = %q, want a module path and a directory", out)
	}
	m := &module{path: path, root: root, pkgs: map[string]pkg{}}
	for _, p := range goList(t, root, "./...") {
		if p.ImportPath == path {
			m.pkgs["."] = p
			continue
		}
		rel, ok := strings.CutPrefix(p.ImportPath, path+"/")
		if !ok {
			t.Fatalf("go list ./... listed %s, outside module %s", p.ImportPath, path)
		}
		m.pkgs[rel] = p
	}
	touchSources(t, root)
	return m
}

// touchSources stats every Go file and go.mod of the module and lists every
// directory, so that `go test`'s result cache, which cannot see what the go
// command read in a subprocess, is invalidated when any of them changes.
func touchSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
			_, err := os.Stat(path)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
}

// existingPure returns the pure packages that exist, failing the test for
// each one that does not.
func (m *module) existingPure(t *testing.T) []string {
	t.Helper()
	var found []string
	for _, rel := range slices.Sorted(maps.Keys(pureDeps)) {
		if _, ok := m.pkgs[rel]; !ok {
			t.Errorf("%s/%s does not exist: the dependency rules need every pure package (%s)", m.path, rel, strings.Join(slices.Sorted(maps.Keys(pureDeps)), ", "))
			continue
		}
		found = append(found, rel)
	}
	return found
}

// nonStandardDeps lists the packages, outside the standard library, that the
// given module packages compile (themselves included).
func (m *module) nonStandardDeps(t *testing.T, rels ...string) []pkg {
	t.Helper()
	args := []string{"-deps"}
	for _, rel := range rels {
		args = append(args, "./"+rel)
	}
	var out []pkg
	for _, p := range goList(t, m.root, args...) {
		if p.Error != nil && !p.Standard {
			t.Errorf("go list -deps %s: %s: %s", strings.Join(rels, " "), p.ImportPath, p.Error.Err)
		}
		if !p.Standard {
			out = append(out, p)
		}
	}
	return out
}

// TestPurePackages: the pure packages compile the standard library and each
// other only (transitively, via go list -deps).
func TestPurePackages(t *testing.T) {
	m := loadModule(t)
	for _, rel := range m.existingPure(t) {
		t.Run(rel, func(t *testing.T) {
			allowed := append([]string{rel}, pureDeps[rel]...)
			rule := "the standard library"
			if len(pureDeps[rel]) > 0 {
				rule += " and " + strings.Join(pureDeps[rel], ", ")
			}
			if ext := pureExternal[rel].direct; len(ext) > 0 {
				rule += " and " + strings.Join(ext, ", ") + " (with what it needs)"
			}
			for _, d := range m.nonStandardDeps(t, rel) {
				inModule, ok := strings.CutPrefix(d.ImportPath, m.path+"/")
				switch {
				case ok && slices.Contains(allowed, inModule):
				case !ok && allowedExternal(rel, d.ImportPath):
				default:
					t.Errorf("%s depends on %s; it may depend on %s only", rel, d.ImportPath, rule)
				}
			}
			for _, imp := range m.pkgs[rel].Imports {
				if !under(imp, m.path) && strings.Contains(strings.Split(imp, "/")[0], ".") && !slices.Contains(pureExternal[rel].direct, imp) {
					t.Errorf("%s imports %s directly; it may import %s only", rel, imp, rule)
				}
			}
		})
	}
}

// TestImportRules checks every package of the module, including those
// written after this test, against importRules and the zap rule.
func TestImportRules(t *testing.T) {
	m := loadModule(t)
	for _, rel := range slices.Sorted(maps.Keys(m.pkgs)) {
		p := m.pkgs[rel]
		if p.Error != nil {
			t.Logf("%s: %s (checking the imports go list could read)", rel, p.Error.Err)
		}
		for _, imp := range p.Imports {
			if i := ruleFor(imp); i >= 0 {
				r := importRules[i]
				if !slices.ContainsFunc(r.importers, func(dir string) bool { return under(rel, dir) }) {
					t.Errorf("%s imports %s; only %v may import %s", rel, imp, r.importers, r.prefix)
				}
			}
			if _, pure := pureDeps[rel]; pure && under(imp, "go.uber.org/zap") {
				t.Errorf("%s imports %s; pure packages never log (they return values and errors)", rel, imp)
			}
		}
	}
}

// TestOperatorProgram: an operator written in Go imports fleet,
// fleet/aggregate, fleet/rollout and fleet/signed; what that program compiles is their
// -deps.
func TestOperatorProgram(t *testing.T) {
	m := loadModule(t)
	var rels []string
	for _, rel := range []string{"fleet", "fleet/aggregate", "fleet/rollout", "fleet/signed"} {
		if _, ok := m.pkgs[rel]; !ok {
			t.Errorf("%s/%s does not exist", m.path, rel)
			continue
		}
		rels = append(rels, rel)
	}
	if len(rels) == 0 {
		return
	}
	for _, d := range m.nonStandardDeps(t, rels...) {
		if allowedExternal("fleet/signed", d.ImportPath) {
			continue
		}
		for _, bad := range operatorForbidden {
			if strings.Contains(d.ImportPath, bad) {
				t.Errorf("a program importing %v compiles %s (matches %q)", rels, d.ImportPath, bad)
			}
		}
		if !under(d.ImportPath, m.path) {
			t.Errorf("a program importing %v compiles %s, outside the standard library and this module", rels, d.ImportPath)
		}
	}
}
