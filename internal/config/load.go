package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// ErrUnknownKey is wrapped by the error for every key in the file that the
// agent does not know (a typo must fail loudly, not fall back to a default).
var ErrUnknownKey = errors.New("config: unknown key")

// envPrefix starts every environment override: the key with dots turned to
// underscores, upper-cased, follows it (nats.tls.ca_file is
// HARMONY_AGENT_NATS_TLS_CA_FILE).
const envPrefix = "HARMONY_AGENT_"

// labelsKey is the one key whose value is a free-form map. Viper lower-cases
// map keys, and label keys are case-sensitive, so labels are read from the
// YAML and the environment directly rather than through viper.
const labelsKey = "labels"

// field is one scalar or list key and where its value lives in a Config.
type field struct {
	key string
	// ptr returns a pointer to the field in c: *string, *fleet.DeviceID,
	// *[]string, *bool, *int or *time.Duration.
	ptr func(c *Config) any
}

// fields lists every key but labels, in the order of configs/agent.yaml.
var fields = []field{
	{"device_id", func(c *Config) any { return &c.DeviceID }},
	{"state_dir", func(c *Config) any { return &c.StateDir }},
	{"nats.urls", func(c *Config) any { return &c.NATS.URLs }},
	{"nats.creds_file", func(c *Config) any { return &c.NATS.CredsFile }},
	{"nats.nkey_file", func(c *Config) any { return &c.NATS.NKeyFile }},
	{"nats.user", func(c *Config) any { return &c.NATS.User }},
	{"nats.password_file", func(c *Config) any { return &c.NATS.PasswordFile }},
	{"nats.token_file", func(c *Config) any { return &c.NATS.TokenFile }},
	{"nats.tls.ca_file", func(c *Config) any { return &c.NATS.TLS.CAFile }},
	{"nats.tls.cert_file", func(c *Config) any { return &c.NATS.TLS.CertFile }},
	{"nats.tls.key_file", func(c *Config) any { return &c.NATS.TLS.KeyFile }},
	{"nats.embedded", func(c *Config) any { return &c.NATS.Embedded }},
	{"nats.create_resources", func(c *Config) any { return &c.NATS.CreateResources }},
	{"runtime.podman.socket", func(c *Config) any { return &c.Runtime.Podman.Socket }},
	{"runtime.podman.network", func(c *Config) any { return &c.Runtime.Podman.Network }},
	{"runtime.podman.init", func(c *Config) any { return &c.Runtime.Podman.Init }},
	{"runtime.process.default_user", func(c *Config) any { return &c.Runtime.Process.DefaultUser }},
	{"trust.keys", func(c *Config) any { return &c.Trust.Keys }},
	{"reconcile.resync_interval", func(c *Config) any { return &c.Reconcile.ResyncInterval }},
	{"reconcile.workers", func(c *Config) any { return &c.Reconcile.Workers }},
	{"reconcile.stop_timeout", func(c *Config) any { return &c.Reconcile.StopTimeout }},
	{"reconcile.backoff_initial", func(c *Config) any { return &c.Reconcile.BackoffInitial }},
	{"reconcile.backoff_max", func(c *Config) any { return &c.Reconcile.BackoffMax }},
	{"heartbeat_interval", func(c *Config) any { return &c.HeartbeatInterval }},
	{"history.capacity", func(c *Config) any { return &c.History.Capacity }},
	{"outbox.capacity", func(c *Config) any { return &c.Outbox.Capacity }},
	{"log.level", func(c *Config) any { return &c.Log.Level }},
	{"log.format", func(c *Config) any { return &c.Log.Format }},
	{"policy.process.users", func(c *Config) any { return &c.Policy.Process.Users }},
	{"policy.podman.volume_paths", func(c *Config) any { return &c.Policy.Podman.VolumePaths }},
	{"policy.podman.registries", func(c *Config) any { return &c.Policy.Podman.Registries }},
	{"policy.podman.low_ports", func(c *Config) any { return &c.Policy.Podman.LowPorts }},
	{"metrics.listen", func(c *Config) any { return &c.Metrics.Listen }},
}

// knownKeys returns every configuration key, sorted.
func knownKeys() []string {
	keys := []string{labelsKey}
	for _, f := range fields {
		keys = append(keys, f.key)
	}
	sort.Strings(keys)
	return keys
}

// envName returns the environment variable that overrides key.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load reads the configuration: the defaults, then the YAML file at path
// (skipped when path is ""), then the environment: HARMONY_AGENT_<KEY> for
// every key, with lists (nats.urls) comma-separated and labels as
// "k=v,k2=v2". A variable that is set but empty overrides too (it can clear
// a credential set in the file).
//
// A missing or unreadable file, or one that is not YAML, is an error on its
// own. Otherwise Load reports every problem at once, joined: unknown keys in
// the file, values of the wrong type, and everything Validate rejects. It
// returns a zero Config with any error.
func Load(path string) (Config, error) {
	v := viper.New()
	v.AllowEmptyEnv(true)

	cfg := Default()
	for _, f := range fields {
		v.SetDefault(f.key, value(f.ptr(&cfg)))
		if err := v.BindEnv(f.key, envName(f.key)); err != nil {
			return Config{}, fmt.Errorf("bind %s: %w", envName(f.key), err)
		}
	}

	var errs []error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		root, err := parseFile(data)
		if err != nil {
			return Config{}, fmt.Errorf("parse config %s: %w", path, err)
		}
		errs = append(errs, checkKeys(root, "")...)
		labels, err := fileLabels(root)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Labels = labels
		m := map[string]any{}
		if err := root.Decode(&m); err != nil {
			return Config{}, fmt.Errorf("parse config %s: %w", path, err)
		}
		delete(m, labelsKey)
		if err := v.MergeConfigMap(m); err != nil {
			return Config{}, fmt.Errorf("parse config %s: %w", path, err)
		}
	}

	if s, ok := os.LookupEnv(envName(labelsKey)); ok {
		labels, err := envLabels(s)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.Labels = labels
	}
	for _, f := range fields {
		if err := decode(f.ptr(&cfg), v.Get(f.key)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
		}
	}

	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseFile returns the top-level mapping of a YAML document; an empty
// document is an empty mapping.
func parseFile(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	empty := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return empty, nil
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.MappingNode:
		return root, nil
	case isNull(root):
		return empty, nil
	default:
		return nil, fmt.Errorf("line %d: top level is %s, want a mapping of keys", root.Line, describe(root))
	}
}

// checkKeys walks a mapping of the file and returns an error for every key
// that is not a known key or section, and for every section that is not a
// mapping. prefix is the dotted path of node ("" at the top). It removes
// those keys, and null values, from node: what is left is what the file
// sets, and viper sees nothing else.
func checkKeys(node *yaml.Node, prefix string) []error {
	var errs []error
	kept := node.Content[:0]
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		key := prefix + k.Value
		switch {
		case key != labelsKey && !isField(key) && !isSection(key):
			errs = append(errs, unknownKey(key, k.Line))
			continue
		case isNull(val) && key != labelsKey:
			// Null means unset: the default applies.
			continue
		case key == labelsKey || isField(key):
			// fileLabels checks the shape of labels, decode the type of
			// the others.
		case isSection(key) && val.Kind == yaml.MappingNode:
			errs = append(errs, checkKeys(val, key+".")...)
		default: // a section that is not a mapping
			errs = append(errs, fmt.Errorf("%s: %s is not a mapping (line %d)", key, describe(val), val.Line))
			continue
		}
		kept = append(kept, k, val)
	}
	node.Content = kept
	return errs
}

func unknownKey(key string, line int) error {
	if near := nearestKey(key); near != "" {
		return fmt.Errorf("%w %q (line %d; did you mean %q?)", ErrUnknownKey, key, line, near)
	}
	return fmt.Errorf("%w %q (line %d)", ErrUnknownKey, key, line)
}

func isField(key string) bool {
	for _, f := range fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// isSection reports whether key is a strict prefix (a section) of some key.
func isSection(key string) bool {
	for _, f := range fields {
		if strings.HasPrefix(f.key, key+".") {
			return true
		}
	}
	return false
}

// nearestKey returns the known key closest to key when it is a likely typo
// (at most two edits away), or "".
func nearestKey(key string) string {
	best, bestDist := "", 3
	for _, k := range knownKeys() {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fileLabels reads the labels mapping from the file's top level, keeping the
// case of its keys. It returns nil when labels is absent or null.
func fileLabels(root *yaml.Node) (map[string]string, error) {
	var node *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == labelsKey {
			node = root.Content[i+1]
		}
	}
	if node == nil || isNull(node) {
		return nil, nil
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: %s is not a mapping (line %d)", labelsKey, describe(node), node.Line)
	}
	labels := make(map[string]string, len(node.Content)/2)
	var errs []error
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		if val.Kind != yaml.ScalarNode || val.Tag != "!!str" {
			errs = append(errs, fmt.Errorf("%s.%s: %s is not a string (line %d; quote it)", labelsKey, k.Value, describe(val), val.Line))
			continue
		}
		labels[k.Value] = val.Value
	}
	return labels, errors.Join(errs...)
}

// envLabels parses HARMONY_AGENT_LABELS: "k=v,k2=v2"; "" is no labels.
func envLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	var errs []error
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, val, ok := strings.Cut(item, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %q in %s is not key=value", labelsKey, item, envName(labelsKey)))
			continue
		}
		labels[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return labels, errors.Join(errs...)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names a YAML node's value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	default:
		return "an alias"
	}
}

// value returns what ptr points at, in a form decode accepts.
func value(ptr any) any {
	switch p := ptr.(type) {
	case *string:
		return *p
	case *fleet.DeviceID:
		return string(*p)
	case *[]string:
		return *p
	case *bool:
		return *p
	case *int:
		return *p
	case *time.Duration:
		return *p
	default:
		panic(fmt.Sprintf("config: no value for %T", ptr))
	}
}

// decode stores raw, a value from viper (a default, a YAML value or an
// environment string), into the field ptr points at. On error it leaves the
// field alone and says why raw does not fit.
func decode(ptr, raw any) error {
	switch p := ptr.(type) {
	case *string:
		s, err := asString(raw)
		if err != nil {
			return err
		}
		*p = s
	case *fleet.DeviceID:
		s, err := asString(raw)
		if err != nil {
			return err
		}
		*p = fleet.DeviceID(s)
	case *[]string:
		l, err := asStrings(raw)
		if err != nil {
			return err
		}
		*p = l
	case *bool:
		b, err := asBool(raw)
		if err != nil {
			return err
		}
		*p = b
	case *int:
		n, err := asInt(raw)
		if err != nil {
			return err
		}
		*p = n
	case *time.Duration:
		d, err := asDuration(raw)
		if err != nil {
			return err
		}
		*p = d
	default:
		panic(fmt.Sprintf("config: no decoder for %T", ptr))
	}
	return nil
}

// show formats a raw value for an error message: strings quoted.
func show(raw any) string {
	if s, ok := raw.(string); ok {
		return strconv.Quote(s)
	}
	switch raw.(type) {
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprint(raw)
}

func asString(raw any) (string, error) {
	if s, ok := raw.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("%s is not a string (quote it)", show(raw))
}

// asStrings accepts a list of strings or, from the environment, one
// comma-separated string; blank items are dropped.
func asStrings(raw any) ([]string, error) {
	switch l := raw.(type) {
	case []string:
		return append([]string(nil), l...), nil
	case string:
		var out []string
		for _, s := range strings.Split(l, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(l))
		for i, item := range l {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("item %d: %s is not a string", i, show(item))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s is not a list of strings", show(raw))
	}
}

func asBool(raw any) (bool, error) {
	switch b := raw.(type) {
	case bool:
		return b, nil
	case string:
		v, err := strconv.ParseBool(strings.TrimSpace(b))
		if err == nil {
			return v, nil
		}
	}
	return false, fmt.Errorf("%s is not true or false", show(raw))
}

func asInt(raw any) (int, error) {
	switch n := raw.(type) {
	case int:
		return n, nil
	case int64:
		if n >= math.MinInt && n <= math.MaxInt {
			return int(n), nil
		}
	case uint64:
		if n <= math.MaxInt {
			return int(n), nil
		}
	case string:
		v, err := strconv.Atoi(strings.TrimSpace(n))
		if err == nil {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s is not an integer", show(raw))
}

func asDuration(raw any) (time.Duration, error) {
	switch d := raw.(type) {
	case time.Duration:
		return d, nil
	case string:
		v, err := time.ParseDuration(strings.TrimSpace(d))
		if err == nil {
			return v, nil
		}
		return 0, fmt.Errorf("%s is not a duration", show(raw))
	case int, int64, uint64, float64:
		return 0, fmt.Errorf("%v is not a duration (give a unit: \"%vs\")", d, d)
	}
	return 0, fmt.Errorf("%s is not a duration", show(raw))
}
