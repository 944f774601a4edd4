package signed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// PayloadType is the DSSE payload type of a signed desired value.
const PayloadType = "application/vnd.harmony.desired+json"

// MaxEnvelopeBytes bounds an envelope: a statement holds a spec of at most
// fleet.MaxSpecBytes, which base64 grows by a third; the rest is room for
// the statement's other fields and a few signatures.
const MaxEnvelopeBytes = 2 * fleet.MaxSpecBytes

// MaxSignatures bounds the signatures of an envelope, and so the ed25519
// checks one value can cost.
const MaxSignatures = 8

// MaxGeneration is the largest generation: below 2^53, so every JSON
// parser reads it exactly.
const MaxGeneration = 1<<53 - 1

// Sentinels for errors.Is. The errors Verify returns read as ARCHITECTURE
// 3.8 words them ("untrusted key A...", "signature does not verify",
// "signed for device pi-016", "signed for deployment web"); these name the
// kind of refusal.
var (
	// ErrMalformed: the value is not a well-formed envelope or statement.
	ErrMalformed = errors.New("signed: malformed signed value")
	// ErrUntrustedKey: no signature is by a trusted key.
	ErrUntrustedKey = errors.New("signed: untrusted key")
	// ErrBadSignature: a trusted key signed, but the signature does not
	// verify (the payload or the signature was changed).
	ErrBadSignature = errors.New("signed: signature does not verify")
	// ErrWrongDevice: the statement names another device.
	ErrWrongDevice = errors.New("signed: signed for another device")
	// ErrWrongDeployment: the statement names another deployment.
	ErrWrongDeployment = errors.New("signed: signed for another deployment")
	// ErrNotAccountKey: a key is not a NATS account key.
	ErrNotAccountKey = errors.New("signed: not an account key")
)

// refusal is an error whose text is exactly msg and that matches kind with
// errors.Is.
type refusal struct {
	kind error
	msg  string
}

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == r.kind }

func refuse(kind error, format string, args ...any) error {
	return &refusal{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// malformed returns an ErrMalformed whose text is "signed value: <reason>".
func malformed(format string, args ...any) error {
	return refuse(ErrMalformed, "signed value: "+format, args...)
}

// Statement is what a signed desired value says: the spec for one
// deployment on one device, at a generation.
type Statement struct {
	DeviceID   fleet.DeviceID       `json:"device_id"`
	Deployment fleet.DeploymentName `json:"deployment"`
	// Generation grows with every value signed for a deployment: see
	// NextGeneration.
	Generation uint64               `json:"generation"`
	Spec       fleet.DeploymentSpec `json:"spec"`
}

// Validate reports why st cannot be signed or accepted, or nil.
func (st Statement) Validate() error {
	var errs []string
	if err := st.DeviceID.Validate(); err != nil {
		errs = append(errs, "device_id: "+err.Error())
	}
	if err := st.Deployment.Validate(); err != nil {
		errs = append(errs, "deployment: "+err.Error())
	}
	if st.Generation < 1 || st.Generation > MaxGeneration {
		errs = append(errs, fmt.Sprintf("generation: %d out of range 1-%d", st.Generation, uint64(MaxGeneration)))
	}
	if err := st.Spec.Validate(); err != nil {
		errs = append(errs, "spec: "+err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: statement: %s", ErrMalformed, strings.Join(errs, "; "))
	}
	return nil
}

// statementKeys are the exact keys of a statement.
var statementKeys = []string{"device_id", "deployment", "generation", "spec"}

// UnmarshalJSON decodes a statement strictly: exactly its four fields, each
// valid, the spec by fleet.DecodeSpec (no unknown field, every rule).
func (st *Statement) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: statement: %v", ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
	}
	if m == nil {
		return fmt.Errorf("%w: statement: want a JSON object, got JSON null", ErrMalformed)
	}
	for k := range m {
		if !slices.Contains(statementKeys, k) {
			return fmt.Errorf("%w: statement: unknown field %q (allowed: %s)", ErrMalformed, k, strings.Join(statementKeys, ", "))
		}
	}
	for _, k := range statementKeys {
		if _, ok := m[k]; !ok {
			return fmt.Errorf("%w: statement: %s: required", ErrMalformed, k)
		}
	}
	var out Statement
	if err := json.Unmarshal(m["device_id"], &out.DeviceID); err != nil {
		return fmt.Errorf("%w: statement: device_id: %v", ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := json.Unmarshal(m["deployment"], &out.Deployment); err != nil {
		return fmt.Errorf("%w: statement: deployment: %v", ErrMalformed, strings.TrimPrefix(err.Error(), "json: "))
	}
	if err := json.Unmarshal(m["generation"], &out.Generation); err != nil {
		return fmt.Errorf("%w: statement: generation: want a whole number 1-%d, got %s", ErrMalformed, uint64(MaxGeneration), truncate(string(m["generation"]), 32))
	}
	spec, err := fleet.DecodeSpec(m["spec"])
	if err != nil {
		return fmt.Errorf("%w: statement: spec: %v", ErrMalformed, err)
	}
	out.Spec = spec
	// The names were validated by their UnmarshalText and the spec by
	// DecodeSpec; the generation is left.
	if out.Generation < 1 || out.Generation > MaxGeneration {
		return fmt.Errorf("%w: statement: generation: %d out of range 1-%d", ErrMalformed, out.Generation, uint64(MaxGeneration))
	}
	*st = out
	return nil
}

// DecodeStatement decodes a statement strictly (see UnmarshalJSON).
func DecodeStatement(b []byte) (Statement, error) {
	var st Statement
	if err := st.UnmarshalJSON(b); err != nil {
		return Statement{}, err
	}
	return st, nil
}

// NextGeneration returns the generation to sign after last:
// max(now in Unix milliseconds, last+1).
func NextGeneration(now time.Time, last uint64) uint64 {
	ms := now.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return max(uint64(ms), last+1)
}

// PAE is DSSE v1's pre-authentication encoding of payloadType and payload:
// "DSSEv1" SP len(type) SP type SP len(payload) SP payload, lengths in
// ASCII decimal. The signature is over these bytes.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(len("DSSEv1") + len(payloadType) + len(payload) + 24)
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Envelope is a decoded DSSE envelope: Payload holds the raw statement
// bytes, each Sig the raw signature.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Signature is one signature of an envelope: KeyID is the signer's account
// public key.
type Signature struct {
	KeyID string
	Sig   []byte
}

// envelopeJSON is the wire form: base64 strings.
type envelopeJSON struct {
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"`
	Signatures  []signatureJSON `json:"signatures"`
}

type signatureJSON struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// MarshalJSON writes the envelope with standard, padded base64.
func (e Envelope) MarshalJSON() ([]byte, error) {
	w := envelopeJSON{
		PayloadType: e.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(e.Payload),
		Signatures:  make([]signatureJSON, len(e.Signatures)),
	}
	for i, s := range e.Signatures {
		w.Signatures[i] = signatureJSON{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)}
	}
	return json.Marshal(w)
}

// Sign returns the envelope, as JSON, of st signed by kp, an account key
// pair (seed "SA..."). st must be valid; its spec is stored with its
// defaults filled in.
func Sign(kp nkeys.KeyPair, st Statement) ([]byte, error) {
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("sign: key %s: %w (want a seed starting SA)", pub, ErrNotAccountKey)
	}
	st.Spec = st.Spec.WithDefaults()
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sign: encode statement: %w", err)
	}
	sig, err := kp.Sign(PAE(PayloadType, payload))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return json.Marshal(Envelope{PayloadType: PayloadType, Payload: payload, Signatures: []Signature{{KeyID: pub, Sig: sig}}})
}

// IsEnvelope reports whether b is a JSON object with a "payloadType" key:
// an envelope (perhaps malformed) rather than a bare spec, which never has
// that key.
func IsEnvelope(b []byte) bool {
	if len(b) > MaxEnvelopeBytes {
		// Too large for either; Decode says why.
		return bytes.Contains(b, []byte(`"payloadType"`))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return false
	}
	_, ok := m["payloadType"]
	return ok
}

// Decode parses an envelope: at most MaxEnvelopeBytes, one JSON object,
// payloadType PayloadType, a non-empty payload, one to MaxSignatures
// signatures, each with a keyid; payload and signatures in either base64 alphabet, padded or
// not. Unknown fields are ignored (they are not signed). The signatures
// are not checked: Verify does.
func Decode(b []byte) (Envelope, error) {
	if len(b) > MaxEnvelopeBytes {
		return Envelope{}, malformed("%d bytes, over the %d-byte limit", len(b), MaxEnvelopeBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var w envelopeJSON
	if err := dec.Decode(&w); err != nil {
		return Envelope{}, malformed("not a DSSE envelope: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Envelope{}, malformed("not a DSSE envelope: data after the object")
	}
	if w.PayloadType != PayloadType {
		return Envelope{}, malformed("payloadType %q, want %q", truncate(w.PayloadType, 64), PayloadType)
	}
	payload, err := decodeBase64(w.Payload)
	if err != nil {
		return Envelope{}, malformed("payload: %v", err)
	}
	if len(payload) == 0 {
		return Envelope{}, malformed("payload: empty")
	}
	if len(w.Signatures) == 0 {
		return Envelope{}, malformed("signatures: none")
	}
	if len(w.Signatures) > MaxSignatures {
		return Envelope{}, malformed("signatures: %d, over the limit of %d", len(w.Signatures), MaxSignatures)
	}
	e := Envelope{PayloadType: w.PayloadType, Payload: payload, Signatures: make([]Signature, len(w.Signatures))}
	for i, s := range w.Signatures {
		if s.KeyID == "" {
			return Envelope{}, malformed("signatures[%d].keyid: required (the signer's public key)", i)
		}
		sig, err := decodeBase64(s.Sig)
		if err != nil {
			return Envelope{}, malformed("signatures[%d].sig: %v", i, err)
		}
		e.Signatures[i] = Signature{KeyID: s.KeyID, Sig: sig}
	}
	return e, nil
}

// decodeBase64 reads s in the standard or the URL alphabet, padded or
// not.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return b, nil
}

// Verify decodes the envelope b and returns its statement when some
// signature by a key in trusted (account public keys) verifies and the
// statement names device and deployment. Refusals read:
//
//	untrusted key A...            (no signature by a trusted key; the first keyid)
//	signature does not verify     (a trusted key's signature is wrong)
//	signed for device pi-016      (the statement's device)
//	signed for deployment web     (the statement's deployment)
//	signed value: ...             (not an envelope, or a bad statement)
//
// matching ErrUntrustedKey, ErrBadSignature, ErrWrongDevice,
// ErrWrongDeployment and ErrMalformed. Whether the generation is new
// enough is the caller's to check.
func Verify(b []byte, trusted []string, device fleet.DeviceID, deployment fleet.DeploymentName) (Statement, error) {
	e, err := Decode(b)
	if err != nil {
		return Statement{}, err
	}
	if err := e.verify(trusted); err != nil {
		return Statement{}, err
	}
	return e.statementFor(device, deployment)
}

// Unverified is Verify without the signature check, for an agent that
// trusts no key: the envelope and its statement are decoded as strictly,
// and a statement for another device or deployment is refused the same
// way, but the signatures prove nothing.
func Unverified(b []byte, device fleet.DeviceID, deployment fleet.DeploymentName) (Statement, error) {
	e, err := Decode(b)
	if err != nil {
		return Statement{}, err
	}
	return e.statementFor(device, deployment)
}

// statementFor decodes e's statement and checks that it names device and
// deployment.
func (e Envelope) statementFor(device fleet.DeviceID, deployment fleet.DeploymentName) (Statement, error) {
	st, err := DecodeStatement(e.Payload)
	if err != nil {
		return Statement{}, refuse(ErrMalformed, "signed value: %s", strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "))
	}
	switch {
	case st.DeviceID != device:
		return Statement{}, refuse(ErrWrongDevice, "signed for device %s", st.DeviceID)
	case st.Deployment != deployment:
		return Statement{}, refuse(ErrWrongDeployment, "signed for deployment %s", st.Deployment)
	}
	return st, nil
}

// verify reports nil when a signature by a trusted key verifies.
func (e Envelope) verify(trusted []string) error {
	pae := PAE(e.PayloadType, e.Payload)
	sawTrusted := false
	for _, s := range e.Signatures {
		if !slices.Contains(trusted, s.KeyID) || !nkeys.IsValidPublicAccountKey(s.KeyID) {
			continue
		}
		sawTrusted = true
		kp, err := nkeys.FromPublicKey(s.KeyID)
		if err != nil {
			continue
		}
		if kp.Verify(pae, s.Sig) == nil {
			return nil
		}
	}
	if sawTrusted {
		return refuse(ErrBadSignature, "signature does not verify")
	}
	return refuse(ErrUntrustedKey, "untrusted key %s", truncate(e.Signatures[0].KeyID, 64))
}

// CheckPublicKey reports why s is not an account public key ("A...", 56
// characters), or nil. It never repeats s when s looks like a seed: a
// secret.
func CheckPublicKey(s string) error {
	switch {
	case nkeys.IsValidPublicAccountKey(s):
		return nil
	case strings.HasPrefix(s, "S"):
		return fmt.Errorf("%w: a seed (a secret, not shown) where a public key belongs: give its public key (A...)", ErrNotAccountKey)
	case nkeys.IsValidPublicKey(s):
		return fmt.Errorf("%w: %s is a NATS %s key, want an account key (A...)", ErrNotAccountKey, truncate(s, 64), nkeys.Prefix(s))
	}
	return fmt.Errorf("%w: %q is not an nkey public key (want A..., 56 characters)", ErrNotAccountKey, truncate(s, 64))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
