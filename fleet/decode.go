package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// scanner reads one JSON value in a single pass. It backs the decoders of
// the types a central reader decodes by the ten thousand (DeviceInfo,
// DeviceRecord): json.Unmarshal scans a value once to check it, again to
// decode it and again for every nested UnmarshalJSON, through reflection,
// which made decoding a fleet's snapshots the larger part of harmony-fleet
// status. It accepts exactly what json.Unmarshal into the same fields
// accepts, to the same values (FuzzDecodeInfoMatchesJSON and
// FuzzDecodeRecordMatchesJSON hold it to that): the same syntax, field
// names matched exactly or case-insensitively as encoding/json folds them,
// null leaving a field unchanged (and setting a map or pointer to nil),
// duplicate keys decoded in turn, unknown fields skipped (and checked).
type scanner struct {
	data  []byte
	pos   int
	depth int
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// errEnd is the error of a value cut short.
var errEnd = errors.New("unexpected end of JSON input")

func (s *scanner) syntax(what string) error {
	if s.pos >= len(s.data) {
		return errEnd
	}
	return fmt.Errorf("invalid character %q %s (offset %d)", s.data[s.pos], what, s.pos)
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// end checks that nothing but white space follows the value.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.syntax("after top-level value")
	}
	return nil
}

// null consumes a null and reports whether there was one.
func (s *scanner) null() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.word("null")
}

func (s *scanner) word(w string) error {
	for i := range len(w) {
		if s.pos >= len(s.data) {
			return errEnd
		}
		if s.data[s.pos] != w[i] {
			return s.syntax("in literal " + w)
		}
		s.pos++
	}
	return nil
}

// stringBytes reads a string and returns its unquoted bytes: a slice of the
// input when it holds no escape and only ASCII, else a copy unquoted as
// encoding/json does (invalid UTF-8 becomes U+FFFD).
func (s *scanner) stringBytes() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.syntax("looking for beginning of string")
	}
	start := s.pos
	s.pos++
	plain := true
	for {
		if s.pos >= len(s.data) {
			return nil, errEnd
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if plain {
				return s.data[start+1 : s.pos-1], nil
			}
			var v string
			if err := json.Unmarshal(s.data[start:s.pos], &v); err != nil {
				return nil, err
			}
			return []byte(v), nil
		case c < 0x20:
			return nil, s.syntax("in string literal")
		case c == '\\':
			plain = false
			s.pos++
			if s.pos >= len(s.data) {
				return nil, errEnd
			}
			switch s.data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for range 4 {
					if s.pos >= len(s.data) {
						return nil, errEnd
					}
					if !isHex(s.data[s.pos]) {
						return nil, s.syntax("in \\u hexadecimal character escape")
					}
					s.pos++
				}
			default:
				return nil, s.syntax("in string escape code")
			}
		case c >= utf8.RuneSelf:
			plain = false
			s.pos++
		default:
			s.pos++
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// number reads a number and returns its literal.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.pos
	digits := func() error {
		if s.pos >= len(s.data) {
			return errEnd
		}
		if c := s.data[s.pos]; c < '0' || c > '9' {
			return s.syntax("in numeric literal")
		}
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
		}
		return nil
	}
	if s.pos < len(s.data) && s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '0' {
		s.pos++
	} else if err := digits(); err != nil {
		return nil, err
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if err := digits(); err != nil {
			return nil, err
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if err := digits(); err != nil {
			return nil, err
		}
	}
	return s.data[start:s.pos], nil
}

// skip reads any value and returns its literal.
func (s *scanner) skip() ([]byte, error) {
	c := s.peek()
	start := s.pos
	var err error
	switch {
	case c == '{':
		err = s.object(func([]byte) error { _, err := s.skip(); return err })
	case c == '[':
		err = s.array(func() error { _, err := s.skip(); return err })
	case c == '"':
		_, err = s.stringBytes()
	case c == 't':
		err = s.word("true")
	case c == 'f':
		err = s.word("false")
	case c == 'n':
		err = s.word("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err = s.number()
	default:
		err = s.syntax("looking for beginning of value")
	}
	if err != nil {
		return nil, err
	}
	return s.data[start:s.pos], nil
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return errors.New("exceeded max depth")
	}
	return nil
}

// object reads an object, calling fn with each key (unquoted) to read its
// value.
func (s *scanner) object(fn func(key []byte) error) error {
	if s.peek() != '{' {
		return s.syntax("looking for beginning of object")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		key, err := s.stringBytes()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.syntax("after object key")
		}
		s.pos++
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntax("after object key:value pair")
		}
	}
}

// array reads an array, calling fn to read each element.
func (s *scanner) array(fn func() error) error {
	if s.peek() != '[' {
		return s.syntax("looking for beginning of array")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntax("after array element")
		}
	}
}

// field returns the index of key in names (snake_case ASCII), matched
// exactly or, as encoding/json does, case-insensitively; -1 if none.
func field(key []byte, names []string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	var buf [32]byte
	folded := foldName(buf[:0], key)
	for i, n := range names {
		if len(folded) == len(n) && string(foldName(buf[len(buf):], []byte(n))) == string(folded) {
			return i
		}
	}
	return -1
}

// foldName appends in folded as encoding/json folds field names (its
// appendFoldedName): ASCII upper-cased, other runes to the smallest rune
// of their fold set (so "ſ" matches "s", "K" (Kelvin) "k").
func foldName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

// foldRune returns the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// pathError is an error of the value at path (dot-separated field names
// and map keys: "deployments.web.phase").
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// at returns err as an error of the value at name, within its path.
func at(name string, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := err.(*pathError); ok {
		return &pathError{path: name + "." + pe.path, err: pe.err}
	}
	return &pathError{path: name, err: err}
}

// typeError is the error of a value of the wrong JSON type for its field.
func typeError(c byte, want string) error {
	got := "number"
	switch c {
	case '"':
		got = "string"
	case '{':
		got = "object"
	case '[':
		got = "array"
	case 't', 'f':
		got = "bool"
	case 'n':
		got = "null"
	}
	return fmt.Errorf("cannot unmarshal %s into %s", got, want)
}

// str reads a string into dst; null leaves it unchanged.
func (s *scanner) str(dst *string) error {
	switch c := s.peek(); c {
	case 'n':
		return s.word("null")
	case '"':
		b, err := s.stringBytes()
		if err != nil {
			return err
		}
		*dst = string(b)
		return nil
	default:
		return s.wrongType(c, "a string")
	}
}

// wrongType reads (and checks) the value at hand and returns a type error
// for it.
func (s *scanner) wrongType(c byte, want string) error {
	if _, err := s.skip(); err != nil {
		return err
	}
	return typeError(c, want)
}

// textString reads the string of a field decoded through UnmarshalText:
// ok is false (and err nil) for a null, which leaves the field unchanged.
func (s *scanner) textString() (b []byte, ok bool, err error) {
	switch c := s.peek(); c {
	case 'n':
		return nil, false, s.word("null")
	case '"':
		b, err := s.stringBytes()
		return b, err == nil, err
	default:
		return nil, false, s.wrongType(c, "a string")
	}
}

// deviceID reads a DeviceID through its UnmarshalText (null: unchanged).
// The three text types have a function each, not one taking an
// interface: through an interface the value decoded into escapes to the
// heap.
func (s *scanner) deviceID(dst *DeviceID) error {
	b, ok, err := s.textString()
	if !ok {
		return err
	}
	return dst.UnmarshalText(b)
}

// deploymentName reads a DeploymentName as deviceID reads a DeviceID.
func (s *scanner) deploymentName(dst *DeploymentName) error {
	b, ok, err := s.textString()
	if !ok {
		return err
	}
	return dst.UnmarshalText(b)
}

// phase reads a Phase as its UnmarshalText does (null: unchanged),
// without a copy for the four known ones.
func (s *scanner) phase(dst *Phase) error {
	b, ok, err := s.textString()
	if !ok {
		return err
	}
	for _, p := range Phases {
		if string(b) == string(p) {
			*dst = p
			return nil
		}
	}
	return dst.UnmarshalText(b)
}

// uint reads an unsigned integer into dst; null leaves it unchanged.
func (s *scanner) uint(dst *uint64) error {
	switch c := s.peek(); {
	case c == 'n':
		return s.word("null")
	case c == '-' || c >= '0' && c <= '9':
		lit, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(string(lit), 10, 64)
		if err != nil {
			return fmt.Errorf("cannot unmarshal number %s into an unsigned integer", lit)
		}
		*dst = v
		return nil
	default:
		return s.wrongType(c, "an unsigned integer")
	}
}

// int reads an integer into dst; null leaves it unchanged.
func (s *scanner) int(dst *int64) error {
	switch c := s.peek(); {
	case c == 'n':
		return s.word("null")
	case c == '-' || c >= '0' && c <= '9':
		lit, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(string(lit), 10, 64)
		if err != nil {
			return fmt.Errorf("cannot unmarshal number %s into an integer", lit)
		}
		*dst = v
		return nil
	default:
		return s.wrongType(c, "an integer")
	}
}

// time reads a time through time.Time's UnmarshalJSON, as encoding/json
// does (null leaves it unchanged).
func (s *scanner) time(dst *time.Time) error {
	lit, err := s.skip()
	if err != nil {
		return err
	}
	return dst.UnmarshalJSON(lit)
}

// labels reads an object of strings into *dst, made when nil (null: nil).
func (s *scanner) labels(dst *map[string]string) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = nil
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "a map of strings")
	}
	if *dst == nil {
		*dst = map[string]string{}
	}
	m := *dst
	return s.object(func(key []byte) error {
		var v string
		if err := s.str(&v); err != nil {
			return at(string(key), err)
		}
		m[string(key)] = v
		return nil
	})
}

// revision reads a Revision into dst (null: unchanged).
func (s *scanner) revision(dst *Revision) error {
	switch c := s.peek(); c {
	case 'n':
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "a revision")
	}
	return s.object(func(key []byte) error {
		switch field(key, revisionFields) {
		case 0:
			return at("agent_epoch", s.uint((*uint64)(&dst.AgentEpoch)))
		case 1:
			return at("sequence", s.uint(&dst.Sequence))
		}
		_, err := s.skip()
		return err
	})
}

var revisionFields = []string{"agent_epoch", "sequence"}

// errorText reads an ErrorText as its UnmarshalJSON does: a string, or
// null for the empty text.
func (s *scanner) errorText(dst *ErrorText) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = ""
		return s.word("null")
	case '"':
		b, err := s.stringBytes()
		if err != nil {
			return err
		}
		*dst = ErrorText(b)
		return nil
	default:
		return s.wrongType(c, "a string")
	}
}

var deploymentStatusFields = []string{"phase", "last_error", "revision", "spec_hash"}

// deploymentStatus reads a DeploymentStatus into dst (null: unchanged).
func (s *scanner) deploymentStatus(dst *DeploymentStatus) error {
	switch c := s.peek(); c {
	case 'n':
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "a deployment status")
	}
	return s.object(func(key []byte) error {
		switch field(key, deploymentStatusFields) {
		case 0:
			return at("phase", s.phase(&dst.Phase))
		case 1:
			return at("last_error", s.errorText(&dst.LastError))
		case 2:
			return at("revision", s.revision(&dst.Revision))
		case 3:
			return at("spec_hash", s.str(&dst.SpecHash))
		}
		_, err := s.skip()
		return err
	})
}

// deployments reads DeviceInfo's deployments into *dst, made when nil
// (null: nil); each entry is decoded from zero.
func (s *scanner) deployments(dst *map[DeploymentName]DeploymentStatus) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = nil
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "a map of deployments")
	}
	if *dst == nil {
		*dst = map[DeploymentName]DeploymentStatus{}
	}
	m := *dst
	return s.object(func(key []byte) error {
		var st DeploymentStatus
		if err := s.deploymentStatus(&st); err != nil {
			return at(string(key), err)
		}
		var name DeploymentName
		if err := name.UnmarshalText(key); err != nil {
			return err
		}
		m[name] = st
		return nil
	})
}

// host reads DeviceInfo's host (null: nil). A second host key decodes
// into the first's HostInfo through encoding/json, which merges them as
// only it does.
func (s *scanner) host(dst **HostInfo) error {
	switch c := s.peek(); {
	case c == 'n':
		*dst = nil
		return s.word("null")
	case c != '{':
		return s.wrongType(c, "host metrics")
	case *dst != nil:
		lit, err := s.skip()
		if err != nil {
			return err
		}
		return json.Unmarshal(lit, *dst)
	}
	h := new(HostInfo)
	*dst = h
	return s.object(func(key []byte) error {
		switch field(key, hostFields) {
		case 0:
			return s.uintPtr(&h.UptimeSeconds)
		case 1:
			return s.floatPtr(&h.Load1)
		case 2:
			return s.floatPtr(&h.CPUPercent)
		case 3:
			return s.memory(&h.Memory)
		case 4:
			return s.disks(&h.Disks)
		case 5:
			return s.floatPtr(&h.TemperatureCelsius)
		case 6:
			return s.throttled(&h.Throttled)
		}
		_, err := s.skip()
		return err
	})
}

var (
	hostFields       = []string{"uptime_seconds", "load1", "cpu_percent", "memory", "disks", "temperature_celsius", "throttled"}
	hostMemoryFields = []string{"total_bytes", "available_bytes"}
	hostDiskFields   = []string{"path", "total_bytes", "free_bytes"}
)

// uintPtr reads an unsigned integer into **dst, allocated when nil
// (null: nil).
func (s *scanner) uintPtr(dst **uint64) error {
	if s.peek() == 'n' {
		*dst = nil
		return s.word("null")
	}
	var v uint64
	if *dst != nil {
		v = **dst
	}
	if err := s.uint(&v); err != nil {
		return err
	}
	*dst = &v
	return nil
}

// floatPtr reads a number into **dst, allocated when nil (null: nil).
func (s *scanner) floatPtr(dst **float64) error {
	switch c := s.peek(); {
	case c == 'n':
		*dst = nil
		return s.word("null")
	case c == '-' || c >= '0' && c <= '9':
		lit, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(string(lit), 64)
		if err != nil {
			return fmt.Errorf("cannot unmarshal number %s into a float", lit)
		}
		*dst = &v
		return nil
	default:
		return s.wrongType(c, "a number")
	}
}

func (s *scanner) memory(dst **HostMemory) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = nil
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "host memory")
	}
	if *dst == nil {
		*dst = new(HostMemory)
	}
	m := *dst
	return s.object(func(key []byte) error {
		switch field(key, hostMemoryFields) {
		case 0:
			return s.uintPtr(&m.TotalBytes)
		case 1:
			return s.uintPtr(&m.AvailableBytes)
		}
		_, err := s.skip()
		return err
	})
}

func (s *scanner) disks(dst *map[string]HostDisk) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = nil
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "host disks")
	}
	if *dst == nil {
		*dst = map[string]HostDisk{}
	}
	m := *dst
	return s.object(func(key []byte) error {
		var d HostDisk
		switch c := s.peek(); c {
		case 'n':
			if err := s.word("null"); err != nil {
				return err
			}
		case '{':
			err := s.object(func(key []byte) error {
				switch field(key, hostDiskFields) {
				case 0:
					return s.str(&d.Path)
				case 1:
					return s.uint(&d.TotalBytes)
				case 2:
					return s.uint(&d.FreeBytes)
				}
				_, err := s.skip()
				return err
			})
			if err != nil {
				return err
			}
		default:
			return s.wrongType(c, "a host disk")
		}
		m[string(key)] = d
		return nil
	})
}

// throttled reads the throttling flags (null: nil, [] empty). A second
// throttled key decodes through encoding/json, which reuses the first's
// array as only it does.
func (s *scanner) throttled(dst *[]ThrottleFlag) error {
	switch c := s.peek(); {
	case c == 'n':
		*dst = nil
		return s.word("null")
	case c != '[':
		return s.wrongType(c, "throttling flags")
	case *dst != nil:
		lit, err := s.skip()
		if err != nil {
			return err
		}
		return json.Unmarshal(lit, dst)
	}
	flags := []ThrottleFlag{}
	err := s.array(func() error {
		var f string
		if err := s.str(&f); err != nil {
			return err
		}
		flags = append(flags, ThrottleFlag(f))
		return nil
	})
	*dst = flags
	return err
}

var deviceInfoFields = []string{"device_id", "agent_epoch", "agent_version", "hostname", "os", "arch", "labels",
	"started_at", "heartbeat_at", "revision", "deployments", "outbox_dropped", "host", "heartbeat_interval_seconds"}

// decodeDeviceInfo decodes data into i (no validation).
func decodeDeviceInfo(data []byte, i *DeviceInfo) error {
	s := &scanner{data: data}
	if ok, err := s.null(); ok || err != nil {
		if err != nil {
			return err
		}
		return s.end()
	}
	err := s.object(func(key []byte) error {
		f := field(key, deviceInfoFields)
		var err error
		switch f {
		case 0:
			err = s.deviceID(&i.DeviceID)
		case 1:
			err = s.uint((*uint64)(&i.AgentEpoch))
		case 2:
			err = s.str(&i.AgentVersion)
		case 3:
			err = s.str(&i.Hostname)
		case 4:
			err = s.str(&i.OS)
		case 5:
			err = s.str(&i.Arch)
		case 6:
			err = s.labels(&i.Labels)
		case 7:
			err = s.time(&i.StartedAt)
		case 8:
			err = s.time(&i.HeartbeatAt)
		case 9:
			err = s.revision(&i.Revision)
		case 10:
			err = s.deployments(&i.Deployments)
		case 11:
			err = s.uint(&i.OutboxDropped)
		case 12:
			err = s.host(&i.Host)
		case 13:
			err = s.int(&i.HeartbeatIntervalSeconds)
		default:
			_, err = s.skip()
			return err
		}
		if err != nil {
			return at(deviceInfoFields[f], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.end()
}

var deviceRecordFields = []string{"device_id", "labels", "enrolled_at", "user_key"}

// decodeDeviceRecord decodes data into r (no validation).
func decodeDeviceRecord(data []byte, r *DeviceRecord) error {
	s := &scanner{data: data}
	if ok, err := s.null(); ok || err != nil {
		if err != nil {
			return err
		}
		return s.end()
	}
	err := s.object(func(key []byte) error {
		f := field(key, deviceRecordFields)
		var err error
		switch f {
		case 0:
			err = s.deviceID(&r.DeviceID)
		case 1:
			err = s.labels(&r.Labels)
		case 2:
			err = s.time(&r.EnrolledAt)
		case 3:
			err = s.str(&r.UserKey)
		default:
			_, err = s.skip()
			return err
		}
		if err != nil {
			return at(deviceRecordFields[f], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.end()
}

var (
	eventFields      = []string{"device_id", "deployment", "revision", "transition", "spec_hash", "at"}
	transitionFields = []string{"kind", "from", "to", "last_error"}
)

// decodeEventJSON decodes data into w (no validation).
func decodeEventJSON(data []byte, w *eventJSON) error {
	s := &scanner{data: data}
	if ok, err := s.null(); ok || err != nil {
		if err != nil {
			return err
		}
		return s.end()
	}
	err := s.object(func(key []byte) error {
		f := field(key, eventFields)
		var err error
		switch f {
		case 0:
			err = s.deviceID(&w.DeviceID)
		case 1:
			err = s.deploymentName(&w.Deployment)
		case 2:
			err = s.revision(&w.Revision)
		case 3:
			err = s.transition(&w.Transition)
		case 4:
			err = s.str(&w.SpecHash)
		case 5:
			err = s.time(&w.At)
		default:
			_, err = s.skip()
			return err
		}
		if err != nil {
			return at(eventFields[f], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.end()
}

// transition reads a transition's wire form into dst (null: unchanged).
func (s *scanner) transition(dst *transitionJSON) error {
	switch c := s.peek(); c {
	case 'n':
		return s.word("null")
	case '{':
	default:
		return s.wrongType(c, "a transition")
	}
	return s.object(func(key []byte) error {
		switch field(key, transitionFields) {
		case 0:
			return at("kind", s.str((*string)(&dst.Kind)))
		case 1:
			return at("from", s.phasePtr(&dst.From))
		case 2:
			return at("to", s.phasePtr(&dst.To))
		case 3:
			return at("last_error", s.strPtr(&dst.LastError))
		}
		_, err := s.skip()
		return err
	})
}

// phasePtr reads a Phase into **dst, allocated when nil (null: nil).
func (s *scanner) phasePtr(dst **Phase) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = nil
		return s.word("null")
	case '"':
		var p Phase
		if *dst != nil {
			p = **dst
		}
		if err := s.phase(&p); err != nil {
			return err
		}
		*dst = &p
		return nil
	default:
		return s.wrongType(c, "a phase")
	}
}

// strPtr reads a string into **dst, allocated when nil (null: nil).
func (s *scanner) strPtr(dst **string) error {
	switch c := s.peek(); c {
	case 'n':
		*dst = nil
		return s.word("null")
	case '"':
		var v string
		if err := s.str(&v); err != nil {
			return err
		}
		*dst = &v
		return nil
	default:
		return s.wrongType(c, "a string")
	}
}
