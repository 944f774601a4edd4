package fleet_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// An agent reads a desired-state entry, checks its key and value, and
// records what it did as a StateChangeEvent.
func Example() {
	key := "pi-017.web"
	value := []byte(`{"runtime":"process","command":["/usr/bin/python3","-m","http.server","8081"],"working_dir":"/srv"}`)

	device, name, err := fleet.ParseDesiredKey(key)
	if err != nil {
		fmt.Println("skip:", err)
		return
	}
	spec, err := fleet.DecodeSpec(value)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	fmt.Println(spec.Runtime, spec.Restart, spec.GracePeriodSeconds)

	ev := fleet.StateChangeEvent{
		DeviceID:   device,
		Deployment: name,
		Revision:   fleet.Revision{AgentEpoch: 1875123456789012, Sequence: 1},
		Transition: fleet.Applied("", fleet.PhasePending, ""),
		At:         time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Subject())
	nonce := "5f0c2a9e41b7d803" // fleet.NewMsgIDNonce(), drawn once per agent run
	fmt.Println(fleet.MsgIDHeader+":", ev.MsgID(nonce))
	fmt.Println(string(b))
	// Output:
	// process always 10
	// fleet.events.pi-017.web
	// Nats-Msg-Id: pi-017.1875123456789012.1.5f0c2a9e41b7d803
	// {"device_id":"pi-017","deployment":"web","revision":{"agent_epoch":1875123456789012,"sequence":1},"transition":{"kind":"applied","from":null,"to":"pending","last_error":null},"at":"2026-11-26T10:00:00Z"}
}

// A spec that breaks rules is rejected with every problem named: the
// message becomes the deployment's last_error.
func ExampleDecodeSpec() {
	_, err := fleet.DecodeSpec([]byte(`{"runtime":"podman","ports":[{"host_port":0,"container_port":80}],"restart":"sometimes"}`))
	fmt.Println(err)
	// Output:
	// fleet: invalid deployment spec: image: required for runtime podman; ports[0].host_port: 0 out of range 1-65535; restart: unknown policy "sometimes" (want always, on-failure or never)
}
