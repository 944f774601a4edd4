// Package aggregate owns the central side's view of the fleet: the
// Aggregator folds the agents' StateChangeEvents and DeviceInfo snapshots
// into, per DevicePair{device, deployment}, the phase, last error and
// revision last applied, and per deployment the number of devices in each
// phase (what `harmony-fleet status` shows).
//
// It is pure: no I/O, no clock, no logging, no goroutines. The caller reads
// the stream and the device-info bucket and feeds what it reads in, in
// whatever order and as many times as it arrives; the result does not
// depend on either (see Aggregator).
//
// aggregate imports the standard library and fleet only; it must not import
// NATS, zap or any internal package of this module.
package aggregate
