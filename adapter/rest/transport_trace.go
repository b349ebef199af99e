package rest

import (
	"context"
	"net/http"
	"sync/atomic"

	"procoregraph/telemetry/spans"
)

// traceTransport sits outermost. In a traced request (a recording span in
// its context; otherwise it costs one context lookup) it gives the call a
// callTrace, which the layers below fill: the rate-limit transport records
// how long each attempt waited for the budget, and observeTransport numbers
// the attempts and makes each request on the wire a "procore.call" client
// span (route template, method, status, attempt, retries so far,
// rate-limit wait, rate-limit remaining). One span per request on the wire
// keeps the spans' count equal to the calls Procore counts.
//
// No trace header is sent to Procore: its published contract defines none.
type traceTransport struct {
	next http.RoundTripper
}

// callTrace collects what the layers below see of one traced call.
type callTrace struct {
	attempts atomic.Int64
	// waitNS is the rate-limit wait of the attempt being sent.
	waitNS atomic.Int64
}

type callTraceKey struct{}

func (t *traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !spans.Recording(ctx) {
		return t.next.RoundTrip(req)
	}
	return t.next.RoundTrip(req.WithContext(context.WithValue(ctx, callTraceKey{}, &callTrace{})))
}

// traceOf is the traced call ctx belongs to, or nil.
func traceOf(ctx context.Context) *callTrace {
	ct, _ := ctx.Value(callTraceKey{}).(*callTrace)
	return ct
}

// withoutCallTrace detaches ctx from its call's trace (a token request made
// on behalf of a call is not one of its attempts).
func withoutCallTrace(ctx context.Context) context.Context {
	if traceOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, callTraceKey{}, (*callTrace)(nil))
}
