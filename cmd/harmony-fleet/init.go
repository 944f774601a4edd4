package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

const initHelp = `Usage: harmony-fleet init [--replicas N] [-o json] [connection flags]

Creates what the fleet needs in NATS JetStream, when it is missing:

  stream FLEET_EVENTS    every StateChangeEvent, on fleet.events.>: limits
                         retention, file storage, kept 7 days, no size bound,
                         Nats-Msg-Id duplicates dropped within 10 minutes
  bucket desired-state   <device>.<deployment> -> spec, 5 values per key kept
  bucket device-info     <device> -> snapshot, 1 value per key kept
  bucket device-registry <device> -> enrolled device, 1 value per key kept

and prints their settings as the server has them. It is idempotent. A
resource that exists with other settings (subjects, retention, storage,
replicas, duplicate window, history) is reported, exit 1, and never changed.

-o json prints {"resources":[{"kind":"stream","name":"FLEET_EVENTS",
"stream":"FLEET_EVENTS","state":"created","subjects":["fleet.events.>"],
"retention":"limits","storage":"file","replicas":1,"max_age_seconds":604800,
"max_bytes":0,"duplicate_window_seconds":600},{"kind":"bucket",...,
"history":5}]}: 0 is unbounded.

--replicas is the replica count of all of them: 1 on a single server, 3 on a
JetStream cluster.

Examples:
  harmony-fleet init
  harmony-fleet init -s nats://nats-1:4222,nats://nats-2:4222 --replicas 3
  HARMONY_FLEET_CREDS=~/.nats/admin.creds harmony-fleet init
  harmony-fleet init -o json | jq '.resources[] | select(.state == "created") | .name'
`

// maxReplicas is JetStream's largest replica count.
const maxReplicas = 5

func cmdInit(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("init")
	replicas := fs.Int("replicas", 1, fmt.Sprintf("replicas of the stream and the buckets (1..%d)", maxReplicas))
	output := addOutputFlag(fs)
	conn := addConnFlags(fs)
	if _, err := parse(fs, initHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	if err := conn.resolveWithOutput(fs, "init", *output); err != nil {
		return err
	}
	if *replicas < 1 || *replicas > maxReplicas {
		return usagef("init: --replicas %d: want 1..%d", *replicas, maxReplicas)
	}
	nc, js, err := conn.connect(ctx)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	defer nc.Close()

	settings := natsconn.DefaultResourceSettings()
	settings.Replicas = *replicas
	resources := natsconn.FleetResources(settings)
	// What exists already, for the STATE column. A failed look-up is left
	// to EnsureResources, which says why (permissions, JetStream off).
	state := make(map[string]string, len(resources))
	for _, r := range resources {
		switch _, err := js.Stream(ctx, r.Stream.Name); {
		case err == nil:
			state[r.Stream.Name] = "exists"
		case errors.Is(err, jetstream.ErrStreamNotFound):
			state[r.Stream.Name] = "created"
		}
	}

	if err := natsconn.Ensure(ctx, js, resources, natsconn.EnsureOptions{Create: true}); err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "\n  ")
		if errors.Is(err, natsconn.ErrResourceMismatch) {
			msg += "\nexisting resources are never changed: fix them with the nats CLI, or give the --replicas they have"
		}
		return fmt.Errorf("init:\n  %s", msg)
	}

	report := initJSON{Resources: make([]resourceJSON, 0, len(resources))}
	for _, r := range resources {
		st, err := js.Stream(ctx, r.Stream.Name)
		if err != nil {
			return fmt.Errorf("init: look up %s: %w", r, err)
		}
		report.Resources = append(report.Resources, describeResource(r.String(), cmp.Or(state[r.Stream.Name], "ok"), st.CachedInfo().Config))
	}
	if *output == outputJSON {
		return writeJSON(out.stdout, report)
	}
	tw := newTable(out.stdout)
	row(tw, "RESOURCE", "STATE", "SETTINGS")
	for _, r := range report.Resources {
		row(tw, r.Kind+" "+r.Name, r.State, r.describe())
	}
	return tw.Flush()
}

// initJSON is the -o json output of init.
type initJSON struct {
	Resources []resourceJSON `json:"resources"`
}

// resourceJSON is one stream or bucket as the server has it. The fields
// that only the events stream has are omitted for the buckets, and
// history for the stream.
type resourceJSON struct {
	Kind string `json:"kind"` // stream or bucket
	Name string `json:"name"` // FLEET_EVENTS, desired-state, device-info
	// Stream is the name of the JetStream stream (KV_<bucket> for a bucket).
	Stream string `json:"stream"`
	// State is created, exists or ok (could not be told before init).
	State     string   `json:"state"`
	Subjects  []string `json:"subjects,omitempty"`
	Retention string   `json:"retention,omitempty"`
	Storage   string   `json:"storage"`
	Replicas  int      `json:"replicas"`
	// History is a bucket's values kept per key.
	History int64 `json:"history,omitempty"`
	// MaxAgeSeconds and MaxBytes are 0 when unbounded.
	MaxAgeSeconds          *int64 `json:"max_age_seconds,omitempty"`
	MaxBytes               *int64 `json:"max_bytes,omitempty"`
	DuplicateWindowSeconds *int64 `json:"duplicate_window_seconds,omitempty"`
}

// describeResource returns the settings of the resource what ("stream
// FLEET_EVENTS", "bucket device-info") whose stream has config c.
func describeResource(what, state string, c jetstream.StreamConfig) resourceJSON {
	kind, name, _ := strings.Cut(what, " ")
	r := resourceJSON{
		Kind: kind, Name: name, Stream: c.Name, State: state,
		Storage:  strings.ToLower(c.Storage.String()),
		Replicas: c.Replicas,
	}
	if kind == "bucket" {
		r.History = c.MaxMsgsPerSubject
		return r
	}
	maxAge, maxBytes, dup := int64(max(c.MaxAge, 0)/time.Second), max(c.MaxBytes, 0), int64(c.Duplicates/time.Second)
	r.Subjects, r.Retention = c.Subjects, strings.ToLower(c.Retention.String())
	r.MaxAgeSeconds, r.MaxBytes, r.DuplicateWindowSeconds = &maxAge, &maxBytes, &dup
	return r
}

// describe writes the settings of r on one line, for the table.
func (r resourceJSON) describe() string {
	parts := []string{}
	if r.Kind == "bucket" {
		parts = append(parts, fmt.Sprintf("history %d", r.History))
	} else {
		parts = append(parts, "subjects "+strings.Join(r.Subjects, " "), r.Retention+" retention")
	}
	parts = append(parts, r.Storage+" storage", fmt.Sprintf("replicas %d", r.Replicas))
	if r.Kind != "bucket" {
		parts = append(parts,
			"max age "+limit(time.Duration(*r.MaxAgeSeconds)*time.Second),
			"max bytes "+limitInt(*r.MaxBytes),
			"duplicate window "+(time.Duration(*r.DuplicateWindowSeconds)*time.Second).String())
	}
	return strings.Join(parts, ", ")
}

func limit(d time.Duration) string {
	if d <= 0 {
		return "unbounded"
	}
	return d.String()
}

func limitInt(n int64) string {
	if n <= 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
