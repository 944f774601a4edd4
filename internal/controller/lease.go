package controller

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/harmony-edge/harmony-agent/internal/natsconn"
)

// Lease timings: the lease bucket's TTL, how often the holder renews,
// how often a standby tries to take over. The holder counts itself the
// holder until LeaseTTL minus LeaseMargin after its last renewal was sent,
// so it stops writing before a standby can take over.
const (
	DefaultLeaseTTL     = natsconn.ControllerLeaseTTL
	DefaultRenewEvery   = DefaultLeaseTTL / 3
	DefaultAcquireEvery = 250 * time.Millisecond
	LeaseMargin         = time.Second
)

// LeaseValue is the value of the leader key.
type LeaseValue struct {
	Holder     string    `json:"holder"`
	AcquiredAt time.Time `json:"acquired_at"`
	RenewedAt  time.Time `json:"renewed_at"`
}

// lease holds or waits for the fleet-controller leader key.
type lease struct {
	kv                  jetstream.KeyValue
	id                  string
	ttl, renew, acquire time.Duration
	log                 *zap.Logger
	onChange            func(held bool)

	mu         sync.Mutex
	rev        uint64    // revision of our value; 0 when not held
	validUntil time.Time // we write only before it
	acquiredAt time.Time
}

// held reports whether the lease is ours and not about to expire.
func (l *lease) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev != 0 && time.Now().Before(l.validUntil)
}

// run keeps trying to take, then to renew, the lease until ctx is done;
// then it releases it (deletes the key) so a standby takes over at once.
func (l *lease) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-timer.C:
		}
		wasHeld := l.held()
		l.step(ctx)
		isHeld := l.held()
		if wasHeld != isHeld && l.onChange != nil {
			l.onChange(isHeld)
		}
		next := l.acquire
		if isHeld {
			next = l.renew
			// Wake in time to stop at validUntil even when renewals hang.
			l.mu.Lock()
			if until := time.Until(l.validUntil); until < next {
				next = max(until, 10*time.Millisecond)
			}
			l.mu.Unlock()
		}
		timer.Reset(next)
	}
}

// step renews the lease when it is ours, or tries to create it.
func (l *lease) step(ctx context.Context) {
	l.mu.Lock()
	rev, acquiredAt := l.rev, l.acquiredAt
	if rev != 0 && !time.Now().Before(l.validUntil) {
		// Could not renew in time: someone may hold it now.
		l.log.Warn("lease expired before it could be renewed; stopped writing")
		l.rev, rev = 0, 0
	}
	l.mu.Unlock()

	sent := time.Now()
	if rev == 0 {
		acquiredAt = sent.UTC()
	}
	value, _ := json.Marshal(LeaseValue{Holder: l.id, AcquiredAt: acquiredAt, RenewedAt: sent.UTC()})
	rctx, cancel := context.WithTimeout(ctx, l.renew)
	defer cancel()
	var newRev uint64
	var err error
	if rev == 0 {
		newRev, err = l.kv.Create(rctx, fleet.LeaderKey, value)
	} else {
		newRev, err = l.kv.Update(rctx, fleet.LeaderKey, value, rev)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		if rev == 0 {
			l.log.Info("lease taken: acting", zap.String("holder", l.id))
		}
		l.rev, l.acquiredAt = newRev, acquiredAt
		l.validUntil = sent.Add(l.ttl - LeaseMargin)
	case rev != 0 && isWrongRevision(err):
		// Someone else wrote the key: it is theirs.
		l.log.Warn("lease lost to another controller; stopped writing", zap.Error(err))
		l.rev = 0
	case rev == 0 && (errors.Is(err, jetstream.ErrKeyExists) || isWrongRevision(err)):
		// Held by another replica: stand by.
	case ctx.Err() != nil:
	default:
		l.log.Debug("lease request failed", zap.Error(err))
	}
}

// release deletes the key when it is ours.
func (l *lease) release() {
	l.mu.Lock()
	rev := l.rev
	l.rev = 0
	l.mu.Unlock()
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.kv.Delete(ctx, fleet.LeaderKey, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug("release lease", zap.Error(err))
		return
	}
	l.log.Info("lease released")
	if l.onChange != nil {
		l.onChange(false)
	}
}

// isWrongRevision reports whether err is JetStream's refusal of a
// compare-and-set: the key's revision is not the one expected.
func isWrongRevision(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// Replicated streams answer 10164 where a single server answers 10071.
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}
