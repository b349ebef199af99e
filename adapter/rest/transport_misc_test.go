package rest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/adapter"
)

// headerEcho answers with the Procore-Company-Id it received.
func headerEcho(seen *sync.Map) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path, r.Header.Get(companyHeader))
	})
}

func TestCompanyHeader(t *testing.T) {
	var seen sync.Map
	srv := httptest.NewServer(headerEcho(&seen))
	defer srv.Close()
	var resolved atomic.Int64
	newRT := func(known int64, resolveErr error) http.RoundTripper {
		return &companyTransport{
			known: func() (int64, bool) { return known, known != 0 },
			resolve: func(context.Context) (int64, error) {
				resolved.Add(1)
				return 77, resolveErr
			},
			next: baseTransport(),
		}
	}
	send := func(rt http.RoundTripper, path, preset string) error {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if preset != "" {
			req.Header.Set(companyHeader, preset)
		}
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	header := func(path string) string { v, _ := seen.Load(path); return v.(string) }

	t.Run("SetOnProjectScopedCalls", func(t *testing.T) {
		send(newRT(0, nil), "/rest/v1.0/projects/5/rfis", "")
		if header("/rest/v1.0/projects/5/rfis") != "77" {
			t.Fatalf("header %q, want the resolved company 77", header("/rest/v1.0/projects/5/rfis"))
		}
	})
	t.Run("ExplicitHeaderWins", func(t *testing.T) {
		send(newRT(77, nil), "/rest/v1.1/projects", "9")
		if header("/rest/v1.1/projects") != "9" {
			t.Fatalf("header %q, want the caller's 9", header("/rest/v1.1/projects"))
		}
	})
	t.Run("MeWithoutKnownCompanyNeverDiscovers", func(t *testing.T) {
		resolved.Store(0)
		send(newRT(0, nil), "/rest/v1.0/me", "")
		send(newRT(0, nil), "/rest/v1.0/companies", "")
		if header("/rest/v1.0/me") != "" || header("/rest/v1.0/companies") != "" || resolved.Load() != 0 {
			t.Fatalf("me %q companies %q resolved %d: want no header and no discovery", header("/rest/v1.0/me"),
				header("/rest/v1.0/companies"), resolved.Load())
		}
	})
	t.Run("MeAndCompaniesCarryAKnownCompany", func(t *testing.T) {
		send(newRT(31, nil), "/rest/v1.0/me", "")
		send(newRT(31, nil), "/rest/v1.0/companies", "")
		if header("/rest/v1.0/me") != "31" || header("/rest/v1.0/companies") != "31" {
			t.Fatal("a known company was not sent on /me and /companies (client-credentials tokens need it)")
		}
	})
	t.Run("DiscoveryFailureFailsTheCall", func(t *testing.T) {
		err := send(newRT(0, adapter.Errorf(adapter.CodeBadUserInput, "configure the company id")), "/rest/v1.0/projects/6/rfis", "")
		if adapter.ErrorCode(err) != adapter.CodeBadUserInput {
			t.Fatalf("err %v, want the discovery error", err)
		}
	})
}

func TestConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
	}))
	defer srv.Close()
	rt := newConcurrencyTransport(3, baseTransport())
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let every goroutine reach the server or the semaphore
	if p := peak.Load(); p != 3 {
		t.Errorf("peak in flight %d before release, want 3", p)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Fatalf("peak in flight %d, want at most 3", p)
	}
}

func TestConcurrencyWaitRespectsContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	rt := newConcurrencyTransport(1, baseTransport())
	go func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline while waiting for a slot", err)
	}
}

func TestObserveReportsEveryCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) }))
	defer srv.Close()
	type rec struct {
		method, route string
		status        int
	}
	var mu sync.Mutex
	var got []rec
	rt := &observeTransport{clock: newFakeClock(), logger: quietLogger(), next: baseTransport(),
		on: func(m, r string, s int, d time.Duration) {
			mu.Lock()
			got = append(got, rec{m, r, s})
			mu.Unlock()
		}}
	req, _ := http.NewRequest("GET", srv.URL+"/rest/v1.0/projects/5000000001/rfis/5000000002?per_page=100&sig=secret", nil)
	resp, _ := rt.RoundTrip(req)
	resp.Body.Close()
	req, _ = http.NewRequest("PATCH", "http://127.0.0.1:1/rest/v1.1/projects/7/uploads/01J9ZKQ4W5X6Y7Z8A9B0C1D2E3", nil)
	rt.RoundTrip(req)
	want := []rec{
		{"GET", "/rest/v1.0/projects/{id}/rfis/{id}", 418},
		{"PATCH", "/rest/v1.1/projects/{id}/uploads/{id}", 0},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("reported %+v, want %+v", got, want)
	}
}

func TestRouteTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/rest/v1.0/me":                                  "/rest/v1.0/me",
		"/rest/v1.3/companies/4294967297/users":          "/rest/v1.3/companies/{id}/users",
		"/rest/v1.0/work_order_contracts/12/line_items":  "/rest/v1.0/work_order_contracts/{id}/line_items",
		"/rest/v1.0/budget_views/3/detail_rows":          "/rest/v1.0/budget_views/{id}/detail_rows",
		"/_uploads/8f14e45fceea167a5a36dedd4bea2543":     "/_uploads/{id}",
		"/rest/v1.0/projects/9/commitment_change_orders": "/rest/v1.0/projects/{id}/commitment_change_orders",
	} {
		if got := routeTemplate(in); got != want {
			t.Errorf("routeTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}
