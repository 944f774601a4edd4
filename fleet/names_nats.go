package fleet

import (
	"crypto/rand"
	"encoding/hex"
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

// MsgID is the Nats-Msg-Id of the event of device d at revision r, sent
// by the agent run whose nonce is nonce (NewMsgIDNonce):
// <device_id>.<agent_epoch>.<sequence>.<nonce>. The nonce, drawn once per
// run and published nowhere else, keeps one device from pre-publishing
// another's future Msg-Ids to have its events dropped as duplicates.
func MsgID(d DeviceID, r Revision, nonce string) string {
	return fmt.Sprintf("%s.%d.%d.%s", d, r.AgentEpoch, r.Sequence, nonce)
}

// MsgIDNonceLen is the length of a Msg-Id nonce: 16 lower-case hex
// characters (64 random bits).
const MsgIDNonceLen = 16

// NewMsgIDNonce draws a Msg-Id nonce from crypto/rand: once per agent run.
func NewMsgIDNonce() string {
	var b [MsgIDNonceLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// Central records, device operations and the inbox prefix (ARCHITECTURE
// 3.7, 3.9, 8.1, 11). Tests lock their literal values.
const (
	// DeviceRegistryBucket holds a DeviceRecord under DeviceRegistryKey,
	// written by operators only: its labels are the ones selectors match.
	DeviceRegistryBucket = "device-registry"
	// DeploymentsBucket holds fleet deployments under DeploymentKey.
	DeploymentsBucket = "deployments"
	// RolloutsBucket holds each fleet deployment's rollout status under
	// RolloutKey, written by the acting controller.
	RolloutsBucket = "rollouts"
	// ControllerBucket holds the controller lease under LeaderKey.
	ControllerBucket = "fleet-controller"
	// LeaderKey is the key of the controller lease in ControllerBucket.
	LeaderKey = "leader"
	// DeviceOpsSubjectPrefix is the first two tokens of every device
	// operation subject.
	DeviceOpsSubjectPrefix = "fleet.device"
	// InboxPrefixBase is what every client's custom inbox prefix starts
	// with; an agent's is InboxPrefix(device).
	InboxPrefixBase = "_INBOX_"

	// OpLogs asks for a workload's output.
	OpLogs = "logs"
	// OpRestart asks for a workload to be stopped and started.
	OpRestart = "restart"
	// OpPing asks for the agent's version, epoch and connection state.
	OpPing = "ping"
)

// DeviceRegistryKey is d's key in the device-registry bucket.
func DeviceRegistryKey(d DeviceID) string { return string(d) }

// DeploymentKey is fleet deployment n's key in the deployments bucket.
func DeploymentKey(n DeploymentName) string { return string(n) }

// RolloutKey is fleet deployment n's key in the rollouts bucket.
func RolloutKey(n DeploymentName) string { return string(n) }

// DeviceOpSubject is the request subject of operation op on device d.
func DeviceOpSubject(d DeviceID, op string) string {
	return DeviceOpsSubjectPrefix + "." + string(d) + "." + op
}

// DeviceOpsSubjects is the filter for every operation of device d.
func DeviceOpsSubjects(d DeviceID) string { return DeviceOpsSubjectPrefix + "." + string(d) + ".>" }

// InboxPrefix is the custom inbox prefix of device d's connection, so its
// permissions never need _INBOX.> (through which every reply is readable).
func InboxPrefix(d DeviceID) string { return InboxPrefixBase + string(d) }
