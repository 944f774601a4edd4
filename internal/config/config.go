package config

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// Locations and defaults that other packages (and the packaging) rely on.
const (
	// DefaultPath is the configuration file read when neither the --config
	// flag nor HARMONY_AGENT_CONFIG names one.
	DefaultPath = "/etc/harmony-agent/agent.yaml"
	// PathEnv names the environment variable that overrides DefaultPath.
	PathEnv = "HARMONY_AGENT_CONFIG"
	// DefaultStateDir is where the agent keeps its epoch and other state.
	DefaultStateDir = "/var/lib/harmony-agent"
	// DefaultNATSURL is the server the agent connects to when nats.urls is
	// not set.
	DefaultNATSURL = "nats://127.0.0.1:4222"
)

// Config is the agent's whole configuration. Field comments give the key;
// configs/agent.yaml gives defaults and meanings.
type Config struct {
	DeviceID          fleet.DeviceID    // device_id
	Labels            map[string]string // labels
	StateDir          string            // state_dir
	NATS              NATS              // nats
	Runtime           Runtime           // runtime
	Trust             Trust             // trust
	Reconcile         Reconcile         // reconcile
	HeartbeatInterval time.Duration     // heartbeat_interval
	History           History           // history
	Outbox            Outbox            // outbox
	Log               Log               // log
	Policy            Policy            // policy
	Metrics           Metrics           // metrics
}

// Metrics configures the agent's own Prometheus metrics (ARCHITECTURE 11).
type Metrics struct {
	// Listen is the address of the local /metrics listener; "" (the
	// default) serves none. A bare ":port" or "port" listens on
	// 127.0.0.1 only (metrics.listen); see ListenAddr.
	Listen string
}

// ListenAddr returns the address to listen on: Listen with an empty host
// (":9464") or no host at all ("9464") made 127.0.0.1, or "" when off.
func (m Metrics) ListenAddr() (string, error) {
	if m.Listen == "" {
		return "", nil
	}
	s := m.Listen
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q: want 1..65535", port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// NATS is how the agent reaches its NATS servers. At most one way to
// authenticate is set: CredsFile, NKeyFile, User with PasswordFile, or
// TokenFile.
type NATS struct {
	URLs         []string // nats.urls
	CredsFile    string   // nats.creds_file
	NKeyFile     string   // nats.nkey_file
	User         string   // nats.user
	PasswordFile string   // nats.password_file
	TokenFile    string   // nats.token_file
	TLS          TLS      // nats.tls
	Embedded     bool     // nats.embedded
	// CreateResources lets the agent create the JetStream stream and
	// buckets it uses when they are missing; otherwise it waits for an
	// operator's harmony-fleet init. Always on with Embedded.
	CreateResources bool // nats.create_resources
}

// TLS holds the trusted CA and the optional client certificate.
type TLS struct {
	CAFile   string // nats.tls.ca_file
	CertFile string // nats.tls.cert_file
	KeyFile  string // nats.tls.key_file
}

// Runtime configures the workload runtimes.
type Runtime struct {
	Podman  Podman  // runtime.podman
	Process Process // runtime.process
}

// Process configures the process runtime.
type Process struct {
	// DefaultUser is who a process workload runs as when its spec names no
	// user: a user name or uid:gid (runtime.process.default_user).
	DefaultUser string
}

// Policy is what the device accepts whoever signed it (ARCHITECTURE 8.4).
type Policy struct {
	Process ProcessPolicy // policy.process
	Podman  PodmanPolicy  // policy.podman
}

// ProcessPolicy limits process workloads.
type ProcessPolicy struct {
	// Users lists who process workloads may run as (policy.process.users);
	// empty means runtime.process.default_user alone.
	Users []string
}

// PodmanPolicy limits podman workloads.
type PodmanPolicy struct {
	VolumePaths []string // policy.podman.volume_paths: host path prefixes volumes may mount
	Registries  []string // policy.podman.registries: image prefixes allowed; empty allows any
	LowPorts    bool     // policy.podman.low_ports: host ports below 1024 may be mapped
}

// ProcessUsers returns the users process workloads may run as: Users, or
// the default user alone when Users is empty.
func (c Config) ProcessUsers() []string {
	if len(c.Policy.Process.Users) > 0 {
		return c.Policy.Process.Users
	}
	return []string{c.Runtime.Process.DefaultUser}
}

// Podman configures the podman runtime.
type Podman struct {
	Socket  string // runtime.podman.socket
	Network string // runtime.podman.network: "" (podman's default), bridge, none, host or a network name
	Init    bool   // runtime.podman.init: run an init process (catatonit) as PID 1 in each container
}

// Trust says whose signed desired values the agent runs (ARCHITECTURE
// 3.8, 8.3).
type Trust struct {
	// Keys are NATS account public keys ("A..."): when any is set, only
	// desired values signed by one of them run. Empty: bare specs run.
	Keys []string // trust.keys
}

// Reconcile tunes the reconcile loop.
type Reconcile struct {
	ResyncInterval time.Duration // reconcile.resync_interval
	Workers        int           // reconcile.workers
	StopTimeout    time.Duration // reconcile.stop_timeout: bound on a graceful agent stop
	BackoffInitial time.Duration // reconcile.backoff_initial
	BackoffMax     time.Duration // reconcile.backoff_max
}

// History sizes the ring of recent transitions.
type History struct {
	Capacity int // history.capacity, in transitions
}

// Outbox sizes the queue of events kept while NATS is unreachable.
type Outbox struct {
	Capacity int // outbox.capacity, in events
}

// Log configures the agent's logger.
type Log struct {
	Level  string // log.level: debug, info, warn or error
	Format string // log.format: json or console
}

// Default returns the configuration used for every key that neither the file
// nor the environment sets. DeviceID has no default: Default().Validate()
// fails until one is set.
func Default() Config {
	return Config{
		StateDir: DefaultStateDir,
		NATS:     NATS{URLs: []string{DefaultNATSURL}},
		Runtime: Runtime{
			Podman:  Podman{Socket: DefaultPodmanSocket(), Init: true},
			Process: Process{DefaultUser: DefaultProcessUser()},
		},
		Reconcile: Reconcile{
			ResyncInterval: 30 * time.Second,
			Workers:        4,
			StopTimeout:    10 * time.Second,
			BackoffInitial: time.Second,
			BackoffMax:     5 * time.Minute,
		},
		HeartbeatInterval: fleet.DefaultHeartbeatInterval,
		History:           History{Capacity: 256},
		Outbox:            Outbox{Capacity: 10000},
		Log:               Log{Level: "info", Format: "json"},
	}
}

// ResolvePath returns the configuration file to load: flag when it is set,
// else $HARMONY_AGENT_CONFIG when it is set, else DefaultPath.
func ResolvePath(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv(PathEnv); p != "" {
		return p
	}
	return DefaultPath
}

// DefaultPodmanSocket returns podman's API socket for the current user: the
// system socket for root, else the one under $XDG_RUNTIME_DIR (or
// /run/user/<uid> when that is unset), as podman itself does.
func DefaultPodmanSocket() string {
	return podmanSocket(os.Geteuid(), os.Getenv("XDG_RUNTIME_DIR"))
}

func podmanSocket(euid int, runtimeDir string) string {
	if euid == 0 {
		return "/run/podman/podman.sock"
	}
	if runtimeDir == "" {
		runtimeDir = "/run/user/" + strconv.Itoa(euid)
	}
	return filepath.Join(runtimeDir, "podman", "podman.sock")
}

// DefaultProcessUser returns who process workloads run as by default:
// nobody when the agent runs as root, else the agent's own user (by name,
// or uid:gid when it has none), since an unprivileged agent cannot switch.
func DefaultProcessUser() string {
	return processUser(os.Geteuid(), os.Getegid(), user.LookupId)
}

func processUser(euid, egid int, lookup func(string) (*user.User, error)) string {
	if euid == 0 {
		return "nobody"
	}
	if u, err := lookup(strconv.Itoa(euid)); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(euid) + ":" + strconv.Itoa(egid)
}
