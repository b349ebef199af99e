package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter"
)

// windowServer enforces a fixed rate-limit window on the fake clock, the way
// Procore's spike window does: every request counts, 429 once spent, and the
// X-Rate-Limit-* headers on every response.
type windowServer struct {
	clock  *fakeClock
	limit  int
	window time.Duration

	mu      sync.Mutex
	start   time.Time
	used    int
	refused int
	offsets []time.Duration // request time within its window
}

func newWindowServer(clock *fakeClock, limit int, window time.Duration) *windowServer {
	return &windowServer{clock: clock, limit: limit, window: window, start: clock.Now()}
}

func (s *windowServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.clock.Now()
	for !now.Before(s.start.Add(s.window)) {
		s.start, s.used = s.start.Add(s.window), 0
	}
	s.used++
	s.offsets = append(s.offsets, now.Sub(s.start))
	rem := s.limit - s.used
	reset := s.start.Add(s.window)
	if rem < 0 {
		s.refused++
	}
	s.mu.Unlock()
	w.Header().Set(headerLimit, strconv.Itoa(s.limit))
	w.Header().Set(headerRemaining, strconv.Itoa(max(rem, 0)))
	w.Header().Set(headerReset, strconv.FormatInt(reset.Unix(), 10))
	if rem < 0 {
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("You have surpassed the max number of requests for an hour. Please wait until your limit resets."))
	}
}

func newBudgetRT(clock Clock, maxWait time.Duration) *rateLimitTransport {
	return &rateLimitTransport{budget: newBudget(clock, 0.2, maxWait), next: baseTransport()}
}

func TestSlowsDownBeforeBudgetRunsOut(t *testing.T) {
	clock := newFakeClock()
	srv := newWindowServer(clock, 10, 10*time.Second)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rt := newBudgetRT(clock, time.Minute)
	for i := range 35 {
		req, _ := http.NewRequest("GET", ts.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
	}
	if srv.refused != 0 {
		t.Fatalf("Procore had to say 429 %d times; the budget should have prevented every one", srv.refused)
	}
	spread := false
	for _, off := range srv.offsets {
		if off > 0 && off < srv.window {
			spread = true // a call went out mid-window: the last calls were spread, not burst
		}
	}
	if !spread {
		t.Fatalf("every call went out at a window start (%v): the low budget was not spread until the reset", srv.offsets)
	}
	if clock.TotalSlept() < 30*time.Second {
		t.Fatalf("slept %v in total; 35 calls at 10 per 10 s need at least 30 s", clock.TotalSlept())
	}
}

func TestBudgetNeverExceedsWindowConcurrently(t *testing.T) {
	clock := newFakeClock()
	srv := newWindowServer(clock, 10, 10*time.Second)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rt := newBudgetRT(clock, time.Minute)
	var wg sync.WaitGroup
	for range 8 {
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
		t.Fatalf("%d calls refused with 429 by a 10-per-window server under 8 concurrent callers", srv.refused)
	}
}

func TestBudgetWaitsForResetWhenSpent(t *testing.T) {
	clock := newFakeClock()
	b := newBudget(clock, 0.2, time.Minute)
	h := http.Header{}
	h.Set(headerLimit, "25")
	h.Set(headerRemaining, "0")
	h.Set(headerReset, strconv.FormatInt(clock.Now().Add(7*time.Second).Unix(), 10))
	if err := b.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.release(h)
	if err := b.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := clock.Slept(); len(got) != 1 || got[0] != 7*time.Second+resetMargin {
		t.Fatalf("waited %v, want until the reset (7s + margin)", got)
	}
}

func TestBudgetFailsFastWhenResetTooFar(t *testing.T) {
	clock := newFakeClock()
	b := newBudget(clock, 0.2, 30*time.Second)
	h := http.Header{}
	h.Set(headerLimit, "3600")
	h.Set(headerRemaining, "0")
	h.Set(headerReset, strconv.FormatInt(clock.Now().Add(40*time.Minute).Unix(), 10))
	b.acquire(context.Background())
	b.release(h)
	err := b.acquire(context.Background())
	var ae *adapter.Error
	if !asAdapterError(err, &ae) || ae.Code != adapter.CodeRateLimited || ae.RetryAfter < 40*time.Minute {
		t.Fatalf("err %v, want RATE_LIMITED with RetryAfter >= 40m at once", err)
	}
	if len(clock.Slept()) != 0 {
		t.Fatal("slept although the wait exceeds MaxWait")
	}
}

func TestBudgetOutOfOrderResponsesKeepTheLowerCount(t *testing.T) {
	clock := newFakeClock()
	b := newBudget(clock, 0.2, time.Minute)
	reset := strconv.FormatInt(clock.Now().Add(10*time.Second).Unix(), 10)
	hdr := func(rem int) http.Header {
		h := http.Header{}
		h.Set(headerLimit, "100")
		h.Set(headerRemaining, strconv.Itoa(rem))
		h.Set(headerReset, reset)
		return h
	}
	b.acquire(context.Background())
	b.acquire(context.Background())
	b.release(hdr(3))
	b.release(hdr(50)) // older answer arriving late
	if b.remaining != 3 {
		t.Fatalf("remaining %d, want 3 (the newer, lower count)", b.remaining)
	}
}

func TestParseRateHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	mk := func(l, r, reset string) http.Header {
		h := http.Header{}
		h.Set(headerLimit, l)
		h.Set(headerRemaining, r)
		h.Set(headerReset, reset)
		return h
	}
	t.Run("UnixSeconds", func(t *testing.T) {
		l, r, reset, ok := parseRateHeaders(mk("600", "589", "1800000244"), now)
		if !ok || l != 600 || r != 589 || !reset.Equal(time.Unix(1800000244, 0)) {
			t.Fatal(l, r, reset, ok)
		}
	})
	t.Run("DeltaSeconds", func(t *testing.T) {
		_, _, reset, ok := parseRateHeaders(mk("25", "24", "7"), now)
		if !ok || !reset.Equal(now.Add(7*time.Second)) {
			t.Fatal(reset, ok)
		}
	})
	t.Run("MissingIsIgnored", func(t *testing.T) {
		if _, _, _, ok := parseRateHeaders(http.Header{}, now); ok {
			t.Fatal("headers absent but parsed")
		}
	})
	t.Run("GarbageIsIgnored", func(t *testing.T) {
		if _, _, _, ok := parseRateHeaders(mk("x", "y", "z"), now); ok {
			t.Fatal("garbage parsed")
		}
	})
}
