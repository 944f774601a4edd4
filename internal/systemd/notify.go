package systemd

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify messages to the socket named by NOTIFY_SOCKET.
// It holds no connection (each message dials the datagram socket afresh) and
// is safe for concurrent use.
type Notifier struct {
	enabled bool
}

// New returns a Notifier for the NOTIFY_SOCKET of the current environment.
// The variable is read once here and left in place, so later calls keep
// working; a unit that starts child processes should use NotifyAccess=main so
// that systemd ignores whatever they might send.
func New() *Notifier {
	return &Notifier{enabled: os.Getenv("NOTIFY_SOCKET") != ""}
}

// Enabled reports whether NOTIFY_SOCKET was set when n was made, that is,
// whether messages go anywhere.
func (n *Notifier) Enabled() bool { return n.enabled }

// Ready sends READY=1: the service has started.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Status sends STATUS= with the formatted text, shown by systemctl status.
// Line breaks are replaced by spaces: one message carries one status line.
func (n *Notifier) Status(format string, args ...any) error {
	if !n.enabled {
		return nil
	}
	text := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(fmt.Sprintf(format, args...))
	return n.send("STATUS=" + text)
}

// Watchdog sends WATCHDOG=1, the keep-alive ping systemd expects at least
// once per WatchdogInterval.
func (n *Notifier) Watchdog() error { return n.send(daemon.SdNotifyWatchdog) }

// Stopping sends STOPPING=1: the service is shutting down.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// WatchdogInterval returns the watchdog timeout systemd set for this process
// (WATCHDOG_USEC, honouring WATCHDOG_PID) and reports whether the watchdog is
// enabled. Callers ping at half the interval. It reports false when
// NOTIFY_SOCKET is unset (no ping could reach systemd) and when the variables
// are malformed.
func (n *Notifier) WatchdogInterval() (time.Duration, bool) {
	if !n.enabled {
		return 0, false
	}
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}

func (n *Notifier) send(state string) error {
	if !n.enabled {
		return nil
	}
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", state, err)
	}
	return nil
}
