// Package podman runs deployments as podman containers through the libpod
// REST API (v4) on podman's unix socket.
//
// It owns two things: Client, a small typed client over net/http for the
// endpoints the agent needs (ping and version, images, container lifecycle,
// inspect, list, logs, events, free disk under the image store), and
// Runtime, the runtime.Runtime adapter that converges one container per
// deployment, named "harmony-<deployment>" and labelled with
// fleet.LabelDevice, fleet.LabelDeployment and fleet.LabelSpecHash. A
// container of that name without this device's label is never touched.
// Containers are created with restart policy "no": restarting is the
// agent's decision, not podman's.
//
// Labels read back from podman are untrusted (anyone with the socket can
// label a container): List and Watch pass on only containers whose
// deployment label is a fleet.DeploymentName, whose spec-hash label is a
// hash and whose name is their deployment's; the others are logged once
// and ignored. Every form of "the container is gone" podman 4.x answers
// (a 404, or a 500 whose cause is "no such container" or "container has
// already been removed" when it raced a removal) is ErrNotFound, and a
// container in state "removing" is reported missing.
//
// It imports the standard library, fleet and internal/runtime only: never
// podman's Go bindings (they drag in most of podman), never zap (logging
// goes through Config.Logf).
package podman
