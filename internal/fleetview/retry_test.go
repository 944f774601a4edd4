package fleetview_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/harmony-edge/harmony-agent/internal/fleetview"
)

func TestRead(t *testing.T) {
	unavailable := &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream cluster not available"}
	tests := []struct {
		name      string
		errs      []error // what op returns, call by call; nil after the last
		within    time.Duration
		wantErr   error
		wantCalls int
	}{
		{"no responders, then success", []error{nats.ErrNoResponders, nats.ErrNoResponders}, 5 * time.Second, nil, 3},
		{"cluster unavailable, then success", []error{unavailable}, 5 * time.Second, nil, 2},
		{"not found is an answer", []error{jetstream.ErrKeyNotFound}, 5 * time.Second, jetstream.ErrKeyNotFound, 1},
		{"always timing out", []error{nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout}, 300 * time.Millisecond, nats.ErrTimeout, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			began := time.Now()
			err := fleetview.Read(context.Background(), tt.within, func(context.Context) error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Read = %v, want %v", err, tt.wantErr)
			}
			if tt.wantCalls >= 0 && calls != tt.wantCalls {
				t.Errorf("op called %d times, want %d", calls, tt.wantCalls)
			}
			if took := time.Since(began); took > tt.within+time.Second {
				t.Errorf("Read took %s, want within %s", took, tt.within)
			}
		})
	}
}
