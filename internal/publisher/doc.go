// Package publisher owns everything the agent sends to NATS: the
// connection (Connect, shared with the harmony-fleet CLI), the JetStream
// resources (EnsureResources: the FLEET_EVENTS stream and the
// desired-state and device-info buckets), and NATS, the publisher that
// sends every recorded StateChangeEvent, in order and de-duplicated by its
// Msg-Id, and keeps the device's DeviceInfo snapshot in the device-info
// bucket.
//
// Events wait in a bounded outbox (internal/ringbuf) while the device is
// offline; when it is full the oldest is dropped and counted, and the count
// goes into the next DeviceInfo so the central side knows to trust the
// snapshot over the event stream.
//
// publisher imports fleet, internal/ringbuf, nats.go and zap. It must not
// import the agent, the reconciler, the runtime or nats-server.
package publisher
