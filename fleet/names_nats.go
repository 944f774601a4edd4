package fleet

import (
	"fmt"
	"strings"
)

// Bucket, stream, subject and label names. Tests lock their literal values:
// other programs are written against them.
const (
	// DesiredStateBucket holds a DeploymentSpec under DesiredKey.
	DesiredStateBucket = "desired-state"
	// DeviceInfoBucket holds a DeviceInfo under DeviceInfoKey.
	DeviceInfoBucket = "device-info"
	// EventsStream stores every StateChangeEvent.
	EventsStream = "FLEET_EVENTS"
	// EventsSubjectPrefix is the first two tokens of every event subject.
	EventsSubjectPrefix = "fleet.events"
	// EventsSubjects is the EventsStream's subject filter.
	EventsSubjects = EventsSubjectPrefix + ".>"
	// MsgIDHeader is the JetStream de-duplication header.
	MsgIDHeader = "Nats-Msg-Id"

	// LabelDevice marks a workload with the DeviceID that manages it.
	LabelDevice = "io.harmony.device"
	// LabelDeployment marks a workload with its DeploymentName.
	LabelDeployment = "io.harmony.deployment"
	// LabelSpecHash marks a workload with the SpecHash it was created from.
	LabelSpecHash = "io.harmony.spec-hash"
)

// DesiredKey is the desired-state key of a deployment on a device.
func DesiredKey(d DeviceID, n DeploymentName) string { return string(d) + "." + string(n) }

// DesiredFilter is the key filter that watches every deployment of d.
func DesiredFilter(d DeviceID) string { return string(d) + ".>" }

// ParseDesiredKey splits a desired-state key into its device and
// deployment, validating both.
func ParseDesiredKey(key string) (DeviceID, DeploymentName, error) {
	dev, name, ok := strings.Cut(key, ".")
	if !ok {
		return "", "", fmt.Errorf("desired key %q: want <device>.<deployment>", truncate(key, 64))
	}
	d, err := ParseDeviceID(dev)
	if err != nil {
		return "", "", fmt.Errorf("desired key %q: %w", truncate(key, 64), err)
	}
	n, err := ParseDeploymentName(name)
	if err != nil {
		return "", "", fmt.Errorf("desired key %q: %w", truncate(key, 64), err)
	}
	return d, n, nil
}

// DeviceInfoKey is d's key in the device-info bucket.
func DeviceInfoKey(d DeviceID) string { return string(d) }

// EventSubject is the subject of the events of deployment n on device d.
func EventSubject(d DeviceID, n DeploymentName) string {
	return EventsSubjectPrefix + "." + string(d) + "." + string(n)
}

// DeviceEventsSubject is the filter for every event of device d.
func DeviceEventsSubject(d DeviceID) string { return EventsSubjectPrefix + "." + string(d) + ".>" }

// DeploymentEventsSubject is the filter for every event of deployment n on
// any device.
func DeploymentEventsSubject(n DeploymentName) string {
	return EventsSubjectPrefix + ".*." + string(n)
}

// MsgID is the Nats-Msg-Id of the event of device d at revision r.
func MsgID(d DeviceID, r Revision) string {
	return fmt.Sprintf("%s.%d.%d", d, r.AgentEpoch, r.Sequence)
}
