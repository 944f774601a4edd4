package signed_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet/signed"
)

// FuzzDecode: the envelope decoder never panics; what it accepts re-encodes
// to an envelope that decodes to the same thing; Verify never accepts a
// value signed by no trusted key.
func FuzzDecode(f *testing.F) {
	for _, file := range []string{"envelope.json", "envelope_url_unpadded.json"} {
		f.Add(readGolden(f, file))
	}
	f.Add([]byte(`{"payloadType":"application/vnd.harmony.desired+json","payload":"e30=","signatures":[{"keyid":"A","sig":""}]}`))
	f.Add([]byte(`{"runtime":"process","command":["/bin/true"]}`))
	f.Add([]byte(`null`))
	pub := readGolden(f, "public.key")
	trusted := []string{string(bytes.TrimSpace(pub))}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = signed.IsEnvelope(b)
		e, err := signed.Decode(b)
		if err != nil {
			return
		}
		if e.PayloadType != signed.PayloadType || len(e.Payload) == 0 || len(e.Signatures) == 0 {
			t.Fatalf("Decode(%q) = %+v, nil: want a payload and a signature", b, e)
		}
		re, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", e, err)
		}
		e2, err := signed.Decode(re)
		if err != nil {
			t.Fatalf("Decode(Marshal(Decode(%q))) = %v", b, err)
		}
		if !bytes.Equal(e.Payload, e2.Payload) || len(e.Signatures) != len(e2.Signatures) {
			t.Fatalf("Decode round trip differs: %+v vs %+v", e, e2)
		}
		if !signed.IsEnvelope(re) {
			t.Fatalf("IsEnvelope(%q) = false after Decode accepted it", re)
		}
		// Verify only ever accepts the golden statement under the golden
		// key: any other accepted payload would be a forgery.
		st, err := signed.Verify(b, trusted, "pi-017", "web")
		if err == nil && !bytes.Equal(e.Payload, mustPayload(t)) {
			t.Fatalf("Verify accepted %q: %+v", b, st)
		}
	})
}

func mustPayload(t *testing.T) []byte {
	return readGolden(t, "statement.json")
}
