package process

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	// Fields 4 to 52 of a real line, after "pid (comm) state".
	rest := " 1 4242 4242 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 987654 2351104 190 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0\n"
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr bool
	}{
		{"plain", "4242 (sleep) S" + rest, procStat{State: 'S', PGrp: 4242, StartTime: 987654}, false},
		{"spaces and parens in comm", "4242 (a) b (c) Z" + rest, procStat{State: 'Z', PGrp: 4242, StartTime: 987654}, false},
		{"stopped", "4242 (x) T" + rest, procStat{State: 'T', PGrp: 4242, StartTime: 987654}, false},
		{"no paren", "4242 sleep S" + rest, procStat{}, true},
		{"too short", "4242 (sleep) S 1 2 3", procStat{}, true},
		{"bad state", "4242 (sleep) SS" + rest, procStat{}, true},
		{"bad start time", "4242 (sleep) S" + strings.Replace(rest, "987654", "x", 1), procStat{}, true},
		{"bad pgrp", "4242 (sleep) S" + strings.Replace(rest, " 4242 4242 ", " y 4242 ", 1), procStat{}, true},
		{"empty", "", procStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStat(%q) = %+v, %v, want %+v (error %v)", tt.line, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errBadStat) {
				t.Errorf("parseStat error %v does not wrap errBadStat", err)
			}
		})
	}
	// And our own line parses, as a running process.
	st, err := readStat(os.Getpid())
	if err != nil || st.dead() || st.StartTime == 0 {
		t.Errorf("readStat(self) = %+v, %v", st, err)
	}
}

func TestTailLog(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur string // "" means no file
		max       int
		want      string
	}{
		{"no files", "", "", 10, ""},
		{"all of cur", "", "a\nb\n", 10, "a\nb\n"},
		{"cur only when it fills max", "old\n", "abc\ndef\n", 4, "def\n"},
		{"prev completes cur", "one\ntwo\n", "three\n", 12, "two\nthree\n"},
		{"prev boundary exact", "one\ntwo\n", "three\n", 10, "two\nthree\n"},
		{"all of both", "one\n", "two\n", 100, "one\ntwo\n"},
		{"no newline at all", "", "abcdefgh", 3, "fgh"},
		{"partial last line kept", "", "a\nbcdef", 4, "cdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.log")
			for p, content := range map[string]string{path: tt.cur, path + prevSuffix: tt.prev} {
				if content != "" {
					if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := tailLog(path, tt.max)
			if err != nil || got != tt.want {
				t.Errorf("tailLog(%d) = %q, %v, want %q", tt.max, got, err, tt.want)
			}
		})
	}
}

func TestCapLog(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		max      int64
		wantCur  string
		wantPrev string // "-" means no previous segment
	}{
		{"under the cap", "a\nb\n", 10, "a\nb\n", "-"},
		{"at the cap", "0123456789", 10, "0123456789", "-"},
		{"over the cap", "line1\nline2\nline3\n", 12, "", "line3\n"},
		{"over, no newline", "abcdefghijklmnop", 8, "", "mnop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.log")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := capLog(path, tt.max, nil); err != nil {
				t.Fatalf("capLog = %v", err)
			}
			cur, _ := os.ReadFile(path)
			prev, err := os.ReadFile(path + prevSuffix)
			if err != nil {
				prev = []byte("-")
			}
			if string(cur) != tt.wantCur || string(prev) != tt.wantPrev {
				t.Errorf("capLog(%q, %d): log %q, previous %q, want %q and %q", tt.content, tt.max, cur, prev, tt.wantCur, tt.wantPrev)
			}
		})
	}
	if err := capLog(filepath.Join(t.TempDir(), "missing.log"), 10, nil); err != nil {
		t.Errorf("capLog(missing) = %v, want nil", err)
	}
}

func TestBuildEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"none", nil, []string{"PATH=" + BasePath}},
		{"added, sorted", map[string]string{"Z": "1", "A": "x y"}, []string{"A=x y", "PATH=" + BasePath, "Z=1"}},
		{"PATH overridden", map[string]string{"PATH": "/opt/bin"}, []string{"PATH=/opt/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildEnv(tt.env); !slices.Equal(got, tt.want) {
				t.Errorf("buildEnv(%v) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, path, want, wantErr string
	}{
		{"absolute", prog, "", prog, ""},
		{"bare, found", "prog", "/nonexistent:" + dir, prog, ""},
		{"bare, relative entries skipped", "prog", ".:relative", "", `exec: "prog": executable file not found in $PATH`},
		{"bare, empty PATH", "prog", "", "", `exec: "prog": executable file not found in $PATH`},
		{"absolute, missing", "/nope", BasePath, "", `exec: "/nope": no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.file, tt.path)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("lookPath(%q, %q) = %q, %q, want %q, %q", tt.file, tt.path, got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}
