// Package config turns the agent's configuration (built-in defaults, then
// the YAML file, then HARMONY_AGENT_* environment variables) into a plain,
// typed Config, and checks it with Config.Validate.
//
// It owns the list of configuration keys, their defaults and the rules they
// obey; configs/agent.yaml documents them and a test keeps the two in step.
// It is the only package that imports viper. It imports the standard
// library, fleet, viper and yaml only: no nats.go, zap or go-systemd, and
// nothing else from the agent.
package config
