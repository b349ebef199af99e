package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestReplicasShareProcoresBudget: two replicas sharing Redis, over a
// sandbox whose spike window allows 25 calls per 10 s per token, serve 8
// concurrent clients (4 each, cache off so every answer costs Procore
// calls) without a single Procore 429, and every answer is complete; the
// replicas' procoreRateLimit shows the same window. (Replicas pacing alone
// each think the window is theirs and get 429s: see the adapter's
// TestSharedBudgetAgainstSandbox control.)
func TestReplicasShareProcoresBudget(t *testing.T) {
	redis := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: 25, SpikeWindow: 10 * time.Second,
		Faults: sandbox.Faults{Latency: sandbox.Duration(20 * time.Millisecond)},
		Data:   data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 3}})
	env["REDIS_URL"] = redis
	env["CACHE_PREFIX"] = randomPrefix(t)
	// The load needs about 40 s of windows (96 calls at 25 per 10 s): on a
	// loaded machine one query can wait longer than the default 30 s
	// operation deadline and end RATE_LIMITED (a CI run saw it). The deadline
	// is not what this test is about: give the operations room.
	a := startGateway(t, copyEnv(env), "-no-cache", "-no-response-cache", "-operation-timeout", "3m")
	b := startGateway(t, copyEnv(env), "-no-cache", "-no-response-cache", "-operation-timeout", "3m")
	const q = `{ projects(first: 5) { totalCount nodes { id rfis(first: 3) { totalCount nodes { id } } } } }`
	sb.ResetStats()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		g := []*gatewayProc{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				r := g.query(t, q, nil)
				var d struct {
					Projects struct {
						TotalCount int
						Nodes      []struct {
							Rfis struct {
								TotalCount int
								Nodes      []struct{ ID string }
							}
						}
					}
				}
				if err := json.Unmarshal(r.Data, &d); err != nil || len(r.Errors) > 0 || d.Projects.TotalCount == 0 || len(d.Projects.Nodes) != min(5, d.Projects.TotalCount) {
					errs <- fmt.Errorf("incomplete answer: %s %+v", r.Data, r.Errors)
					return
				}
				for _, n := range d.Projects.Nodes {
					if len(n.Rfis.Nodes) != min(3, n.Rfis.TotalCount) {
						errs <- fmt.Errorf("incomplete RFIs: %s", r.Data)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := sb.Stats()
	if st.RateLimited != 0 {
		t.Fatalf("the replicas made %d calls Procore refused with 429 (of %d)", st.RateLimited, st.Total)
	}
	t.Logf("%d Procore calls by two replicas, none refused", st.Total)
	var windows []string
	for _, g := range []*gatewayProc{a, b} {
		r := g.query(t, `{ procoreRateLimit { limit remaining resetAt } }`, nil)
		if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"limit":25`) {
			t.Fatalf("procoreRateLimit on %s: %s %+v", g.URL, r.Data, r.Errors)
		}
		windows = append(windows, string(r.Data))
	}
	t.Logf("procoreRateLimit: %v", windows)
}
