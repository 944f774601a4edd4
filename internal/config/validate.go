package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// Bounds checked by Validate.
const (
	minInterval = time.Second // resync and heartbeat
	maxWorkers  = 256
)

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "console"}
	urlSchemes = []string{"nats", "tls", "ws", "wss"}
)

// Validate reports every field of c that breaks a rule, joined with
// errors.Join, each as "<key>: <reason>"; nil when c is usable. It does no
// I/O: files named by the configuration are opened, and their absence
// reported, by whoever uses them.
func (c Config) Validate() error {
	var v validator

	switch {
	case c.DeviceID == "":
		v.add("device_id", "required (set device_id in the file or %s)", envName("device_id"))
	default:
		if _, err := fleet.ParseDeviceID(string(c.DeviceID)); err != nil {
			v.add("device_id", "%w", err)
		}
	}
	v.labels(c.Labels)
	v.absPath("state_dir", c.StateDir, true)

	v.urls("nats.urls", c.NATS.URLs)
	v.absPath("nats.creds_file", c.NATS.CredsFile, false)
	v.absPath("nats.nkey_file", c.NATS.NKeyFile, false)
	v.absPath("nats.password_file", c.NATS.PasswordFile, false)
	v.absPath("nats.token_file", c.NATS.TokenFile, false)
	v.credentials(c.NATS)
	v.absPath("nats.tls.ca_file", c.NATS.TLS.CAFile, false)
	v.absPath("nats.tls.cert_file", c.NATS.TLS.CertFile, false)
	v.absPath("nats.tls.key_file", c.NATS.TLS.KeyFile, false)
	v.pair("nats.tls.cert_file", c.NATS.TLS.CertFile, "nats.tls.key_file", c.NATS.TLS.KeyFile)

	v.absPath("runtime.podman.socket", c.Runtime.Podman.Socket, false) // "" disables podman
	v.trustKeys("trust.keys", c.Trust.Keys)

	r := c.Reconcile
	v.atLeast("reconcile.resync_interval", r.ResyncInterval, minInterval)
	if r.Workers < 1 || r.Workers > maxWorkers {
		v.add("reconcile.workers", "%d is outside 1..%d", r.Workers, maxWorkers)
	}
	v.positive("reconcile.stop_timeout", r.StopTimeout)
	v.positive("reconcile.backoff_initial", r.BackoffInitial)
	if r.BackoffMax < r.BackoffInitial {
		v.add("reconcile.backoff_max", "%v is below reconcile.backoff_initial (%v)", r.BackoffMax, r.BackoffInitial)
	}
	v.atLeast("heartbeat_interval", c.HeartbeatInterval, minInterval)

	v.capacity("history.capacity", c.History.Capacity)
	v.capacity("outbox.capacity", c.Outbox.Capacity)

	v.oneOf("log.level", c.Log.Level, logLevels)
	v.oneOf("log.format", c.Log.Format, logFormats)

	v.user("runtime.process.default_user", c.Runtime.Process.DefaultUser)
	for i, u := range c.Policy.Process.Users {
		v.user(fmt.Sprintf("policy.process.users[%d]", i), u)
	}
	for i, p := range c.Policy.Podman.VolumePaths {
		v.absPath(fmt.Sprintf("policy.podman.volume_paths[%d]", i), p, true)
	}
	for i, r := range c.Policy.Podman.Registries {
		if r == "" || strings.ContainsAny(r, " \t\n") {
			v.add(fmt.Sprintf("policy.podman.registries[%d]", i), "%q is not an image prefix (like docker.io/library or registry.example.net/)", r)
		}
	}

	if _, err := c.Metrics.ListenAddr(); err != nil {
		v.add("metrics.listen", "%q: %v (want host:port, or :port for 127.0.0.1)", c.Metrics.Listen, err)
	}

	return errors.Join(v.errs...)
}

// validator collects field errors; its methods each check one rule.
type validator struct {
	errs []error
}

// add records "<key>: <reason>"; format may use %w.
func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
}

// absPath checks that path is absolute; an empty path is allowed unless
// required.
func (v *validator) absPath(key, path string, required bool) {
	switch {
	case path == "" && required:
		v.add(key, "required")
	case path != "" && !filepath.IsAbs(path):
		v.add(key, "%q is not an absolute path", path)
	}
}

func (v *validator) atLeast(key string, d, least time.Duration) {
	if d < least {
		v.add(key, "%v is below the minimum %v", d, least)
	}
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "%v is not positive", d)
	}
}

func (v *validator) capacity(key string, n int) {
	if n < 1 {
		v.add(key, "%d is below the minimum 1", n)
	}
}

func (v *validator) oneOf(key, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		v.add(key, "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
}

// pair checks that two settings are both set or both empty.
func (v *validator) pair(keyA, a, keyB, b string) {
	switch {
	case a != "" && b == "":
		v.add(keyB, "required when %s is set", keyA)
	case a == "" && b != "":
		v.add(keyA, "required when %s is set", keyB)
	}
}

func (v *validator) labels(labels map[string]string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" {
			v.add(labelsKey, "a key is empty")
			continue
		}
		if i := strings.IndexFunc(k, func(r rune) bool { return !labelKeyChar(r) }); i >= 0 {
			v.add(labelsKey, "key %q contains %q (allowed: A-Z a-z 0-9 . _ / -)", k, []rune(k[i:])[0])
		}
		if labels[k] == "" {
			v.add(labelsKey+"."+k, "value is empty")
		}
	}
}

func labelKeyChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '/' || r == '-'
}

func (v *validator) urls(key string, urls []string) {
	if len(urls) == 0 {
		v.add(key, "empty; give at least one server URL")
	}
	for i, s := range urls {
		if err := checkURL(s); err != nil {
			v.add(key+"["+strconv.Itoa(i)+"]", "%q: %w", redactURL(s), err)
		}
	}
}

// redactURL is s with any password in it masked, also when s does not
// parse: whatever lies between "://" and the last "@". (natsconn's
// RedactURLs does the same for the connection; config does not link
// nats.go.)
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return s
	}
	scheme, rest, ok := strings.Cut(s, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return s
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// checkURL reports why s is not a NATS server URL, or nil.
func checkURL(s string) error {
	if strings.Contains(s, ",") {
		return errors.New("contains ',' (give one URL per list item)")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse repeats s; keep only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	if !slices.Contains(urlSchemes, u.Scheme) {
		return fmt.Errorf("scheme %q is not one of %s", u.Scheme, strings.Join(urlSchemes, ", "))
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is outside 1..65535", p)
		}
	}
	return nil
}

// credentials checks that at most one way to authenticate is set, and that
// user and password_file come together.
func (v *validator) credentials(n NATS) {
	v.pair("nats.user", n.User, "nats.password_file", n.PasswordFile)
	var set []string
	if n.CredsFile != "" {
		set = append(set, "nats.creds_file")
	}
	if n.NKeyFile != "" {
		set = append(set, "nats.nkey_file")
	}
	switch {
	case n.User != "":
		set = append(set, "nats.user")
	case n.PasswordFile != "":
		set = append(set, "nats.password_file")
	}
	if n.TokenFile != "" {
		set = append(set, "nats.token_file")
	}
	if len(set) > 1 {
		v.add(strings.Join(set, ", "), "conflicting credentials; set only one of creds_file, nkey_file, user with password_file, or token_file")
	}
}

// user checks a user name or uid:gid as specs give them (fleet's rule).
func (v *validator) user(key, u string) {
	spec := fleet.DeploymentSpec{Runtime: fleet.RuntimeProcess, Command: []string{"/bin/true"}, User: u}
	switch {
	case u == "":
		v.add(key, "required: a user name or uid:gid")
	case spec.Validate() != nil:
		v.add(key, "%q is neither a user name nor uid:gid", u)
	}
}

// trustKeys checks that every key is an account public key, given once.
// The error names the key by its index, and shows it unless it is a seed.
func (v *validator) trustKeys(key string, keys []string) {
	for i, k := range keys {
		item := key + "[" + strconv.Itoa(i) + "]"
		if err := signed.CheckPublicKey(k); err != nil {
			v.add(item, "%w", err)
			continue
		}
		if j := slices.Index(keys, k); j < i {
			v.add(item, "%s is also %s[%d]", k, key, j)
		}
	}
}
