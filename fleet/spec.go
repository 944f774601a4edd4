package fleet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// MaxSpecBytes is the largest desired-state value accepted.
const MaxSpecBytes = 64 << 10

// DefaultGracePeriodSeconds is how long a workload gets to stop before it is
// killed, when its spec does not say.
const DefaultGracePeriodSeconds = 10

// MaxGracePeriodSeconds bounds grace_period_seconds.
const MaxGracePeriodSeconds = 3600

// ErrInvalidSpec is wrapped by every error DecodeSpec and Validate return.
var ErrInvalidSpec = errors.New("fleet: invalid deployment spec")

// RuntimeKind names the runtime a deployment runs under.
type RuntimeKind string

// The runtimes.
const (
	RuntimePodman  RuntimeKind = "podman"
	RuntimeProcess RuntimeKind = "process"
)

// Valid reports whether k is a known runtime.
func (k RuntimeKind) Valid() bool { return k == RuntimePodman || k == RuntimeProcess }

// RestartPolicy says when a stopped workload is started again.
type RestartPolicy string

// The restart policies; RestartAlways is the default.
const (
	RestartAlways    RestartPolicy = "always"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartNever     RestartPolicy = "never"
)

// Valid reports whether p is a known policy.
func (p RestartPolicy) Valid() bool {
	return p == RestartAlways || p == RestartOnFailure || p == RestartNever
}

// DeploymentSpec is the desired state of one deployment on one device: the
// value under DesiredKey in the desired-state bucket.
type DeploymentSpec struct {
	Runtime    RuntimeKind       `json:"runtime"`
	Image      string            `json:"image,omitempty"`
	Command    []string          `json:"command,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Ports      []PortMapping     `json:"ports,omitempty"`
	Volumes    []VolumeMount     `json:"volumes,omitempty"`
	Restart    RestartPolicy     `json:"restart,omitempty"`
	// GracePeriodSeconds is how long the workload may take to stop after
	// SIGTERM before it is killed; 0 means DefaultGracePeriodSeconds.
	GracePeriodSeconds int `json:"grace_period_seconds,omitempty"`
	// User is who a process workload runs as: a user name or "uid:gid";
	// empty means the agent's runtime.process.default_user. Process only.
	User string `json:"user,omitempty"`
}

// PortMapping publishes a container port on the host (podman only).
type PortMapping struct {
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"`
}

// VolumeMount binds a host path into the container (podman only).
type VolumeMount struct {
	HostPath      string `json:"host_path"`
	ContainerPath string `json:"container_path"`
	ReadOnly      bool   `json:"read_only,omitempty"`
}

// DecodeSpec parses a desired-state value strictly: at most MaxSpecBytes,
// one JSON object, no unknown fields, every rule of Validate. The result has
// its defaults filled in.
func DecodeSpec(data []byte) (DeploymentSpec, error) {
	s, err := decodeSpecStrict(data)
	if err != nil {
		return DeploymentSpec{}, err
	}
	return s.WithDefaults(), nil
}

// UnmarshalJSON decodes a DeploymentSpec as strictly as DecodeSpec does
// (size limit, unknown, duplicate and wrongly-cased fields, every rule of
// Validate, JSON null refused) and returns the same error, so a program
// that calls json.Unmarshal, or decodes a record holding a spec, is as
// strict as the agent. Unlike DecodeSpec it keeps the value as written:
// defaults are not filled in, so a spec re-encodes to what it was decoded
// from. On error s is left unchanged.
//
// A value that is not well-formed JSON never reaches this method:
// json.Unmarshal reports its own *json.SyntaxError first.
func (s *DeploymentSpec) UnmarshalJSON(data []byte) error {
	v, err := decodeSpecStrict(data)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// specJSON has DeploymentSpec's fields and none of its methods: decoding
// into it is encoding/json's own, which is what keeps UnmarshalJSON from
// calling itself.
type specJSON DeploymentSpec

// decodeSpecStrict is DecodeSpec without the defaults: the one strict
// decoder behind DecodeSpec and UnmarshalJSON, each value decoded once.
func decodeSpecStrict(data []byte) (DeploymentSpec, error) {
	if len(data) > MaxSpecBytes {
		return DeploymentSpec{}, fmt.Errorf("%w: value is %d bytes, over the %d-byte limit", ErrInvalidSpec, len(data), MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw specJSON
	if err := dec.Decode(&raw); err != nil {
		return DeploymentSpec{}, fmt.Errorf("%w: %s", ErrInvalidSpec, describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return DeploymentSpec{}, fmt.Errorf("%w: not JSON: data after the object", ErrInvalidSpec)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		// Decode leaves raw untouched for null; say what is wrong rather
		// than "runtime: required".
		return DeploymentSpec{}, fmt.Errorf("%w: value: want a JSON object, got JSON null", ErrInvalidSpec)
	}
	if err := checkExactKeys(data); err != nil {
		return DeploymentSpec{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	s := DeploymentSpec(raw)
	if err := s.Validate(); err != nil { // Validate applies the defaults to its copy
		return DeploymentSpec{}, err
	}
	return s, nil
}

// specKeys are the exact object keys allowed at each level of a spec;
// "env" keys are free. encoding/json matches field names without regard to
// case and keeps the last of duplicate keys, so a strict decoder must check
// them itself: "IMAGE" or a doubled "image" is a mistake to report.
var specKeys = map[string][]string{
	"":        {"runtime", "image", "command", "env", "working_dir", "ports", "volumes", "restart", "grace_period_seconds", "user"},
	"ports":   {"host_port", "container_port", "protocol"},
	"volumes": {"host_path", "container_path", "read_only"},
}

// checkExactKeys walks an already well-formed spec and reports the first
// key that differs from its field only by case, or appears twice. It reads
// the value once with fleet's scanner (decode.go): this runs on every
// desired value an agent verifies.
func checkExactKeys(data []byte) error {
	s := scanner{data: data}
	return s.exactKeys("", "")
}

// exactKeys checks the value at the scanner against specKeys[level]; path
// names it in errors.
func (s *scanner) exactKeys(level, path string) error {
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch s.peek() {
	case '{':
		var seen []string // objects are small; a map once they are not
		var many map[string]bool
		allowed, known := specKeys[level]
		return s.object(func(k []byte) error {
			key := string(k)
			dup := many[key]
			if many == nil {
				dup = slices.Contains(seen, key)
			}
			if dup {
				return fmt.Errorf("%s: duplicate field", join(key))
			}
			if many != nil {
				many[key] = true
			} else if seen = append(seen, key); len(seen) > 16 {
				many = make(map[string]bool, 2*len(seen))
				for _, k := range seen {
					many[k] = true
				}
			}
			if known && !slices.Contains(allowed, key) {
				return fmt.Errorf("unknown field %q (field names are lower-case: %s)", join(key), strings.Join(allowed, ", "))
			}
			next := "-" // below a known level, keys are free (env)
			if level == "" && (key == "ports" || key == "volumes") {
				next = key
			}
			if c := s.peek(); c != '{' && c != '[' {
				_, err := s.skip()
				return err
			}
			return s.exactKeys(next, join(key))
		})
	case '[':
		i := 0
		return s.array(func() error {
			err := s.exactKeys(level, fmt.Sprintf("%s[%d]", path, i))
			i++
			return err
		})
	}
	_, err := s.skip()
	return err
}

// describeJSONError rewords encoding/json's errors to name the field.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("not JSON: %v (at byte %d)", syntax, syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		// The value itself is not an object: an array, a string, a number.
		return fmt.Sprintf("value: want a JSON object, got JSON %s", typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "not JSON: empty or truncated value"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field") {
		return msg + " (allowed: runtime, image, command, env, working_dir, ports, volumes, restart, grace_period_seconds, user)"
	}
	return msg
}

// WithDefaults returns s with restart, grace period and port protocols
// filled in. The spec hash is taken over this form.
func (s DeploymentSpec) WithDefaults() DeploymentSpec {
	if s.Restart == "" {
		s.Restart = RestartAlways
	}
	if s.GracePeriodSeconds == 0 {
		s.GracePeriodSeconds = DefaultGracePeriodSeconds
	}
	if len(s.Ports) > 0 {
		ports := make([]PortMapping, len(s.Ports))
		for i, p := range s.Ports {
			if p.Protocol == "" {
				p.Protocol = "tcp"
			}
			ports[i] = p
		}
		s.Ports = ports
	}
	return s
}

// Validate reports every rule s breaks, each naming its field, joined by
// "; " on one line (it becomes a last_error); nil
// when s is valid. Defaults are applied first, so an unset restart passes.
func (s DeploymentSpec) Validate() error {
	s = s.WithDefaults()
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	switch s.Runtime {
	case RuntimePodman:
		if strings.TrimSpace(s.Image) == "" {
			bad("image", "required for runtime podman")
		}
		if s.User != "" {
			bad("user", "only for runtime process (a container's user is its image's)")
		}
	case RuntimeProcess:
		if len(s.Command) == 0 || s.Command[0] == "" {
			bad("command", "required for runtime process (the program and its arguments)")
		}
		if s.Image != "" {
			bad("image", "only for runtime podman")
		}
		if len(s.Ports) > 0 {
			bad("ports", "only for runtime podman (a process binds its own ports)")
		}
		if len(s.Volumes) > 0 {
			bad("volumes", "only for runtime podman")
		}
		if s.User != "" && !validUser(s.User) {
			bad("user", "%q is neither a user name nor uid:gid", truncate(s.User, 64))
		}
	case "":
		bad("runtime", "required (podman or process)")
	default:
		bad("runtime", "unknown runtime %q (want podman or process)", truncate(string(s.Runtime), 64))
	}
	if len(s.Command) > 0 && s.Runtime == RuntimeProcess {
		if c := s.Command[0]; strings.Contains(c, "/") && !path.IsAbs(c) {
			bad("command[0]", "relative path %q (give an absolute path or a bare program name)", c)
		}
	}
	for i, a := range s.Command {
		if strings.ContainsRune(a, 0) {
			bad(fmt.Sprintf("command[%d]", i), "contains a NUL byte")
		}
	}
	for k, v := range s.Env {
		switch {
		case k == "":
			bad("env", "empty variable name")
		case strings.ContainsAny(k, "=\x00"):
			bad("env."+k, "name contains '=' or NUL")
		case strings.ContainsRune(v, 0):
			bad("env."+k, "value contains NUL")
		}
	}
	if s.WorkingDir != "" && !path.IsAbs(s.WorkingDir) {
		bad("working_dir", "relative path %q (must be absolute)", s.WorkingDir)
	}
	for i, p := range s.Ports {
		f := fmt.Sprintf("ports[%d]", i)
		if p.HostPort < 1 || p.HostPort > 65535 {
			bad(f+".host_port", "%d out of range 1-65535", p.HostPort)
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			bad(f+".container_port", "%d out of range 1-65535", p.ContainerPort)
		}
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			bad(f+".protocol", "unknown protocol %q (want tcp or udp)", p.Protocol)
		}
	}
	for i, v := range s.Volumes {
		f := fmt.Sprintf("volumes[%d]", i)
		if !path.IsAbs(v.HostPath) {
			bad(f+".host_path", "relative path %q (must be absolute)", v.HostPath)
		}
		if !path.IsAbs(v.ContainerPath) {
			bad(f+".container_path", "relative path %q (must be absolute)", v.ContainerPath)
		}
	}
	if !s.Restart.Valid() {
		bad("restart", "unknown policy %q (want always, on-failure or never)", truncate(string(s.Restart), 64))
	}
	if s.GracePeriodSeconds < 0 || s.GracePeriodSeconds > MaxGracePeriodSeconds {
		bad("grace_period_seconds", "%d out of range 0-%d", s.GracePeriodSeconds, MaxGracePeriodSeconds)
	}
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs) // env is a map: keep the message stable
	return fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(errs, "; "))
}

// GracePeriod returns how long a workload with grace_period_seconds
// seconds may take to stop: DefaultGracePeriodSeconds when seconds is 0
// (or, in a record written before the field existed, below it).
func GracePeriod(seconds int) time.Duration {
	if seconds <= 0 {
		seconds = DefaultGracePeriodSeconds
	}
	return time.Duration(seconds) * time.Second
}

// GracePeriod returns how long s's workload may take to stop.
func (s DeploymentSpec) GracePeriod() time.Duration { return GracePeriod(s.GracePeriodSeconds) }

// ShortHash abbreviates a spec hash (or a container id) to the 12
// characters people read in tables and logs.
func ShortHash(h string) string { return h[:min(len(h), 12)] }

// SpecHash returns the hex SHA-256 of s's canonical JSON (defaults filled
// in, struct field order, map keys sorted): the same spec gives the same
// hash whatever the field order of the value it was decoded from.
func SpecHash(s DeploymentSpec) string {
	b, err := json.Marshal(s.WithDefaults())
	if err != nil {
		// A DeploymentSpec holds only strings, ints, bools, slices and
		// maps of strings: encoding cannot fail.
		panic("fleet: marshal spec: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// validUser reports whether u is a user name (as useradd takes it: a
// letter or '_' first, then letters, digits, '_', '-' or '.', at most 32
// bytes) or "uid:gid" in decimal.
func validUser(u string) bool {
	if uid, gid, ok := strings.Cut(u, ":"); ok {
		return decimal(uid) && decimal(gid)
	}
	if len(u) > 32 {
		return false
	}
	for i, r := range u {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return u != ""
}

// decimal reports whether s is a non-empty run of ASCII digits of at most
// ten.
func decimal(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
