package systemd

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen opens a notify socket in a temporary directory, points NOTIFY_SOCKET
// at it and returns it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("ListenUnixgram(%q) = %v", path, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

// read returns the next datagram, failing the test if none comes in time.
func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("SetReadDeadline() = %v", err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestNotifierSends(t *testing.T) {
	conn := listen(t)
	n := New()
	if !n.Enabled() {
		t.Fatalf("Enabled() = false, want true")
	}
	steps := []struct {
		name string
		call func() error
		want string
	}{
		{"Ready", n.Ready, "READY=1"},
		{"Status", func() error { return n.Status("reconciling %d deployments", 3) }, "STATUS=reconciling 3 deployments"},
		{"Status one line", func() error { return n.Status("a\nb\r\nc") }, "STATUS=a b c"},
		{"Watchdog", n.Watchdog, "WATCHDOG=1"},
		{"Stopping", n.Stopping, "STOPPING=1"},
	}
	// Sequential on purpose: the messages must arrive in the order sent.
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s() = %v, want nil", s.name, err)
		}
		if got := read(t, conn); got != s.want {
			t.Fatalf("%s() sent %q, want %q", s.name, got, s.want)
		}
	}
}

func TestNotifierWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "2000000")
	n := New()
	if n.Enabled() {
		t.Errorf("Enabled() = true, want false")
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Ready", n.Ready},
		{"Status", func() error { return n.Status("x %s", "y") }},
		{"Watchdog", n.Watchdog},
		{"Stopping", n.Stopping},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); err != nil {
				t.Errorf("%s() = %v, want nil", c.name, err)
			}
		})
	}
	if d, ok := n.WatchdogInterval(); ok {
		t.Errorf("WatchdogInterval() = %v, true, want 0, false", d)
	}
}

func TestNotifierSocketGone(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	n := New()
	if err := n.Ready(); err == nil {
		t.Fatalf("Ready() = nil, want an error")
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Ready() = %v, want an error wrapping %v", err, os.ErrNotExist)
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name   string
		usec   string
		pid    string
		want   time.Duration
		wantOK bool
	}{
		{"unset", "", "", 0, false},
		{"set", "2000000", "", 2 * time.Second, true},
		{"set for this process", "500000", strconv.Itoa(os.Getpid()), 500 * time.Millisecond, true},
		{"set for another process", "500000", strconv.Itoa(os.Getpid() + 1), 0, false},
		{"malformed", "soon", "", 0, false},
		{"zero", "0", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listen(t)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			got, ok := New().WatchdogInterval()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("WatchdogInterval() = %v, %v, want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
