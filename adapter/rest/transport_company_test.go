package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

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
