package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"procoregraph/reqid"
	"procoregraph/reqstats"
	"procoregraph/telemetry/spans"
)

// withTracing makes every request but the probes and /metrics a server span
// (otelhttp), continuing the caller's W3C traceparent. Without a provider it
// returns next unchanged.
func withTracing(tp trace.TracerProvider, prop propagation.TextMapPropagator, next http.Handler) http.Handler {
	if tp == nil {
		return next
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // metrics are Prometheus'
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			switch p := r.URL.Path; p {
			case "/graphql", "/webhooks/procore", "/sessions", "/sessions/codes":
				return r.Method + " " + p
			}
			return r.Method // low cardinality: ids live in other paths
		}),
	)
}

// tagRequestID puts the request id (reqid) on the request's span.
func tagRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetAttributes(attribute.String("procoregraph.request_id", reqid.From(r.Context())))
		}
		next.ServeHTTP(w, r)
	})
}

// maxOperationNames bounds the operation label values: names past it count
// as "other", so clients naming operations at random cannot grow /metrics.
const maxOperationNames = 500

// operationMetrics are the per-operation Prometheus series:
//
//	procoregraph_graphql_operations_total{operation,type}
//	procoregraph_graphql_operation_errors_total{operation,type}
//	procoregraph_graphql_operation_duration_seconds{operation,type}
//
// Operations answered whole from the response cache are not executed and
// are counted in procoregraph_response_cache_total{result="hit"} instead.
type operationMetrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu    sync.Mutex
	names map[string]bool
}

func newOperationMetrics(reg prometheus.Registerer) *operationMetrics {
	m := &operationMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "procoregraph_graphql_operations_total",
			Help: "GraphQL operations executed, by operation name and type (query, mutation, subscription)."}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "procoregraph_graphql_operation_errors_total",
			Help: "GraphQL operations whose answer carried errors, by operation name and type."}, []string{"operation", "type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "procoregraph_graphql_operation_duration_seconds",
			Help:    "Time to the first answer of a GraphQL operation, by operation name and type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"operation", "type"}),
		names: map[string]bool{},
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.errors, m.duration)
	}
	return m
}

// label bounds the operation names.
func (m *operationMetrics) label(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return name
	}
	if len(m.names) >= maxOperationNames {
		return "other"
	}
	m.names[name] = true
	return name
}

// observeOperations is the operation span ("graphql.operation": name, type,
// estimated Procore calls), the operation metrics and one log line per
// operation, which carries the request id, trace and principal of its
// context (telemetry.NewLogHandler). A subscription's span lasts until its
// stream ends; its metrics count its start.
func observeOperations(m *operationMetrics, logger *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil {
			return next(ctx)
		}
		typ := string(oc.Operation.Operation)
		name := oc.OperationName
		if name == "" {
			name = oc.Operation.Name
		}
		if name == "" {
			name = "anonymous"
		}
		label := m.label(name)
		stats := reqstats.From(ctx)
		start := time.Now()
		ctx, span := spans.Start(ctx, "graphql."+typ+" "+name, trace.SpanKindInternal,
			spans.GraphQLOperationName.String(name), spans.GraphQLOperationType.String(typ),
			spans.GraphQLEstimatedCalls.Int(stats.Estimate()))
		h := next(ctx)
		var once sync.Once
		return func(rctx context.Context) *graphql.Response {
			resp := h(rctx)
			once.Do(func() {
				d := time.Since(start)
				nerr := 0
				if resp != nil {
					nerr = len(resp.Errors)
				}
				m.requests.WithLabelValues(label, typ).Inc()
				m.duration.WithLabelValues(label, typ).Observe(d.Seconds())
				errs := m.errors.WithLabelValues(label, typ) // the series exists from 0
				if nerr > 0 {
					errs.Inc()
					span.SetAttributes(spans.GraphQLErrors.Int(nerr))
					span.SetStatus(codes.Error, "the answer carries errors")
				}
				logger.LogAttrs(ctx, slog.LevelInfo, "graphql operation",
					slog.String("operation", name), slog.String("type", typ), slog.Duration("duration", d),
					slog.Int("errors", nerr), slog.Int("estimated_calls", stats.Estimate()), slog.Int("upstream_calls", stats.Upstream()))
				if oc.Operation.Operation != ast.Subscription {
					span.End()
				}
			})
			if resp == nil && oc.Operation.Operation == ast.Subscription {
				span.End()
			}
			return resp
		}
	}
}
