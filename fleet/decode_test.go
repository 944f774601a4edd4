package fleet_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// plainInfo and plainRecord are DeviceInfo and DeviceRecord without their
// UnmarshalJSON: json.Unmarshal into them is the reference the one-pass
// decoders must match.
type (
	plainInfo   fleet.DeviceInfo
	plainRecord fleet.DeviceRecord
)

// infoSeeds are inputs for the decoders that json.Unmarshal accepts or
// refuses in ways a hand-written decoder could get wrong.
var infoSeeds = []string{
	`{"device_id":"pi-017","agent_epoch":1}`,
	` {"DEVICE_ID":"pi-017","Agent_Epoch":1} `,
	`{"devıce_id":"pi-017","agent_epoch":1}`,                     // a dotless i is no i to encoding/json
	`{"device_id":"pi-017","agent_epoch":1,"hoſtname":"\u212a"}`, // a long s is an s to encoding/json
	`{"device_id":"pi-017","agent_epoch":1,"Hostname":"a","HOSTNAME":"b"}`,
	`{"device\u005fid":"pi-017","agent_epoch":1,"hostname":"h\u00e9\n","os":"\ud83d\ude00"}`,
	`{"device_id":"pi-017","agent_epoch":1,"hostname":"\xff"}`,
	`{"device_id":"pi-017","agent_epoch":1,"labels":{"a":null,"b":"c"},"labels":{"d":"e"}}`,
	`{"device_id":"pi-017","agent_epoch":1,"labels":{"a":"b"},"labels":null}`,
	`{"device_id":"pi-017","agent_epoch":1,"agent_epoch":null,"hostname":null,"revision":null,"started_at":null}`,
	`{"device_id":"pi-017","agent_epoch":1.0}`,
	`{"device_id":"pi-017","agent_epoch":1e3}`,
	`{"device_id":"pi-017","agent_epoch":-1}`,
	`{"device_id":"pi-017","agent_epoch":18446744073709551616}`,
	`{"device_id":"pi-017","agent_epoch":01}`,
	`{"device_id":"pi-017","agent_epoch":"1"}`,
	`{"device_id":"pi-017","agent_epoch":1,"heartbeat_interval_seconds":-0}`,
	`{"device_id":"pi-017","agent_epoch":1,"heartbeat_interval_seconds":1.5}`,
	`{"device_id":"pi-017","agent_epoch":1,"unknown":[1,{"x":[true,false,null,-0.5e+3]},"\u0041"]}`,
	`{"device_id":"pi-017","agent_epoch":1,"unknown":[1,]}`,
	`{"device_id":"pi-017","agent_epoch":1,"unknown":"\x"}`,
	`{"device_id":"pi-017","agent_epoch":1,"unknown":"a	b"}`,
	`{"device_id":"pi-017","agent_epoch":1}x`,
	`{"device_id":"pi-017","agent_epoch":1,}`,
	`{"device_id":"pi-017" "agent_epoch":1}`,
	`{"device_id":"pi-017","agent_epoch":1`,
	`{"device_id":5,"agent_epoch":1}`,
	`{"device_id":"pi.017","agent_epoch":1}`,
	`{"device_id":"pi-017","agent_epoch":1,"started_at":"2026-11-26T10:00:00+05:30","heartbeat_at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","agent_epoch":1,"started_at":"yesterday"}`,
	`{"device_id":"pi-017","agent_epoch":1,"started_at":5}`,
	`{"device_id":"pi-017","agent_epoch":1,"started_at":{}}`,
	`{"device_id":"pi-017","agent_epoch":2,"revision":{"agent_epoch":1,"sequence":3},"revision":{"sequence":4},"deployments":{"a":{"phase":"succeeded","revision":{"agent_epoch":1,"sequence":3}},"b":{"phase":"failed","last_error":"boom","last_error":null,"revision":{"agent_epoch":1,"sequence":1}}}}`,
	`{"device_id":"pi-017","agent_epoch":2,"revision":{"agent_epoch":1,"sequence":3},"deployments":{"a":{"phase":"running","revision":{"agent_epoch":1,"sequence":3},"spec_hash":"` + "c275172d7b6e0c5f8d2a3b4e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192" + `"}},"deployments":{"b":null}}`,
	`{"device_id":"pi-017","agent_epoch":2,"deployments":{"a":{"phase":"sleeping"}}}`,
	`{"device_id":"pi-017","agent_epoch":2,"deployments":{"a":{"phase":null,"last_error":5}}}`,
	`{"device_id":"pi-017","agent_epoch":2,"deployments":{"a.b":{}}}`,
	`{"device_id":"pi-017","agent_epoch":2,"deployments":[]}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"load1":0.5,"disks":{"state":{"path":"/","total_bytes":1,"free_bytes":1}}},"host":{"cpu_percent":3}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"load1":0.5},"host":null}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"throttled":[]},"outbox_dropped":3}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":5}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"load1":1e400}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"uptime_seconds":5,"uptime_seconds":null,"load1":-0.5e-2,"memory":{"total_bytes":1},"memory":{"available_bytes":2},"temperature_celsius":48.3}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"memory":{"total_bytes":1},"memory":null,"disks":{"state":null,"images":{"path":null,"free_bytes":2},"images":{"total_bytes":3}}}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"throttled":["under-voltage-now","x",null],"throttled":[null]}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"throttled":"under-voltage-now"}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"disks":{"state":{"total_bytes":-1}}}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"memory":[],"load1":"1"}}`,
	`{"device_id":"pi-017","agent_epoch":1,"host":{"uptime_seconds":1.5}}`,
	`[]`, `5`, `"x"`, `{}`, `null`, ` null `, `nul`, ``, `{"a":[[[[]]]]}`,
}

// recordSeeds are the same for DeviceRecord.
var recordSeeds = []string{
	`{"device_id":"pi-017","labels":{"site":"lyon"},"enrolled_at":"2026-11-26T10:00:00Z"}`,
	`{"Device_ID":"pi-017","LABELS":{"site":"lyon"},"labels":{"role":"web"},"enrolled_at":"2026-11-26T10:00:00Z","user_key":null}`,
	`{"device_id":"pi-017","labels":null,"enrolled_at":"2026-11-26T10:00:00Z","user_key":"UABC"}`,
	`{"device_id":"pi-017","labels":{"site":5},"enrolled_at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","enrolled_at":null}`,
	`{"device_id":"pi-017","enrolled_at":"2026-11-26T10:00:00Z","extra":{"deep":[{"a":"\u00e9"}]}}`,
	`{"device_id":"pi-017","enrolled_at":"2026-11-26T10:00:00Z"} {}`,
	`{}`, `null`, `[1]`,
}

// decodeInfoBoth decodes data with DeviceInfo.UnmarshalJSON and with
// json.Unmarshal into its fields, then Validate: the reference.
func decodeInfoBoth(data []byte) (got, want fleet.DeviceInfo, gotErr, wantErr error) {
	gotErr = got.UnmarshalJSON(data)
	var p plainInfo
	if wantErr = json.Unmarshal(data, &p); wantErr == nil {
		want = fleet.DeviceInfo(p)
		wantErr = want.Validate()
	}
	return got, want, gotErr, wantErr
}

func decodeRecordBoth(data []byte) (got, want fleet.DeviceRecord, gotErr, wantErr error) {
	gotErr = got.UnmarshalJSON(data)
	var p plainRecord
	if wantErr = json.Unmarshal(data, &p); wantErr == nil {
		want = fleet.DeviceRecord(p)
		wantErr = want.Validate()
	}
	return got, want, gotErr, wantErr
}

// TestDecodeMatchesJSON: on each seed, the one-pass decoders of
// DeviceInfo and DeviceRecord accept what json.Unmarshal into their fields
// (then Validate) accepts, to the same value, and refuse what it refuses.
func TestDecodeMatchesJSON(t *testing.T) {
	for _, s := range infoSeeds {
		t.Run("info/"+s, func(t *testing.T) { checkInfoMatches(t, []byte(s)) })
	}
	for _, s := range recordSeeds {
		t.Run("record/"+s, func(t *testing.T) { checkRecordMatches(t, []byte(s)) })
	}
	for _, path := range goldenFiles("device_info") {
		t.Run(path, func(t *testing.T) { checkInfoMatches(t, readFile(t, path)) })
	}
	for _, path := range []string{"testdata/device_record.json"} {
		t.Run(path, func(t *testing.T) { checkRecordMatches(t, readFile(t, path)) })
	}
}

func checkInfoMatches(t *testing.T, data []byte) {
	t.Helper()
	got, want, gotErr, wantErr := decodeInfoBoth(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("DeviceInfo.UnmarshalJSON(%q) error = %v, want %v (json.Unmarshal, Validate)", data, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DeviceInfo.UnmarshalJSON(%q) = %+v, want %+v", data, got, want)
	}
}

func checkRecordMatches(t *testing.T, data []byte) {
	t.Helper()
	got, want, gotErr, wantErr := decodeRecordBoth(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("DeviceRecord.UnmarshalJSON(%q) error = %v, want %v (json.Unmarshal, Validate)", data, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DeviceRecord.UnmarshalJSON(%q) = %+v, want %+v", data, got, want)
	}
}

func FuzzDecodeInfoMatchesJSON(f *testing.F) {
	for _, s := range infoSeeds {
		f.Add([]byte(s))
	}
	for _, path := range goldenFiles("device_info") {
		f.Add(readFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkInfoMatches(t, data) })
}

func FuzzDecodeRecordMatchesJSON(f *testing.F) {
	for _, s := range recordSeeds {
		f.Add([]byte(s))
	}
	for _, path := range []string{"testdata/device_record.json"} {
		f.Add(readFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkRecordMatches(t, data) })
}

// BenchmarkDecodeDeviceInfo decodes the golden snapshots, without and
// with host metrics: the one-pass decoder, and json.Unmarshal into the
// fields (the decoder it replaced) for comparison.
func BenchmarkDecodeDeviceInfo(b *testing.B) {
	for _, file := range []string{"device_info.json", "device_info_host.json"} {
		data := readFile(b, "testdata/"+file)
		b.Run(file+"/one-pass", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var i fleet.DeviceInfo
				if err := i.UnmarshalJSON(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(file+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var p plainInfo
				if err := json.Unmarshal(data, &p); err != nil {
					b.Fatal(err)
				}
				if err := fleet.DeviceInfo(p).Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// refEvent is the wire form DecodeEvent decoded with json.Unmarshal
// before its one-pass decoder: the reference it must match.
type refEvent struct {
	DeviceID   fleet.DeviceID       `json:"device_id"`
	Deployment fleet.DeploymentName `json:"deployment"`
	Revision   fleet.Revision       `json:"revision"`
	Transition struct {
		Kind      fleet.TransitionKind `json:"kind"`
		From      *fleet.Phase         `json:"from"`
		To        *fleet.Phase         `json:"to"`
		LastError *string              `json:"last_error"`
	} `json:"transition"`
	SpecHash string    `json:"spec_hash"`
	At       time.Time `json:"at"`
}

func refDecodeEvent(data []byte) (fleet.StateChangeEvent, error) {
	var w refEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return fleet.StateChangeEvent{}, err
	}
	deref := func(p *fleet.Phase) fleet.Phase {
		if p == nil {
			return ""
		}
		return *p
	}
	e := fleet.StateChangeEvent{DeviceID: w.DeviceID, Deployment: w.Deployment, Revision: w.Revision,
		Transition: fleet.LifecycleTransition{Kind: w.Transition.Kind, From: deref(w.Transition.From), To: deref(w.Transition.To)},
		SpecHash:   w.SpecHash, At: w.At}
	if w.Transition.LastError != nil {
		e.Transition.LastError = *w.Transition.LastError
	}
	return e, e.Validate()
}

// eventSeeds are inputs for DecodeEvent as infoSeeds are for DeviceInfo.
var eventSeeds = []string{
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","from":"pending","to":"running","last_error":null},"at":"2026-11-26T10:00:00.123Z"}`,
	`{"DEVICE_ID":"pi-017","Deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"KIND":"applied","from":null,"to":"failed","last_error":"exit \u00e9 1"},"spec_hash":"c275172d7b6e4f0a9d1c3b5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a","at":"2026-11-26T10:00:00Z","extra":[{}]}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"removed","from":"running"},"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"removed","from":"running","to":null},"spec_hash":"c275172d7b6e4f0a9d1c3b5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a","at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","to":"running","to":"sleeping"},"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","to":"running","last_error":"a","last_error":null},"transition":{"from":"pending"},"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":null,"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","to":5},"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"w.b","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","to":"running"},"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":0},"transition":{"kind":"applied","to":"running"},"at":"2026-11-26T10:00:00Z"}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","to":"running"}}`,
	`{"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1,"sequence":42},"transition":{"kind":"applied","to":"running"},"at":"2026-11-26T10:00:00Z"`,
	`{}`, `null`, `[]`, `"x"`,
}

// TestDecodeEventMatchesJSON: on each seed, DecodeEvent accepts what
// json.Unmarshal into its former wire struct (then Validate) accepts, to
// the same event, and refuses what it refuses.
func TestDecodeEventMatchesJSON(t *testing.T) {
	for _, s := range eventSeeds {
		t.Run(s, func(t *testing.T) { checkEventMatches(t, []byte(s)) })
	}
	for _, path := range goldenFiles("event") {
		t.Run(path, func(t *testing.T) { checkEventMatches(t, readFile(t, path)) })
	}
}

func checkEventMatches(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := fleet.DecodeEvent(data)
	want, wantErr := refDecodeEvent(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("DecodeEvent(%q) error = %v, want %v (json.Unmarshal, Validate)", data, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeEvent(%q) = %+v, want %+v", data, got, want)
	}
}

func FuzzDecodeEventMatchesJSON(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	for _, path := range goldenFiles("event") {
		f.Add(readFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkEventMatches(t, data) })
}

// BenchmarkDecodeEvent decodes a golden event: DecodeEvent, and
// json.Unmarshal into its former wire struct for comparison.
func BenchmarkDecodeEvent(b *testing.B) {
	data := readFile(b, "testdata/event_applied_running.json")
	b.Run("one-pass", func(b *testing.B) {
		for b.Loop() {
			if _, err := fleet.DecodeEvent(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := refDecodeEvent(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
