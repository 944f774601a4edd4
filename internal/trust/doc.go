// Package trust decides whether the agent takes a desired value
// (ARCHITECTURE 3.6, 3.8, 8.3): with trust keys configured, only a value
// signed by one of them, for this device and deployment, at a generation
// not lower than the highest accepted for that deployment; without, a bare
// spec. It remembers the highest generation accepted per deployment in the
// state directory (generations.json, written atomically), across restarts
// and after a deployment is removed.
//
// trust imports fleet, fleet/signed and internal/atomicfile; it does not
// log (its caller does) and imports no NATS client.
package trust
