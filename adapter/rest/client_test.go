package rest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"procoregraph/adapter"
)

func TestNewValidatesConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"MissingAPIURL":      {Config{ClientID: "a", ClientSecret: "b"}, "APIURL is required"},
		"RelativeAPIURL":     {Config{APIURL: "api.procore.com", ClientID: "a", ClientSecret: "b"}, "absolute http(s) URL"},
		"MissingClient":      {Config{APIURL: "https://api.procore.com"}, "ClientID is required"},
		"NegativeCompany":    {Config{APIURL: "https://api.procore.com", ClientID: "a", ClientSecret: "b", CompanyID: -1}, "CompanyID"},
		"CredentialsSuffice": {Config{APIURL: "https://api.procore.com", Credentials: staticCreds{}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("SecretNotInError", func(t *testing.T) {
		_, err := New(Config{APIURL: "::", ClientID: "a", ClientSecret: "s3cr3t"})
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("err %v", err)
		}
	})
}

func companiesServer(t *testing.T, companies []map[string]any, requireHeader bool) (*fakeProcore, *atomic.Int64) {
	f := newFakeProcore(t)
	var n atomic.Int64
	f.Mux.HandleFunc("GET /rest/v1.0/companies", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if requireHeader && r.Header.Get(companyHeader) == "" {
			writeJSON(w, 400, map[string]string{"errors": "Missing Procore-Company-Id header!"})
			return
		}
		writeJSON(w, 200, companies)
	})
	f.Mux.HandleFunc("GET /rest/v1.0/projects/5/rfis", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(companyHeader) != "4300000001" {
			writeJSON(w, 404, map[string]string{"errors": "not found"})
			return
		}
		writeJSON(w, 200, []any{})
	})
	return f, &n
}

func TestCompanyDiscovery(t *testing.T) {
	ctx := context.Background()
	t.Run("OneCompanyIsUsed", func(t *testing.T) {
		f, n := companiesServer(t, []map[string]any{{"id": "4300000001", "name": "Acme", "is_active": true}}, false)
		c := newTestClient(t, f.URL, func(cfg *Config) { cfg.CompanyID = 0 })
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if _, err := c.RFIs(ctx, 5, adapter.ListOptions{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if id, err := c.CompanyID(ctx); err != nil || id != 4300000001 || n.Load() != 1 {
			t.Fatalf("company %d, %v after %d discoveries; want 4300000001 after 1", id, err, n.Load())
		}
	})
	t.Run("SeveralCompaniesNeedConfiguration", func(t *testing.T) {
		f, _ := companiesServer(t, []map[string]any{{"id": 1}, {"id": 2}}, false)
		c := newTestClient(t, f.URL, func(cfg *Config) { cfg.CompanyID = 0 })
		_, err := c.RFIs(ctx, 5, adapter.ListOptions{})
		if adapter.ErrorCode(err) != adapter.CodeBadUserInput || !strings.Contains(err.Error(), "2 companies") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("HeaderRequiredEvenForCompanies", func(t *testing.T) {
		f, _ := companiesServer(t, []map[string]any{{"id": 1}}, true)
		c := newTestClient(t, f.URL, func(cfg *Config) { cfg.CompanyID = 0 })
		_, err := c.CompanyID(ctx)
		if adapter.ErrorCode(err) != adapter.CodeBadUserInput || !strings.Contains(err.Error(), "configure the company id") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("ConfiguredCompanyMakesNoCall", func(t *testing.T) {
		f, n := companiesServer(t, nil, false)
		c := newTestClient(t, f.URL, func(cfg *Config) { cfg.CompanyID = 4300000001 })
		if _, err := c.RFIs(ctx, 5, adapter.ListOptions{}); err != nil || n.Load() != 0 {
			t.Fatalf("%v, %d discoveries", err, n.Load())
		}
	})
}

// sessionCreds is a browser-session credential: a cookie plus an X-CSRF-Token
// on writes, re-established (a "login") when invalidated.
type sessionCreds struct {
	mu      sync.Mutex
	session string
	logins  atomic.Int64
}

func (s *sessionCreds) Apply(ctx context.Context, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == "" {
		s.logins.Add(1)
		s.session = "sess-" + itoa(int(s.logins.Load()))
	}
	r.AddCookie(&http.Cookie{Name: "_procore_session", Value: s.session})
	if r.Method != http.MethodGet {
		r.Header.Set("X-CSRF-Token", "csrf-"+s.session)
	}
	return nil
}

func (s *sessionCreds) Invalidate(ctx context.Context, refused *http.Request, reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, err := refused.Cookie("_procore_session"); err == nil && c.Value == s.session {
		s.session = ""
	}
}

func TestBrowserSessionCredentialsReplaceOAuth(t *testing.T) {
	var valid atomic.Value
	valid.Store("sess-1")
	var tokenCalls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			tokenCalls.Add(1)
		}
		c, err := r.Cookie("_procore_session")
		if err != nil || c.Value != valid.Load().(string) || r.Header.Get("Authorization") != "" {
			// Procore's web app sends an expired session to the login page.
			w.Header().Set("Location", "/login")
			w.WriteHeader(http.StatusFound)
			return
		}
		if r.Method != http.MethodGet && r.Header.Get("X-CSRF-Token") != "csrf-"+c.Value {
			writeJSON(w, 422, map[string]string{"error": "Invalid authenticity token"})
			return
		}
		switch r.URL.Path {
		case "/rest/v1.0/me":
			writeJSON(w, 200, map[string]any{"id": 7, "login": "demo@example.com", "name": "Dana Demo"})
		case "/rest/v1.0/projects/5/rfis/8":
			writeJSON(w, 200, map[string]any{"id": 8, "status": "closed"})
		}
	}))
	defer srv.Close()
	creds := &sessionCreds{}
	c := newTestClient(t, srv.URL, func(cfg *Config) { cfg.Credentials = creds; cfg.ClientID, cfg.ClientSecret = "", "" })
	ctx := context.Background()
	me, err := c.Me(ctx)
	if err != nil || me.Login != "demo@example.com" {
		t.Fatalf("%+v %v", me, err)
	}
	rfi, err := c.SetRFIAccepted(ctx, 5, 8, true)
	if err != nil || rfi.Status != adapter.RFIStatusClosed {
		t.Fatalf("write over the session: %+v %v", rfi, err)
	}
	valid.Store("sess-2") // the session expired; the next call must log in once and go on
	if _, err := c.Me(ctx); err != nil {
		t.Fatal(err)
	}
	if creds.logins.Load() != 2 || tokenCalls.Load() != 0 {
		t.Fatalf("%d logins, %d token calls; want exactly one re-login and no OAuth", creds.logins.Load(), tokenCalls.Load())
	}
	valid.Store("never")
	if _, err := c.Me(ctx); adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
		t.Fatalf("a session that keeps failing: %v, want UNAUTHENTICATED after one re-login", err)
	}
}

func TestUploadFlow(t *testing.T) {
	data := []byte("hello procore")
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	f := newFakeProcore(t)
	var putAuth, putSHA string
	var completeBody []byte
	var storage *httptest.Server
	storage = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		putAuth = r.Header.Get("Authorization") + r.Header.Get(companyHeader)
		putSHA = r.Header.Get("x-amz-content-sha256")
		b, _ := io.ReadAll(r.Body)
		if string(b) != string(data) {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("ETag", `"etag-1"`)
	}))
	defer storage.Close()
	f.Mux.HandleFunc("POST /rest/v1.1/projects/9/uploads", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Segments []struct {
				Size   int    `json:"size"`
				SHA256 string `json:"sha256"`
			} `json:"segments"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		if len(in.Segments) != 1 || in.Segments[0].SHA256 != hexSum || in.Segments[0].Size != len(data) {
			writeJSON(w, 422, map[string]any{"errors": map[string][]string{"segments": {"is invalid"}}})
			return
		}
		writeJSON(w, 201, map[string]any{"uuid": "01J9ZKQ4W5X6Y7Z8A9B0C1D2E3", "status": "ready",
			"segments": []map[string]any{{"url": storage.URL + "/part/1?X-Amz-Signature=abc", "headers": map[string]string{"x-amz-content-sha256": hexSum, "content-length": "13"}}}})
	})
	f.Mux.HandleFunc("PATCH /rest/v1.1/projects/9/uploads/01J9ZKQ4W5X6Y7Z8A9B0C1D2E3", func(w http.ResponseWriter, r *http.Request) {
		completeBody, _ = io.ReadAll(r.Body)
		writeJSON(w, 200, map[string]any{"uuid": "01J9ZKQ4W5X6Y7Z8A9B0C1D2E3", "status": "complete"})
	})
	c := newTestClient(t, f.URL, nil)
	id, err := c.Upload(context.Background(), 9, adapter.UploadInput{Filename: "a.txt", Data: data})
	if err != nil || id != "01J9ZKQ4W5X6Y7Z8A9B0C1D2E3" {
		t.Fatalf("%q %v", id, err)
	}
	if putAuth != "" || putSHA != hexSum {
		t.Fatalf("PUT carried auth %q / sha header %q", putAuth, putSHA)
	}
	if string(completeBody) != `{"segments":[{"etag":"\"etag-1\""}]}` {
		t.Fatalf("completion body %s", completeBody)
	}

	t.Run("RefusedAtCompletionIsBadUserInput", func(t *testing.T) {
		srv := newFakeProcore(t)
		srv.Mux.HandleFunc("POST /rest/v1.1/projects/9/uploads", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, map[string]any{"uuid": "U1", "segments": []map[string]any{{"url": storage.URL + "/p", "headers": map[string]string{}}}})
		})
		srv.Mux.HandleFunc("PATCH /rest/v1.1/projects/9/uploads/U1", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 422, map[string]any{"error": map[string]string{"code": "unprocessable_entity", "message": "The uploaded bytes do not match the declared sha256"}})
		})
		_, err := newTestClient(t, srv.URL, nil).Upload(context.Background(), 9, adapter.UploadInput{Filename: "a.txt", Data: data})
		var ae *adapter.Error
		if !asAdapterError(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) != 1 || ae.Fields[0].Field[0] != "sha256" ||
			!strings.Contains(ae.Message, "do not match") {
			t.Fatalf("%+v", err)
		}
	})
}

func TestUploadErrorsLeakNoPresignedSignature(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	f := newFakeProcore(t)
	f.Mux.HandleFunc("POST /rest/v1.1/projects/9/uploads", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, map[string]any{"uuid": "U1", "segments": []map[string]any{{"url": deadURL + "/p?X-Amz-Signature=SECRETSIG"}}})
	})
	_, err := newTestClient(t, f.URL, func(c *Config) { c.Retry.MaxAttempts = 2 }).Upload(context.Background(), 9,
		adapter.UploadInput{Filename: "a.txt", Data: []byte("x")})
	if adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable || strings.Contains(err.Error(), "SECRETSIG") {
		t.Fatalf("%v: want UPSTREAM_UNAVAILABLE without the presigned signature", err)
	}
}

func TestWritesValidateBeforeAnyCall(t *testing.T) {
	f := newFakeProcore(t)
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	hundredOne := mustDec("101")
	for name, call := range map[string]func() error{
		"RFIWithoutSubject": func() error {
			_, err := c.CreateRFI(ctx, 1, adapter.RFICreate{Question: "q", ManagerID: 1})
			return err
		},
		"SubmittalNoNumber": func() error { _, err := c.CreateSubmittal(ctx, 1, adapter.SubmittalCreate{Title: "t"}); return err },
		"SpecSectionText": func() error {
			_, err := c.CreateSubmittal(ctx, 1, adapter.SubmittalCreate{Number: "1", SpecSection: "03 30 00"})
			return err
		},
		"EmptyWorkflowStep": func() error {
			_, err := c.CreateSubmittal(ctx, 1, adapter.SubmittalCreate{Number: "1", Steps: []adapter.SubmittalStep{{}}})
			return err
		},
		"POStatusOnSubcontract": func() error {
			_, err := c.CreateCommitment(ctx, 1, adapter.CommitmentCreate{Kind: adapter.CommitmentSubcontract, Status: adapter.CommitmentReceived})
			return err
		},
		"RetainageOver100": func() error {
			_, err := c.CreateCommitment(ctx, 1, adapter.CommitmentCreate{Kind: adapter.CommitmentSubcontract, RetainagePercent: hundredOne})
			return err
		},
		"UnknownKind": func() error {
			_, err := c.CreateCommitment(ctx, 1, adapter.CommitmentCreate{Kind: "LEASE"})
			return err
		},
		"UnknownInvoiceStatus": func() error {
			_, err := c.UpdateInvoiceStatus(ctx, 1, 2, adapter.InvoiceUnknown)
			return err
		},
		"InvoiceRetainageOver100": func() error {
			_, err := c.CreateInvoice(ctx, 1, adapter.InvoiceCreate{CommitmentID: 1, PeriodID: 1,
				Items: []adapter.InvoiceItemInput{{LineItemID: 1, WorkCompletedRetainagePercent: *hundredOne}}})
			return err
		},
		"NonPositiveID": func() error { _, err := c.RFI(ctx, 0, 1); return err },
		"BackwardsRange": func() error {
			_, err := c.DailyLogs(ctx, 1, adapter.DateRange{From: adapter.Date{Year: 2026, Month: 2, Day: 2}, To: adapter.Date{Year: 2026, Month: 1, Day: 1}})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); adapter.ErrorCode(err) != adapter.CodeBadUserInput {
				t.Fatalf("%v, want BAD_USER_INPUT", err)
			}
		})
	}
	if f.Calls.Load() != 0 || f.TokenGrants.Load() != 0 {
		t.Fatalf("%d API calls and %d token grants for invalid input", f.Calls.Load(), f.TokenGrants.Load())
	}
}
