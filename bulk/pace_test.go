package bulk

import (
	"context"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/limits"
	"procoregraph/principal"
	"procoregraph/ratelimit"
	"procoregraph/tenant"
)

// windowProcore is a Procore whose rate-limit window has 5 of 100 calls
// left until reset, and is whole after it.
type windowProcore struct {
	adapter.Procore
	reset time.Time
	mu    sync.Mutex
	asked int
}

func (w *windowProcore) RateLimit(context.Context) (adapter.RateLimitStatus, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked++
	if time.Now().Before(w.reset) {
		return adapter.RateLimitStatus{Limit: 100, Remaining: 5, ResetAt: w.reset}, true
	}
	return adapter.RateLimitStatus{Limit: 100, Remaining: 100}, true
}

func TestPacerWaitsForTheWindowBelowTheReserve(t *testing.T) {
	w := &windowProcore{reset: time.Now().Add(300 * time.Millisecond)}
	o := Owner{Key: "k", RateKey: "apikey:a", Conn: &tenant.Connection{Procore: w}}
	p := &BudgetPacer{Schema: schema, Reserve: 0.2}
	if err := p.Wait(context.Background(), o, `{ projects { nodes { id } } }`, nil); err != nil {
		t.Fatal(err)
	}
	if !time.Now().After(w.reset) || w.asked < 2 {
		t.Fatalf("the pacer let a page through with 5%% of the window left (asked %d times)", w.asked)
	}
	// Canceled while waiting: the wait ends with the context.
	w.reset = time.Now().Add(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx, o, `{ projects { nodes { id } } }`, nil); err == nil {
		t.Fatal("a canceled wait succeeded")
	}
}

func TestPacerSpendsABudgetApartFromTheCallersOwn(t *testing.T) {
	rates := ratelimit.New(ratelimit.NewMemory(), ratelimit.Options{Calls: ratelimit.Policy{Name: "calls", Limit: 5, Window: time.Minute, Burst: 5}})
	w := &windowProcore{}
	o := Owner{Key: "k", RateKey: "apikey:a", Principal: principal.Principal{Kind: principal.KindAPIKey, Name: "a"}, Conn: &tenant.Connection{Procore: w}}
	p := &BudgetPacer{Schema: schema, Analyzer: limits.NewAnalyzer(limits.Options{}, limits.Rules()), Rates: rates, Reserve: -1}
	// projects(first: 300): 1 estimated call, 5 pages spend the burst.
	for range 5 {
		if err := p.Wait(context.Background(), o, `{ projects(first: 300) { nodes { id } } }`, nil); err != nil {
			t.Fatal(err)
		}
	}
	if res, _ := rates.Calls(context.Background(), "bulk:apikey:a", 1, 0); res.Allowed {
		t.Fatal("the export's budget was not spent")
	}
	if res, _ := rates.Calls(context.Background(), "apikey:a", 5, 0); !res.Allowed {
		t.Fatal("the export spent the caller's interactive budget")
	}
}
