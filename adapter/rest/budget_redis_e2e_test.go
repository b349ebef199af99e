package rest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// replicaLoad is the outcome of replicasUnderLoad.
type replicaLoad struct {
	stats    sandbox.Stats
	failures int64
	clients  []*Client
	elapsed  time.Duration
	warnings int64 // logged by the clients (a shared budget standing down)
}

const (
	loadWorkers = 8
	loadCalls   = 7 // per worker: 56 list calls, plus one warm-up call per replica
)

// replicasUnderLoad starts a sandbox with a 25-per-10-s spike window and, as
// two replicas of one connection, two Clients sharing one Procore token (one
// token store) and the given budget stores (nil: each its own budget). Then 8
// goroutines, alternating between the replicas, make list calls.
func replicasUnderLoad(t *testing.T, stores [2]BudgetStore) replicaLoad {
	t.Helper()
	run, err := sandbox.Start(context.Background(), sandbox.Config{Seed: 7, SpikeLimit: 25, SpikeWindow: 10 * time.Second,
		HourlyLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: 5},
		// Some latency, as Procore has, so that calls overlap in flight.
		Faults: sandbox.Faults{Latency: sandbox.Duration(100 * time.Millisecond), Jitter: sandbox.Duration(100 * time.Millisecond)},
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	companyID, projectID := run.FirstProject()
	tokens := NewMemoryTokenStore(nil)
	var out replicaLoad
	var warnings atomic.Int64
	logger := slog.New(countingHandler{&warnings})
	for _, store := range stores {
		c, err := New(Config{APIURL: run.URL, ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
			CompanyID: companyID, Logger: logger, TokenStore: tokens, SharedBudget: store})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.CloseIdleConnections)
		out.clients = append(out.clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list := func(c *Client) error {
		_, err := c.RFIs(ctx, projectID, adapter.ListOptions{Limit: 1})
		return err
	}
	// One after the other, so that the second replica finds the first one's
	// token in the store: both spend one Procore window, as replicas do.
	for _, c := range out.clients {
		if err := list(c); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range loadWorkers {
		c := out.clients[w%2]
		wg.Go(func() {
			for range loadCalls {
				if err := list(c); err != nil {
					failures.Add(1)
					t.Log(err)
				}
			}
		})
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	out.failures = failures.Load()
	out.stats = run.Stats()
	out.warnings = warnings.Load()
	if len(out.stats.ByToken) != 1 {
		t.Fatalf("the replicas used %d Procore tokens, want 1 (shared through the token store)", len(out.stats.ByToken))
	}
	return out
}

func TestE2EReplicasSharingARedisBudgetStayWithinTheWindow(t *testing.T) {
	cachetest.URL(t) // both halves need Redis to mean anything
	const route = "GET /rest/v1.0/projects/{project_id}/rfis"

	t.Run("SharedBudget", func(t *testing.T) {
		t.Parallel()
		bs, _ := sharedBudgets(t, 2, RedisBudgetOptions{})
		r := replicasUnderLoad(t, [2]BudgetStore{bs[0], bs[1]})
		t.Logf("shared budget: %d calls in %v, %d refused with 429", r.stats.Total, r.elapsed.Round(time.Millisecond), r.stats.RateLimited)
		if r.failures != 0 {
			t.Fatalf("%d calls failed", r.failures)
		}
		if r.warnings != 0 {
			t.Fatalf("%d warnings: the shared budget stood down (Redis failed)", r.warnings)
		}
		if r.stats.RateLimited != 0 {
			t.Fatalf("Procore answered 429 %d times: the replicas together overran the window", r.stats.RateLimited)
		}
		if n := r.stats.ByRoute[route]; n != 2+loadWorkers*loadCalls {
			t.Fatalf("%d list calls, want %d (one per list, none repeated)", n, 2+loadWorkers*loadCalls)
		}
		// Both replicas report the one window learned in Redis.
		a, okA := r.clients[0].RateLimit(context.Background())
		b, okB := r.clients[1].RateLimit(context.Background())
		if !okA || !okB || a != b || a.Limit != 25 {
			t.Fatalf("RateLimit: %+v (%v) and %+v (%v), want the same shared window of 25", a, okA, b, okB)
		}
	})

	t.Run("ControlWithoutSharedBudget", func(t *testing.T) {
		t.Parallel()
		r := replicasUnderLoad(t, [2]BudgetStore{nil, nil})
		t.Logf("control: %d calls in %v, %d refused with 429, %d failed", r.stats.Total, r.elapsed.Round(time.Millisecond), r.stats.RateLimited, r.failures)
		if r.stats.RateLimited == 0 {
			t.Fatal("no 429 without the shared budget: the load does not exercise what the shared budget prevents")
		}
	})
}
