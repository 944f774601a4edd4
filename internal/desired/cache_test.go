package desired

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// reopen reads the file as the next agent run would.
func reopen(t *testing.T, path string) []string {
	t.Helper()
	c, err := OpenCache(path)
	if err != nil {
		t.Fatalf("OpenCache: %v", err)
	}
	got, err := c.Load()
	if err != nil {
		t.Fatalf("Load() error %v", err)
	}
	return names(got)
}

func TestCacheWritesInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "desired.json")
	c, err := OpenCache(path)
	if err != nil {
		t.Fatalf("OpenCache: %v", err)
	}
	if got, err := c.Load(); err != nil || len(got) != 0 {
		t.Fatalf("Load() of no file = %v, %v, want nothing", got, err)
	}
	steps := []struct {
		name string
		u    Update
		want []string
	}{
		{"two puts", Update{Entries: []Entry{{Deployment: "web", Value: []byte(`{"a":1}`)}, {Deployment: "db", Value: []byte(`{"b":2}`)}}},
			[]string{`db={"b":2}`, `web={"a":1}`}},
		{"overwrite", Update{Entries: []Entry{{Deployment: "web", Value: []byte(`{"a":3}`)}}}, []string{`db={"b":2}`, `web={"a":3}`}},
		{"delete", Update{Entries: []Entry{{Deployment: "db", Deleted: true}}}, []string{`web={"a":3}`}},
		{"delete missing is fine", Update{Entries: []Entry{{Deployment: "nope", Deleted: true}}}, []string{`web={"a":3}`}},
		{"full replaces", Update{Full: true, Entries: []Entry{{Deployment: "api", Value: []byte(`{}`)}, {Deployment: "gone", Deleted: true}}},
			[]string{`api={}`}},
	}
	for _, s := range steps {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var errs []error
		c.Apply(s.u)
		wg.Go(func() { c.Run(ctx, func(err error) { errs = append(errs, err) }) })
		cancel() // Run writes what is pending before it returns
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%s: Run reported %v", s.name, errs)
		}
		if got := reopen(t, path); !slices.Equal(got, s.want) {
			t.Fatalf("%s: the file holds %v, want %v", s.name, got, s.want)
		}
	}
}

func TestCacheLoadSkipsBadNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desired.json")
	if err := os.WriteFile(path, []byte(`{"ok":"{}","bad.name":"{}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Load()
	if g := names(got); !slices.Equal(g, []string{"ok={}"}) {
		t.Fatalf("Load() = %v, want [ok={}]", g)
	}
	if err == nil || !strings.Contains(err.Error(), `"bad.name"`) || !strings.Contains(err.Error(), fleet.ErrInvalidName.Error()) {
		t.Fatalf("Load() error = %v, want one naming bad.name as an invalid name", err)
	}
}

func TestCacheCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desired.json")
	if err := os.WriteFile(path, []byte(`{"web":`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Load(); len(got) != 0 || err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load() of a corrupt file = %v, %v, want nothing and an error naming the file", got, err)
	}
}

func TestCacheWriteErrorReported(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "desired.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if os.Geteuid() == 0 {
		// root ignores the mode: make the path a directory instead.
		os.Chmod(dir, 0o700)
		if err := os.Mkdir(filepath.Join(dir, "desired.json"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.Apply(Update{Entries: []Entry{{Deployment: "web", Value: []byte(`{}`)}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got error
	c.Run(ctx, func(err error) { got = err })
	if got == nil || !strings.Contains(got.Error(), "write desired cache") {
		t.Fatalf("Run reported %v, want a write desired cache error", got)
	}
}
