//go:build embednats

package isolation

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// TestAttacks: an attacker holding pi-1's creds tries to read, write or
// destroy what is not pi-1's; the server refuses each (a permissions
// violation naming the subject, not a timeout).
func TestAttacks(t *testing.T) {
	e := newEnv(t, "pi-1", "pi-2")
	ctx := ctxT(t, waitTimeout)
	adminKV, err := e.adminJS.KeyValue(ctx, fleet.DesiredStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adminKV.Put(ctx, "pi-2.web", []byte(`{"env":{"SECRET":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	desired := "KV_" + fleet.DesiredStateBucket
	pi2Keys := "$KV." + fleet.DesiredStateBucket + ".pi-2.>"

	subscribes := []string{
		"_INBOX.>",
		fleet.InboxPrefix("pi-2") + ".>",
		fleet.DeviceOpsSubjects("pi-2"),
		"$KV." + fleet.DesiredStateBucket + ".>",
		pi2Keys,
		"$KV." + fleet.DeviceInfoBucket + ".>",
		fleet.EventsSubjects,
		">",
	}
	for _, subj := range subscribes {
		t.Run("subscribe "+subj, func(t *testing.T) {
			var errs errSink
			nc := e.device(t, "pi-1", &errs)
			if _, err := nc.SubscribeSync(subj); err != nil {
				t.Fatalf("SubscribeSync(%s): %v", subj, err)
			}
			errs.waitDenied(t, "Subscription", subj)
		})
	}

	publishes := []struct{ name, subject, body string }{
		{"direct get of pi-2's key", "$JS.API.DIRECT.GET." + desired + ".$KV." + fleet.DesiredStateBucket + ".pi-2.web", ""},
		{"direct get", "$JS.API.DIRECT.GET." + desired, `{"last_by_subj":"$KV.desired-state.pi-2.web"}`},
		{"stream message get", "$JS.API.STREAM.MSG.GET." + desired, `{"last_by_subj":"$KV.desired-state.pi-2.web"}`},
		{"consumer on pi-2's keys", "$JS.API.CONSUMER.CREATE." + desired + ".x." + pi2Keys, `{"stream_name":"` + desired + `","config":{"name":"x","filter_subject":"` + pi2Keys + `"}}`},
		{"consumer without a filter token", "$JS.API.CONSUMER.CREATE." + desired + ".x", `{"stream_name":"` + desired + `","config":{"name":"x"}}`},
		{"legacy ephemeral consumer", "$JS.API.CONSUMER.CREATE." + desired, `{"stream_name":"` + desired + `","config":{}}`},
		{"durable consumer", "$JS.API.CONSUMER.DURABLE.CREATE." + desired + ".x", `{"stream_name":"` + desired + `","config":{"durable_name":"x"}}`},
		{"list consumer names", "$JS.API.CONSUMER.NAMES." + desired, ""},
		{"list consumers", "$JS.API.CONSUMER.LIST." + desired, ""},
		{"consumer info", "$JS.API.CONSUMER.INFO." + desired + ".x", ""},
		{"delete a consumer of the events", "$JS.API.CONSUMER.DELETE." + fleet.EventsStream + ".x", ""},
		{"delete a consumer of device-info", "$JS.API.CONSUMER.DELETE.KV_" + fleet.DeviceInfoBucket + ".x", ""},
		{"consumer on device-info", "$JS.API.CONSUMER.CREATE.KV_" + fleet.DeviceInfoBucket + ".x.$KV." + fleet.DeviceInfoBucket + ".pi-2", ""},
		{"direct get of pi-2's DeviceInfo", "$JS.API.DIRECT.GET.KV_" + fleet.DeviceInfoBucket + ".$KV." + fleet.DeviceInfoBucket + ".pi-2", ""},
		{"consumer on the events", "$JS.API.CONSUMER.CREATE." + fleet.EventsStream + ".x." + fleet.EventsSubjects, ""},
		{"put pi-2's DeviceInfo", "$KV." + fleet.DeviceInfoBucket + ".pi-2", `{}`},
		{"publish pi-2's event", fleet.EventSubject("pi-2", "web"), `{}`},
		{"put pi-2's desired key", "$KV." + fleet.DesiredStateBucket + ".pi-2.web", `{}`},
		{"put its own desired key", "$KV." + fleet.DesiredStateBucket + ".pi-1.web", `{}`},
		{"request an operation of pi-2", fleet.DeviceOpSubject("pi-2", fleet.OpPing), `{}`},
		{"create a stream", "$JS.API.STREAM.CREATE.EVIL", `{"name":"EVIL","subjects":["_INBOX.>"]}`},
		{"update a stream", "$JS.API.STREAM.UPDATE." + desired, `{}`},
		{"info of the events stream", "$JS.API.STREAM.INFO." + fleet.EventsStream, ""},
		{"account info", "$JS.API.INFO", ""},
	}
	for _, s := range []string{desired, "KV_" + fleet.DeviceInfoBucket, fleet.EventsStream} {
		publishes = append(publishes,
			struct{ name, subject, body string }{"delete stream " + s, "$JS.API.STREAM.DELETE." + s, ""},
			struct{ name, subject, body string }{"purge stream " + s, "$JS.API.STREAM.PURGE." + s, ""},
		)
	}
	for _, p := range publishes {
		t.Run(p.name, func(t *testing.T) {
			var errs errSink
			nc := e.device(t, "pi-1", &errs)
			if err := nc.PublishRequest(p.subject, nc.NewRespInbox(), []byte(p.body)); err != nil {
				t.Fatalf("PublishRequest(%s): %v", p.subject, err)
			}
			errs.waitDenied(t, "Publish", p.subject)
		})
	}

	// Through the library: a KV put of its own desired key is refused.
	t.Run("kv put of its own desired key", func(t *testing.T) {
		var errs errSink
		nc := e.device(t, "pi-1", &errs)
		js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(ctx, fleet.DesiredStateBucket)
		if err != nil {
			t.Fatalf("KeyValue: %v", err)
		}
		if _, err := kv.Put(ctx, "pi-1.web", []byte(`{}`)); err == nil {
			t.Fatal("Put(pi-1.web) = nil, want an error")
		}
		errs.waitDenied(t, "Publish", "$KV."+fleet.DesiredStateBucket+".pi-1.web")
	})

	// Its own consumer-create subject, with a body whose filter names
	// pi-2's keys: the permission passes, JetStream refuses the mismatch.
	for _, body := range []string{
		`{"stream_name":"` + desired + `","config":{"name":"x","filter_subject":"` + pi2Keys + `"}}`,
		`{"stream_name":"` + desired + `","config":{"name":"x","filter_subjects":["` + pi2Keys + `"]}}`,
		`{"stream_name":"` + desired + `","config":{"name":"x","filter_subjects":["$KV.desired-state.pi-1.>","` + pi2Keys + `"]}}`,
	} {
		t.Run("smuggled filter "+body, func(t *testing.T) {
			var errs errSink
			nc := e.device(t, "pi-1", &errs)
			subj := "$JS.API.CONSUMER.CREATE." + desired + ".x.$KV." + fleet.DesiredStateBucket + ".pi-1.>"
			msg, err := nc.Request(subj, []byte(body), waitTimeout)
			if err != nil {
				t.Fatalf("Request(%s): %v", subj, err)
			}
			var resp struct {
				Error *struct {
					Code        int    `json:"code"`
					Description string `json:"description"`
				} `json:"error"`
			}
			if err := json.Unmarshal(msg.Data, &resp); err != nil || resp.Error == nil {
				t.Fatalf("consumer create with %s answered %s, want a JetStream error", body, msg.Data)
			}
			t.Logf("refused: %d %s", resp.Error.Code, resp.Error.Description)
		})
	}
}
