package reqstats

import "net/http"

// Transport counts every request it carries in the Stats of the request's
// context. Put it at the bottom of the adapter's transport stack so it sees
// each call that goes on the wire, retries included.
type Transport struct {
	// Next carries the request. Default: http.DefaultTransport.
	Next http.RoundTripper
}

// RoundTrip counts the call and passes it on.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	From(r.Context()).AddUpstream(r.Method+" "+r.URL.Path, inCacheFetch(r.Context()))
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}
