package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fullFile sets every key to something other than its default.
const fullFile = `
device_id: pi-017
labels:
  site: lyon
  Rack: "3"
  app.example.com/tier: edge
state_dir: /srv/harmony
nats:
  urls:
    - nats://nats-1.example.net:4222
    - tls://nats-2.example.net:4443
    - wss://nats-3.example.net/ws
  user: pi-017
  password_file: /etc/harmony-agent/nats.password
  tls:
    ca_file: /etc/harmony-agent/ca.pem
    cert_file: /etc/harmony-agent/client.pem
    key_file: /etc/harmony-agent/client-key.pem
  embedded: true
runtime:
  podman:
    socket: /run/user/1000/podman/podman.sock
  process:
    default_user: harmony-app
reconcile:
  resync_interval: 1m
  workers: 16
  stop_timeout: 25s
  backoff_initial: 250ms
  backoff_max: 2m
heartbeat_interval: 15s
history:
  capacity: 64
outbox:
  capacity: 500
log:
  level: debug
  format: console
policy:
  process:
    users: [harmony-app, "1000:1000"]
  podman:
    volume_paths: [/srv]
    registries: [docker.io/library]
    low_ports: true
`

func TestLoad(t *testing.T) {
	withDevice := func(c *Config) { c.DeviceID = "pi-017" }
	tests := []struct {
		name string
		file *string // nil: Load("")
		env  map[string]string
		// want edits Default() into the expected Config; unused when
		// wantErrs is set.
		want     func(c *Config)
		wantErrs []string
	}{
		{
			name: "defaults and environment only",
			env:  map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi-017"},
			want: withDevice,
		},
		{
			name:     "defaults only lack a device id",
			wantErrs: []string{"device_id: required (set device_id in the file or HARMONY_AGENT_DEVICE_ID)"},
		},
		{
			name: "empty file",
			file: ptr(""),
			env:  map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi-017"},
			want: withDevice,
		},
		{
			name: "comments and empty sections",
			file: ptr("# nothing yet\nnats:\n  tls:\nruntime:\nlabels:\n"),
			env:  map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi-017"},
			want: withDevice,
		},
		{
			name: "every key from the file",
			file: ptr(fullFile),
			want: func(c *Config) {
				*c = Config{
					DeviceID: "pi-017",
					Labels:   map[string]string{"site": "lyon", "Rack": "3", "app.example.com/tier": "edge"},
					StateDir: "/srv/harmony",
					NATS: NATS{
						URLs: []string{
							"nats://nats-1.example.net:4222",
							"tls://nats-2.example.net:4443",
							"wss://nats-3.example.net/ws",
						},
						User:         "pi-017",
						PasswordFile: "/etc/harmony-agent/nats.password",
						TLS: TLS{
							CAFile:   "/etc/harmony-agent/ca.pem",
							CertFile: "/etc/harmony-agent/client.pem",
							KeyFile:  "/etc/harmony-agent/client-key.pem",
						},
						Embedded: true,
					},
					Runtime: Runtime{
						Podman:  Podman{Socket: "/run/user/1000/podman/podman.sock", Init: true},
						Process: Process{DefaultUser: "harmony-app"},
					},
					Reconcile: Reconcile{
						ResyncInterval: time.Minute,
						Workers:        16,
						StopTimeout:    25 * time.Second,
						BackoffInitial: 250 * time.Millisecond,
						BackoffMax:     2 * time.Minute,
					},
					HeartbeatInterval: 15 * time.Second,
					History:           History{Capacity: 64},
					Outbox:            Outbox{Capacity: 500},
					Log:               Log{Level: "debug", Format: "console"},
					Policy: Policy{
						Process: ProcessPolicy{Users: []string{"harmony-app", "1000:1000"}},
						Podman:  PodmanPolicy{VolumePaths: []string{"/srv"}, Registries: []string{"docker.io/library"}, LowPorts: true},
					},
				}
			},
		},
		{
			name: "environment overrides the file",
			file: ptr(fullFile),
			env: map[string]string{
				"HARMONY_AGENT_DEVICE_ID":                 "pi-018",
				"HARMONY_AGENT_LABELS":                    "Site=paris, tier=core",
				"HARMONY_AGENT_STATE_DIR":                 "/var/lib/other",
				"HARMONY_AGENT_NATS_URLS":                 "nats://a:4222, tls://b:4443,",
				"HARMONY_AGENT_NATS_TLS_CA_FILE":          "/etc/ssl/ca.pem",
				"HARMONY_AGENT_NATS_EMBEDDED":             "false",
				"HARMONY_AGENT_RUNTIME_PODMAN_SOCKET":     "/run/podman/podman.sock",
				"HARMONY_AGENT_RECONCILE_RESYNC_INTERVAL": "45s",
				"HARMONY_AGENT_RECONCILE_WORKERS":         "8",
				"HARMONY_AGENT_HEARTBEAT_INTERVAL":        "1m",
				"HARMONY_AGENT_OUTBOX_CAPACITY":           "20000",
				"HARMONY_AGENT_LOG_LEVEL":                 "warn",
			},
			want: func(c *Config) {
				full := mustLoad(t, fullFile)
				*c = full
				c.DeviceID = "pi-018"
				c.Labels = map[string]string{"Site": "paris", "tier": "core"}
				c.StateDir = "/var/lib/other"
				c.NATS.URLs = []string{"nats://a:4222", "tls://b:4443"}
				c.NATS.TLS.CAFile = "/etc/ssl/ca.pem"
				c.NATS.Embedded = false
				c.Runtime.Podman.Socket = "/run/podman/podman.sock"
				c.Reconcile.ResyncInterval = 45 * time.Second
				c.Reconcile.Workers = 8
				c.HeartbeatInterval = time.Minute
				c.Outbox.Capacity = 20000
				c.Log.Level = "warn"
			},
		},
		{
			name: "an empty variable overrides too",
			file: ptr("device_id: pi-017\nnats:\n  creds_file: /etc/harmony-agent/nats.creds\n"),
			env: map[string]string{
				"HARMONY_AGENT_NATS_CREDS_FILE": "",
				"HARMONY_AGENT_TOKEN_FILE":      "/not/a/key", // not a key: ignored
			},
			want: withDevice,
		},
		{
			name:     "an empty list is reported",
			env:      map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi-017", "HARMONY_AGENT_NATS_URLS": ""},
			wantErrs: []string{"nats.urls: empty"},
		},
		{
			name:     "unknown top-level key",
			file:     ptr("device_id: pi-017\ndevcie_id: pi-018\n"),
			wantErrs: []string{`config: unknown key "devcie_id" (line 2; did you mean "device_id"?)`},
		},
		{
			name:     "unknown nested key",
			file:     ptr("device_id: pi-017\nnats:\n  ulrs:\n    - nats://a:4222\n"),
			wantErrs: []string{`unknown key "nats.ulrs" (line 3; did you mean "nats.urls"?)`},
		},
		{
			name:     "unknown key two levels down",
			file:     ptr("device_id: pi-017\nnats:\n  tls:\n    ca: /ca.pem\n"),
			wantErrs: []string{`unknown key "nats.tls.ca" (line 4)`},
		},
		{
			name:     "unknown section is reported once",
			file:     ptr("device_id: pi-017\ntelemetry:\n  port: 9100\n  path: /metrics\n"),
			wantErrs: []string{`unknown key "telemetry" (line 2)`},
		},
		{
			name:     "unknown key without a value",
			file:     ptr("device_id: pi-017\nmetrix:\nnats:\n  urls:\n  ulrs:\n"),
			wantErrs: []string{`unknown key "metrix" (line 2)`, `unknown key "nats.ulrs" (line 5`},
		},
		{
			name:     "keys are case-sensitive",
			file:     ptr("Device_ID: pi-017\n"),
			wantErrs: []string{`unknown key "Device_ID"`, "device_id: required"},
		},
		{
			name:     "section that is not a mapping",
			file:     ptr("device_id: pi-017\nreconcile: 30s\n"),
			wantErrs: []string{`reconcile: "30s" is not a mapping (line 2)`},
		},
		{
			name:     "bad duration",
			file:     ptr("device_id: pi-017\nreconcile:\n  resync_interval: 3x\n"),
			wantErrs: []string{`reconcile.resync_interval: "3x" is not a duration`},
		},
		{
			name:     "bad duration from the environment",
			env:      map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi-017", "HARMONY_AGENT_RECONCILE_RESYNC_INTERVAL": "3x"},
			wantErrs: []string{`reconcile.resync_interval: "3x" is not a duration`},
		},
		{
			name:     "duration without a unit",
			file:     ptr("device_id: pi-017\nheartbeat_interval: 30\n"),
			wantErrs: []string{`heartbeat_interval: 30 is not a duration (give a unit: "30s")`},
		},
		{
			name: "values of the wrong type",
			file: ptr(`device_id: pi-017
labels:
  rack: 3
  site: lyon
nats:
  urls: [nats://a:4222, 7]
  user: 1234
  embedded: maybe
reconcile:
  workers: four
history:
  capacity: [1]
`),
			wantErrs: []string{
				"labels.rack: 3 is not a string (line 3; quote it)",
				"nats.urls: item 1: 7 is not a string",
				"nats.user: 1234 is not a string (quote it)",
				`nats.embedded: "maybe" is not true or false`,
				`reconcile.workers: "four" is not an integer`,
				"history.capacity: a list is not an integer",
			},
		},
		{
			name:     "bad labels from the environment",
			env:      map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi-017", "HARMONY_AGENT_LABELS": "site=lyon,oops,tier="},
			wantErrs: []string{`labels: "oops" in HARMONY_AGENT_LABELS is not key=value`, "labels.tier: value is empty"},
		},
		{
			name: "several errors at once",
			file: ptr(`labels:
  "bad key": x
state_dir: var/lib/harmony-agent
nats:
  urls: [http://a:4222]
  creds_file: /etc/harmony-agent/nats.creds
  token_file: /etc/harmony-agent/nats.token
  tls:
    cert_file: /etc/harmony-agent/client.pem
reconcile:
  resync_interval: 3x
  workers: 0
  backoff_initial: 1m
  backoff_max: 10s
history:
  capacity: 0
log:
  level: loud
  fromat: json
`),
			wantErrs: []string{
				`unknown key "log.fromat" (line 19; did you mean "log.format"?)`,
				`reconcile.resync_interval: "3x" is not a duration`,
				"device_id: required",
				`labels: key "bad key" contains ' '`,
				`state_dir: "var/lib/harmony-agent" is not an absolute path`,
				`nats.urls[0]: "http://a:4222": scheme "http" is not one of nats, tls, ws, wss`,
				"nats.creds_file, nats.token_file: conflicting credentials",
				"nats.tls.key_file: required when nats.tls.cert_file is set",
				"reconcile.workers: 0 is outside 1..256",
				"reconcile.backoff_max: 10s is below reconcile.backoff_initial (1m0s)",
				"history.capacity: 0 is below the minimum 1",
				`log.level: "loud" is not one of debug, info, warn, error`,
			},
		},
		{
			name: "conflicting credentials",
			file: ptr(`device_id: pi-017
nats:
  creds_file: /etc/harmony-agent/nats.creds
  nkey_file: /etc/harmony-agent/nats.nk
  user: pi-017
  password_file: /etc/harmony-agent/nats.password
`),
			wantErrs: []string{"nats.creds_file, nats.nkey_file, nats.user: conflicting credentials; set only one of"},
		},
		{
			name:     "invalid device id",
			env:      map[string]string{"HARMONY_AGENT_DEVICE_ID": "pi.017"},
			wantErrs: []string{`device_id: fleet: invalid name: device id "pi.017": contains '.'`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := ""
			if tt.file != nil {
				path = writeFile(t, *tt.file)
			}
			got, err := Load(path)
			if tt.wantErrs != nil {
				checkErrors(t, "Load()", err, tt.wantErrs)
				if !reflect.DeepEqual(got, Config{}) {
					t.Errorf("Load() = %+v with an error, want the zero Config", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() = %v, want nil error", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr string
		wantIs  error
	}{
		{
			name:    "missing file",
			path:    func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent.yaml") },
			wantErr: "read config: open ",
			wantIs:  fs.ErrNotExist,
		},
		{
			name:    "not YAML",
			path:    func(t *testing.T) string { return writeFile(t, "nats: [\n") },
			wantErr: "parse config ",
		},
		{
			name:    "duplicate key",
			path:    func(t *testing.T) string { return writeFile(t, "device_id: a\ndevice_id: b\n") },
			wantErr: `mapping key "device_id" already defined`,
		},
		{
			name:    "top level is a list",
			path:    func(t *testing.T) string { return writeFile(t, "- device_id: a\n") },
			wantErr: "line 1: top level is a list, want a mapping of keys",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("HARMONY_AGENT_DEVICE_ID", "pi-017")
			_, err := Load(tt.path(t))
			checkErrors(t, "Load()", err, []string{tt.wantErr})
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Load() = %v, want an error wrapping %v", err, tt.wantIs)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// mustLoad loads content as a file with an empty environment.
func mustLoad(t *testing.T, content string) Config {
	t.Helper()
	c, err := Load(writeFile(t, content))
	if err != nil {
		t.Fatalf("Load(%q) = %v", content, err)
	}
	return c
}
