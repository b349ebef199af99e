// Package streams ends the long-lived streams (websockets, server-sent
// events) of a gateway session when the session is revoked, on every
// replica. A stream is tracked under its principal's session id (a
// non-secret hash of the token) for as long as it is open; revoking the
// session publishes that id (in process, or over Redis pub/sub to every
// replica), and each replica cancels the streams it holds for it.
//
// Pub/sub is at-most-once, so tracked streams are also re-checked: every
// Options.Recheck, and at once whenever the Redis subscription reconnects
// (messages may have been lost meanwhile). A stream whose session is gone,
// or cannot be confirmed because the session store fails, is ended: revocation
// fails closed.
package streams

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Check reports whether a session is still valid; an error means it could
// not be confirmed (the stream is then ended: fail closed).
type Check func(ctx context.Context) error

// Options configure a Registry. Zero values mean the defaults.
type Options struct {
	// Recheck is how often tracked streams' sessions are re-validated.
	// Default 30 s; negative disables the periodic check.
	Recheck time.Duration
	// Logger receives ended streams. Default slog.Default().
	Logger *slog.Logger
}

// Registry tracks this replica's open streams by session id. It is safe for
// concurrent use.
type Registry struct {
	o       Options
	mu      sync.Mutex
	streams map[string]map[*stream]struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  bool
}

type stream struct {
	cancel context.CancelCauseFunc
	check  Check
}

// ErrRevoked is the cause of a stream ended because its session was revoked
// or could not be confirmed.
var ErrRevoked = revokedError{}

type revokedError struct{}

func (revokedError) Error() string { return "the session was revoked" }

// NewRegistry returns a Registry and starts its periodic re-check.
func NewRegistry(o Options) *Registry {
	if o.Recheck == 0 {
		o.Recheck = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Registry{o: o, streams: map[string]map[*stream]struct{}{}, stop: make(chan struct{})}
	if o.Recheck > 0 {
		r.wg.Add(1)
		go r.loop()
	}
	return r
}

// Close stops the periodic re-check.
func (r *Registry) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Track returns a context derived from ctx that is cancelled (with cause
// ErrRevoked) when sessionID is revoked or check fails. The stream stops
// being tracked when ctx ends.
func (r *Registry) Track(ctx context.Context, sessionID string, check Check) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &stream{cancel: cancel, check: check}
	r.mu.Lock()
	set := r.streams[sessionID]
	if set == nil {
		set = map[*stream]struct{}{}
		r.streams[sessionID] = set
	}
	set[s] = struct{}{}
	r.mu.Unlock()
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		if set := r.streams[sessionID]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(r.streams, sessionID)
			}
		}
		r.mu.Unlock()
	})
	return ctx
}

// Len is the number of tracked streams.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, set := range r.streams {
		n += len(set)
	}
	return n
}

// Revoked ends every tracked stream of sessionID on this replica and
// reports how many there were.
func (r *Registry) Revoked(sessionID string) int {
	r.mu.Lock()
	set := r.streams[sessionID]
	delete(r.streams, sessionID)
	r.mu.Unlock()
	for s := range set {
		s.cancel(ErrRevoked)
	}
	if len(set) > 0 {
		r.o.Logger.Info("streams: ended the streams of a revoked session", "session", sessionID, "streams", len(set))
	}
	return len(set)
}

// RecheckAll re-validates every tracked stream's session now and ends the
// streams whose session is gone or cannot be confirmed.
func (r *Registry) RecheckAll(ctx context.Context) {
	r.mu.Lock()
	type item struct {
		id string
		s  *stream
	}
	var all []item
	for id, set := range r.streams {
		for s := range set {
			all = append(all, item{id, s})
		}
	}
	r.mu.Unlock()
	checked := map[string]error{}
	for _, it := range all {
		err, ok := checked[it.id]
		if !ok {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = it.s.check(cctx)
			cancel()
			checked[it.id] = err
		}
		if err != nil {
			it.s.cancel(ErrRevoked)
		}
	}
}

func (r *Registry) loop() {
	defer r.wg.Done()
	t := time.NewTicker(r.o.Recheck)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.RecheckAll(context.Background())
		}
	}
}

// Publisher announces revocations to every replica.
type Publisher interface {
	// Revoke announces that sessionID was revoked.
	Revoke(ctx context.Context, sessionID string) error
}

// Local announces revocations to this process only (no Redis).
type Local struct{ R *Registry }

// Revoke implements Publisher.
func (l Local) Revoke(_ context.Context, sessionID string) error {
	l.R.Revoked(sessionID)
	return nil
}
