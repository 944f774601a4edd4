package fleet_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// FuzzDecodeLogsRequest: the decoder of what an agent receives never
// panics; what it accepts validates and round-trips.
func FuzzDecodeLogsRequest(f *testing.F) {
	for _, s := range []string{
		`{"deployment":"web"}`, `{"deployment":"web","tail_lines":100,"follow":true,"stream":"x","wait_ms":2000}`,
		`{"deployment":"web","follow":true,"stream":"x","stop":true}`, `{}`, `null`, `{"deployment":"web","x":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r fleet.LogsRequest
		if json.Unmarshal(b, &r) != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted %s, which does not validate: %v", b, err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 fleet.LogsRequest
		if err := json.Unmarshal(again, &r2); err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip of %s: %+v, %v; want %+v", again, r2, err, r)
		}
	})
}

// FuzzDecodeOpReplies: the decoders of what harmony-fleet receives never
// panic, and what they accept round-trips.
func FuzzDecodeOpReplies(f *testing.F) {
	for _, g := range goldenOps {
		f.Add(readFile(f, "testdata/"+g.file))
	}
	f.Add([]byte(`{"error":"busy"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, zero := range []func() any{
			func() any { return new(fleet.LogsReply) }, func() any { return new(fleet.RestartReply) },
			func() any { return new(fleet.PingReply) }, func() any { return new(fleet.RestartRequest) },
		} {
			v := zero()
			if fleet.DecodeOpReply(b, v) != nil {
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			v2 := zero()
			if err := json.Unmarshal(again, v2); err != nil {
				t.Fatalf("re-decode of %s: %v", again, err)
			}
		}
	})
}
