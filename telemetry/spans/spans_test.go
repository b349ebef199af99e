package spans

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestStartMakesChildrenOnlyUnderARecordingSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))

	t.Run("NoParentNoSpan", func(t *testing.T) {
		_, s := Start(context.Background(), "orphan", trace.SpanKindInternal)
		s.End()
		_, s = ChildOnly().Tracer("x").Start(context.Background(), "orphan-redis")
		s.End()
		if n := len(rec.Ended()); n != 0 {
			t.Fatalf("%d spans without a parent, want 0", n)
		}
	})
	t.Run("ChildOfTheParentsProvider", func(t *testing.T) {
		ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
		_, a := Start(ctx, "loader.batch rfis", trace.SpanKindInternal, LoaderKeys.Int(3))
		a.End()
		_, b := ChildOnly().Tracer("redis").Start(ctx, "get")
		b.End()
		parent.End()
		ended := rec.Ended()
		if len(ended) != 3 {
			t.Fatalf("%d spans, want 3", len(ended))
		}
		for _, s := range ended[:2] {
			if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
				t.Fatalf("%s is not a child of the request span", s.Name())
			}
		}
	})
}
