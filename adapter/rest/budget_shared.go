package rest

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// BudgetStore keeps one connection's rate-limit budget where every replica of
// the gateway sees it (RedisBudget keeps it in Redis), so that replicas
// sharing one Procore token share one window instead of each spending all of
// it. It runs the local budget's algorithm over shared state: the window
// learned from responses (limit, remaining, reset), the calls in flight in
// every replica, and the low-water spacing of calls. Implementations must be
// safe for concurrent use; an error means the store is unavailable, and the
// client then uses its local budget for that call (calls never fail because
// the store does).
type BudgetStore interface {
	// Acquire reserves one call at now (the client's clock) when the window,
	// less the calls in flight everywhere, has room, and returns the
	// reservation's id (ok). Otherwise it reserves nothing and returns how
	// long to wait: wait > 0 when the window is spent until its reset or
	// calls are being spread below lowWater (a fraction of the limit); wait
	// == 0 when nothing is left and only a response can tell (the window
	// rolled over while calls were in flight), to ask again shortly.
	Acquire(ctx context.Context, now time.Time, lowWater float64) (id string, wait time.Duration, ok bool, err error)
	// Release ends reservation id (none when "") and learns the window from
	// a response (nil when the call had none). Within the same window (same
	// reset) the lower remaining count is kept, as responses may arrive out
	// of order; a different reset replaces the window.
	Release(ctx context.Context, now time.Time, id string, learned *RateLimitStatus) error
	// Status returns the window as last learned (see RateLimitStatus); ok is
	// false when nothing has been learned (or it was forgotten).
	Status(ctx context.Context, now time.Time) (st RateLimitStatus, ok bool, err error)
}

const (
	// sharedPoll is how often a call asks the shared budget again when only
	// a response (possibly another replica's) can tell whether it may go.
	sharedPoll = 25 * time.Millisecond
	// sharedCooldown is how long the client uses only its local budget after
	// the shared one failed, so that an unreachable store does not add its
	// timeout to every call.
	sharedCooldown = time.Second
	// sharedLogEvery spaces the warnings about an unavailable shared budget.
	sharedLogEvery = time.Minute
	// sharedReleaseTimeout bounds a release detached from the caller's
	// context (a store should bound its own operations anyway).
	sharedReleaseTimeout = 5 * time.Second
)

// sharedGate admits calls through a BudgetStore, falling back to the local
// budget for a call when the store fails. The local budget learns from every
// response either way, so that it is current when it has to stand in.
type sharedGate struct {
	store    BudgetStore
	local    *budget
	clock    Clock
	lowWater float64
	maxWait  time.Duration
	logger   *slog.Logger

	mu         sync.Mutex
	downUntil  time.Time // use the local budget only until then
	loggedAt   time.Time
	suppressed int
}

func newSharedGate(store BudgetStore, local *budget, logger *slog.Logger) *sharedGate {
	return &sharedGate{store: store, local: local, clock: local.clock, lowWater: local.lowWater,
		maxWait: local.maxWait, logger: logger}
}

func (g *sharedGate) enter(ctx context.Context) (pass, error) {
	var p pass
	err := awaitTurn(ctx, g.clock, g.maxWait, func() (turn, error) {
		if g.usable() {
			id, wait, ok, err := g.store.Acquire(ctx, g.clock.Now(), g.lowWater)
			switch {
			case err == nil && ok:
				p = pass{shared: true, id: id}
				return turn{ok: true}, nil
			case err == nil && wait > 0:
				return turn{wait: wait}, nil
			case err == nil:
				return turn{poll: sharedPoll}, nil
			case ctx.Err() != nil:
				return turn{}, ctx.Err()
			}
			g.failed("acquire", err)
		}
		wait, ch, ok := g.local.try()
		p = pass{}
		return turn{ok: ok, wait: wait, ch: ch}, nil
	})
	return p, err
}

func (g *sharedGate) leave(ctx context.Context, p pass, h http.Header) {
	if p.shared {
		g.local.learn(h)
	} else {
		g.local.release(h)
	}
	var learned *RateLimitStatus
	if lim, rem, reset, ok := parseRateHeaders(h, g.clock.Now()); ok {
		learned = &RateLimitStatus{Limit: lim, Remaining: rem, ResetAt: reset}
	}
	if !p.shared && (learned == nil || !g.usable()) {
		return // nothing to end or teach the store
	}
	// The reservation must end even when the caller has gone.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedReleaseTimeout)
	defer cancel()
	if err := g.store.Release(rctx, g.clock.Now(), p.id, learned); err != nil {
		g.failed("release", err)
	}
}

func (g *sharedGate) status(ctx context.Context) (RateLimitStatus, bool) {
	if g.usable() {
		st, ok, err := g.store.Status(ctx, g.clock.Now())
		if err == nil {
			return st, ok
		}
		if ctx.Err() == nil {
			g.failed("status", err)
		}
	}
	return g.local.view()
}

// usable reports whether to ask the store (not within the cooldown after a
// failure).
func (g *sharedGate) usable() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.clock.Now().Before(g.downUntil)
}

// failed starts a cooldown and logs the failure, at most once per minute.
func (g *sharedGate) failed(op string, err error) {
	now := g.clock.Now()
	g.mu.Lock()
	g.downUntil = now.Add(sharedCooldown)
	if !g.loggedAt.IsZero() && now.Sub(g.loggedAt) < sharedLogEvery {
		g.suppressed++
		g.mu.Unlock()
		return
	}
	suppressed := g.suppressed
	g.loggedAt, g.suppressed = now, 0
	g.mu.Unlock()
	g.logger.Warn("procore shared rate-limit budget unavailable; using this replica's own budget",
		"op", op, "err", err, "failures_not_logged", suppressed)
}
