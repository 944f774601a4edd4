package fleet

import (
	"errors"
	"fmt"
	"unicode"
)

// MaxNameBytes is the longest DeviceID or DeploymentName, in bytes.
const MaxNameBytes = 253

// ErrInvalidName is wrapped by every DeviceID and DeploymentName error.
var ErrInvalidName = errors.New("fleet: invalid name")

// DeploymentName names a deployment on a device. It is a NATS subject token
// and a KV key token, so it holds only A-Z a-z 0-9 - _.
type DeploymentName string

// DeviceID names a device. Same rules as DeploymentName, its own type.
type DeviceID string

// ParseDeploymentName validates s as a DeploymentName.
func ParseDeploymentName(s string) (DeploymentName, error) {
	if err := checkName("deployment name", s); err != nil {
		return "", err
	}
	return DeploymentName(s), nil
}

// ParseDeviceID validates s as a DeviceID.
func ParseDeviceID(s string) (DeviceID, error) {
	if err := checkName("device id", s); err != nil {
		return "", err
	}
	return DeviceID(s), nil
}

// Validate reports why n is not a valid DeploymentName, or nil.
func (n DeploymentName) Validate() error { return checkName("deployment name", string(n)) }

// Validate reports why d is not a valid DeviceID, or nil.
func (d DeviceID) Validate() error { return checkName("device id", string(d)) }

// UnmarshalText validates while decoding (JSON values and map keys).
func (n *DeploymentName) UnmarshalText(b []byte) error {
	v, err := ParseDeploymentName(string(b))
	if err != nil {
		return err
	}
	*n = v
	return nil
}

// UnmarshalText validates while decoding (JSON values and map keys).
func (d *DeviceID) UnmarshalText(b []byte) error {
	v, err := ParseDeviceID(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// checkName applies the rules of a NATS KV key token, naming the first one
// s breaks.
func checkName(kind, s string) error {
	fail := func(rule string) error {
		return fmt.Errorf("%w: %s %q: %s", ErrInvalidName, kind, truncate(s, 64), rule)
	}
	switch {
	case s == "":
		return fail("empty")
	case len(s) > MaxNameBytes:
		return fail(fmt.Sprintf("longer than %d bytes (%d)", MaxNameBytes, len(s)))
	}
	for _, r := range s {
		switch {
		case r == '.':
			return fail("contains '.' (it would add a subject token)")
		case r == '*' || r == '>':
			return fail(fmt.Sprintf("contains the NATS wildcard %q", r))
		case unicode.IsSpace(r):
			return fail("contains whitespace")
		case !nameChar(r):
			return fail(fmt.Sprintf("contains %q (allowed: A-Z a-z 0-9 - _)", r))
		}
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
