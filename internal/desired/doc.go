// Package desired follows this device's desired state: a watch on the
// desired-state KV bucket filtered to "<device>.>", delivering the last value
// of every key first (a full snapshot), then live puts, deletes and purges.
// The watch is recreated at once when Restart is called (the agent calls it
// from the NATS reconnect handler), and on its own when its consumer falls
// silent for LostAfter (2 s: the server holding it died while the agent's
// connection to another node survived; see Heartbeat). Each recreation
// delivers a new full snapshot so keys deleted meanwhile are noticed.
//
// It also keeps a copy of the desired values on disk (Cache), so a device
// that boots with NATS unreachable still knows what it should run.
//
// desired imports nats.go, zap and fleet; it does not touch any runtime.
package desired
