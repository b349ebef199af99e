package rest

import (
	"errors"
	"net/http"
)

var errUnauthorized = errors.New("procore answered 401")

// authTransport authenticates every request with Credentials. When Procore
// answers 401 it invalidates the credential and sends the request once more
// with a fresh one; a second 401 is returned as is.
type authTransport struct {
	creds Credentials
	next  http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	r := req.Clone(ctx) // RoundTrippers must not modify the caller's request
	if err := t.creds.Apply(ctx, r); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable(req) {
		return resp, err
	}
	t.creds.Invalidate(ctx, r, errUnauthorized)
	r2, err := cloneForAttempt(req)
	if err != nil {
		return resp, nil
	}
	if err := t.creds.Apply(ctx, r2); err != nil {
		closeRequestBody(r2)
		discard(resp)
		return nil, err
	}
	discard(resp)
	return t.next.RoundTrip(r2)
}
