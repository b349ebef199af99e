package rest

import (
	"net/http"

	"procoregraph/adapter"
	"procoregraph/reqid"
)

// concurrencyTransport bounds the calls in flight; waiting respects the
// request context. The slot is held until the response body is closed, so
// that a slow body read counts as in flight too. When the bound is reached,
// freed slots go to the waiting client requests in turn (fairLimiter), so
// one request's fan-out is not queued behind another's.
type concurrencyTransport struct {
	sem  *fairLimiter
	next http.RoundTripper
}

func newConcurrencyTransport(n int, next http.RoundTripper) *concurrencyTransport {
	return &concurrencyTransport{sem: newFairLimiter(n), next: next}
}

func (t *concurrencyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.sem.Acquire(req.Context(), reqid.From(req.Context())); err != nil {
		closeRequestBody(req)
		return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
			Message: "cancelled while waiting for a free upstream connection slot", Err: err}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.sem.Release()
		return nil, err
	}
	resp.Body = &releaseOnClose{ReadCloser: resp.Body, release: func() { t.sem.Release() }}
	return resp, nil
}
