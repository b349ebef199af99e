package rest

import (
	"net/http"

	"golang.org/x/sync/semaphore"

	"procoregraph/adapter"
)

// concurrencyTransport bounds the calls in flight; waiting respects the
// request context. The slot is held until the response body is closed, so
// that a slow body read counts as in flight too.
type concurrencyTransport struct {
	sem  *semaphore.Weighted
	next http.RoundTripper
}

func newConcurrencyTransport(n int, next http.RoundTripper) *concurrencyTransport {
	return &concurrencyTransport{sem: semaphore.NewWeighted(int64(n)), next: next}
}

func (t *concurrencyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.sem.Acquire(req.Context(), 1); err != nil {
		closeRequestBody(req)
		return nil, &adapter.Error{Code: adapter.CodeUpstreamUnavailable,
			Message: "cancelled while waiting for a free upstream connection slot", Err: err}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.sem.Release(1)
		return nil, err
	}
	resp.Body = &releaseOnClose{ReadCloser: resp.Body, release: func() { t.sem.Release(1) }}
	return resp, nil
}
