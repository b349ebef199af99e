package rest

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"procoregraph/telemetry/spans"
)

// traceTransport sits outermost and makes one "procore.call" span per
// Procore API call when the request is traced (a recording span in its
// context; otherwise it costs one context lookup): the route template (ids
// are {id}, never the raw URL), the method, the final status, the retries
// and the time spent waiting for the rate-limit budget. Each request on the
// wire below it is a "procore.attempt" child span (observeTransport).
//
// No trace header is sent to Procore: its published contract defines none.
type traceTransport struct {
	next http.RoundTripper
}

// callTrace collects what the layers below see of one traced call.
type callTrace struct {
	attempts   atomic.Int64
	rateWaitNS atomic.Int64
}

type callTraceKey struct{}

func (t *traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !spans.Recording(ctx) {
		return t.next.RoundTrip(req)
	}
	route := routeTemplate(req.URL.Path)
	ctx, span := spans.Start(ctx, "procore.call "+req.Method+" "+route, trace.SpanKindInternal,
		spans.ProcoreRoute.String(route), spans.HTTPMethod.String(req.Method))
	defer span.End()
	ct := &callTrace{}
	ctx = context.WithValue(ctx, callTraceKey{}, ct)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	retries := ct.attempts.Load() - 1
	if retries < 0 {
		retries = 0
	}
	span.SetAttributes(spans.ProcoreRetries.Int64(retries),
		spans.ProcoreRateLimitWaitMS.Int64(time.Duration(ct.rateWaitNS.Load()).Milliseconds()))
	if resp != nil {
		span.SetAttributes(spans.HTTPStatus.Int(resp.StatusCode))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
		}
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return resp, err
}

// traceOf is the traced call ctx belongs to, or nil.
func traceOf(ctx context.Context) *callTrace {
	ct, _ := ctx.Value(callTraceKey{}).(*callTrace)
	return ct
}
