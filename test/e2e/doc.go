//go:build embednats

// Package e2e holds harmony-agent's end-to-end test: real processes only.
// It builds harmony-agent, harmony-fleet and test/natsserver once per run
// into a temporary directory, starts the nats-server and several agents as
// processes of their own (process runtime, and a podman one when
// HARMONY_PODMAN_SOCKET names a podman API socket), and drives and checks
// them through the harmony-fleet CLI alone, as an operator would: init,
// apply, status, devices, delete, events; an agent killed with SIGKILL and
// started again, the server restarted on the same store.
//
// Its files carry the embednats build tag, like every test that needs a
// nats-server, so `go test -tags embednats ./...` (make test) runs it. What
// it knows of the system it learns from the CLI's -o json output, the pid
// files of the process runtime (checked with process.Alive, the runtime's
// own test for pid reuse) and the podman CLI.
package e2e
