package deviceops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/harmony-edge/harmony-agent/fleet"
	"github.com/nats-io/nats.go"
)

var errTooManyStreams = errors.New("too many follow streams open on this device; try again later")

// maxStreamBuffer bounds what a stream holds for its requester: the pump
// stops reading its source beyond it until a pull takes some, so a slow
// requester holds the source back instead of growing the buffer.
const maxStreamBuffer = fleet.MaxLogsBytes

// stream is one follow stream: a pump goroutine moves its source's
// chunks into buf; pulls take them.
type stream struct {
	id     string
	name   fleet.DeploymentName
	cancel context.CancelFunc

	mu       sync.Mutex
	buf      []byte          // guarded by mu; at most maxStreamBuffer plus one chunk
	end      fleet.StreamEnd // guarded by mu; set when the source ended
	lastPull time.Time       // guarded by mu
	pulling  bool            // guarded by mu: one pull at a time
	// more gets a token when buf grew or end was set; taken gets one when
	// a pull took from buf. Capacity 1: a signal, not a count.
	more  chan struct{}
	taken chan struct{}
	// gone is closed when the stream is dropped from the server's map.
	gone     chan struct{}
	goneOnce sync.Once
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// openStream registers a stream over src; ctx bounds it (MaxStreamDuration)
// and cancel ends its source.
func (s *Server) openStream(ctx context.Context, cancel context.CancelFunc, name fleet.DeploymentName, src <-chan []byte) (*stream, error) {
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	st := &stream{id: hex.EncodeToString(idb[:]), name: name, cancel: cancel, lastPull: time.Now(),
		more: make(chan struct{}, 1), taken: make(chan struct{}, 1), gone: make(chan struct{})}
	s.mu.Lock()
	if len(s.streams) >= s.cfg.MaxStreams || s.closed {
		s.mu.Unlock()
		return nil, errTooManyStreams
	}
	s.streams[st.id] = st
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.pump(ctx, st, src)
	}()
	return st, nil
}

// pump moves src's chunks into st.buf until src closes, ctx is done or
// the requester stops pulling for StreamIdleTimeout.
func (s *Server) pump(ctx context.Context, st *stream, src <-chan []byte) {
	defer st.cancel()
	idle := time.NewTicker(min(time.Second, s.cfg.StreamIdle/4))
	defer idle.Stop()
	finish := func(end fleet.StreamEnd) {
		st.mu.Lock()
		if st.end == "" {
			st.end = end
		}
		st.mu.Unlock()
		signal(st.more)
	}
	for {
		st.mu.Lock()
		full := len(st.buf) >= maxStreamBuffer
		idleFor := time.Since(st.lastPull)
		pulling := st.pulling
		st.mu.Unlock()
		if !pulling && idleFor > s.cfg.StreamIdle {
			s.drop(st) // the requester went away: nobody will pull the end
			return
		}
		in := src
		if full {
			in = nil // hold the source back until a pull takes some
		}
		select {
		case b, ok := <-in:
			if !ok {
				if ctx.Err() != nil {
					finish(endOf(ctx))
				} else {
					finish(fleet.EndEOF)
				}
				s.awaitLastPull(st)
				return
			}
			st.mu.Lock()
			st.buf = append(st.buf, b...)
			st.mu.Unlock()
			signal(st.more)
		case <-st.taken:
		case <-idle.C:
		case <-ctx.Done():
			finish(endOf(ctx))
			s.awaitLastPull(st)
			return
		}
	}
}

// endOf says why a stream's context ended.
func endOf(ctx context.Context) fleet.StreamEnd {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fleet.EndTimeout
	}
	return fleet.EndStopped
}

// awaitLastPull keeps an ended stream registered until a pull takes its
// end or StreamIdleTimeout passes, so the requester learns why it ended.
func (s *Server) awaitLastPull(st *stream) {
	t := time.NewTimer(s.cfg.StreamIdle)
	defer t.Stop()
	select {
	case <-t.C:
	case <-st.gone: // a pull took the end
	case <-s.ctx.Done():
	}
	s.drop(st)
}

func (s *Server) drop(st *stream) {
	s.mu.Lock()
	delete(s.streams, st.id)
	s.mu.Unlock()
	st.cancel()
	st.goneOnce.Do(func() { close(st.gone) })
}

// pull answers one pull of a stream: what was written since the last one,
// waiting up to WaitMillis for something; or the end.
func (s *Server) pull(ctx context.Context, m *nats.Msg, req fleet.LogsRequest) {
	s.mu.Lock()
	st := s.streams[req.Stream]
	s.mu.Unlock()
	if st == nil || st.name != req.Deployment {
		s.respondErr(m, fmt.Errorf("logs %s: unknown stream %q (it ended, or was not pulled for %v)", req.Deployment, truncate(req.Stream, 64), s.cfg.StreamIdle))
		return
	}
	st.mu.Lock()
	if st.pulling {
		st.mu.Unlock()
		s.respondErr(m, fmt.Errorf("logs %s: stream %s: a pull is already waiting", req.Deployment, st.id))
		return
	}
	st.pulling = true
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.pulling, st.lastPull = false, time.Now()
		st.mu.Unlock()
	}()
	if req.Stop {
		st.cancel()
		s.drop(st)
		s.respondEnd(m, st, nil, fleet.EndStopped)
		return
	}
	wait := time.NewTimer(time.Duration(req.WaitMillis) * time.Millisecond)
	defer wait.Stop()
	for {
		st.mu.Lock()
		n := min(len(st.buf), fleet.MaxLogsBytes)
		out := string(st.buf[:n])
		st.buf = st.buf[n:]
		if len(st.buf) == 0 {
			st.buf = nil // let the array go
		}
		end := st.end
		st.mu.Unlock()
		if n > 0 {
			signal(st.taken)
			s.respond(m, fleet.LogsReply{Deployment: st.name, Output: out, Stream: st.id}, nil)
			return
		}
		if end != "" {
			s.drop(st)
			s.respondEnd(m, st, nil, end)
			return
		}
		select {
		case <-st.more:
		case <-wait.C:
			s.respond(m, fleet.LogsReply{Deployment: st.name, Stream: st.id}, nil)
			return
		case <-ctx.Done():
			s.respond(m, fleet.LogsReply{Deployment: st.name, Stream: st.id}, nil)
			return
		}
	}
}

func (s *Server) respondEnd(m *nats.Msg, st *stream, _ []byte, end fleet.StreamEnd) {
	hdr := nats.Header{}
	hdr.Set(fleet.HeaderEnd, string(end))
	s.respond(m, fleet.LogsReply{Deployment: st.name, Stream: st.id, End: end}, hdr)
}
