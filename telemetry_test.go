package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// otlpReceiver is an OTLP/HTTP traces endpoint in the test process: it
// decodes every ExportTraceServiceRequest (protobuf) posted to /v1/traces and
// keeps its spans (keep=false: counts the requests and discards them
// undecoded, for benchmarks).
type otlpReceiver struct {
	URL  string
	keep bool

	mu    sync.Mutex
	spans []*tracepb.Span
	posts int
}

func newOTLPReceiver(t testing.TB, keep bool) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{keep: keep}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want POST /v1/traces application/x-protobuf", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		if !r.keep { // discard: no decoding, so the receiver costs the benchmark little
			r.mu.Lock()
			r.posts++
			r.mu.Unlock()
			_, _ = w.Write(out)
			return
		}
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.posts++
		for _, rs := range msg.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		r.mu.Unlock()
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// exports returns how many export requests arrived.
func (r *otlpReceiver) exports() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts
}

func (r *otlpReceiver) received() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// spanAttr returns a string or integer attribute of s as text.
func spanAttr(s *tracepb.Span, key string) (string, bool) {
	for _, a := range s.Attributes {
		if a.Key != key {
			continue
		}
		if _, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			return strconv.FormatInt(a.Value.GetIntValue(), 10), true
		}
		return a.Value.GetStringValue(), true
	}
	return "", false
}

// TestTracingDashboardContinuesCallerTrace runs the dashboard query with a
// caller's traceparent against a gateway exporting OTLP/HTTP to an
// in-process receiver, and with JSON logs.
func TestTracingDashboardContinuesCallerTrace(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 4, ItemsPerProject: 5,
		CommitmentsPerProject: 2}, HourlyLimit: -1, SpikeLimit: -1})
	recv := newOTLPReceiver(t, true)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = recv.URL
	env["LOG_FORMAT"] = "json"
	g := startGateway(t, env)

	traceID, parentID := randomHex(t, 16), randomHex(t, 8)
	const requestID = "telemetry-test-0001"
	sb.ResetStats()
	h := http.Header{}
	h.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	h.Set("X-Request-Id", requestID)
	r := g.queryWith(t, h, readQuery(t, "bench/queries/dashboard.graphql"), nil)
	st := sb.Stats()
	if len(r.Errors) > 0 {
		t.Fatalf("dashboard errors: %v", r.Errors)
	}
	upstream := st.Total + st.TokenRequests
	if upstream == 0 {
		t.Fatal("the cold dashboard made no Procore call: nothing to trace")
	}
	t.Run("DashboardMetricsAreExported", func(t *testing.T) {
		metrics := getMetrics(t, g)
		board, err := os.ReadFile("deploy/grafana/procoregraph.json")
		if err != nil {
			t.Fatal(err)
		}
		readme, err := os.ReadFile("README.md")
		if err != nil {
			t.Fatal(err)
		}
		// Every series the Grafana dashboard reads is documented; those a
		// gateway without webhooks has after a query are on /metrics.
		for _, name := range regexp.MustCompile(`procoregraph_[a-z_]+`).FindAllString(string(board), -1) {
			base := strings.TrimSuffix(name, "_bucket")
			if !strings.Contains(string(readme), "`"+base+"`") {
				t.Errorf("the dashboard reads %s, which README.md does not document", base)
			}
			if strings.HasPrefix(base, "procoregraph_webhook_") {
				continue
			}
			if !strings.Contains(metrics, "\n"+name) {
				t.Errorf("the dashboard reads %s, which /metrics does not show", name)
			}
		}
		if !strings.Contains(metrics, `procoregraph_graphql_operations_total{operation="Dashboard",type="query"} 1`) {
			t.Error("/metrics does not count the Dashboard query once")
		}
	})
	g.stop() // flushes the spans (telemetry.Tracing.Shutdown)

	spans := recv.received()
	byID := map[string]*tracepb.Span{}
	traces := map[string]bool{}
	for _, s := range spans {
		byID[hex.EncodeToString(s.SpanId)] = s
		traces[hex.EncodeToString(s.TraceId)] = true
	}
	t.Run("OneTraceContinuingTheCaller", func(t *testing.T) {
		if len(traces) != 1 || !traces[traceID] {
			t.Fatalf("spans belong to traces %v, want only the caller's %s", traces, traceID)
		}
		var server *tracepb.Span
		for _, s := range spans {
			if s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Name == "POST /graphql" {
				if server != nil {
					t.Fatal("two server spans for one request")
				}
				server = s
			}
		}
		if server == nil {
			t.Fatalf("no POST /graphql server span among %d spans", len(spans))
		}
		if got := hex.EncodeToString(server.ParentSpanId); got != parentID {
			t.Fatalf("server span's parent = %s, want the caller's span %s", got, parentID)
		}
		if v, _ := spanAttr(server, "procoregraph.request_id"); v != requestID {
			t.Fatalf("server span request id = %q, want %q", v, requestID)
		}
	})
	t.Run("OperationSpanNamesTypeAndCost", func(t *testing.T) {
		var op *tracepb.Span
		for _, s := range spans {
			if s.Name == "graphql.query Dashboard" {
				op = s
			}
		}
		if op == nil {
			t.Fatal("no graphql.query Dashboard span")
		}
		if v, _ := spanAttr(op, "graphql.operation.type"); v != "query" {
			t.Fatalf("operation type = %q, want query", v)
		}
		if v, _ := spanAttr(op, "procoregraph.estimated_procore_calls"); v != strconv.Itoa(r.Extensions.Procoregraph.EstimatedCalls) || v == "0" {
			t.Fatalf("estimated calls attribute = %q, want the cost analysis' %d", v, r.Extensions.Procoregraph.EstimatedCalls)
		}
	})
	t.Run("ProcoreCallSpansDescendFromTheRequestAndMatchTheSandboxCount", func(t *testing.T) {
		calls, batches := 0, 0
		for _, s := range spans {
			switch {
			case strings.HasPrefix(s.Name, "procore.call "):
				calls++
				if s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
					t.Fatalf("%s is not a client span", s.Name)
				}
				route, _ := spanAttr(s, "procore.route")
				if strings.Contains(route, "?") || regexp.MustCompile(`/[0-9]+(/|$)`).MatchString(route) {
					t.Fatalf("route attribute %q carries ids or a query", route)
				}
				if status, _ := spanAttr(s, "http.response.status_code"); status != "200" {
					t.Fatalf("%s: status attribute %q, want 200", s.Name, status)
				}
			case strings.HasPrefix(s.Name, "loader.batch "):
				batches++
			default:
				continue
			}
			if !descendsFromServer(s, byID) {
				t.Fatalf("%s does not descend from the POST /graphql span", s.Name)
			}
		}
		if int64(calls) != upstream {
			t.Fatalf("%d procore.call spans, the sandbox counted %d calls (%d API, %d token)", calls, upstream, st.Total, st.TokenRequests)
		}
		if batches == 0 {
			t.Fatal("no loader.batch span")
		}
		t.Logf("%d spans: %d procore.call = sandbox %d (%d API + %d token), %d loader.batch",
			len(spans), calls, upstream, st.Total, st.TokenRequests, batches)
	})
	t.Run("JSONLogLinesCarryTheTraceID", func(t *testing.T) {
		lines := 0
		for _, line := range strings.Split(g.stderr.String(), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("a log line is not JSON: %v\n%s", err, line)
			}
			if rec["request_id"] != requestID {
				continue
			}
			lines++
			if rec["trace_id"] != traceID {
				t.Fatalf("log line of the request has trace_id %v, want %s: %s", rec["trace_id"], traceID, line)
			}
			if rec["span_id"] == nil || rec["principal"] != "api_key:harness" {
				t.Fatalf("log line lacks span_id or principal: %s", line)
			}
		}
		t.Logf("%d JSON log lines of request %s, all with trace_id %s", lines, requestID, traceID)
		if lines == 0 {
			t.Fatalf("no JSON log line carries request id %s:\n%s", requestID, g.stderr)
		}
		if strings.Contains(g.stderr.String(), testAPIKey) || strings.Contains(g.stderr.String(), sandbox.DefaultClientSecret) {
			t.Fatal("a secret reached the logs")
		}
	})
}

// getMetrics returns g's /metrics text.
func getMetrics(t *testing.T, g *gatewayProc) string {
	t.Helper()
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return "\n" + string(b)
}

// descendsFromServer walks s's parents to the POST /graphql server span.
func descendsFromServer(s *tracepb.Span, byID map[string]*tracepb.Span) bool {
	for i := 0; i < 64 && s != nil; i++ {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Name == "POST /graphql" {
			return true
		}
		s = byID[hex.EncodeToString(s.ParentSpanId)]
	}
	return false
}

// TestLogFormatUnknownStopsTheStart: LOG_FORMAT is read strictly.
func TestLogFormatUnknownStopsTheStart(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), nil, func(k string) string {
		if k == "LOG_FORMAT" {
			return "yaml"
		}
		return ""
	}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Fatalf("run with LOG_FORMAT=yaml: %v, want a LOG_FORMAT error", err)
	}
}
