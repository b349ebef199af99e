package main

import (
	"testing"

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
func BenchmarkDashboard(b *testing.B) {
	_, env := startSandbox(b, sandbox.Config{
		Seed:        1,
		Data:        data.Options{Companies: 1, ProjectsPerCompany: 20, ItemsPerProject: 20, CommitmentsPerProject: 6},
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
	} {
		b.Run(c.name, func(b *testing.B) {
			g := startGateway(b, env, c.args...)
			if r := g.query(b, q, nil); len(r.Errors) > 0 {
				b.Fatalf("errors: %v", r.Errors)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if r := g.query(b, q, nil); len(r.Errors) > 0 {
					b.Fatalf("errors: %v", r.Errors)
				}
			}
		})
	}
}
