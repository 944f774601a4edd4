// Package isolation proves ARCHITECTURE 8's promise, "a device can act
// only as itself", against a real nats-server in operator mode, with
// credentials made by internal/creds (Bootstrap, IssueDeviceUser, Revoke):
// the permission set is sufficient for what an agent does, every attack
// with one device's credentials on another device's data is refused by the
// server, and a revoked device is shut out. It holds tests only (build tag
// embednats: it runs the nats-server of the module).
package isolation
