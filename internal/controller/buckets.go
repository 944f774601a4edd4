package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// Buckets returns the configurations of the controller's buckets:
// deployments (operators write, history 5), rollouts (the acting
// controller writes, history 1) and fleet-controller (the lease; its
// values expire after leaseTTL), with replicas each.
func Buckets(replicas int, leaseTTL time.Duration) []jetstream.KeyValueConfig {
	if leaseTTL <= 0 {
		leaseTTL = DefaultLeaseTTL
	}
	return []jetstream.KeyValueConfig{
		{Bucket: fleet.DeploymentsBucket, Description: "harmony fleet deployments: <deployment> -> FleetDeployment (operators only)",
			History: 5, Storage: jetstream.FileStorage, Replicas: replicas},
		{Bucket: fleet.RolloutsBucket, Description: "harmony rollout status: <deployment> -> RolloutStatus (the acting controller)",
			History: 1, Storage: jetstream.FileStorage, Replicas: replicas},
		{Bucket: fleet.ControllerBucket, Description: "harmony controller lease: leader -> holder (expires)",
			History: 1, TTL: leaseTTL, Storage: jetstream.FileStorage, Replicas: replicas},
	}
}

// EnsureBuckets creates each of Buckets(replicas, leaseTTL) that is
// missing; one that exists is left as it is.
func EnsureBuckets(ctx context.Context, js jetstream.JetStream, replicas int, leaseTTL time.Duration) error {
	for _, cfg := range Buckets(replicas, leaseTTL) {
		_, err := js.KeyValue(ctx, cfg.Bucket)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("look up bucket %s: %w", cfg.Bucket, err)
		}
		if _, err := js.CreateKeyValue(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}
