// Package policy decides what a device accepts regardless of who signed it
// (ARCHITECTURE 8.4): which users process workloads may run as, which host
// paths podman volumes may mount, which image registries may be used and
// whether host ports below 1024 may be mapped.
//
// It is pure: it imports the standard library and fleet only, does no I/O
// and never logs. The agent checks every spec with Policy.Check before it
// starts anything; a refusal makes the deployment failed, naming the rule.
package policy
