// Package deps holds no code: its test enforces the module's dependency
// rules (ARCHITECTURE.md section 2) by asking the go command what each
// package imports, so a forbidden import fails `go test` instead of waiting
// for a review.
//
// The rules: fleet, fleet/aggregate, internal/ringbuf and internal/reconciler
// are pure, depending on the standard library and on each other only (fleet
// and internal/ringbuf on the standard library alone); nats.go and the
// nats-server are imported only by internal/desired, internal/publisher,
// internal/natsserver and cmd/...; viper only by internal/config;
// go-systemd only by internal/systemd; zap by no pure package. A program
// that imports only fleet and fleet/aggregate compiles none of nats, zap,
// viper or podman.
//
// deps imports nothing; its test imports the standard library only.
package deps
