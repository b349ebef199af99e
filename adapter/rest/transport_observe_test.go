package rest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

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
