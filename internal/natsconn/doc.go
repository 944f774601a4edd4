// Package natsconn owns the connection to NATS, for the agent and
// harmony-fleet alike: server URLs (passwords in them masked in every
// message), every kind of credential (creds file, nkey seed file, user
// and password, token), TLS, the inbox prefix, and reconnecting forever
// with jitter, also after an authorization or TLS failure (Connect). It
// also owns the JetStream resources the fleet uses: their settings, and
// creating or checking them without ever changing one that exists
// (Ensure, EnsureResources).
//
// natsconn imports fleet, nats.go and zap. It must not import the agent,
// the publisher, the runtime or nats-server.
package natsconn
