package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rollout policy defaults (ARCHITECTURE 9), filled in when a fleet
// deployment's JSON leaves a field out.
const (
	DefaultMinReadySeconds      = 10
	DefaultHealthTimeoutSeconds = 300
	// MaxRolloutSeconds bounds min_ready_seconds and
	// health_timeout_seconds: one week.
	MaxRolloutSeconds = 7 * 24 * 3600
)

// MaxGeneration is the largest generation: every JSON parser reads numbers
// below 2^53 exactly.
const MaxGeneration = uint64(MaxEpoch)

// ErrInvalidFleetDeployment is wrapped by every error FleetDeployment's
// decoder and Validate return.
var ErrInvalidFleetDeployment = errors.New("fleet: invalid fleet deployment")

// FleetDeployment is a deployment kept true on every device whose
// device-registry labels match Selector: the value under DeploymentKey in
// the deployments bucket, written by operators, read by the controller.
//
// Generation grows with every new Spec (signers' rule of 3.8: max(Unix
// milliseconds, last + 1)); a change of selector, policy or pause keeps it.
// Previous is the version Spec replaced, kept so that the controller can
// roll back to it and `rollout undo` can return to it; nil for the first
// version.
type FleetDeployment struct {
	Name       DeploymentName    `json:"name"`
	Selector   map[string]string `json:"selector"`
	Spec       DeploymentSpec    `json:"spec"`
	Generation uint64            `json:"generation"`
	Rollout    RolloutPolicy     `json:"rollout"`
	Paused     bool              `json:"paused"`
	Previous   *PreviousVersion  `json:"previous,omitempty"`
}

// PreviousVersion is the spec a fleet deployment ran before its current
// one, and that spec's generation (lower than the current one).
type PreviousVersion struct {
	Spec       DeploymentSpec `json:"spec"`
	Generation uint64         `json:"generation"`
}

// RolloutPolicy says how a new generation reaches the targeted devices
// (ARCHITECTURE 9).
type RolloutPolicy struct {
	// Batch is how many devices a wave updates at most.
	Batch Batch `json:"batch"`
	// MaxFailed is how many failed devices a rollout tolerates; one more
	// halts it.
	MaxFailed MaxFailed `json:"max_failed"`
	// MinReadySeconds is how long a device must run the new spec to be
	// ready.
	MinReadySeconds int `json:"min_ready_seconds"`
	// HealthTimeoutSeconds is how long after its update a device may take
	// to be ready before it counts as failed.
	HealthTimeoutSeconds int `json:"health_timeout_seconds"`
	// AutoRollback writes the previous spec back to the devices that took
	// a version that halted.
	AutoRollback bool `json:"auto_rollback"`
}

// DefaultRolloutPolicy returns ARCHITECTURE 9's defaults: batch 1,
// max_failed 0, min_ready 10 s, health timeout 300 s, no auto-rollback.
func DefaultRolloutPolicy() RolloutPolicy {
	return RolloutPolicy{
		Batch:                Batch{Amount{N: 1}},
		MinReadySeconds:      DefaultMinReadySeconds,
		HealthTimeoutSeconds: DefaultHealthTimeoutSeconds,
	}
}

// MinReady is MinReadySeconds as a duration.
func (p RolloutPolicy) MinReady() time.Duration {
	return time.Duration(p.MinReadySeconds) * time.Second
}

// HealthTimeout is HealthTimeoutSeconds as a duration.
func (p RolloutPolicy) HealthTimeout() time.Duration {
	return time.Duration(p.HealthTimeoutSeconds) * time.Second
}

// Amount is a count of devices ("3") or a percentage of the targeted
// devices ("10%"), integers only. On the wire it is a string; a JSON number
// is read as a count.
type Amount struct {
	N       int
	Percent bool
}

// ParseAmount parses "3" or "10%".
func ParseAmount(s string) (Amount, error) {
	num, pct := strings.CutSuffix(s, "%")
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return Amount{}, fmt.Errorf("%q is not a count or a percentage (want e.g. \"3\" or \"10%%\")", truncate(s, 64))
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return Amount{}, fmt.Errorf("%q is out of range", truncate(s, 64))
	}
	a := Amount{N: n, Percent: pct}
	if pct && n > 100 {
		return Amount{}, fmt.Errorf("%q is over 100%%", s)
	}
	return a, nil
}

// String is the wire form: "3" or "10%".
func (a Amount) String() string {
	if a.Percent {
		return strconv.Itoa(a.N) + "%"
	}
	return strconv.Itoa(a.N)
}

// MarshalText writes the wire form.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a string ("3", "10%") or a non-negative JSON integer.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Batch is a wave size.
type Batch struct{ Amount }

// Resolve returns the wave size for targeted devices: a percentage rounds
// up; never below 1.
func (b Batch) Resolve(targeted int) int {
	n := b.N
	if b.Percent {
		n = (b.N*targeted + 99) / 100
	}
	return max(n, 1)
}

// MaxFailed is a failure tolerance.
type MaxFailed struct{ Amount }

// Resolve returns how many of targeted devices may fail: a percentage
// rounds down.
func (m MaxFailed) Resolve(targeted int) int {
	if m.Percent {
		return m.N * targeted / 100
	}
	return m.N
}

// Validate reports every rule p breaks, each naming its field, or nil.
func (p RolloutPolicy) Validate() error { return joinRules(p.rules("rollout.")) }

func (p RolloutPolicy) rules(prefix string) []string {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, prefix+field+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case p.Batch.N < 1:
		bad("batch", "%s: at least 1 device or 1%%", p.Batch)
	case p.Batch.Percent && p.Batch.N > 100:
		bad("batch", "%s: over 100%%", p.Batch)
	}
	switch {
	case p.MaxFailed.N < 0:
		bad("max_failed", "%s: negative", p.MaxFailed)
	case p.MaxFailed.Percent && p.MaxFailed.N > 100:
		bad("max_failed", "%s: over 100%%", p.MaxFailed)
	}
	if p.MinReadySeconds < 0 || p.MinReadySeconds > MaxRolloutSeconds {
		bad("min_ready_seconds", "%d out of range 0-%d", p.MinReadySeconds, MaxRolloutSeconds)
	}
	switch {
	case p.HealthTimeoutSeconds < 1 || p.HealthTimeoutSeconds > MaxRolloutSeconds:
		bad("health_timeout_seconds", "%d out of range 1-%d", p.HealthTimeoutSeconds, MaxRolloutSeconds)
	case p.HealthTimeoutSeconds <= p.MinReadySeconds:
		bad("health_timeout_seconds", "%d is not more than min_ready_seconds %d (no device could be ready in time)", p.HealthTimeoutSeconds, p.MinReadySeconds)
	}
	return errs
}

// Validate reports every rule d breaks, each naming its field, joined by
// "; ", or nil.
func (d FleetDeployment) Validate() error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	if err := d.Name.Validate(); err != nil {
		bad("name", "%s", strings.TrimPrefix(err.Error(), ErrInvalidName.Error()+": "))
	}
	if len(d.Selector) == 0 {
		bad("selector", "empty (give at least one label; an empty selector would match every device)")
	}
	for k, v := range d.Selector {
		switch {
		case k == "":
			bad("selector", "empty label name")
		case v == "":
			bad("selector."+k, "empty value")
		}
	}
	if err := d.Spec.Validate(); err != nil {
		bad("spec", "%s", strings.TrimPrefix(err.Error(), ErrInvalidSpec.Error()+": "))
	}
	if d.Generation < 1 || d.Generation > MaxGeneration {
		bad("generation", "%d is not in 1..2^53-1", d.Generation)
	}
	errs = append(errs, d.Rollout.rules("rollout.")...)
	if p := d.Previous; p != nil {
		if err := p.Spec.Validate(); err != nil {
			bad("previous.spec", "%s", strings.TrimPrefix(err.Error(), ErrInvalidSpec.Error()+": "))
		}
		if p.Generation < 1 || p.Generation >= d.Generation {
			bad("previous.generation", "%d is not in 1..generation-1 (%d)", p.Generation, d.Generation)
		}
	}
	return joinRules(errs)
}

func joinRules(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	slices.Sort(errs) // selector is a map: keep the message stable
	return fmt.Errorf("%w: %s", ErrInvalidFleetDeployment, strings.Join(errs, "; "))
}

// The exact keys of each object of a fleet deployment (the spec's own are
// checked by DecodeSpec).
var (
	fleetDeploymentKeys = []string{"name", "selector", "spec", "generation", "rollout", "paused", "previous"}
	rolloutPolicyKeys   = []string{"batch", "max_failed", "min_ready_seconds", "health_timeout_seconds", "auto_rollback"}
	previousKeys        = []string{"spec", "generation"}
)

// fleetDeploymentJSON is the wire form, with the specs and the policy kept
// raw for their own strict decoders.
type fleetDeploymentJSON struct {
	Name       string            `json:"name"` // validated by Validate, which names the field
	Selector   map[string]string `json:"selector"`
	Spec       json.RawMessage   `json:"spec"`
	Generation uint64            `json:"generation"`
	Rollout    json.RawMessage   `json:"rollout"`
	Paused     bool              `json:"paused"`
	Previous   json.RawMessage   `json:"previous"`
}

type rolloutPolicyJSON struct {
	Batch                json.RawMessage `json:"batch"`
	MaxFailed            json.RawMessage `json:"max_failed"`
	MinReadySeconds      *int            `json:"min_ready_seconds"`
	HealthTimeoutSeconds *int            `json:"health_timeout_seconds"`
	AutoRollback         bool            `json:"auto_rollback"`
}

type previousJSON struct {
	Spec       json.RawMessage `json:"spec"`
	Generation uint64          `json:"generation"`
}

// DecodeFleetDeployment parses a fleet deployment strictly: one JSON
// object, no unknown or duplicate fields at any level (field names are
// lower-case), the spec as DecodeSpec, every rule of Validate. Rollout
// fields left out take DefaultRolloutPolicy's values; the specs have their
// defaults filled in.
func DecodeFleetDeployment(data []byte) (FleetDeployment, error) {
	fail := func(format string, args ...any) (FleetDeployment, error) {
		return FleetDeployment{}, fmt.Errorf("%w: %s", ErrInvalidFleetDeployment, fmt.Sprintf(format, args...))
	}
	var w fleetDeploymentJSON
	if err := strictObject(data, "", fleetDeploymentKeys, &w); err != nil {
		return fail("%v", err)
	}
	d := FleetDeployment{Name: DeploymentName(w.Name), Selector: w.Selector, Generation: w.Generation, Paused: w.Paused}
	var err error
	if d.Spec, err = decodeSpecField("spec", w.Spec); err != nil {
		return fail("%v", err)
	}
	if d.Rollout, err = decodeRolloutPolicy(w.Rollout); err != nil {
		return fail("%v", err)
	}
	if !isNull(w.Previous) {
		var p previousJSON
		if err := strictObject(w.Previous, "previous", previousKeys, &p); err != nil {
			return fail("%v", err)
		}
		spec, err := decodeSpecField("previous.spec", p.Spec)
		if err != nil {
			return fail("%v", err)
		}
		d.Previous = &PreviousVersion{Spec: spec, Generation: p.Generation}
	}
	if err := d.Validate(); err != nil {
		return FleetDeployment{}, err
	}
	return d, nil
}

// UnmarshalJSON decodes and validates, as DecodeFleetDeployment.
func (d *FleetDeployment) UnmarshalJSON(b []byte) error {
	v, err := DecodeFleetDeployment(b)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func decodeRolloutPolicy(raw json.RawMessage) (RolloutPolicy, error) {
	p := DefaultRolloutPolicy()
	if isNull(raw) {
		return p, nil
	}
	var w rolloutPolicyJSON
	if err := strictObject(raw, "rollout", rolloutPolicyKeys, &w); err != nil {
		return RolloutPolicy{}, err
	}
	if !isNull(w.Batch) {
		if err := p.Batch.UnmarshalJSON(w.Batch); err != nil {
			return RolloutPolicy{}, fmt.Errorf("rollout.batch: %w", err)
		}
	}
	if !isNull(w.MaxFailed) {
		if err := p.MaxFailed.UnmarshalJSON(w.MaxFailed); err != nil {
			return RolloutPolicy{}, fmt.Errorf("rollout.max_failed: %w", err)
		}
	}
	if w.MinReadySeconds != nil {
		p.MinReadySeconds = *w.MinReadySeconds
	}
	if w.HealthTimeoutSeconds != nil {
		p.HealthTimeoutSeconds = *w.HealthTimeoutSeconds
	}
	p.AutoRollback = w.AutoRollback
	return p, nil
}

func decodeSpecField(field string, raw json.RawMessage) (DeploymentSpec, error) {
	if isNull(raw) {
		return DeploymentSpec{}, fmt.Errorf("%s: required", field)
	}
	s, err := DecodeSpec(raw)
	if err != nil {
		return DeploymentSpec{}, fmt.Errorf("%s: %s", field, strings.TrimPrefix(err.Error(), ErrInvalidSpec.Error()+": "))
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// strictObject decodes the JSON object data into v, rejecting anything but
// one object, and keys that are unknown, differ from a field only by case,
// or appear twice (encoding/json accepts all three silently). Errors name
// the field, under the prefix path.
func strictObject(data []byte, path string, allowed []string, v any) error {
	name := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	where := path
	if where == "" {
		where = "value"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s: %s", where, describeJSONError(err))
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%s: want a JSON object, got %s", where, jsonKind(tok))
	}
	seen := make(map[string]bool, len(allowed))
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s: %s", where, describeJSONError(err))
		}
		key := kt.(string)
		if seen[key] {
			return fmt.Errorf("%s: duplicate field", name(key))
		}
		seen[key] = true
		if !slices.Contains(allowed, key) {
			return fmt.Errorf("unknown field %q (field names are lower-case: %s)", name(key), strings.Join(allowed, ", "))
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("%s: %s", name(key), describeJSONError(err))
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("%s: %s", where, describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: not JSON: data after the object", where)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return fmt.Errorf("%s: want %s, got JSON %s", name(typ.Field), typ.Type, typ.Value)
		}
		return fmt.Errorf("%s: %s", where, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func jsonKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "JSON array"
	case string:
		return "JSON string"
	case float64:
		return "JSON number"
	case bool:
		return "JSON boolean"
	case nil:
		return "JSON null"
	}
	return "JSON value"
}

// RolloutState is where a fleet deployment's rollout stands.
type RolloutState string

// The rollout states (the controller's state machine: fleet/rollout).
const (
	// RolloutProgressing: waves are being written.
	RolloutProgressing RolloutState = "progressing"
	// RolloutPaused: the operator paused it; nothing new is written.
	RolloutPaused RolloutState = "paused"
	// RolloutHalted: more devices failed than max_failed allows.
	RolloutHalted RolloutState = "halted"
	// RolloutRollingBack: halted, and the previous spec is being written
	// back to the devices that took the new one.
	RolloutRollingBack RolloutState = "rolling_back"
	// RolloutComplete: every available targeted device took the new
	// generation.
	RolloutComplete RolloutState = "complete"
)

// Valid reports whether s is one of the five states.
func (s RolloutState) Valid() bool {
	switch s {
	case RolloutProgressing, RolloutPaused, RolloutHalted, RolloutRollingBack, RolloutComplete:
		return true
	}
	return false
}

// UnmarshalText rejects unknown states.
func (s *RolloutState) UnmarshalText(b []byte) error {
	v := RolloutState(b)
	if !v.Valid() {
		return fmt.Errorf("fleet: unknown rollout state %q (want progressing, paused, halted, rolling_back or complete)", truncate(string(b), 64))
	}
	*s = v
	return nil
}

// RolloutStatus is one fleet deployment's rollout, as the acting
// controller last wrote it under RolloutKey in the rollouts bucket. It is
// also what a controller that takes over resumes from.
type RolloutStatus struct {
	Deployment DeploymentName `json:"deployment"`
	// Generation and SpecHash are the fleet deployment's current version;
	// PreviousSpecHash its previous one ("" for a first version).
	Generation       uint64       `json:"generation"`
	SpecHash         string       `json:"spec_hash"`
	PreviousSpecHash string       `json:"previous_spec_hash"`
	State            RolloutState `json:"state"`
	// Targeted devices match the selector; Updated hold the generation in
	// their key; Ready run it (for min_ready_seconds) or succeeded; Failed
	// failed it or were not ready in time; Unavailable are offline.
	Targeted    int       `json:"targeted"`
	Updated     int       `json:"updated"`
	Ready       int       `json:"ready"`
	Failed      int       `json:"failed"`
	Unavailable int       `json:"unavailable"`
	Wave        int       `json:"wave"`
	Message     string    `json:"message"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Validate reports why s is not a well-formed status, or nil.
func (s RolloutStatus) Validate() error {
	if err := s.Deployment.Validate(); err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	if s.Generation > MaxGeneration {
		return fmt.Errorf("generation: %d is over 2^53-1", s.Generation)
	}
	if !s.State.Valid() {
		return fmt.Errorf("state: unknown rollout state %q", truncate(string(s.State), 64))
	}
	for _, c := range []struct {
		field string
		n     int
	}{{"targeted", s.Targeted}, {"updated", s.Updated}, {"ready", s.Ready}, {"failed", s.Failed}, {"unavailable", s.Unavailable}, {"wave", s.Wave}} {
		if c.n < 0 {
			return fmt.Errorf("%s: %d is negative", c.field, c.n)
		}
	}
	return nil
}

// UnmarshalJSON decodes and validates; unknown fields are ignored (a newer
// controller may add some).
func (s *RolloutStatus) UnmarshalJSON(b []byte) error {
	type plain RolloutStatus
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	if err := RolloutStatus(v).Validate(); err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	*s = RolloutStatus(v)
	return nil
}
