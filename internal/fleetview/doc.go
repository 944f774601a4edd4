// Package fleetview is the central read side: what harmony-fleet (its
// status, events and devices commands, and serve's API) read back from
// NATS.
//
//   - EventReader reads the StateChangeEvents of FLEET_EVENTS in stream
//     order (from the first, or since a time), each checked against its
//     subject; InfoWatch and ListDeviceInfo read the DeviceInfo snapshots
//     of the device-info bucket, each checked against its key.
//   - ReadFold folds the newest event of every subject (ReadLastEvents, a
//     last-per-subject consumer) and then every snapshot with
//     fleet/aggregate: status costs O(devices x deployments), whatever the
//     stream holds. ReadRecords reads the registry, the fleet deployments
//     and the rollouts; StatusOf joins them into what status shows.
//   - JoinDevices, LivenessAt and ConvergenceOf are pure (time is an
//     argument): a device's registry entry, snapshot, liveness (online,
//     stale, offline) and convergence.
//   - Live keeps all of it up to date from the stream and the buckets, for
//     status --watch and serve.
//
// fleetview imports fleet, fleet/aggregate, fleet/rollout, nats.go and the
// standard library. It must not import the agent's packages, viper or zap.
package fleetview
