// Package systemd tells systemd about the agent's life cycle through the
// sd_notify protocol: READY=1 once the configuration is valid and the state
// directory is usable, STATUS= lines, WATCHDOG=1 pings and STOPPING=1 on
// shutdown. It owns the only use of github.com/coreos/go-systemd in the
// module.
//
// When the agent is not started by systemd (NOTIFY_SOCKET is unset) every
// call is a cheap no-op that returns nil. Errors are returned, never logged:
// systemd imports neither zap nor nats.go, and nothing from the agent.
package systemd
