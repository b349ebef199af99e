package rest

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"procoregraph/telemetry/spans"
)

// observeTransport reports every call that goes on the wire to OnUpstreamCall
// (for metrics and per-request upstream-call counts) and to the debug log.
// It sits innermost, so each retry attempt is one call. It logs neither
// headers nor query strings (presigned upload URLs carry signatures there).
// In a traced request each call is a "procore.call" client span (route
// template, method, status, attempt number and retries, rate-limit wait and
// remaining; see traceTransport).
type observeTransport struct {
	clock  Clock
	logger *slog.Logger
	on     func(method, route string, status int, d time.Duration)
	onRate func(remaining int)
	next   http.RoundTripper
}

func (t *observeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	route := routeTemplate(req.URL.Path)
	ctx, span := req.Context(), trace.SpanFromContext(req.Context()) // ending it: nothing
	if spans.Recording(ctx) {
		ctx, span = spans.Start(ctx, "procore.call "+req.Method+" "+route, trace.SpanKindClient,
			spans.ProcoreRoute.String(route), spans.HTTPMethod.String(req.Method))
	}
	if ct := traceOf(ctx); ct != nil && span.IsRecording() {
		n := ct.attempts.Add(1)
		span.SetAttributes(spans.ProcoreAttempt.Int64(n), spans.ProcoreRetries.Int64(n-1),
			spans.ProcoreRateLimitWaitMS.Int64(time.Duration(ct.waitNS.Load()).Milliseconds()))
	}
	start := t.clock.Now()
	resp, err := t.next.RoundTrip(req)
	d := t.clock.Now().Sub(start)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if span.IsRecording() {
		span.SetAttributes(spans.HTTPStatus.Int(status))
		if resp != nil {
			if rem, err := strconv.Atoi(resp.Header.Get(headerRemaining)); err == nil {
				span.SetAttributes(spans.ProcoreRateRemaining.Int(rem))
			}
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		} else if status >= 500 || status == http.StatusTooManyRequests {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
	span.End()
	if t.on != nil {
		t.on(req.Method, route, status, d)
	}
	if t.onRate != nil && resp != nil {
		if rem, err := strconv.Atoi(resp.Header.Get(headerRemaining)); err == nil {
			t.onRate(rem)
		}
	}
	if t.logger.Enabled(req.Context(), slog.LevelDebug) {
		attrs := []slog.Attr{slog.String("method", req.Method), slog.String("route", route),
			slog.Int("status", status), slog.Duration("duration", d)}
		if resp != nil {
			if id := resp.Header.Get("X-Request-Id"); id != "" {
				attrs = append(attrs, slog.String("request_id", id))
			}
			if rem := resp.Header.Get(headerRemaining); rem != "" {
				attrs = append(attrs, slog.String("rate_remaining", rem))
			}
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		t.logger.LogAttrs(req.Context(), slog.LevelDebug, "procore call", attrs...)
	}
	return resp, err
}

// routeTemplate turns a request path into a low-cardinality route: numeric
// segments and long opaque ids (upload uuids, presigned keys) become {id}.
func routeTemplate(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if isOpaqueID(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

func isOpaqueID(s string) bool {
	if s == "" {
		return false
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits == len(s) {
		return true
	}
	return len(s) >= 20 && digits > 0
}
