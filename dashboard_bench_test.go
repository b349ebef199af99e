package main

import (
	"os"
	"strconv"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// BenchmarkDashboard runs bench/queries/dashboard.graphql in process over a
// sandbox with no latency (20 projects × 20 RFIs, 20 submittals, 6
// commitments), so a CPU profile shows the gateway's own work:
//
//	go test -run '^$' -bench Dashboard -cpuprofile cpu.out .
//
// "cold" fills an empty cache, "uncached" runs without a cache (every call
// goes to the sandbox), "warm" answers from the whole-answer cache and
// "warm-data-cache" executes the query over the data cache. Latency with a realistic per-call delay is bench/'s job.
//
// Each plain mode also reports cpu-ms/query: the CPU time of the whole
// test process (gateway, sandbox and the client decoding the answer) per
// query, which unlike ns/op does not fall when the work spreads over more
// cores. Other load on the machine inflates it; compare runs made side by
// side and prefer the lowest of several.
//
// "tracing/<mode>" measures what tracing costs: two
// gateways of the same mode, one without OTEL_* and one exporting every span
// (OTEL_TRACES_SAMPLER=always_on) over OTLP/HTTP to a receiver that discards
// them, queried alternately in one loop so that both see the same machine
// load. They report off-ms/query, on-ms/query and on/off (BENCHMARKS.md).
//
// DASHBOARD_PROJECTS sets the number of projects (default 20; issue 18's
// figures are at 7).
func BenchmarkDashboard(b *testing.B) {
	_, env := startSandbox(b, sandbox.Config{
		Seed:        1,
		Data:        data.Options{Companies: 1, ProjectsPerCompany: dashboardProjects(b), ItemsPerProject: 20, CommitmentsPerProject: 6},
		HourlyLimit: -1, SpikeLimit: -1,
	})
	q := readQuery(b, "bench/queries/dashboard.graphql")
	// cold: a fresh gateway (empty in-memory cache) per query, so the cost
	// of filling the cache is included.
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			g := startGateway(b, env, "-max-concurrency", "100")
			b.StartTimer()
			if r := g.query(b, q, nil); len(r.Errors) > 0 {
				b.Fatalf("errors: %v", r.Errors)
			}
			b.StopTimer()
			g.stop()
			b.StartTimer()
		}
	})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"uncached", []string{"-no-cache", "-max-concurrency", "100"}},
		{"warm", []string{"-max-concurrency", "100"}},
		// warm-data-cache: every value from the data cache, the query
		// executed each time (what a query whose variables differ costs).
		{"warm-data-cache", []string{"-no-response-cache", "-max-concurrency", "100"}},
		// every-field: the same with gqlgen executing every field (no
		// plain sub-trees), the baseline of package plaintree.
		{"uncached-every-field", []string{"-no-cache", "-max-concurrency", "100", "-no-plain-trees"}},
		{"warm-data-cache-every-field", []string{"-no-response-cache", "-max-concurrency", "100", "-no-plain-trees"}},
	} {
		b.Run("tracing/"+c.name, func(b *testing.B) {
			recv := newOTLPReceiver(b, false)
			traced := copyEnv(env)
			traced["OTEL_EXPORTER_OTLP_ENDPOINT"] = recv.URL
			traced["OTEL_TRACES_SAMPLER"] = "always_on"
			gs := [2]*gatewayProc{startGateway(b, env, c.args...), startGateway(b, traced, c.args...)}
			for _, g := range gs {
				if r := g.query(b, q, nil); len(r.Errors) > 0 {
					b.Fatalf("errors: %v", r.Errors)
				}
			}
			var spent [2]time.Duration
			n := 0
			b.ResetTimer()
			for b.Loop() {
				for k := range 2 {
					i := (n + k) % 2 // alternate which goes first
					start := time.Now()
					if r := gs[i].query(b, q, nil); len(r.Errors) > 0 {
						b.Fatalf("errors: %v", r.Errors)
					}
					spent[i] += time.Since(start)
				}
				n++
			}
			off, on := spent[0].Seconds()*1e3/float64(n), spent[1].Seconds()*1e3/float64(n)
			b.ReportMetric(off, "off-ms/query")
			b.ReportMetric(on, "on-ms/query")
			b.ReportMetric(on/off, "on/off")
			b.StopTimer()
			gs[1].stop() // flushes the spans not yet exported
			if recv.exports() == 0 {
				b.Fatal("the traced gateway exported no spans")
			}
		})
		b.Run(c.name, func(b *testing.B) {
			g := startGateway(b, env, c.args...)
			if r := g.query(b, q, nil); len(r.Errors) > 0 {
				b.Fatalf("errors: %v", r.Errors)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for b.Loop() {
				if r := g.query(b, q, nil); len(r.Errors) > 0 {
					b.Fatalf("errors: %v", r.Errors)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/query")
		})
	}
}

// dashboardProjects is DASHBOARD_PROJECTS, or 20.
func dashboardProjects(b *testing.B) int {
	v := os.Getenv("DASHBOARD_PROJECTS")
	if v == "" {
		return 20
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("DASHBOARD_PROJECTS=%q: want a positive number", v)
	}
	return n
}
