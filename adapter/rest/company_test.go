package rest

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// TestForCompany: clients of one credential for several companies send
// their own Procore-Company-Id, fetch one token between them and learn one
// rate-limit budget.
func TestForCompany(t *testing.T) {
	f := newFakeProcore(t)
	var mu sync.Mutex
	seen := map[string]int{}
	f.Mux.HandleFunc("GET /rest/v1.1/projects", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get(companyHeader)]++
		mu.Unlock()
		w.Header().Set("X-Rate-Limit-Limit", "3600")
		w.Header().Set("X-Rate-Limit-Remaining", "3000")
		w.Header().Set("X-Rate-Limit-Reset", "4000000000")
		writeJSON(w, http.StatusOK, []any{})
	})
	a := newTestClient(t, f.URL, nil)
	b, err := a.ForCompany(43)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ok := a.RateLimit(ctx); ok {
		t.Fatal("a rate-limit window before any response")
	}
	for i, c := range []*Client{b, b, a} {
		if i == 2 {
			if _, ok := a.RateLimit(ctx); !ok {
				t.Fatal("a knows no rate-limit window after b's calls: the budget is not shared")
			}
		}
		if _, err := c.do(ctx, call{what: "list projects", method: http.MethodGet, path: "/rest/v1.1/projects",
			query: companyQuery(c.cfg.CompanyID)}); err != nil {
			t.Fatal(err)
		}
	}
	if seen["42"] != 1 || seen["43"] != 2 || len(seen) != 2 {
		t.Fatalf("company headers sent %v, want 42 once and 43 twice", seen)
	}
	if n := f.TokenGrants.Load(); n != 1 {
		t.Fatalf("%d token grants, want 1 shared by both companies", n)
	}
	if got, _ := b.CompanyID(ctx); got != 43 {
		t.Fatalf("CompanyID %d, want 43", got)
	}
	sa, oka := a.RateLimit(ctx)
	sb, okb := b.RateLimit(ctx)
	if !oka || !okb || sa != sb {
		t.Fatalf("rate-limit views %+v (%v) and %+v (%v), want one shared budget", sa, oka, sb, okb)
	}

	if _, err := a.ForCompany(0); err == nil {
		t.Fatal("ForCompany(0) succeeded, want an error")
	}
}
