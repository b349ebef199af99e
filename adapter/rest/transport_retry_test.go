package rest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scripted serves the given statuses in order (then 200 "ok"), with optional
// headers per attempt, and records the bodies it received.
type scripted struct {
	steps  []step
	n      atomic.Int64
	bodies chan string
}

type step struct {
	status int
	header map[string]string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	b, _ := io.ReadAll(r.Body)
	if s.bodies != nil {
		s.bodies <- string(b)
	}
	if i < len(s.steps) {
		for k, v := range s.steps[i].header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(s.steps[i].status)
		io.WriteString(w, http.StatusText(s.steps[i].status))
		return
	}
	io.WriteString(w, "ok")
}

func newRetry(clock Clock, cfg RetryConfig) *retryTransport {
	if cfg.Jitter == 0 {
		cfg.Jitter = -1
	}
	return &retryTransport{cfg: cfg.withDefaults(), clock: clock, logger: quietLogger(), next: baseTransport()}
}

func doReq(t *testing.T, rt http.RoundTripper, method, url, body string) (*http.Response, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	return rt.RoundTrip(req)
}

func TestRetryOn429WithDelaySeconds(t *testing.T) {
	s := &scripted{steps: []step{{429, map[string]string{"Retry-After": "7"}}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	clock := newFakeClock()
	resp, err := doReq(t, newRetry(clock, RetryConfig{}), "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.n.Load() != 2 {
		t.Fatalf("status %d after %d attempts, want 200 after 2", resp.StatusCode, s.n.Load())
	}
	if got := clock.Slept(); len(got) != 1 || got[0] != 7*time.Second {
		t.Fatalf("waited %v, want exactly Retry-After 7s", got)
	}
}

func TestRetryOn429WithHTTPDate(t *testing.T) {
	clock := newFakeClock()
	when := clock.Now().Add(12 * time.Second).Format(http.TimeFormat)
	s := &scripted{steps: []step{{429, map[string]string{"Retry-After": when}}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := doReq(t, newRetry(clock, RetryConfig{}), "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := clock.Slept(); len(got) != 1 || got[0] != 12*time.Second {
		t.Fatalf("waited %v, want 12s until the HTTP-date", got)
	}
}

func TestRetryOn429WithRateLimitReset(t *testing.T) {
	clock := newFakeClock()
	reset := strconv.FormatInt(clock.Now().Add(4*time.Second).Unix(), 10)
	s := &scripted{steps: []step{{429, map[string]string{headerReset: reset, headerRemaining: "0", headerLimit: "25"}}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := doReq(t, newRetry(clock, RetryConfig{}), "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := clock.Slept()
	if len(got) != 1 || got[0] < 4*time.Second || got[0] > 4*time.Second+resetMargin {
		t.Fatalf("waited %v, want until X-Rate-Limit-Reset (4s)", got)
	}
}

func TestRetryAddsJitterToServerWaits(t *testing.T) {
	clock := newFakeClock()
	steps := make([]step, 4)
	for i := range steps {
		steps[i] = step{429, map[string]string{"Retry-After": "1"}}
	}
	s := &scripted{steps: steps}
	srv := httptest.NewServer(s)
	defer srv.Close()
	rt := newRetry(clock, RetryConfig{Jitter: 500 * time.Millisecond, MaxAttempts: 5})
	resp, err := doReq(t, rt, "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, d := range clock.Slept() {
		if d < time.Second || d >= 1500*time.Millisecond {
			t.Fatalf("wait %v outside [1s, 1.5s)", d)
		}
	}
	if len(clock.Slept()) != 4 {
		t.Fatalf("%d waits, want 4", len(clock.Slept()))
	}
}

func TestRetryOn503ForPOSTReplaysBody(t *testing.T) {
	s := &scripted{steps: []step{{503, map[string]string{"Retry-After": "2"}}, {429, nil}}, bodies: make(chan string, 3)}
	srv := httptest.NewServer(s)
	defer srv.Close()
	clock := newFakeClock()
	resp, err := doReq(t, newRetry(clock, RetryConfig{}), "POST", srv.URL, `{"rfi":{"subject":"x"}}`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.n.Load() != 3 {
		t.Fatalf("status %d after %d attempts, want 200 after 3 (503 and 429 are refused before processing)", resp.StatusCode, s.n.Load())
	}
	for range 3 {
		if b := <-s.bodies; b != `{"rfi":{"subject":"x"}}` {
			t.Fatalf("attempt sent body %q, want the original", b)
		}
	}
	if got := clock.Slept(); got[0] != 2*time.Second {
		t.Fatalf("first wait %v, want Retry-After 2s", got[0])
	}
}

func TestNoRetryOnPOST500(t *testing.T) {
	for _, status := range []int{500, 502, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			s := &scripted{steps: []step{{status, nil}}}
			srv := httptest.NewServer(s)
			defer srv.Close()
			resp, err := doReq(t, newRetry(newFakeClock(), RetryConfig{}), "POST", srv.URL, `{}`)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != status || s.n.Load() != 1 {
				t.Fatalf("status %d after %d attempts, want %d after exactly 1 (the write may have happened)", resp.StatusCode, s.n.Load(), status)
			}
		})
	}
}

func TestRetryOnGET5xxWithBackoff(t *testing.T) {
	s := &scripted{steps: []step{{500, nil}, {502, nil}, {504, nil}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	clock := newFakeClock()
	resp, err := doReq(t, newRetry(clock, RetryConfig{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}), "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.n.Load() != 4 {
		t.Fatalf("status %d after %d attempts, want 200 after 4", resp.StatusCode, s.n.Load())
	}
	got := clock.Slept()
	if len(got) != 3 {
		t.Fatalf("waits %v, want 3", got)
	}
	for i, d := range got {
		if d <= 0 || d > time.Second*3/2 {
			t.Fatalf("wait %d = %v, want a backoff in (0, 1.5s]", i, d)
		}
	}
}

func TestRetryStopsAfterMaxAttempts(t *testing.T) {
	steps := make([]step, 10)
	for i := range steps {
		steps[i] = step{503, nil}
	}
	s := &scripted{steps: steps}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := doReq(t, newRetry(newFakeClock(), RetryConfig{MaxAttempts: 3}), "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || s.n.Load() != 3 {
		t.Fatalf("status %d after %d attempts, want the last 503 after 3", resp.StatusCode, s.n.Load())
	}
	if string(body) != "Service Unavailable" {
		t.Fatalf("last response body %q was not passed on intact", body)
	}
}

func TestRetryGivesUpWhenServerWaitExceedsMaxWait(t *testing.T) {
	s := &scripted{steps: []step{{429, map[string]string{"Retry-After": "3600"}}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	clock := newFakeClock()
	resp, err := doReq(t, newRetry(clock, RetryConfig{MaxWait: 30 * time.Second}), "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || s.n.Load() != 1 || len(clock.Slept()) != 0 {
		t.Fatalf("status %d, %d attempts, waits %v: want the 429 at once, no hour-long wait", resp.StatusCode, s.n.Load(), clock.Slept())
	}
}

func TestRetryRespectsContextDeadline(t *testing.T) {
	s := &scripted{steps: []step{{503, map[string]string{"Retry-After": "20"}}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	clock := newFakeClock()
	// The deadline is before the instant the server asks us to come back.
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(5*time.Second))
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := newRetry(clock, RetryConfig{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || s.n.Load() != 1 {
		t.Fatalf("status %d after %d attempts, want the 503 at once: waiting would outlive the deadline", resp.StatusCode, s.n.Load())
	}
}

func TestRetryStopsWhenContextCancelled(t *testing.T) {
	s := &scripted{steps: []step{{503, nil}, {503, nil}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	rt := &retryTransport{cfg: RetryConfig{}.withDefaults(), clock: newFakeClock(), logger: quietLogger(),
		next: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				defer cancel()
			}
			return baseTransport().RoundTrip(r)
		})}
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	if n.Load() != 1 {
		t.Fatalf("%d attempts after cancellation, want 1", n.Load())
	}
}

// hangup accepts connections and closes them without answering.
func hangup(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String(), &n
}

func TestRetryConnectionErrorOnlyForIdempotent(t *testing.T) {
	t.Run("GETIsRetried", func(t *testing.T) {
		url, n := hangup(t)
		_, err := doReq(t, newRetry(newFakeClock(), RetryConfig{MaxAttempts: 3}), "GET", url, "")
		if err == nil {
			t.Fatal("want an error from a server that hangs up")
		}
		if n.Load() < 3 {
			t.Fatalf("%d connections, want 3 attempts", n.Load())
		}
	})
	t.Run("POSTIsNotRetried", func(t *testing.T) {
		url, n := hangup(t)
		_, err := doReq(t, newRetry(newFakeClock(), RetryConfig{MaxAttempts: 3}), "POST", url, "{}")
		if err == nil {
			t.Fatal("want an error from a server that hangs up")
		}
		// net/http itself may retry once on a reused idle connection; it never does on a fresh one.
		if n.Load() != 1 {
			t.Fatalf("%d connections, want 1: the POST may have been processed", n.Load())
		}
	})
	t.Run("DialErrorIsRetriedForPOST", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		url := "http://" + ln.Addr().String()
		ln.Close() // nothing listens: every dial fails, nothing was sent
		var attempts atomic.Int64
		rt := &retryTransport{cfg: RetryConfig{MaxAttempts: 3}.withDefaults(), clock: newFakeClock(), logger: quietLogger(),
			next: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				attempts.Add(1)
				return baseTransport().RoundTrip(r)
			})}
		_, err := doReq(t, rt, "POST", url, "{}")
		if err == nil || attempts.Load() != 3 {
			t.Fatalf("err %v after %d attempts, want a dial error after 3", err, attempts.Load())
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 0 ", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRetryOn503WithCallsLeftIgnoresTheWindowReset: a 503 that carries the
// rate-limit headers every Procore answer has, with calls left in the window,
// is retried after a backoff, not at the window's reset a minute away; with
// no calls left the reset is the wait, as for a 429.
func TestRetryOn503WithCallsLeftIgnoresTheWindowReset(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remaining string
		wantMin   time.Duration
		wantMax   time.Duration
	}{
		{"CallsLeftBacksOff", "500", 1, 2 * time.Second},
		{"NoCallsLeftWaitsForTheReset", "0", 59 * time.Second, 62 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			reset := strconv.FormatInt(c.Now().Add(60*time.Second).Unix(), 10)
			s := &scripted{steps: []step{{503, map[string]string{"X-Rate-Limit-Remaining": tc.remaining, "X-Rate-Limit-Reset": reset}}}}
			srv := httptest.NewServer(s)
			defer srv.Close()
			resp, err := doReq(t, newRetry(c, RetryConfig{MaxWait: 5 * time.Minute}), "GET", srv.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := c.Slept()
			if resp.StatusCode != 200 || s.n.Load() != 2 || len(got) != 1 || got[0] < tc.wantMin || got[0] > tc.wantMax {
				t.Fatalf("status %d after %d attempts, waits %v: want 200 after 2, one wait in [%v, %v]",
					resp.StatusCode, s.n.Load(), got, tc.wantMin, tc.wantMax)
			}
		})
	}
}
