package rest

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"procoregraph/adapter"
)

// retryTransport retries calls Procore refused or that failed in transit:
//
//   - 429 and 503, for every method: Procore refuses those before processing.
//     The wait is Retry-After (seconds or HTTP-date), else X-Rate-Limit-Reset
//     (on a 503, only when X-Rate-Limit-Remaining is 0 or absent), else
//     exponential backoff, plus jitter.
//   - other 5xx and connection errors, for idempotent methods only (GET,
//     HEAD, OPTIONS, PUT); a write is never repeated when it may have
//     happened. A dial error (nothing was sent) is retried for every method.
//
// Attempts are bounded by MaxAttempts; a server-requested wait longer than
// MaxWait, or one that would outlive the context's deadline, ends the retries
// and the last response is returned for the caller to map. Backoff intervals
// come from cenkalti/backoff's exponential policy; waits go through the Clock
// so tests need no real sleeps.
type retryTransport struct {
	cfg    RetryConfig
	clock  Clock
	logger *slog.Logger
	next   http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval = t.cfg.BaseDelay, t.cfg.MaxDelay
	bo.Reset()
	canReplay := replayable(req)

	r := req
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(r)
		wait, retry := t.decide(req, resp, err, bo)
		if !retry || !canReplay || attempt >= t.cfg.MaxAttempts || ctx.Err() != nil {
			return resp, err
		}
		if wait > t.cfg.MaxWait || pastDeadline(ctx, t.clock.Now().Add(wait)) {
			return resp, err
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.logger.LogAttrs(ctx, slog.LevelDebug, "procore call retried",
			slog.String("method", req.Method), slog.String("route", routeTemplate(req.URL.Path)),
			slog.Int("status", status), slog.Int("attempt", attempt), slog.Duration("wait", wait))
		next, cerr := cloneForAttempt(req)
		if cerr != nil {
			return resp, err
		}
		discard(resp)
		if serr := t.clock.Sleep(ctx, wait); serr != nil {
			closeRequestBody(next)
			return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
				Message: "cancelled while waiting to retry a Procore call", Err: serr}
		}
		r = next
	}
}

// decide says whether the outcome of one attempt is retried, and after how long.
func (t *retryTransport) decide(req *http.Request, resp *http.Response, err error, bo backoff.BackOff) (time.Duration, bool) {
	if err != nil {
		var ae *adapter.Error
		if errors.As(err, &ae) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 0, false // our own refusal (auth, budget) or the caller gave up
		}
		if idempotent(req.Method) || notSent(err) {
			return bo.NextBackOff(), true
		}
		return 0, false
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Every Procore answer carries X-Rate-Limit-Reset; on a 503 with
		// calls left in the window it is not a wait Procore asks for (the
		// window is not why it refused), so only Retry-After counts then.
		h := resp.Header
		if rem := strings.TrimSpace(h.Get(headerRemaining)); resp.StatusCode == http.StatusServiceUnavailable && rem != "" && rem != "0" {
			h = http.Header{"Retry-After": h.Values("Retry-After")}
		}
		if d, ok := serverWait(h, t.clock.Now()); ok {
			return d + t.jitter(), true
		}
		return bo.NextBackOff(), true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		if idempotent(req.Method) {
			return bo.NextBackOff(), true
		}
	}
	return 0, false
}

func (t *retryTransport) jitter() time.Duration {
	if t.cfg.Jitter <= 0 {
		return 0
	}
	return rand.N(t.cfg.Jitter)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut:
		return true
	}
	return false
}

// notSent reports whether err proves the request never reached the server.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// serverWait returns how long the server asked us to wait: Retry-After in
// seconds or as an HTTP-date, else X-Rate-Limit-Reset (Unix seconds).
func serverWait(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if v := h.Get(headerReset); v != "" {
		if t, ok := parseResetHeader(v, now); ok {
			return max(t.Sub(now)+resetMargin, 0), true
		}
	}
	return 0, false
}

// parseRetryAfter parses Retry-After as delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
