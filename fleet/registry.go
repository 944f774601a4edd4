package fleet

import (
	"fmt"
	"strings"
	"time"
)

// MaxLabelBytes is the longest registry label key or value, in bytes.
const MaxLabelBytes = 63

// DeviceRecord is a device's entry in the device-registry bucket
// (ARCHITECTURE 3.9), written only by operators. Its labels are the ones
// selectors match; the labels a device reports in DeviceInfo never are.
type DeviceRecord struct {
	DeviceID DeviceID `json:"device_id"`
	// Labels are the operator-owned labels; see ValidateLabel for the
	// rules.
	Labels map[string]string `json:"labels,omitempty"`
	// EnrolledAt is when the device was added.
	EnrolledAt time.Time `json:"enrolled_at"`
	// UserKey is the public nkey (U...) of the device's NATS user, when
	// harmony-fleet issued its credentials; empty otherwise.
	UserKey string `json:"user_key,omitempty"`
}

// Validate reports why r is not a well-formed record, or nil.
func (r DeviceRecord) Validate() error {
	if err := r.DeviceID.Validate(); err != nil {
		return fmt.Errorf("device_id: %w", err)
	}
	for k, v := range r.Labels {
		if err := ValidateLabel(k, v); err != nil {
			return fmt.Errorf("labels: %w", err)
		}
	}
	if r.EnrolledAt.IsZero() {
		return fmt.Errorf("enrolled_at: missing")
	}
	if r.UserKey != "" {
		if err := checkUserKey(r.UserKey); err != nil {
			return fmt.Errorf("user_key: %w", err)
		}
	}
	return nil
}

// UnmarshalJSON validates while decoding. Unknown fields are ignored
// (forward compatibility, as for DeviceInfo). It decodes in one pass, as
// DeviceInfo does.
func (r *DeviceRecord) UnmarshalJSON(b []byte) error {
	var v DeviceRecord
	if err := decodeDeviceRecord(b, &v); err != nil {
		return fmt.Errorf("device record: %w", err)
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("device record: %w", err)
	}
	*r = v
	return nil
}

// ValidateLabel reports why k=v is not a valid registry label, or nil.
// Keys and values are 1 to 63 bytes of A-Z a-z 0-9 . _ - / (so they print
// and parse unambiguously in k=v,k2=v2 selectors, and fit a Kubernetes
// label value).
func ValidateLabel(k, v string) error {
	if err := checkLabelPart("key", k); err != nil {
		return err
	}
	if err := checkLabelPart(fmt.Sprintf("value of %q", truncate(k, 64)), v); err != nil {
		return err
	}
	return nil
}

func checkLabelPart(what, s string) error {
	fail := func(rule string) error {
		return fmt.Errorf("label %s %q: %s", what, truncate(s, 64), rule)
	}
	switch {
	case s == "":
		return fail("empty")
	case len(s) > MaxLabelBytes:
		return fail(fmt.Sprintf("longer than %d bytes (%d)", MaxLabelBytes, len(s)))
	}
	for _, r := range s {
		if !labelChar(r) {
			return fail(fmt.Sprintf("contains %q (allowed: A-Z a-z 0-9 . _ - /)", r))
		}
	}
	return nil
}

func labelChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == '-' || r == '/'
}

// userKeyLen is the length of an encoded nkey public key.
const userKeyLen = 56

// checkUserKey checks the shape of a public user nkey (U..., 56 base32
// characters) without decoding its checksum: fleet imports the standard
// library only.
func checkUserKey(s string) error {
	switch {
	case !strings.HasPrefix(s, "U"):
		return fmt.Errorf("%q: not a user public key (want U...)", truncate(s, 64))
	case len(s) != userKeyLen:
		return fmt.Errorf("%q: %d characters, want %d", truncate(s, 64), len(s), userKeyLen)
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '2' && r <= '7') {
			return fmt.Errorf("%q: contains %q (not base32)", truncate(s, 64), r)
		}
	}
	return nil
}
