// Package spans starts child spans of the span a context carries, with the
// tracer provider that started that span. Packages below the gateway
// (adapter/rest, loaders, cache) import only this: they need no tracer
// provider of their own, and cost next to nothing when the request is not
// traced (no recording span in the context: no span is started).
//
// Every attribute key the project sets is a constant here (attributes.go),
// so dashboards and tests have one list to read.
package spans

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of the project's own spans.
const Scope = "procoregraph"

// Start starts a span named name as a child of ctx's span, when that span
// is recording, with the provider that made it; otherwise it returns ctx
// unchanged and a non-recording span (ending it does nothing).
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(Scope).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// Recording reports whether ctx carries a recording span (so attributes
// are worth computing).
func Recording(ctx context.Context) bool { return trace.SpanFromContext(ctx).IsRecording() }

// ChildOnly returns a TracerProvider whose tracers start spans only under a
// recording parent span, with the parent's provider; without one they start
// none. For instrumentation libraries that take a provider (redisotel): a
// background Redis command then makes no root span of its own.
func ChildOnly() trace.TracerProvider { return childOnly{} }

type childOnly struct{ embedded.TracerProvider }

func (childOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{name: name, opts: opts}
}

type childTracer struct {
	embedded.Tracer
	name string
	opts []trace.TracerOption
}

var none = noop.NewTracerProvider().Tracer("")

func (t childTracer) Start(ctx context.Context, spanName string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return none.Start(ctx, spanName, opts...)
	}
	return parent.TracerProvider().Tracer(t.name, t.opts...).Start(ctx, spanName, opts...)
}
