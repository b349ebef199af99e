package rest

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"procoregraph/adapter"
)

// Procore's rate-limit headers, present on every response (429s included).
// They describe whichever window (hourly or 10-second spike) is closer to
// exhaustion.
const (
	headerLimit     = "X-Rate-Limit-Limit"
	headerRemaining = "X-Rate-Limit-Remaining"
	headerReset     = "X-Rate-Limit-Reset"
)

// resetMargin is added to a wait for the window reset, because Procore rounds
// the reset instant to whole seconds.
const resetMargin = 100 * time.Millisecond

// budget is a reset-aware gate over Procore's rate-limit window. It learns the
// window from every response and, before each call, estimates what is left
// (Remaining minus the calls still in flight). When nothing is left it waits
// for the reset; when less than LowWater of the limit is left it spreads the
// remaining calls evenly until the reset; otherwise it lets calls through.
// Before the first response it knows nothing and does not wait.
type budget struct {
	clock    Clock
	lowWater float64
	maxWait  time.Duration

	mu        sync.Mutex
	known     bool
	limit     int
	remaining int
	reset     time.Time // zero: unknown (the window rolled over since the last response)
	inflight  int
	nextAt    time.Time // earliest next call while spreading
	changed   chan struct{}
}

func newBudget(clock Clock, lowWater float64, maxWait time.Duration) *budget {
	return &budget{clock: clock, lowWater: lowWater, maxWait: maxWait, changed: make(chan struct{})}
}

// acquire waits until a call may go out and counts it in flight. Every
// successful acquire must be followed by exactly one release. A wait longer
// than maxWait, or past ctx's deadline, fails at once with RATE_LIMITED.
func (b *budget) acquire(ctx context.Context) error {
	return awaitTurn(ctx, b.clock, b.maxWait, func() (turn, error) {
		wait, ch, ok := b.try()
		return turn{ok: ok, wait: wait, ch: ch}, nil
	})
}

// turn is what a budget says about one call: go (ok), wait for a duration
// (nothing left until then), wait for a channel (only a response can tell),
// or poll again after a short while (the same, for a budget shared with
// other processes, whose responses close no channel here).
type turn struct {
	ok   bool
	wait time.Duration
	ch   <-chan struct{}
	poll time.Duration
}

// awaitTurn asks try until it admits the call. A wait longer than maxWait, or
// past ctx's deadline, fails at once with RATE_LIMITED; cancellation fails
// with UPSTREAM_UNAVAILABLE. An error from try means ctx ended.
func awaitTurn(ctx context.Context, clock Clock, maxWait time.Duration, try func() (turn, error)) error {
	for {
		t, err := try()
		if err != nil {
			return cancelledWaiting(context.Cause(ctx))
		}
		if t.ok {
			return nil
		}
		if t.ch != nil {
			select {
			case <-t.ch:
				continue
			case <-ctx.Done():
				return cancelledWaiting(context.Cause(ctx))
			}
		}
		if t.poll > 0 && t.wait <= 0 {
			if err := clock.Sleep(ctx, t.poll); err != nil {
				return cancelledWaiting(err)
			}
			continue
		}
		wait := t.wait
		if wait > maxWait || pastDeadline(ctx, clock.Now().Add(wait)) {
			return &adapter.Error{Code: adapter.CodeRateLimited, RetryAfter: wait,
				Message: "Procore's rate-limit window is spent; retry after " + wait.Round(time.Second).String()}
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return cancelledWaiting(err)
		}
	}
}

func cancelledWaiting(err error) error {
	return &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
		Message: "cancelled while waiting for Procore's rate-limit window", Err: err}
}

// pastDeadline reports whether ctx ends before t.
func pastDeadline(ctx context.Context, t time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && d.Before(t)
}

// try admits a call (ok), or says how long to wait, or returns a channel
// closed by the next response when only a response can tell.
func (b *budget) try() (wait time.Duration, ch chan struct{}, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if !b.known {
		b.inflight++
		return 0, nil, true
	}
	if !b.reset.IsZero() && !now.Before(b.reset) {
		// The window rolled over: a fresh budget whose reset a response will tell.
		b.remaining, b.reset, b.nextAt = b.limit, time.Time{}, time.Time{}
	}
	left := b.remaining - b.inflight
	if left <= 0 {
		if b.reset.IsZero() {
			if b.inflight == 0 {
				b.inflight++
				return 0, nil, true
			}
			return 0, b.changed, false
		}
		return b.reset.Sub(now) + resetMargin, nil, false
	}
	if !b.reset.IsZero() && b.limit > 0 && float64(left) <= b.lowWater*float64(b.limit) {
		if now.Before(b.nextAt) {
			return b.nextAt.Sub(now), nil, false
		}
		b.nextAt = now.Add(b.reset.Sub(now) / time.Duration(left))
	}
	b.inflight++
	return 0, nil, true
}

// release ends an in-flight call and learns the window from h (nil when the
// call failed without a response).
func (b *budget) release(h http.Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight--
	b.learnLocked(h)
}

// learn learns the window from h without ending a call: the response of a
// call that a shared budget admitted, so that this budget is current when it
// has to stand in for the shared one.
func (b *budget) learn(h http.Header) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.learnLocked(h)
}

func (b *budget) learnLocked(h http.Header) {
	now := b.clock.Now()
	if lim, rem, reset, ok := parseRateHeaders(h, now); ok {
		switch {
		case b.known && !reset.After(now):
			// An answer of a window that has ended (it was in flight across
			// the reset): it says nothing of the current one. (An earlier
			// reset than the known one is news: Procore reports whichever of
			// its hourly and 10-second windows is closer to running out.)
		case b.known && reset.Equal(b.reset):
			// Same window: responses may arrive out of order; the lower count is newer.
			b.remaining, b.limit = min(b.remaining, rem), lim
		default:
			b.known, b.limit, b.remaining, b.reset = true, lim, rem, reset
		}
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// view returns the window as last learned; a window whose reset has passed
// is reported whole, with its next reset unknown (zero). ok is false before
// the first response.
func (b *budget) view() (RateLimitStatus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.known {
		return RateLimitStatus{}, false
	}
	st := RateLimitStatus{Limit: b.limit, Remaining: b.remaining, ResetAt: b.reset}
	if !b.reset.IsZero() && !b.clock.Now().Before(b.reset) {
		st.Remaining, st.ResetAt = b.limit, time.Time{}
	}
	return st, true
}

// parseRateHeaders reads the X-Rate-Limit-* headers. Reset is Unix seconds;
// a small value is taken as seconds from now, which some proxies send.
func parseRateHeaders(h http.Header, now time.Time) (limit, remaining int, reset time.Time, ok bool) {
	if h == nil {
		return 0, 0, time.Time{}, false
	}
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get(headerRemaining)))
	if err != nil {
		return 0, 0, time.Time{}, false
	}
	limit, err = strconv.Atoi(strings.TrimSpace(h.Get(headerLimit)))
	if err != nil || limit < rem {
		limit = rem
	}
	reset, ok = parseResetHeader(h.Get(headerReset), now)
	if !ok {
		return 0, 0, time.Time{}, false
	}
	return limit, max(rem, 0), reset, true
}

func parseResetHeader(v string, now time.Time) (time.Time, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, false
	}
	if f < 1e9 { // seconds from now, not a Unix time
		return now.Add(time.Duration(f * float64(time.Second))), true
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// RateLimitStatus is a connection's rate-limit window as the client last
// learned it (adapter.RateLimitStatus).
type RateLimitStatus = adapter.RateLimitStatus

// gate admits calls through a rate-limit budget: the local budget, or a
// shared one (sharedGate) standing in with the local budget when the shared
// one fails.
type gate interface {
	// enter waits until a call may go out (budget.acquire's semantics) and
	// returns the pass to give to leave, exactly once, when the call ends.
	enter(ctx context.Context) (pass, error)
	// leave ends the call and learns the window from h (nil when the call
	// failed without a response).
	leave(ctx context.Context, p pass, h http.Header)
	// status returns the window as last learned; false before any response.
	status(ctx context.Context) (RateLimitStatus, bool)
}

// pass is an admitted call: a reservation in the shared budget (shared, with
// its id), or a call counted in flight by the local budget.
type pass struct {
	shared bool
	id     string
}

func (b *budget) enter(ctx context.Context) (pass, error) { return pass{}, b.acquire(ctx) }

func (b *budget) leave(_ context.Context, _ pass, h http.Header) { b.release(h) }

func (b *budget) status(context.Context) (RateLimitStatus, bool) { return b.view() }

// rateLimitTransport passes every call through a budget.
type rateLimitTransport struct {
	budget gate
	next   http.RoundTripper
}

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ct := traceOf(req.Context())
	var start time.Time
	if ct != nil {
		start = time.Now()
	}
	p, err := t.budget.enter(req.Context())
	if ct != nil {
		ct.waitNS.Store(int64(time.Since(start)))
	}
	if err != nil {
		closeRequestBody(req)
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.budget.leave(req.Context(), p, nil)
		return nil, err
	}
	t.budget.leave(req.Context(), p, resp.Header)
	return resp, nil
}
