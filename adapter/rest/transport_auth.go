package rest

import (
	"errors"
	"net/http"
	"strings"
)

var errUnauthorized = errors.New("procore answered 401")

// authTransport authenticates every request with Credentials. When Procore
// refuses the credential (401, or for a browser session a redirect to the
// login page) it invalidates the credential and sends the request once more
// with a fresh one; a second refusal is returned as is.
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
	if err != nil || !refusedCredential(resp) || !replayable(req) {
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

// refusedCredential reports whether resp says the credential no longer works:
// 401, or a redirect to a login page (how Procore's web app answers a browser
// session that expired).
func refusedCredential(resp *http.Response) bool {
	if resp.StatusCode == http.StatusUnauthorized {
		return true
	}
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return false
	}
	loc := strings.ToLower(resp.Header.Get("Location"))
	return strings.Contains(loc, "/login") || strings.Contains(loc, "/sign_in")
}
