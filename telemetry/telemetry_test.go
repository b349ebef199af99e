package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"procoregraph/principal"
	"procoregraph/reqid"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSetup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		enabled bool
		errHas  string
	}{
		{"OffWhenUnset", nil, false, ""},
		{"OffWithExporterNone", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, ""},
		{"OffWhenSDKDisabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false, ""},
		{"OnWithAnEndpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true, ""},
		{"OnWithExporterOTLPAlone", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, ""},
		{"UnknownExporterStops", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "OTEL_TRACES_EXPORTER"},
		{"GRPCStops", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"BadEndpointStopsWithoutEchoingIt", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:s3cret@c"}, false, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"BadSamplerStops", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "sometimes"}, false, "OTEL_TRACES_SAMPLER"},
		{"BadRatioStops", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, false, "OTEL_TRACES_SAMPLER_ARG"},
		{"BadHeadersStop", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, false, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"UnknownPropagatorStops", map[string]string{"OTEL_PROPAGATORS": "b3"}, false, "OTEL_PROPAGATORS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Setup(env(tc.env), Options{})
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one naming %s", err, tc.errHas)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error repeats a credential: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			if tr.Enabled() != tc.enabled {
				t.Fatalf("Enabled() = %v, want %v", tr.Enabled(), tc.enabled)
			}
			if tr.Propagator == nil {
				t.Fatal("no propagator")
			}
		})
	}
}

func TestLogHandlerAddsRequestTraceAndPrincipal(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	ctx = reqid.With(ctx, "req-12345678")
	ctx = principal.With(ctx, principal.Principal{Kind: principal.KindAPIKey, Name: "ci"})
	log.InfoContext(ctx, "with")
	log.Info("without")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var with, without map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &with)
	_ = json.Unmarshal([]byte(lines[1]), &without)
	want := map[string]string{"request_id": "req-12345678", "trace_id": tid.String(), "span_id": sid.String(), "principal": "api_key:ci"}
	for k, v := range want {
		if with[k] != v {
			t.Errorf("%s = %v, want %s", k, with[k], v)
		}
		if _, ok := without[k]; ok {
			t.Errorf("a record without a request context has %s", k)
		}
	}
}
