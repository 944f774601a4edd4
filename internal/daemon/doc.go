// Package daemon holds the agent's wiring, once: the embedded server when
// configured, the runtimes, the connection (internal/natsconn), the
// desired-state watcher and its cache, the publisher and the agent, their
// goroutines, the agent's desired-value decoder (trust.go: signature and
// generation checks of internal/trust, then the device policy of
// internal/policy), systemd notifications, and a stop that holds its bound
// whatever NATS or the runtimes do. cmd/harmony-agent calls Run with the
// loaded configuration; the benchmarks call it too, injecting runtimes
// through Options.
//
// daemon may import every internal package of the agent, nats.go and zap.
// It must not import viper (the configuration comes loaded), the central
// side's packages or an HTTP server.
package daemon
