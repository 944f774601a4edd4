package publisher

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
	ErrResourceMismatch = errors.New("publisher: existing resource differs")
	// ErrNotPermitted is wrapped when a resource cannot be looked up or
	// created: the account lacks the permission, or JetStream is not
	// enabled for it.
	ErrNotPermitted = errors.New("publisher: not permitted")
)

// ResourceSettings are the settings of the resources EnsureResources
// creates. A zero field takes its DefaultResourceSettings value.
type ResourceSettings struct {
	// Replicas is the replica count of the stream and both buckets: 1 on a
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
// device-info always keeps 1 value per key; all are file-backed, and
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
// last one.
const infoHistory = 1

// eventsStreamConfig is the FLEET_EVENTS configuration for s.
func eventsStreamConfig(s ResourceSettings) jetstream.StreamConfig {
	s = s.withDefaults()
	return jetstream.StreamConfig{
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
	}
}

// bucketConfigs are the desired-state and device-info configurations for s.
func bucketConfigs(s ResourceSettings) []jetstream.KeyValueConfig {
	s = s.withDefaults()
	return []jetstream.KeyValueConfig{
		{
			Bucket:      fleet.DesiredStateBucket,
			Description: "harmony desired state: <device>.<deployment> -> DeploymentSpec",
			History:     s.DesiredHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		},
		{
			Bucket:      fleet.DeviceInfoBucket,
			Description: "harmony device snapshots: <device> -> DeviceInfo",
			History:     infoHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    s.Replicas,
		},
	}
}

// EnsureResources creates the FLEET_EVENTS stream and the desired-state
// and device-info buckets when they are missing. It is idempotent, and
// never changes a resource that exists: when one differs from s in a
// setting that matters (subjects, retention, storage, replicas, duplicate
// window, history) the error wraps ErrResourceMismatch and names the
// resource, the setting, what it is and what was asked. A resource the
// account may not create gives an error wrapping ErrNotPermitted. It
// checks every resource and joins the errors.
func EnsureResources(ctx context.Context, js jetstream.JetStream, s ResourceSettings) error {
	type resource struct {
		what   string
		want   jetstream.StreamConfig
		create func(context.Context) error
	}
	resources := []resource{{what: "stream " + fleet.EventsStream, want: eventsStreamConfig(s)}}
	for _, kv := range bucketConfigs(s) {
		resources = append(resources, resource{
			what: "bucket " + kv.Bucket,
			want: jetstream.StreamConfig{
				Name:              "KV_" + kv.Bucket,
				Storage:           kv.Storage,
				Replicas:          kv.Replicas,
				MaxMsgsPerSubject: int64(kv.History),
			},
			create: func(ctx context.Context) error {
				_, err := js.CreateKeyValue(ctx, kv)
				return err
			},
		})
	}
	var errs []error
	for i, r := range resources {
		// A refused request only times out, so give each resource its
		// share of the time left: one refusal must not starve the others.
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok {
			rctx, cancel = context.WithTimeout(ctx, time.Until(deadline)/time.Duration(len(resources)-i))
		}
		errs = append(errs, ensureStream(rctx, js, r.what, r.want, r.create))
		cancel()
	}
	return errors.Join(errs...)
}

// ensureStream creates the stream of want (with create, or as a plain
// stream when create is nil) unless it exists, and compares it with want
// when it does. what names the resource in errors.
func ensureStream(ctx context.Context, js jetstream.JetStream, what string, want jetstream.StreamConfig, create func(context.Context) error) error {
	if create == nil {
		create = func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, want)
			return err
		}
	}
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = create(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("create %s: %w", what, classify(js, want.Name, err))
		}
		// Created meanwhile by someone else, with other settings: compare.
		st, err = js.Stream(ctx, want.Name)
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", what, classify(js, want.Name, err))
	}
	return compareStream(what, st.CachedInfo().Config, want)
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
	if got.Replicas != want.Replicas {
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
