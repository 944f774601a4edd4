package desired

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// reopen reads the cache as the next agent run would.
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
	path := filepath.Join(t.TempDir(), "state", "desired")
	c, err := OpenCache(path)
	if err != nil {
		t.Fatalf("OpenCache: %v", err)
	}
	if got, err := c.Load(); err != nil || len(got) != 0 {
		t.Fatalf("Load() of an empty cache = %v, %v, want nothing", got, err)
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
			t.Fatalf("%s: the cache holds %v, want %v", s.name, got, s.want)
		}
	}
}

func TestCacheLoadSkipsBadFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ok.desired":          "ok\n{}",
		"bad.name.desired":    "bad.name\n{}",
		"moved.desired":       "other\n{}", // holds another deployment than its name says
		"noline.desired":      "{}",
		".ok.desired.tmp-123": "ok\n{half", // left by a crash mid-write
		"README":              "not an entry",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Load()
	if g := names(got); !slices.Equal(g, []string{"ok={}"}) {
		t.Fatalf("Load() = %v, want [ok={}]", g)
	}
	for _, want := range []string{`"bad.name"`, fleet.ErrInvalidName.Error(), "holds deployment other", "noline.desired: no deployment name line"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load() error = %v, want one saying %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".ok.desired.tmp-123")); !os.IsNotExist(err) {
		t.Errorf("the temporary file left by a crash is still there (%v)", err)
	}
}

// TestCacheWritesOnlyChanges: a change rewrites only its deployment's
// file, and a full snapshot repeating the cache rewrites none (each file
// keeps its inode: atomicfile would replace it with a new one).
func TestCacheWritesOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	flush := func(u Update) {
		t.Helper()
		c.Apply(u)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c.Run(ctx, func(err error) { t.Fatalf("Run reported %v", err) })
	}
	inodes := func() map[string]uint64 {
		t.Helper()
		out := map[string]uint64{}
		des, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			fi, err := de.Info()
			if err != nil {
				t.Fatal(err)
			}
			out[de.Name()] = fi.Sys().(*syscall.Stat_t).Ino
		}
		return out
	}
	all := Update{Full: true, Entries: []Entry{{Deployment: "a", Value: []byte("1")}, {Deployment: "b", Value: []byte("2")}, {Deployment: "c", Value: []byte("3")}}}
	flush(all)
	before := inodes()
	if len(before) != 3 {
		t.Fatalf("cache files = %v, want a.desired, b.desired, c.desired", before)
	}
	flush(all)
	if after := inodes(); !maps.Equal(after, before) {
		t.Errorf("a full snapshot repeating the cache rewrote files: inodes %v, then %v", before, after)
	}
	flush(Update{Entries: []Entry{{Deployment: "b", Value: []byte("22")}}})
	after := inodes()
	for name, ino := range before {
		if changed := after[name] != ino; changed != (name == "b.desired") {
			t.Errorf("after a change of b, %s rewritten = %v, want %v", name, changed, name == "b.desired")
		}
	}
	if got := reopen(t, dir); !slices.Equal(got, []string{"a=1", "b=22", "c=3"}) {
		t.Errorf("the cache holds %v, want [a=1 b=22 c=3]", got)
	}
}

func TestCacheLongName(t *testing.T) {
	long := fleet.DeploymentName(strings.Repeat("x", 253))
	other := fleet.DeploymentName(strings.Repeat("x", 252) + "y")
	if f := cacheFile(long); len(f) > maxPlainName+len(cacheSuffix) || f == cacheFile(other) {
		t.Fatalf("cacheFile(253 bytes) = %q (%d bytes), want at most %d, differing from a name one byte off", f, len(f), maxPlainName+len(cacheSuffix))
	}
	dir := t.TempDir()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(Update{Entries: []Entry{{Deployment: long, Value: []byte("{}")}, {Deployment: other, Value: []byte("[]")}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Run(ctx, func(err error) { t.Fatalf("Run reported %v", err) })
	if got := reopen(t, dir); !slices.Equal(got, []string{string(long) + "={}", string(other) + "=[]"}) {
		t.Errorf("the cache holds %v, want both long names", got)
	}
}

// TestCacheMigratesOneFile: the one-file cache of earlier versions
// (<dir>.json) is read, overridden by the directory, moved into it and
// removed.
func TestCacheMigratesOneFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "desired")
	if err := os.WriteFile(dir+".json", []byte(`{"old":"{\"a\":1}","both":"legacy","bad.name":"{}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "both.desired"), []byte("both\nnewer"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := c.Load()
	if want := []string{"both=newer", `old={"a":1}`}; !slices.Equal(names(got), want) {
		t.Fatalf("Load() = %v, want %v", names(got), want)
	}
	if err == nil || !strings.Contains(err.Error(), `"bad.name"`) {
		t.Errorf("Load() error = %v, want one naming bad.name", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Run(ctx, func(err error) { t.Fatalf("Run reported %v", err) })
	if _, err := os.Stat(dir + ".json"); !os.IsNotExist(err) {
		t.Errorf("the one-file cache is still there after Run (%v)", err)
	}
	if got := reopen(t, dir); !slices.Equal(got, []string{"both=newer", `old={"a":1}`}) {
		t.Errorf("the cache holds %v after the move, want both entries", got)
	}
}

func TestCacheCorruptOneFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "desired")
	if err := os.WriteFile(dir+".json", []byte(`{"web":`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Load(); len(got) != 0 || err == nil || !strings.Contains(err.Error(), dir+".json") {
		t.Fatalf("Load() of a corrupt one-file cache = %v, %v, want nothing and an error naming the file", got, err)
	}
}

func TestCacheWriteErrorReported(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if os.Geteuid() == 0 {
		// root ignores the mode: make the entry's path a directory instead.
		os.Chmod(dir, 0o700)
		if err := os.Mkdir(filepath.Join(dir, cacheFile("web")), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.Apply(Update{Entries: []Entry{{Deployment: "web", Value: []byte(`{}`)}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got error
	c.Run(ctx, func(err error) { got = err })
	if got == nil || !strings.Contains(got.Error(), "write desired cache web") {
		t.Fatalf("Run reported %v, want a write desired cache web error", got)
	}
}
