// Package creds owns the devices' NATS credentials (ARCHITECTURE 8.1): the
// one definition of a device's permission set (DevicePermissions), user
// JWTs carrying it, the same set as a nats-server authorization block,
// revocations in an account JWT, and a bootstrap of an operator-mode
// server for users without nsc.
//
// It is the only package that imports github.com/nats-io/jwt. It never
// imports nats.go: it builds JWTs, files and configuration text, and the
// callers (harmony-fleet) send them.
package creds
