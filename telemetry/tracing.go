// Package telemetry sets up tracing and structured logs for the process:
//
//   - Setup builds an OpenTelemetry tracer provider from the standard OTEL_*
//     variables (OTLP over HTTP/protobuf), or none when they are unset;
//   - NewLogHandler adds the request id, trace id, span id and principal
//     of the context to every log record.
//
// Nothing here is global: the provider and propagator are handed to the
// gateway (otelhttp) by constructor; packages below it start child spans
// through telemetry/spans.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is the process's tracer provider, or none.
type Tracing struct {
	// Provider starts spans; nil when tracing is off.
	Provider trace.TracerProvider
	// Propagator reads (and writes) W3C traceparent/tracestate and baggage.
	Propagator propagation.TextMapPropagator
	// Endpoint is where spans are exported ("" when off); never carries
	// headers (which may hold credentials).
	Endpoint string

	sdk *sdktrace.TracerProvider
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.Provider != nil }

// Shutdown flushes the spans not yet exported and stops the exporter,
// within ctx. It does nothing when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// Options are what the program adds to the environment's settings.
type Options struct {
	// ServiceName is service.name unless OTEL_SERVICE_NAME sets it.
	// Default: "procoregraph".
	ServiceName string
	// Version is service.version. Default: none.
	Version string
}

// Setup reads the standard OpenTelemetry variables through getenv:
//
//	OTEL_SDK_DISABLED=true                       tracing off
//	OTEL_TRACES_EXPORTER                         otlp | none (default: otlp when an endpoint is set, else none)
//	OTEL_EXPORTER_OTLP_ENDPOINT                  base URL; spans go to <base>/v1/traces
//	OTEL_EXPORTER_OTLP_TRACES_ENDPOINT           full URL of the traces endpoint (wins)
//	OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL         http/protobuf (the only one served)
//	OTEL_EXPORTER_OTLP_[TRACES_]HEADERS          k=v,k2=v2 (URL-encoded values)
//	OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT          milliseconds
//	OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG always_on, always_off, traceidratio,
//	                                             parentbased_* (default parentbased_always_on)
//	OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES  the resource
//	OTEL_PROPAGATORS                             tracecontext,baggage (the default) or none
//
// Tracing is off (a Tracing whose Provider is nil) when neither
// OTEL_TRACES_EXPORTER nor an endpoint is set. A value it cannot honour is
// an error: the start stops rather than run without the traces asked for.
// The batch span processor reads OTEL_BSP_* itself.
func Setup(getenv func(string) string, o Options) (*Tracing, error) {
	prop, err := propagators(getenv("OTEL_PROPAGATORS"))
	if err != nil {
		return nil, err
	}
	off := &Tracing{Propagator: prop}
	if disabled, _ := strconv.ParseBool(getenv("OTEL_SDK_DISABLED")); disabled {
		return off, nil
	}
	endpoint, err := tracesEndpoint(getenv)
	if err != nil {
		return nil, err
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return off, nil
	case "":
		if endpoint == "" {
			return off, nil
		}
	case "otlp":
		if endpoint == "" {
			endpoint = "http://localhost:4318/v1/traces" // the specification's default
		}
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are served", exp)
	}
	if p := first(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: only http/protobuf is served", p)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	if h := first(getenv, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"); h != "" {
		headers, err := parseHeaders(h)
		if err != nil {
			return nil, err
		}
		opts = append(opts, otlptracehttp.WithHeaders(headers))
	}
	if s := first(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_TIMEOUT=%q: want a positive number of milliseconds", s)
		}
		opts = append(opts, otlptracehttp.WithTimeout(time.Duration(ms)*time.Millisecond))
	}
	sampler, err := newSampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return nil, err
	}
	res, err := newResource(getenv, o)
	if err != nil {
		return nil, err
	}
	// New makes no connection: an unreachable collector costs dropped
	// spans (the exporter logs through otel's error handler), never the start.
	exporter, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithSampler(sampler), sdktrace.WithResource(res))
	u, _ := url.Parse(endpoint)
	return &Tracing{Provider: tp, Propagator: prop, Endpoint: u.Redacted(), sdk: tp}, nil
}

func first(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

func tracesEndpoint(getenv func(string) string) (string, error) {
	if u := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); u != "" {
		return u, checkURL("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", u)
	}
	if u := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); u != "" {
		if err := checkURL("OTEL_EXPORTER_OTLP_ENDPOINT", u); err != nil {
			return "", err
		}
		return strings.TrimSuffix(u, "/") + "/v1/traces", nil
	}
	return "", nil
}

func checkURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: want an http(s) URL", name) // the URL may carry credentials: not repeated
	}
	return nil
}

// parseHeaders reads the W3C-baggage-like k=v,k2=v2 list of the OTLP spec.
func parseHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("OTEL_EXPORTER_OTLP_HEADERS: want key=value pairs separated by commas")
		}
		dv, err := url.QueryUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: the value of %s is not URL-encoded", k)
		}
		out[k] = dv
	}
	return out, nil
}

func newSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio or parentbased_*", name)
}

func newResource(getenv func(string) string, o Options) (*resource.Resource, error) {
	name := first(getenv, "OTEL_SERVICE_NAME")
	if name == "" {
		name = o.ServiceName
	}
	if name == "" {
		name = "procoregraph"
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	if o.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.Version))
	}
	if s := strings.TrimSpace(getenv("OTEL_RESOURCE_ATTRIBUTES")); s != "" {
		kv, err := parseHeaders(s)
		if err != nil {
			return nil, errors.New("OTEL_RESOURCE_ATTRIBUTES: want key=value pairs separated by commas")
		}
		for k, v := range kv {
			if k == string(semconv.ServiceNameKey) {
				continue // OTEL_SERVICE_NAME or the default wins
			}
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...), nil
}

func propagators(s string) (propagation.TextMapPropagator, error) {
	if strings.TrimSpace(s) == "" {
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}), nil
	}
	var ps []propagation.TextMapPropagator
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none":
		default:
			return nil, fmt.Errorf("OTEL_PROPAGATORS: %q is not served (tracecontext, baggage, none)", name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}
