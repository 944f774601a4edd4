package process

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"

	"github.com/harmony-edge/harmony-agent/internal/runtime"
)

// needRoot skips t unless the test runs as root: switching users needs it.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testsupport.SkipOutsideCI(t, "switching a workload's user needs root; this test runs as uid %d", os.Geteuid())
	}
}

// nobody returns the uid and gid of the user nobody.
func nobody(t *testing.T) (string, string) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("no user nobody on this machine: %v", err)
	}
	return u.Uid, u.Gid
}

// TestRunsAsUser: a workload runs as the spec's user, else as the
// runtime's DefaultUser, with that user's groups (never root's); its log
// and pid file stay root's.
func TestRunsAsUser(t *testing.T) {
	needRoot(t)
	uid, gid := nobody(t)
	tests := []struct {
		name        string
		defaultUser string
		specUser    string
		want        string // "uid gid groups"
	}{
		{"default user", "nobody", "", uid + " " + gid + " " + gid},
		{"spec user wins", "root", "nobody", uid + " " + gid + " " + gid},
		{"uid:gid, no supplementary groups", "nobody", "4242:4343", "4242 4343 4343"},
		{"no default: the agent's user", "", "", "0 0 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{DefaultUser: tt.defaultUser})
			s := shell("echo $(id -u) $(id -g) $(id -G); exit 0")
			s.User = tt.specUser
			h.apply(r, workload("who", s))
			waitState(t, r, "who", runtime.StateExited)
			out, err := r.LogTail(context.Background(), dev, "who", 512)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(out)
			if tt.want == "0 0 " {
				// root keeps its own groups when nothing is switched.
				if !strings.HasPrefix(got, "0 0 ") {
					t.Errorf("id = %q, want uid 0 gid 0", got)
				}
			} else if got != tt.want {
				t.Errorf("id = %q, want %q", got, tt.want)
			}
			for _, p := range []string{r.pidPath("who"), r.logPath("who")} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.Mode().Perm()&0o007 != 0 {
					t.Errorf("%s: uid %d mode %v, want root's and not readable by others", p, st.Uid, fi.Mode().Perm())
				}
			}
		})
	}
}

// TestUserCannotReadSecrets: a workload running as nobody cannot read a
// root 0600 file nor list a 0700 directory; it fails with "Permission
// denied" in its output.
func TestUserCannotReadSecrets(t *testing.T) {
	needRoot(t)
	secrets := t.TempDir()
	if err := os.Chmod(secrets, 0o700); err != nil { // as the agent's state directory
		t.Fatal(err)
	}
	creds := filepath.Join(secrets, "agent.creds")
	if err := os.WriteFile(creds, []byte("-----BEGIN NATS USER JWT-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file sits in a directory nobody may enter; put one where it
	// may, to see the file's own mode refuse.
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir is <test's own 0700 directory>/<NNN>.
	for _, d := range []string{filepath.Dir(open), filepath.Dir(filepath.Dir(open))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exposed := filepath.Join(open, "agent.creds")
	if err := os.WriteFile(exposed, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	public := filepath.Join(open, "public.txt")
	if err := os.WriteFile(public, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, script string
		denied       bool
	}{
		{"control: a 0644 file beside it", "cat " + public, false},
		{"creds file 0600", "cat " + exposed, true},
		{"creds under a 0700 dir", "cat " + creds, true},
		{"state dir 0700", "ls " + secrets, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{DefaultUser: "nobody"})
			h.apply(r, workload("peek", shell(tt.script)))
			st := waitState(t, r, "peek", runtime.StateExited)
			out, _ := r.LogTail(context.Background(), dev, "peek", 512)
			if denied := st.ExitCode != 0 && strings.Contains(out, "Permission denied"); denied != tt.denied {
				t.Errorf("%s as nobody: exit %d, output %q; want denied %v", tt.script, st.ExitCode, out, tt.denied)
			}
		})
	}
}

// TestUserErrors: an unknown user, and a working dir the user may not
// enter, fail Apply with a clear error and start nothing.
func TestUserErrors(t *testing.T) {
	needRoot(t)
	private := t.TempDir() // 0700
	tests := []struct {
		name string
		user string
		dir  string
		want string
	}{
		{"unknown user", "no-such-user-hx", "", `user "no-such-user-hx": user: unknown user no-such-user-hx`},
		{"working dir not accessible", "nobody", private, "working_dir " + private + ": not accessible to user nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Config{})
			s := spec("sleep", "60")
			s.User, s.WorkingDir = tt.user, tt.dir
			_, err := r.Apply(context.Background(), workload("bad", s))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply = %v, want an error containing %q", err, tt.want)
			}
			if st, _ := r.Observe(context.Background(), dev, "bad"); st.State != runtime.StateMissing {
				t.Errorf("after the error the deployment is %v, want missing", st.State)
			}
		})
	}
}

// TestCredentialUnprivileged: an agent that is not root runs workloads as
// itself and refuses any other user (the decision, without forking).
func TestCredentialUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		cred, id, err := credential("nobody")
		if err != nil || cred == nil || id == nil {
			t.Fatalf("credential(nobody) as root = %v, %v, %v; want a credential", cred, id, err)
		}
		return
	}
	me := strconv.Itoa(os.Geteuid()) + ":" + strconv.Itoa(os.Getegid())
	if cred, _, err := credential(me); err != nil || cred != nil {
		t.Errorf("credential(%s) = %v, %v; want no change", me, cred, err)
	}
	if _, _, err := credential("0:0"); !errors.Is(err, ErrCannotSwitchUser) {
		t.Errorf("credential(0:0) = %v, want ErrCannotSwitchUser", err)
	}
}
