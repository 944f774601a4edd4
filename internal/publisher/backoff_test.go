package publisher

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

func TestRetrier(t *testing.T) {
	var r retrier
	wantCur := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range wantCur {
		w *= time.Millisecond
		before := time.Now()
		first := r.fail()
		if first != (i == 0) {
			t.Errorf("fail() #%d first = %v, want %v", i+1, first, i == 0)
		}
		if r.cur != w {
			t.Errorf("fail() #%d: pause bound %s, want %s", i+1, r.cur, w)
		}
		// Equal jitter: the pause is in [cur/2, cur].
		if lo, hi := before.Add(w/2), time.Now().Add(w); r.next.Before(lo) || r.next.After(hi) {
			t.Errorf("fail() #%d: next in %s, want %s..%s", i+1, r.next.Sub(before), w/2, w)
		}
	}
	if n := r.ok(); n != len(wantCur) {
		t.Errorf("ok() = %d, want %d failures", n, len(wantCur))
	}
	if r != (retrier{}) {
		t.Errorf("after ok(): %+v, want reset", r)
	}
}

func TestSettled(t *testing.T) {
	mismatch := fmt.Errorf("stream X: %w: replicas is 1, want 3", natsconn.ErrResourceMismatch)
	refused := fmt.Errorf("create bucket y: %w: boom", natsconn.ErrNotPermitted)
	transient := errors.New("look up bucket z: nats: timeout")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"mismatch", mismatch, true},
		{"refused", refused, true},
		{"both", errors.Join(mismatch, refused), true},
		{"transient", transient, false},
		{"mixed", errors.Join(mismatch, transient), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := settled(tt.err); got != tt.want {
				t.Errorf("settled(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
