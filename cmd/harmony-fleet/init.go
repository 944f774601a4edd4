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

const initHelp = `Usage: harmony-fleet init [--replicas N] [connection flags]

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

--replicas is the replica count of all of them: 1 on a single server, 3 on a
JetStream cluster.

Examples:
  harmony-fleet init
  harmony-fleet init -s nats://nats-1:4222,nats://nats-2:4222 --replicas 3
  HARMONY_FLEET_CREDS=~/.nats/admin.creds harmony-fleet init
`

// maxReplicas is JetStream's largest replica count.
const maxReplicas = 5

func cmdInit(ctx context.Context, out ioStreams, args []string) error {
	fs := newFlagSet("init")
	replicas := fs.Int("replicas", 1, fmt.Sprintf("replicas of the stream and the buckets (1..%d)", maxReplicas))
	conn := addConnFlags(fs)
	if _, err := parse(fs, initHelp, args, out.stdout, 0, 0); err != nil {
		return err
	}
	if err := conn.resolve(fs); err != nil {
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

	tw := newTable(out.stdout)
	row(tw, "RESOURCE", "STATE", "SETTINGS")
	for _, r := range resources {
		st, err := js.Stream(ctx, r.Stream.Name)
		if err != nil {
			return fmt.Errorf("init: look up %s: %w", r, err)
		}
		row(tw, r.String(), cmp.Or(state[r.Stream.Name], "ok"), describeStream(st.CachedInfo().Config, r.Bucket == nil))
	}
	return tw.Flush()
}

// describeStream writes the settings of c that init asks for, on one line;
// events describes the events stream, else a bucket.
func describeStream(c jetstream.StreamConfig, events bool) string {
	parts := []string{}
	if events {
		parts = append(parts, "subjects "+strings.Join(c.Subjects, " "), strings.ToLower(c.Retention.String())+" retention")
	} else {
		parts = append(parts, fmt.Sprintf("history %d", c.MaxMsgsPerSubject))
	}
	parts = append(parts, strings.ToLower(c.Storage.String())+" storage", fmt.Sprintf("replicas %d", c.Replicas))
	if events {
		parts = append(parts,
			"max age "+limit(c.MaxAge),
			"max bytes "+limitInt(c.MaxBytes),
			"duplicate window "+c.Duplicates.String())
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
