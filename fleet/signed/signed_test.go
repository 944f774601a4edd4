package signed_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testKey returns the account key pair made from a fixed raw seed (i+1 in
// every byte), so that signatures are fixed bytes: ed25519 is
// deterministic. Key 0 is the golden key.
func testKey(t testing.TB, i byte) nkeys.KeyPair {
	t.Helper()
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteAccount, bytes.Repeat([]byte{i + 1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func publicKey(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// goldenStatement is the statement of ARCHITECTURE 3.8 with the podman
// spec of 3.6.
func goldenStatement() signed.Statement {
	return signed.Statement{
		DeviceID: "pi-017", Deployment: "web", Generation: 1875123456789,
		Spec: fleet.DeploymentSpec{
			Runtime: fleet.RuntimePodman, Image: "docker.io/library/nginx:1.27",
			Command: []string{"nginx", "-g", "daemon off;"}, Env: map[string]string{"MODE": "edge"},
			Ports:   []fleet.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
			Volumes: []fleet.VolumeMount{{HostPath: "/srv/web", ContainerPath: "/usr/share/nginx/html", ReadOnly: true}},
			Restart: fleet.RestartAlways,
		},
	}
}

func sign(t testing.TB, kp nkeys.KeyPair, st signed.Statement) []byte {
	t.Helper()
	b, err := signed.Sign(kp, st)
	if err != nil {
		t.Fatalf("Sign(%+v) = %v", st, err)
	}
	return b
}

func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot  %q\nwant %q", path, got, want)
	}
}

func readGolden(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden: the fixed seed gives the fixed public key, statement, PAE
// and envelope of testdata/, byte for byte, so other implementations can
// check themselves against them.
func TestGolden(t *testing.T) {
	kp := testKey(t, 0)
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	pub := publicKey(t, kp)
	env := sign(t, kp, goldenStatement())
	e, err := signed.Decode(env)
	if err != nil {
		t.Fatalf("Decode(golden envelope) = %v", err)
	}
	checkGolden(t, "seed.nk", append(seed, '\n'))
	checkGolden(t, "public.key", []byte(pub+"\n"))
	checkGolden(t, "statement.json", e.Payload)
	checkGolden(t, "pae.bin", signed.PAE(signed.PayloadType, e.Payload))
	checkGolden(t, "signature.bin", e.Signatures[0].Sig)
	checkGolden(t, "envelope.json", env)
	// The same envelope in the URL alphabet without padding: readers take
	// both alphabets.
	var w map[string]any
	if err := json.Unmarshal(env, &w); err != nil {
		t.Fatal(err)
	}
	w["payload"] = base64.RawURLEncoding.EncodeToString(e.Payload)
	w["signatures"] = []any{map[string]any{"keyid": pub, "sig": base64.RawURLEncoding.EncodeToString(e.Signatures[0].Sig)}}
	url, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "envelope_url_unpadded.json", url)
}

// TestGoldenVerifies: the golden envelopes verify under the golden public
// key; a one-byte change of the payload or of the signature does not.
func TestGoldenVerifies(t *testing.T) {
	pub := strings.TrimSpace(string(readGolden(t, "public.key")))
	trusted := []string{pub}
	want := goldenStatement()
	for _, file := range []string{"envelope.json", "envelope_url_unpadded.json"} {
		t.Run(file, func(t *testing.T) {
			st, err := signed.Verify(readGolden(t, file), trusted, "pi-017", "web")
			if err != nil {
				t.Fatalf("Verify(%s) = %v, want nil", file, err)
			}
			if st.DeviceID != want.DeviceID || st.Deployment != want.Deployment || st.Generation != want.Generation ||
				fleet.SpecHash(st.Spec) != fleet.SpecHash(want.Spec) {
				t.Errorf("Verify(%s) = %+v, want %+v", file, st, want)
			}
		})
	}
	e, err := signed.Decode(readGolden(t, "envelope.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := signed.PAE(e.PayloadType, e.Payload); !bytes.Equal(got, readGolden(t, "pae.bin")) {
		t.Errorf("PAE of the golden envelope differs from testdata/pae.bin")
	}
	// Every single byte of the payload and of the signature, flipped.
	for _, part := range []string{"payload", "sig"} {
		n := len(e.Payload)
		if part == "sig" {
			n = len(e.Signatures[0].Sig)
		}
		for i := range n {
			c := signed.Envelope{PayloadType: e.PayloadType, Payload: bytes.Clone(e.Payload),
				Signatures: []signed.Signature{{KeyID: e.Signatures[0].KeyID, Sig: bytes.Clone(e.Signatures[0].Sig)}}}
			if part == "payload" {
				c.Payload[i] ^= 0x01
			} else {
				c.Signatures[0].Sig[i] ^= 0x01
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = signed.Verify(b, trusted, "pi-017", "web")
			if !errors.Is(err, signed.ErrBadSignature) || err.Error() != "signature does not verify" {
				t.Fatalf("Verify(golden with %s byte %d flipped) = %v, want %q", part, i, err, "signature does not verify")
			}
		}
	}
}

func TestPAE(t *testing.T) {
	// The example of the DSSE specification (protocol.md).
	got := signed.PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
	if got := signed.PAE("", nil); string(got) != "DSSEv1 0  0 " {
		t.Errorf("PAE(empty) = %q", got)
	}
}

// TestVerifyRefusals: each refusal with its exact text and sentinel.
func TestVerifyRefusals(t *testing.T) {
	oldKey, newKey, otherKey := testKey(t, 0), testKey(t, 1), testKey(t, 2)
	trusted := []string{publicKey(t, oldKey), publicKey(t, newKey)}
	good := goldenStatement()
	other := func(edit func(*signed.Statement)) signed.Statement {
		st := goldenStatement()
		edit(&st)
		return st
	}
	tamper := func(b []byte, edit func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	otherPayload := func(payload string) []byte {
		return tamper(sign(t, oldKey, good), func(m map[string]any) {
			m["payload"] = base64.StdEncoding.EncodeToString([]byte(payload))
		})
	}
	otherPub := publicKey(t, otherKey)
	// A statement with an unknown field, correctly signed.
	badStatement, err := json.Marshal(signed.Envelope{PayloadType: signed.PayloadType,
		Payload: []byte(`{"device_id":"pi-017","deployment":"web","generation":5,"spec":{"runtime":"process","command":["/bin/true"]},"extra":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		value   []byte
		trusted []string
		wantErr error
		wantMsg string // exact; "" for a prefix check of "signed value: "
	}{
		{"old key", sign(t, oldKey, good), trusted, nil, ""},
		{"new key", sign(t, newKey, good), trusted, nil, ""},
		{"new key only, old-key value", sign(t, oldKey, good), trusted[1:], signed.ErrUntrustedKey, "untrusted key " + trusted[0]},
		{"untrusted key", sign(t, otherKey, good), trusted, signed.ErrUntrustedKey, "untrusted key " + otherPub},
		{"no trusted keys", sign(t, oldKey, good), nil, signed.ErrUntrustedKey, "untrusted key " + trusted[0]},
		{"keyid changed to a trusted key", tamper(sign(t, otherKey, good), func(m map[string]any) {
			m["signatures"].([]any)[0].(map[string]any)["keyid"] = trusted[0]
		}), trusted, signed.ErrBadSignature, "signature does not verify"},
		{"payload replaced", otherPayload(`{"device_id":"pi-017","deployment":"web","generation":1875123456789,"spec":{"runtime":"process","command":["/bin/sh"]}}`),
			trusted, signed.ErrBadSignature, "signature does not verify"},
		{"another device", sign(t, oldKey, other(func(s *signed.Statement) { s.DeviceID = "pi-016" })), trusted, signed.ErrWrongDevice, "signed for device pi-016"},
		{"another deployment", sign(t, oldKey, other(func(s *signed.Statement) { s.Deployment = "db" })), trusted, signed.ErrWrongDeployment, "signed for deployment db"},
		{"second signature trusted", tamper(sign(t, otherKey, good), func(m map[string]any) {
			var g map[string]any
			if err := json.Unmarshal(sign(t, newKey, good), &g); err != nil {
				t.Fatal(err)
			}
			m["signatures"] = append(m["signatures"].([]any), g["signatures"].([]any)[0])
		}), trusted, nil, ""},
		{"bare spec", []byte(`{"runtime":"process","command":["/bin/true"]}`), trusted, signed.ErrMalformed, ""},
		{"not JSON", []byte(`{"payloadType":`), trusted, signed.ErrMalformed, ""},
		{"other payload type", tamper(sign(t, oldKey, good), func(m map[string]any) { m["payloadType"] = "application/vnd.in-toto+json" }),
			trusted, signed.ErrMalformed, `signed value: payloadType "application/vnd.in-toto+json", want "application/vnd.harmony.desired+json"`},
		{"too many signatures", tamper(sign(t, oldKey, good), func(m map[string]any) {
			s := m["signatures"].([]any)
			for range signed.MaxSignatures {
				s = append(s, s[0])
			}
			m["signatures"] = s
		}), trusted, signed.ErrMalformed, "signed value: signatures: 9, over the limit of 8"},
		{"no signatures", tamper(sign(t, oldKey, good), func(m map[string]any) { m["signatures"] = []any{} }), trusted, signed.ErrMalformed, "signed value: signatures: none"},
		{"payload not base64", tamper(sign(t, oldKey, good), func(m map[string]any) { m["payload"] = "%%%" }), trusted, signed.ErrMalformed, "signed value: payload: not base64"},
		{"too large", append([]byte(`{"payloadType":"`), bytes.Repeat([]byte("x"), signed.MaxEnvelopeBytes)...), trusted, signed.ErrMalformed, ""},
		{"statement with an unknown field, unsigned", badStatement, trusted, signed.ErrMalformed, "signed value: signatures: none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := signed.Verify(tt.value, tt.trusted, "pi-017", "web")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				if st.Generation != good.Generation {
					t.Errorf("Verify generation = %d, want %d", st.Generation, good.Generation)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want errors.Is %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("Verify = %q, want %q", err, tt.wantMsg)
			}
			if tt.wantMsg == "" && !strings.HasPrefix(err.Error(), "signed value: ") {
				t.Errorf("Verify = %q, want it to start with %q", err, "signed value: ")
			}
		})
	}
}

// TestVerifyBadStatement: a correctly signed statement that breaks a rule
// is refused naming the rule.
func TestVerifyBadStatement(t *testing.T) {
	kp := testKey(t, 0)
	trusted := []string{publicKey(t, kp)}
	tests := []struct{ name, payload, want string }{
		{"unknown field", `{"device_id":"pi-017","deployment":"web","generation":5,"spec":{"runtime":"process","command":["/bin/true"]},"extra":1}`, `unknown field "extra"`},
		{"unknown spec field", `{"device_id":"pi-017","deployment":"web","generation":5,"spec":{"runtime":"process","command":["/bin/true"],"imagee":"x"}}`, `unknown field "imagee"`},
		{"no generation", `{"device_id":"pi-017","deployment":"web","spec":{"runtime":"process","command":["/bin/true"]}}`, "generation: required"},
		{"generation zero", `{"device_id":"pi-017","deployment":"web","generation":0,"spec":{"runtime":"process","command":["/bin/true"]}}`, "generation: 0 out of range"},
		{"generation negative", `{"device_id":"pi-017","deployment":"web","generation":-1,"spec":{"runtime":"process","command":["/bin/true"]}}`, "generation: want a whole number"},
		{"bad device", `{"device_id":"pi.017","deployment":"web","generation":5,"spec":{"runtime":"process","command":["/bin/true"]}}`, "device_id"},
		{"spec rule", `{"device_id":"pi-017","deployment":"web","generation":5,"spec":{"runtime":"process"}}`, "command: required"},
		{"null", `null`, "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := []byte(tt.payload)
			sig, err := kp.Sign(signed.PAE(signed.PayloadType, payload))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(signed.Envelope{PayloadType: signed.PayloadType, Payload: payload, Signatures: []signed.Signature{{KeyID: trusted[0], Sig: sig}}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = signed.Verify(b, trusted, "pi-017", "web")
			if !errors.Is(err, signed.ErrMalformed) || !strings.HasPrefix(err.Error(), "signed value: statement: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify = %v, want an ErrMalformed starting %q containing %q", err, "signed value: statement: ", tt.want)
			}
		})
	}
}

// TestBase64Alphabets: payload and signature are read in both alphabets,
// padded or not; Sign writes standard padded base64.
func TestBase64Alphabets(t *testing.T) {
	kp := testKey(t, 0)
	trusted := []string{publicKey(t, kp)}
	env := sign(t, kp, goldenStatement())
	e, err := signed.Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(env, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["payload"] != base64.StdEncoding.EncodeToString(e.Payload) {
		t.Errorf("Sign payload is not standard padded base64: %v", raw["payload"])
	}
	for name, enc := range map[string]*base64.Encoding{
		"std": base64.StdEncoding, "std raw": base64.RawStdEncoding, "url": base64.URLEncoding, "url raw": base64.RawURLEncoding,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(map[string]any{
				"payloadType": signed.PayloadType, "payload": enc.EncodeToString(e.Payload),
				"signatures": []any{map[string]any{"keyid": trusted[0], "sig": enc.EncodeToString(e.Signatures[0].Sig)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signed.Verify(b, trusted, "pi-017", "web"); err != nil {
				t.Errorf("Verify(%s) = %v, want nil", name, err)
			}
		})
	}
}

func TestIsEnvelope(t *testing.T) {
	env := sign(t, testKey(t, 0), goldenStatement())
	tests := []struct {
		value string
		want  bool
	}{
		{string(env), true},
		{`{"payloadType":"x"}`, true},
		{`{"runtime":"process","command":["/bin/true"]}`, false},
		{`{"spec":{"payloadType":"x"}}`, false},
		{`not json`, false},
		{`[]`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := signed.IsEnvelope([]byte(tt.value)); got != tt.want {
			t.Errorf("IsEnvelope(%.40q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signed.Sign(user, goldenStatement()); !errors.Is(err, signed.ErrNotAccountKey) {
		t.Errorf("Sign(user key) = %v, want ErrNotAccountKey", err)
	}
	st := goldenStatement()
	st.Generation = 0
	if _, err := signed.Sign(testKey(t, 0), st); !errors.Is(err, signed.ErrMalformed) || !strings.Contains(err.Error(), "generation: 0 out of range") {
		t.Errorf("Sign(generation 0) = %v, want the generation named", err)
	}
	st = goldenStatement()
	st.Spec.Image = ""
	if _, err := signed.Sign(testKey(t, 0), st); err == nil || !strings.Contains(err.Error(), "image: required") {
		t.Errorf("Sign(no image) = %v, want the rule named", err)
	}
}

func TestNextGeneration(t *testing.T) {
	now := time.UnixMilli(1875123456789)
	tests := []struct {
		last, want uint64
	}{
		{0, 1875123456789},
		{1875123456000, 1875123456789},
		{1875123456789, 1875123456790},
		{1875123999999, 1875124000000},
	}
	for _, tt := range tests {
		if got := signed.NextGeneration(now, tt.last); got != tt.want {
			t.Errorf("NextGeneration(%d, %d) = %d, want %d", now.UnixMilli(), tt.last, got, tt.want)
		}
	}
	if got := signed.NextGeneration(time.Unix(-5, 0), 0); got != 1 {
		t.Errorf("NextGeneration(before 1970, 0) = %d, want 1", got)
	}
}

func TestCheckPublicKey(t *testing.T) {
	kp := testKey(t, 0)
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	userPub := publicKey(t, user)
	tests := []struct {
		key, want string // want "" : valid
	}{
		{publicKey(t, kp), ""},
		{string(seed), "a seed (a secret, not shown)"},
		{userPub, "is a NATS user key"},
		{"AB3X", `"AB3X" is not an nkey public key`},
	}
	for _, tt := range tests {
		err := signed.CheckPublicKey(tt.key)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckPublicKey(%.8s...) = %v, want nil", tt.key, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, signed.ErrNotAccountKey)):
			t.Errorf("CheckPublicKey(%.8s...) = %v, want ErrNotAccountKey containing %q", tt.key, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), string(seed)) {
			t.Errorf("CheckPublicKey(seed) = %v: it shows the seed", err)
		}
	}
}

// BenchmarkVerify: the cost of checking one signed value on a device.
func BenchmarkVerify(b *testing.B) {
	kp := testKey(b, 0)
	trusted := []string{publicKey(b, testKey(b, 1)), publicKey(b, kp)}
	env := sign(b, kp, goldenStatement())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := signed.Verify(env, trusted, "pi-017", "web"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUnverified(t *testing.T) {
	untrusted := testKey(t, 2)
	st := goldenStatement()
	b := sign(t, untrusted, st)
	got, err := signed.Unverified(b, "pi-017", "web")
	if err != nil || got.Generation != st.Generation {
		t.Fatalf("Unverified = %+v, %v; want the statement", got, err)
	}
	if _, err := signed.Unverified(b, "pi-016", "web"); !errors.Is(err, signed.ErrWrongDevice) || err.Error() != "signed for device pi-017" {
		t.Errorf("Unverified(other device) = %v, want %q", err, "signed for device pi-017")
	}
	if _, err := signed.Unverified(b, "pi-017", "db"); !errors.Is(err, signed.ErrWrongDeployment) || err.Error() != "signed for deployment web" {
		t.Errorf("Unverified(other deployment) = %v, want %q", err, "signed for deployment web")
	}
	if _, err := signed.Unverified([]byte(`{"payloadType":"x"}`), "pi-017", "web"); !errors.Is(err, signed.ErrMalformed) {
		t.Errorf("Unverified(bad payload type) = %v, want ErrMalformed", err)
	}
}

// BenchmarkSignatureOnly: the ed25519 check alone, the floor under
// BenchmarkVerify (the rest is decoding the envelope, the statement and
// the spec as strictly as a bare spec is).
func BenchmarkSignatureOnly(b *testing.B) {
	kp := testKey(b, 0)
	env := sign(b, kp, goldenStatement())
	e, err := signed.Decode(env)
	if err != nil {
		b.Fatal(err)
	}
	pae := signed.PAE(e.PayloadType, e.Payload)
	pub, err := nkeys.FromPublicKey(publicKey(b, kp))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := pub.Verify(pae, e.Signatures[0].Sig); err != nil {
			b.Fatal(err)
		}
	}
}
