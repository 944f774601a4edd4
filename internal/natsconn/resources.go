package natsconn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
)

var (
	// ErrResourceMismatch is wrapped by the errors EnsureResources returns
	// for a stream or bucket that exists with other settings than asked.
	// Existing resources are never changed.
	ErrResourceMismatch = errors.New("natsconn: existing resource differs")
	// ErrNotPermitted is wrapped when a resource cannot be looked up or
	// created: the account lacks the permission, or JetStream is not
	// enabled for it.
	ErrNotPermitted = errors.New("natsconn: not permitted")
	// ErrResourceMissing is wrapped by the errors Ensure returns, without
	// EnsureOptions.Create, for a stream or bucket that does not exist.
	ErrResourceMissing = errors.New("natsconn: missing (run harmony-fleet init)")
)

// ResourceSettings are the settings of the resources Ensure creates. A zero field takes its DefaultResourceSettings value.
type ResourceSettings struct {
	// Replicas is the replica count of the stream and the buckets: 1 on a
	// single server, 3 on a JetStream cluster.
	Replicas int
	// EventsMaxAge is how long FLEET_EVENTS keeps an event.
	EventsMaxAge time.Duration
	// EventsMaxBytes bounds the size of FLEET_EVENTS; -1 is unbounded
	// (MaxAge still applies). Over it, the oldest events go.
	EventsMaxBytes int64
	// DuplicateWindow is how long FLEET_EVENTS remembers a Nats-Msg-Id: an
	// event re-sent within it is stored once. It must exceed the longest
	// time an agent may retry one event after a lost ack.
	DuplicateWindow time.Duration
	// DesiredHistory is how many values per key the desired-state bucket
	// keeps (1..64).
	DesiredHistory uint8
}

// DefaultResourceSettings returns the settings harmony-fleet init and the
// agent use unless told otherwise: 1 replica, events kept 7 days with no
// size bound, a 10 minute duplicate window, 5 desired-state values per key.
// device-info and device-registry always keep 1 value per key; all are
// file-backed, and
// FLEET_EVENTS has limits retention on fleet.events.>.
func DefaultResourceSettings() ResourceSettings {
	return ResourceSettings{
		Replicas:        1,
		EventsMaxAge:    7 * 24 * time.Hour,
		EventsMaxBytes:  -1,
		DuplicateWindow: 10 * time.Minute,
		DesiredHistory:  5,
	}
}

// withDefaults fills the zero fields of s.
func (s ResourceSettings) withDefaults() ResourceSettings {
	d := DefaultResourceSettings()
	if s.Replicas == 0 {
		s.Replicas = d.Replicas
	}
	if s.EventsMaxAge == 0 {
		s.EventsMaxAge = d.EventsMaxAge
	}
	if s.EventsMaxBytes == 0 {
		s.EventsMaxBytes = d.EventsMaxBytes
	}
	if s.DuplicateWindow == 0 {
		s.DuplicateWindow = d.DuplicateWindow
	}
	if s.DesiredHistory == 0 {
		s.DesiredHistory = d.DesiredHistory
	}
	return s
}

// infoHistory is the device-info bucket's history: a snapshot replaces the
// last one. registryHistory is the device-registry bucket's: a record
// replaces the last one.
const (
	infoHistory     = 1
	registryHistory = 1
)

// Resource is one stream or bucket of the fleet, as it is created when
// missing.
type Resource struct {
	// Stream is the stream's configuration; for a bucket, that of the
	// stream behind it, as far as Ensure compares it.
	Stream jetstream.StreamConfig
	// Bucket is set for a KV bucket, which is created with it.
	Bucket *jetstream.KeyValueConfig
}

// String names r in messages: "stream FLEET_EVENTS", "bucket desired-state".
func (r Resource) String() string {
	if r.Bucket != nil {
		return "bucket " + r.Bucket.Bucket
	}
	return "stream " + r.Stream.Name
}

// bucket is the Resource of KV bucket c.
func bucket(c jetstream.KeyValueConfig) Resource {
	return Resource{
		Stream: jetstream.StreamConfig{
			Name:              "KV_" + c.Bucket,
			Storage:           c.Storage,
			Replicas:          c.Replicas,
			MaxMsgsPerSubject: int64(c.History),
		},
		Bucket: &c,
	}
}

// AgentResources are the resources an agent uses, with the settings of s:
// the FLEET_EVENTS stream and the desired-state and device-info buckets.
func AgentResources(s ResourceSettings) []Resource {
	s = s.withDefaults()
	return []Resource{
		{Stream: jetstream.StreamConfig{
			Name:              fleet.EventsStream,
			Description:       "harmony-agent state change events",
			Subjects:          []string{fleet.EventsSubjects},
			Retention:         jetstream.LimitsPolicy,
			Storage:           jetstream.FileStorage,
			Replicas:          s.Replicas,
			MaxAge:            s.EventsMaxAge,
			MaxBytes:          s.EventsMaxBytes,
			MaxMsgs:           -1,
			MaxMsgsPerSubject: -1,
			Duplicates:        s.DuplicateWindow,
			Discard:           jetstream.DiscardOld,
		}},
		bucket(jetstream.KeyValueConfig{
			Bucket:      fleet.DesiredStateBucket,
			Description: "harmony desired state: <device>.<deployment> -> DeploymentSpec",
			History:     s.DesiredHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		}),
		bucket(jetstream.KeyValueConfig{
			Bucket:      fleet.DeviceInfoBucket,
			Description: "harmony device snapshots: <device> -> DeviceInfo",
			History:     infoHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		}),
	}
}

// ControllerLeaseTTL is how long the fleet-controller bucket keeps a
// value: the controller lease expires unless renewed within it
// (ARCHITECTURE 9; internal/controller renews it every third of it).
//
// 4 s (6 s before issue 16): a dead holder's lease lasts up to this long,
// so it is most of a failover (bench/e2e BenchmarkFailover); the holder
// still renews twice before it stops writing (internal/controller), and
// a bucket made with another TTL keeps it (the controller follows it).
const ControllerLeaseTTL = 4 * time.Second

// deploymentsHistory keeps a fleet deployment's last versions, for the
// operator's eye (undo keeps its own Previous); rollouts and the lease
// keep one value per key.
const (
	deploymentsHistory = 5
	rolloutsHistory    = 1
	leaseHistory       = 1
)

// FleetResources are every resource of the fleet, with the settings of s,
// in the order harmony-fleet init lists them: AgentResources, then the
// operator-owned device-registry and deployments buckets, the rollouts
// bucket the acting controller writes, and the fleet-controller bucket of
// its lease, whose values expire after ControllerLeaseTTL.
func FleetResources(s ResourceSettings) []Resource {
	s = s.withDefaults()
	return append(AgentResources(s),
		bucket(jetstream.KeyValueConfig{
			Bucket:      fleet.DeviceRegistryBucket,
			Description: "harmony enrolled devices: <device> -> DeviceRecord (operators only)",
			History:     registryHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		}),
		bucket(jetstream.KeyValueConfig{
			Bucket:      fleet.DeploymentsBucket,
			Description: "harmony fleet deployments: <deployment> -> FleetDeployment (operators only)",
			History:     deploymentsHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		}),
		bucket(jetstream.KeyValueConfig{
			Bucket:      fleet.RolloutsBucket,
			Description: "harmony rollout status: <deployment> -> RolloutStatus (the acting controller)",
			History:     rolloutsHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		}),
		bucket(jetstream.KeyValueConfig{
			Bucket:      fleet.ControllerBucket,
			Description: "harmony controller lease: leader -> holder (expires)",
			History:     leaseHistory,
			TTL:         ControllerLeaseTTL,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		}),
	)
}

// FleetResource returns the resource of FleetResources(s) named bucket
// (a bucket's name, or the stream's), and false when there is none.
func FleetResource(s ResourceSettings, name string) (Resource, bool) {
	for _, r := range FleetResources(s) {
		if r.Stream.Name == name || r.Bucket != nil && r.Bucket.Bucket == name {
			return r, true
		}
	}
	return Resource{}, false
}

// EnsureOptions say what Ensure does.
type EnsureOptions struct {
	// Create creates what is missing. Without it nothing is created and
	// each missing resource is an error wrapping ErrResourceMissing.
	Create bool
	// IgnoreReplicas leaves the replica count of an existing resource
	// alone: an agent never second-guesses the count an operator chose.
	IgnoreReplicas bool
}

// EnsureResources creates every resource of FleetResources(s) that is
// missing and compares those that exist with s (Ensure with Create).
func EnsureResources(ctx context.Context, js jetstream.JetStream, s ResourceSettings) error {
	return Ensure(ctx, js, FleetResources(s), EnsureOptions{Create: true})
}

// Ensure looks up each of resources, creating it when missing if
// o.Create is set. It is idempotent, and never changes a resource that
// exists: when one differs in a setting that matters (subjects,
// retention, storage, replicas, duplicate window, history) the error
// wraps ErrResourceMismatch and names the resource, the setting, what it
// is and what was asked. A resource the account may not look up or
// create gives an error wrapping ErrNotPermitted; a missing one, without
// o.Create, one wrapping ErrResourceMissing. It checks every resource and
// joins the errors.
func Ensure(ctx context.Context, js jetstream.JetStream, resources []Resource, o EnsureOptions) error {
	var errs []error
	for i, r := range resources {
		// A refused request only times out, so give each resource its
		// share of the time left: one refusal must not starve the others.
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok {
			rctx, cancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(len(resources)-i))
		}
		errs = append(errs, ensureOne(rctx, js, r, o))
		cancel()
	}
	return errors.Join(errs...)
}

// ensureOne is Ensure for one resource.
func ensureOne(ctx context.Context, js jetstream.JetStream, r Resource, o EnsureOptions) error {
	want := r.Stream
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if !o.Create {
			return fmt.Errorf("%s: %w", r, ErrResourceMissing)
		}
		if r.Bucket != nil {
			_, err = js.CreateKeyValue(ctx, *r.Bucket)
		} else {
			_, err = js.CreateStream(ctx, want)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && !errors.Is(err, jetstream.ErrBucketExists) {
			return fmt.Errorf("create %s: %w", r, classify(js, want.Name, err))
		}
		// Created meanwhile by someone else, with other settings: compare.
		st, err = js.Stream(ctx, want.Name)
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", r, classify(js, want.Name, err))
	}
	if o.IgnoreReplicas {
		want.Replicas = 0
	}
	return compareStream(r.String(), st.CachedInfo().Config, want)
}

// compareStream reports, joined, each setting in which got differs from
// want. Zero settings in want are not compared.
func compareStream(what string, got, want jetstream.StreamConfig) error {
	var errs []error
	differ := func(setting string, is, asked any) {
		errs = append(errs, fmt.Errorf("%s: %w: %s is %v, want %v", what, ErrResourceMismatch, setting, is, asked))
	}
	if want.Subjects != nil && !sameSet(got.Subjects, want.Subjects) {
		differ("subjects", got.Subjects, want.Subjects)
	}
	if got.Retention != want.Retention {
		differ("retention", got.Retention, want.Retention)
	}
	if got.Storage != want.Storage {
		differ("storage", got.Storage, want.Storage)
	}
	if want.Replicas != 0 && got.Replicas != want.Replicas {
		differ("replicas", got.Replicas, want.Replicas)
	}
	if want.Duplicates != 0 && got.Duplicates != want.Duplicates {
		differ("duplicate window", got.Duplicates, want.Duplicates)
	}
	if want.MaxMsgsPerSubject > 0 && got.MaxMsgsPerSubject != want.MaxMsgsPerSubject {
		differ("history", got.MaxMsgsPerSubject, want.MaxMsgsPerSubject)
	}
	return errors.Join(errs...)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// classify wraps err, the error of a request about stream, with
// ErrNotPermitted when it says the account may not use JetStream or this
// API: JetStream not enabled, or a request that timed out because the
// server refused it with a permissions violation (nats.go only reports
// those asynchronously, as the connection's last error, naming the API
// subject, which ends in the stream name).
func classify(js jetstream.JetStream, stream string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("%w: %w", ErrNotPermitted, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		last := js.Conn().LastError()
		if errors.Is(last, nats.ErrPermissionViolation) && strings.Contains(last.Error(), "$JS.API.") &&
			(strings.Contains(last.Error(), "."+stream+`"`) || strings.Contains(last.Error(), `"$JS.API.INFO"`)) {
			return fmt.Errorf("%w: %w", ErrNotPermitted, last)
		}
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 403 {
		return fmt.Errorf("%w: %w", ErrNotPermitted, err)
	}
	return err
}
