// Package publisher sends what the agent reports to NATS: NATS, the
// publisher that sends every recorded StateChangeEvent, in order and
// de-duplicated by its Msg-Id, and keeps the device's DeviceInfo snapshot
// in the device-info bucket. The connection and the JetStream resources
// belong to internal/natsconn; the central read side to
// internal/fleetview.
//
// Events wait in a bounded outbox (internal/ringbuf) while the device is
// offline; when it is full the oldest is dropped and counted, and the count
// goes into the next DeviceInfo so the central side knows to trust the
// snapshot over the event stream.
//
// publisher imports fleet, internal/natsconn, internal/ringbuf, nats.go
// and zap. It must not import the agent, the reconciler, the runtime or
// nats-server.
package publisher
