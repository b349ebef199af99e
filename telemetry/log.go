package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"procoregraph/principal"
	"procoregraph/reqid"
)

// Keys NewLogHandler adds to records.
const (
	LogRequestID = "request_id"
	LogTraceID   = "trace_id"
	LogSpanID    = "span_id"
	LogPrincipal = "principal"
)

// NewLogHandler wraps h so that every record logged with a context carries
// what identifies its request: request_id (package reqid), trace_id and
// span_id (the context's span, when valid) and principal ("kind:name", the
// principal's kind and its name in logs, which is never a credential).
// Attributes the context does not have are left out.
func NewLogHandler(h slog.Handler) slog.Handler { return contextHandler{h} }

type contextHandler struct{ next slog.Handler }

func (h contextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := reqid.From(ctx); id != "" {
			r.AddAttrs(slog.String(LogRequestID, id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String(LogTraceID, sc.TraceID().String()), slog.String(LogSpanID, sc.SpanID().String()))
		}
		if p := principal.From(ctx); p.Kind != "" {
			ref := p.Ref()
			s := string(ref.Kind)
			if ref.Name != "" {
				s += ":" + ref.Name
			}
			r.AddAttrs(slog.String(LogPrincipal, s))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.next.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.next.WithGroup(name)}
}
