//go:build embednats

package e2e

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

// openStatusReader opens the reader harmony-fleet status uses
// (fleetview.OpenEvents) on every event; it stops at cleanup.
func openStatusReader(b *testing.B, js jetstream.JetStream) *fleetview.EventReader {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	r, err := fleetview.OpenEvents(ctx, js, fleet.EventsSubjects, waitTimeout)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Stop)
	return r
}

// nextEvent reads the next event as status does: a message that is not a
// valid event fails the benchmark.
func nextEvent(ctx context.Context, b *testing.B, r *fleetview.EventReader) (fleet.StateChangeEvent, uint64, error) {
	re, err := r.Next(ctx)
	if err != nil {
		return fleet.StateChangeEvent{}, 0, err
	}
	if re.Err != nil {
		b.Errorf("read event: %v", re.Err)
	}
	return re.Event, re.Seq, nil
}
