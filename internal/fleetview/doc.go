// Package fleetview is the central read side: what harmony-fleet (and
// later its controller and API) read back from NATS. EventReader reads the
// StateChangeEvents of FLEET_EVENTS in stream order, each checked against
// its subject; InfoWatch and ListDeviceInfo read the DeviceInfo snapshots
// of the device-info bucket, each checked against its key.
//
// fleetview imports fleet, nats.go and the standard library. It must not
// import the agent's packages, viper or zap.
package fleetview
