package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"procoregraph/adapter"
	"procoregraph/cache/cachetest"
)

// sharedBudgets returns n RedisBudgets on one fresh key of the Redis at
// REDIS_URL (n replicas of one connection), the key deleted at cleanup.
func sharedBudgets(t *testing.T, n int, o RedisBudgetOptions) ([]*RedisBudget, redis.UniversalClient) {
	t.Helper()
	rdb := cachetest.Client(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	key := "test-budget-" + hex.EncodeToString(b)
	out := make([]*RedisBudget, n)
	for i := range out {
		rb, err := NewRedisBudget(rdb, key, o)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = rb
	}
	t.Cleanup(func() { _ = rdb.Del(context.Background(), out[0].Keys()...).Err() })
	return out, rdb
}

// window is what a response's X-Rate-Limit-* headers said.
func window(limit, remaining int, reset time.Time) *RateLimitStatus {
	return &RateLimitStatus{Limit: limit, Remaining: remaining, ResetAt: reset}
}

func mustAcquire(t *testing.T, b *RedisBudget, now time.Time) string {
	t.Helper()
	id, wait, ok, err := b.Acquire(context.Background(), now, 0.2)
	if err != nil || !ok {
		t.Fatalf("acquire: ok %v wait %v err %v; want a reservation", ok, wait, err)
	}
	return id
}

func mustWait(t *testing.T, b *RedisBudget, now time.Time, want time.Duration) {
	t.Helper()
	id, wait, ok, err := b.Acquire(context.Background(), now, 0.2)
	if err != nil || ok || wait != want {
		t.Fatalf("acquire: id %q ok %v wait %v err %v; want to wait %v", id, ok, wait, err, want)
	}
}

func mustRelease(t *testing.T, b *RedisBudget, now time.Time, id string, w *RateLimitStatus) {
	t.Helper()
	if err := b.Release(context.Background(), now, id, w); err != nil {
		t.Fatal(err)
	}
}

func TestRedisBudgetCountsEveryReplicasCallsInFlight(t *testing.T) {
	bs, rdb := sharedBudgets(t, 2, RedisBudgetOptions{})
	a, b := bs[0], bs[1]
	now := time.Now().Truncate(time.Second)
	reset := now.Add(10 * time.Second)

	// Nothing learned: calls go (as the local budget before its first response).
	first := mustAcquire(t, a, now)
	mustRelease(t, a, now, first, window(3, 3, reset))

	a1 := mustAcquire(t, a, now)
	b1 := mustAcquire(t, b, now)
	a2 := mustAcquire(t, a, now)
	if n := rdb.ZCard(context.Background(), a.inflight).Val(); n != 3 {
		t.Fatalf("%d reservations in Redis, want 3", n)
	}
	// 3 remaining, 3 in flight (two of a's, one of b's): b must wait for the reset.
	mustWait(t, b, now, 10*time.Second+resetMargin)
	mustWait(t, a, now, 10*time.Second+resetMargin)

	// b's call answers: remaining 2, and its reservation ends: still nothing left.
	mustRelease(t, b, now, b1, window(3, 2, reset))
	mustWait(t, a, now, 10*time.Second+resetMargin)
	// An older answer (remaining 3) arriving late ends a1 but does not give
	// its call back: 2 remaining less a2 in flight leaves room for one.
	mustRelease(t, a, now, a1, window(3, 3, reset))
	b2 := mustAcquire(t, b, now)
	mustWait(t, a, now, 10*time.Second+resetMargin)
	// a's other call ends without a response: its reservation ends, and
	// either replica may take its place.
	mustRelease(t, a, now, a2, nil)
	mustAcquire(t, a, now)
	mustWait(t, b, now, 10*time.Second+resetMargin)

	// After the reset the window is whole again, less the two calls in flight.
	later := reset.Add(time.Millisecond)
	mustAcquire(t, a, later)
	mustWait(t, b, later, 0) // 3 - 3 in flight, reset unknown: ask again shortly
	// b2's answer tells the new window: 2 left, both taken by a's calls.
	mustRelease(t, b, later, b2, window(3, 2, later.Add(10*time.Second)))
	mustWait(t, b, later, 10*time.Second+resetMargin)
}

func TestRedisBudgetWindowLearnedByOneIsUsedByTheOther(t *testing.T) {
	bs, _ := sharedBudgets(t, 2, RedisBudgetOptions{})
	a, b := bs[0], bs[1]
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	reset := now.Add(7 * time.Second)

	if _, ok, err := b.Status(ctx, now); err != nil || ok {
		t.Fatalf("status before any response: ok %v err %v, want unknown", ok, err)
	}
	mustRelease(t, a, now, "", window(25, 0, reset))
	// b never saw a response, yet waits for the reset a learned.
	mustWait(t, b, now, 7*time.Second+resetMargin)
	st, ok, err := b.Status(ctx, now)
	if err != nil || !ok || st.Limit != 25 || st.Remaining != 0 || !st.ResetAt.Equal(reset) {
		t.Fatalf("b's status %+v ok %v err %v, want a's window (25, 0, %v)", st, ok, err, reset)
	}

	t.Run("SameWindowKeepsTheLowerCount", func(t *testing.T) {
		reset := now.Add(10 * time.Second)
		mustRelease(t, a, now, "", window(100, 3, reset))
		mustRelease(t, b, now, "", window(100, 50, reset)) // an older answer, late
		if st, _, _ := a.Status(ctx, now); st.Remaining != 3 {
			t.Fatalf("remaining %d, want 3 (the newer, lower count)", st.Remaining)
		}
		next := reset.Add(10 * time.Second)
		mustRelease(t, b, now.Add(10*time.Second), "", window(100, 97, next))
		if st, _, _ := a.Status(ctx, now.Add(10*time.Second)); st.Remaining != 97 || !st.ResetAt.Equal(next) {
			t.Fatalf("status %+v, want the new window (97 left, reset %v)", st, next)
		}
		if st, _, _ := a.Status(ctx, next); st.Remaining != 100 || !st.ResetAt.IsZero() {
			t.Fatalf("status after the reset %+v, want the whole window, reset unknown", st)
		}
	})

	t.Run("SpreadingIsShared", func(t *testing.T) {
		// 2 of 10 left with 10 s to go: below LowWater, one call per 5 s,
		// whichever replica makes it.
		reset := now.Add(30 * time.Second)
		now := now.Add(20 * time.Second)
		mustRelease(t, a, now, "", window(10, 2, reset))
		mustAcquire(t, a, now)
		mustWait(t, b, now, 5*time.Second)
		mustWait(t, a, now.Add(time.Second), 4*time.Second)
		mustAcquire(t, b, now.Add(5*time.Second))
	})
}

func TestRedisBudgetDeadReplicasReservationsExpire(t *testing.T) {
	bs, rdb := sharedBudgets(t, 2, RedisBudgetOptions{ReservationTTL: 30 * time.Second})
	dead, alive := bs[0], bs[1]
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	// A window of 3 calls an hour: the dead replica takes all three and
	// never answers.
	mustRelease(t, alive, now, "", window(3, 3, now.Add(time.Hour)))
	for range 3 {
		mustAcquire(t, dead, now)
	}
	mustWait(t, alive, now, time.Hour+resetMargin)
	mustWait(t, alive, now.Add(29*time.Second), time.Hour-29*time.Second+resetMargin)
	// Past their expiry the reservations no longer count.
	mustAcquire(t, alive, now.Add(31*time.Second))
	if n := rdb.ZCard(ctx, alive.inflight).Val(); n != 1 {
		t.Fatalf("%d reservations, want only the live replica's", n)
	}
	// Both keys expire on their own (the window after its reset plus Retain,
	// the reservations after the last one's expiry plus Retain).
	for _, k := range alive.Keys() {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour+2*time.Minute {
			t.Fatalf("key %s: TTL %v, want a TTL bounded by the window's reset plus Retain", k, ttl)
		}
	}
}

// TestSharedBudgetNeverExceedsWindowAcrossReplicas is
// TestBudgetNeverExceedsWindowConcurrently with the callers split over two
// clients' transports (two replicas) sharing a Redis budget.
func TestSharedBudgetNeverExceedsWindowAcrossReplicas(t *testing.T) {
	// The fake clock jumps ahead by every sleeper's wait: keep the
	// reservations from expiring under calls that are merely in flight.
	bs, _ := sharedBudgets(t, 2, RedisBudgetOptions{ReservationTTL: 24 * time.Hour})
	clock := newFakeClock()
	srv := newWindowServer(clock, 10, 10*time.Second)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var rts []*rateLimitTransport
	for _, b := range bs {
		g := newSharedGate(b, newBudget(clock, 0.2, time.Minute), quietLogger())
		rts = append(rts, &rateLimitTransport{budget: g, next: baseTransport()})
	}
	var wg sync.WaitGroup
	for w := range 8 {
		rt := rts[w%2]
		wg.Go(func() {
			for range 10 {
				req, _ := http.NewRequest("GET", ts.URL, nil)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if srv.refused != 0 {
		t.Fatalf("%d calls refused with 429 by a 10-per-window server under 8 callers on 2 replicas", srv.refused)
	}
}

func TestSharedBudgetKeepsAcquireSemantics(t *testing.T) {
	bs, _ := sharedBudgets(t, 2, RedisBudgetOptions{})
	clock := newFakeClock()
	g := newSharedGate(bs[0], newBudget(clock, 0.2, 30*time.Second), quietLogger())
	now := clock.Now()

	t.Run("PastMaxWaitIsRateLimitedAtOnce", func(t *testing.T) {
		mustRelease(t, bs[1], now, "", window(3600, 0, now.Add(40*time.Minute)))
		_, err := g.enter(context.Background())
		var ae *adapter.Error
		if !asAdapterError(err, &ae) || ae.Code != adapter.CodeRateLimited || ae.RetryAfter < 40*time.Minute {
			t.Fatalf("err %v, want RATE_LIMITED with RetryAfter >= 40m", err)
		}
		if len(clock.Slept()) != 0 {
			t.Fatal("slept although the wait exceeds MaxWait")
		}
	})
	t.Run("PastDeadlineIsRateLimitedAtOnce", func(t *testing.T) {
		mustRelease(t, bs[1], now, "", window(25, 0, now.Add(7*time.Second)))
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(3*time.Second))
		defer cancel()
		_, err := g.enter(ctx)
		if adapter.ErrorCode(err) != adapter.CodeRateLimited || len(clock.Slept()) != 0 {
			t.Fatalf("err %v after sleeping %v, want RATE_LIMITED at once", err, clock.Slept())
		}
	})
	t.Run("WaitsForTheSharedReset", func(t *testing.T) {
		p, err := g.enter(context.Background())
		if err != nil || !p.shared {
			t.Fatalf("pass %+v err %v, want a shared reservation after the wait", p, err)
		}
		if got := clock.Slept(); len(got) != 1 || got[0] != 7*time.Second+resetMargin {
			t.Fatalf("waited %v, want until the shared reset (7s + margin)", got)
		}
		g.leave(context.Background(), p, nil)
	})
	t.Run("CancelledWhileWaitingForAResponse", func(t *testing.T) {
		// Window rolled over with its only call in flight in another replica:
		// only a response can tell, and cancellation ends the wait.
		now := clock.Now()
		mustRelease(t, bs[1], now, "", window(1, 0, now.Add(time.Second)))
		clock.Advance(2 * time.Second)
		mustAcquire(t, bs[1], clock.Now())
		slept := len(clock.Slept())
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := g.enter(ctx)
		if adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
			t.Fatalf("err %v, want UPSTREAM_UNAVAILABLE (cancelled)", err)
		}
		if polls := clock.Slept()[slept:]; len(polls) == 0 || polls[0] != sharedPoll {
			t.Fatalf("slept %v while waiting for a response, want polls of %v", polls, sharedPoll)
		}
	})
}

// countingHandler counts the log records at Warn and above.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countingHandler) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countingHandler) WithGroup(string) slog.Handler                { return h }

func TestSharedBudgetDownFallsBackToTheLocalBudget(t *testing.T) {
	// No Redis listens there: every shared operation fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := NewRedisBudget(rdb, "down", RedisBudgetOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var warnings atomic.Int64
	clock := newFakeClock()
	srv := newWindowServer(clock, 10, 10*time.Second)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	g := newSharedGate(store, newBudget(clock, 0.2, time.Minute), slog.New(countingHandler{&warnings}))
	rt := &rateLimitTransport{budget: g, next: baseTransport()}
	for i := range 25 {
		req, _ := http.NewRequest("GET", ts.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("call %d failed with Redis down: %v", i, err)
		}
		resp.Body.Close()
	}
	if srv.refused != 0 {
		t.Fatalf("%d calls refused with 429: the local budget did not stand in", srv.refused)
	}
	if clock.TotalSlept() < 10*time.Second {
		t.Fatalf("slept %v for 25 calls at 10 per 10 s: the local budget did not pace them", clock.TotalSlept())
	}
	if n := warnings.Load(); n != 1 || clock.TotalSlept() >= time.Minute {
		t.Fatalf("%d warnings in %v, want one per minute", n, clock.TotalSlept())
	}
	st, ok := g.status(context.Background())
	if !ok || st.Limit != 10 {
		t.Fatalf("status %+v ok %v, want the local budget's window of 10", st, ok)
	}
}

func TestClientRateLimitReportsTheLearnedWindow(t *testing.T) {
	f := newFakeProcore(t)
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	f.Mux.HandleFunc("GET /rest/v1.0/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerLimit, "3600")
		w.Header().Set(headerRemaining, "3541")
		w.Header().Set(headerReset, strconv.FormatInt(reset.Unix(), 10))
		writeJSON(w, http.StatusOK, map[string]any{"id": 1, "login": "a@example.com", "name": "A"})
	})
	c := newTestClient(t, f.URL, func(c *Config) { c.Clock = WallClock{} })
	if st, ok := c.RateLimit(context.Background()); ok {
		t.Fatalf("RateLimit before any response: %+v, want unknown", st)
	}
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, ok := c.RateLimit(context.Background())
	if want := (RateLimitStatus{Limit: 3600, Remaining: 3541, ResetAt: reset}); !ok || st.Limit != want.Limit ||
		st.Remaining != want.Remaining || !st.ResetAt.Equal(want.ResetAt) {
		t.Fatalf("RateLimit %+v ok %v, want %+v", st, ok, want)
	}
	off := newTestClient(t, f.URL, func(c *Config) { c.RateLimit.Disabled = true })
	if _, err := off.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := off.RateLimit(context.Background()); ok {
		t.Fatal("RateLimit known with the budget disabled")
	}
}
