package desired

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func names(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, string(e.Deployment)+"="+string(e.Value))
	}
	slices.Sort(out)
	return out
}

func TestCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "desired")
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatalf("OpenCache: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"empty", func() error { return nil }, nil},
		{"store two", func() error {
			if err := c.Store(Entry{Deployment: "web", Value: []byte(`{"a":1}`)}); err != nil {
				return err
			}
			return c.Store(Entry{Deployment: "db", Value: []byte(`{"b":2}`)})
		}, []string{`db={"b":2}`, `web={"a":1}`}},
		{"overwrite", func() error { return c.Store(Entry{Deployment: "web", Value: []byte(`{"a":3}`)}) },
			[]string{`db={"b":2}`, `web={"a":3}`}},
		{"delete", func() error { return c.Store(Entry{Deployment: "db", Deleted: true}) }, []string{`web={"a":3}`}},
		{"delete missing is fine", func() error { return c.Store(Entry{Deployment: "nope", Deleted: true}) }, []string{`web={"a":3}`}},
		{"replace keeps only the snapshot", func() error {
			return c.Replace([]Entry{{Deployment: "api", Value: []byte(`{}`)}, {Deployment: "gone", Deleted: true}})
		}, []string{`api={}`}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := c.Load()
		if err != nil {
			t.Fatalf("%s: Load() error %v", s.name, err)
		}
		if g := names(got); !slices.Equal(g, s.want) {
			t.Fatalf("%s: Load() = %v, want %v", s.name, g, s.want)
		}
	}
}

func TestCacheLoadSkipsBadFiles(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatalf("OpenCache: %v", err)
	}
	for name, body := range map[string]string{"ok.json": "{}", "bad.name.json": "{}", "notes.txt": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Load()
	if g := names(got); !slices.Equal(g, []string{"ok={}"}) {
		t.Fatalf("Load() = %v, want [ok={}]", g)
	}
	if err == nil || !strings.Contains(err.Error(), "bad.name.json") || !strings.Contains(err.Error(), string(fleet.ErrInvalidName.Error())) {
		t.Fatalf("Load() error = %v, want one naming bad.name.json as an invalid name", err)
	}
}
