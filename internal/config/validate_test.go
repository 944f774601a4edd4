package config

import (
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

func validConfig() Config {
	c := Default()
	c.DeviceID = "pi-017"
	c.Runtime.Podman.Socket = "/run/podman/podman.sock"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(c *Config)
		wantErrs []string // nil: valid
	}{
		{"defaults with a device id", func(c *Config) {}, nil},
		{"device id missing", func(c *Config) { c.DeviceID = "" }, []string{"device_id: required"}},
		{"device id with a wildcard", func(c *Config) { c.DeviceID = "pi-*" }, []string{`device_id: fleet: invalid name: device id "pi-*": contains the NATS wildcard '*'`}},
		{"device id with a space", func(c *Config) { c.DeviceID = "pi 17" }, []string{`device_id: fleet: invalid name: device id "pi 17": contains whitespace`}},
		{"device id too long", func(c *Config) { c.DeviceID = fleet.DeviceID(strings.Repeat("x", 254)) }, []string{"longer than 253 bytes"}},
		{"labels", func(c *Config) {
			c.Labels = map[string]string{"site": "lyon", "app.example.com/tier-2_b": "edge", "A": "B"}
		}, nil},
		{"label key empty", func(c *Config) { c.Labels = map[string]string{"": "x"} }, []string{"labels: a key is empty"}},
		{"label key charset", func(c *Config) { c.Labels = map[string]string{"site:a": "x"} }, []string{`labels: key "site:a" contains ':'`}},
		{"label key unicode", func(c *Config) { c.Labels = map[string]string{"sité": "x"} }, []string{`labels: key "sité" contains 'é'`}},
		{"label value empty", func(c *Config) { c.Labels = map[string]string{"site": ""} }, []string{"labels.site: value is empty"}},
		{"state dir relative", func(c *Config) { c.StateDir = ".dev-state" }, []string{`state_dir: ".dev-state" is not an absolute path`}},
		{"state dir empty", func(c *Config) { c.StateDir = "" }, []string{"state_dir: required"}},
		{"every URL scheme", func(c *Config) {
			c.NATS.URLs = []string{"nats://a", "tls://b:4443", "ws://c:8080/x", "wss://d", "nats://user:pw@[::1]:4222"}
		}, nil},
		{"no URL", func(c *Config) { c.NATS.URLs = nil }, []string{"nats.urls: empty"}},
		{"bad URLs", func(c *Config) {
			c.NATS.URLs = []string{"nats://ok:4222", "127.0.0.1:4222", "http://a", "nats://", "nats://a:99999", "nats://a,nats://b", "nats://a b"}
		}, []string{
			`nats.urls[1]: "127.0.0.1:4222": first path segment in URL cannot contain colon`,
			`nats.urls[2]: "http://a": scheme "http" is not one of nats, tls, ws, wss`,
			`nats.urls[3]: "nats://": no host`,
			`nats.urls[4]: "nats://a:99999": port "99999" is outside 1..65535`,
			`nats.urls[5]: "nats://a,nats://b": contains ','`,
			`nats.urls[6]: "nats://a b": invalid character " " in host name`,
		}},
		{"password masked in a bad URL", func(c *Config) {
			c.NATS.URLs = []string{"http://pi:hunter2@a:4222", "nats://pi:hunter2@a:port"}
		}, []string{
			`nats.urls[0]: "http://pi:xxxxx@a:4222": scheme "http"`,
			`nats.urls[1]: "nats://pi:xxxxx@a:port": invalid port`,
		}},
		{"creds file", func(c *Config) { c.NATS.CredsFile = "/etc/harmony-agent/nats.creds" }, nil},
		{"nkey file", func(c *Config) { c.NATS.NKeyFile = "/etc/harmony-agent/nats.nk" }, nil},
		{"token file", func(c *Config) { c.NATS.TokenFile = "/etc/harmony-agent/nats.token" }, nil},
		{"user and password", func(c *Config) { c.NATS.User, c.NATS.PasswordFile = "pi", "/etc/p" }, nil},
		{"user without password", func(c *Config) { c.NATS.User = "pi" }, []string{"nats.password_file: required when nats.user is set"}},
		{"password without user", func(c *Config) { c.NATS.PasswordFile = "/etc/p" }, []string{"nats.user: required when nats.password_file is set"}},
		{"two credentials", func(c *Config) {
			c.NATS.NKeyFile, c.NATS.TokenFile = "/etc/nk", "/etc/token"
		}, []string{"nats.nkey_file, nats.token_file: conflicting credentials"}},
		{"password file and creds", func(c *Config) {
			c.NATS.CredsFile, c.NATS.PasswordFile = "/etc/creds", "/etc/p"
		}, []string{"nats.creds_file, nats.password_file: conflicting credentials", "nats.user: required when nats.password_file is set"}},
		{"all credentials", func(c *Config) {
			c.NATS = NATS{URLs: c.NATS.URLs, CredsFile: "/a", NKeyFile: "/b", User: "u", PasswordFile: "/c", TokenFile: "/d"}
		}, []string{"nats.creds_file, nats.nkey_file, nats.user, nats.token_file: conflicting credentials"}},
		{"relative credential paths", func(c *Config) {
			c.NATS.User, c.NATS.PasswordFile = "pi", "password"
			c.NATS.TLS = TLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}
		}, []string{
			`nats.password_file: "password" is not an absolute path`,
			`nats.tls.ca_file: "ca.pem" is not an absolute path`,
			`nats.tls.cert_file: "c.pem" is not an absolute path`,
			`nats.tls.key_file: "k.pem" is not an absolute path`,
		}},
		{"relative creds and nkey and token", func(c *Config) {
			c.NATS.CredsFile = "nats.creds"
			c.NATS.NKeyFile = "nats.nk"
			c.NATS.TokenFile = "token"
		}, []string{
			`nats.creds_file: "nats.creds" is not an absolute path`,
			`nats.nkey_file: "nats.nk" is not an absolute path`,
			`nats.token_file: "token" is not an absolute path`,
			"nats.creds_file, nats.nkey_file, nats.token_file: conflicting credentials",
		}},
		{"TLS CA only", func(c *Config) { c.NATS.TLS.CAFile = "/etc/ca.pem" }, nil},
		{"TLS client certificate", func(c *Config) { c.NATS.TLS.CertFile, c.NATS.TLS.KeyFile = "/c", "/k" }, nil},
		{"TLS cert without key", func(c *Config) { c.NATS.TLS.CertFile = "/c" }, []string{"nats.tls.key_file: required when nats.tls.cert_file is set"}},
		{"TLS key without cert", func(c *Config) { c.NATS.TLS.KeyFile = "/k" }, []string{"nats.tls.cert_file: required when nats.tls.key_file is set"}},
		{"podman socket relative", func(c *Config) { c.Runtime.Podman.Socket = "podman.sock" }, []string{`runtime.podman.socket: "podman.sock" is not an absolute path`}},
		{"podman socket empty disables podman", func(c *Config) { c.Runtime.Podman.Socket = "" }, nil},
		{"smallest intervals", func(c *Config) {
			c.Reconcile.ResyncInterval, c.HeartbeatInterval = time.Second, time.Second
			c.Reconcile.BackoffInitial, c.Reconcile.BackoffMax = time.Millisecond, time.Millisecond
			c.Reconcile.StopTimeout = time.Millisecond
		}, nil},
		{"intervals too short", func(c *Config) {
			c.Reconcile.ResyncInterval, c.HeartbeatInterval = 999*time.Millisecond, 0
		}, []string{
			"reconcile.resync_interval: 999ms is below the minimum 1s",
			"heartbeat_interval: 0s is below the minimum 1s",
		}},
		{"workers bounds", func(c *Config) { c.Reconcile.Workers = 256 }, nil},
		{"too many workers", func(c *Config) { c.Reconcile.Workers = 257 }, []string{"reconcile.workers: 257 is outside 1..256"}},
		{"no workers", func(c *Config) { c.Reconcile.Workers = 0 }, []string{"reconcile.workers: 0 is outside 1..256"}},
		{"stop timeout zero", func(c *Config) { c.Reconcile.StopTimeout = 0 }, []string{"reconcile.stop_timeout: 0s is not positive"}},
		{"backoff negative", func(c *Config) { c.Reconcile.BackoffInitial = -time.Second }, []string{"reconcile.backoff_initial: -1s is not positive"}},
		{"backoff max below initial", func(c *Config) {
			c.Reconcile.BackoffInitial, c.Reconcile.BackoffMax = time.Minute, time.Second
		}, []string{"reconcile.backoff_max: 1s is below reconcile.backoff_initial (1m0s)"}},
		{"capacities", func(c *Config) { c.History.Capacity, c.Outbox.Capacity = 1, 1 }, nil},
		{"capacities zero", func(c *Config) { c.History.Capacity, c.Outbox.Capacity = 0, -1 }, []string{
			"history.capacity: 0 is below the minimum 1",
			"outbox.capacity: -1 is below the minimum 1",
		}},
		{"every log level and format", func(c *Config) { c.Log = Log{Level: "debug", Format: "console"} }, nil},
		{"log level and format", func(c *Config) { c.Log = Log{Level: "INFO", Format: "text"} }, []string{
			`log.level: "INFO" is not one of debug, info, warn, error`,
			`log.format: "text" is not one of json, console`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErrs == nil {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			checkErrors(t, "Validate()", err, tt.wantErrs)
		})
	}
}

// Validate reports every bad field, not the first one only.
func TestValidateReportsAll(t *testing.T) {
	c := Config{} // every field is at its zero value
	want := []string{
		"device_id: required",
		"state_dir: required",
		"nats.urls: empty",
		"reconcile.resync_interval: 0s is below the minimum 1s",
		"reconcile.workers: 0 is outside 1..256",
		"reconcile.stop_timeout: 0s is not positive",
		"reconcile.backoff_initial: 0s is not positive",
		"heartbeat_interval: 0s is below the minimum 1s",
		"history.capacity: 0 is below the minimum 1",
		"outbox.capacity: 0 is below the minimum 1",
		`log.level: "" is not one of`,
		`log.format: "" is not one of`,
		"runtime.process.default_user: required",
	}
	checkErrors(t, "Config{}.Validate()", c.Validate(), want)
}
