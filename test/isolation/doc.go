// Package isolation proves ARCHITECTURE 8's promise, "a device can act
// only as itself", against a real nats-server in operator mode, with
// credentials made by internal/creds and harmony-fleet (creds bootstrap's
// Bootstrap, device add, device remove): the permission set is sufficient
// for what an agent does (raw clients, and real agents run in-process
// through a server restart and a large backlog, with no permission
// violation logged); every attack with one device's credentials on
// another device's data is refused by the server; a Msg-Id guessed for
// another device does not drop its events; a revoked device is shut out
// while its agent keeps retrying; and no secret is printed by the agent or
// harmony-fleet (their binaries, built once per run). It holds tests only
// (build tag embednats: it runs the nats-server of the module).
package isolation
