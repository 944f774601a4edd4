// Package controller is harmony-fleet serve (ARCHITECTURE 9): it keeps a
// view of the fleet from NATS (the deployments, device-registry,
// device-info, desired-state and rollouts buckets, and the last event per
// pair of FLEET_EVENTS then the live ones), plans with fleet/rollout on
// every change (debounced) and on a tick, and, while it holds the lease,
// performs the plan: each rollout's status to rollouts, then every
// desired-state write as a compare-and-set on the key's revision, signed
// when a signing key is given.
//
// The lease is the fleet-controller key leader, in a bucket whose values
// expire (KV TTL): the holder renews it well before expiry with a
// compare-and-set on its revision, and stops writing at once when a renewal
// is refused or when it could not renew before expiry; a standby creates
// the key when it is gone.
//
// It decides nothing itself: the decisions are rollout.Plan's. It imports
// nats.go, zap, fleet, fleet/rollout and fleet/signed; never the agent's
// packages.
package controller
