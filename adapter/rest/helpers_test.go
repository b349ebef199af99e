package rest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock whose Sleep advances time at once and records the wait.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock {
	// Whole seconds (HTTP-dates and rate-limit resets have second resolution),
	// near the wall clock so that real context deadlines relate to it.
	return &fakeClock{now: time.Now().UTC().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func (c *fakeClock) TotalSlept() time.Duration {
	var sum time.Duration
	for _, d := range c.Slept() {
		sum += d
	}
	return sum
}

// quietLogger discards logs.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fakeProcore is an httptest server with a client-credentials token endpoint
// and a mux for API routes. It counts token grants and API calls.
type fakeProcore struct {
	*httptest.Server
	Mux         *http.ServeMux
	TokenGrants atomic.Int64
	Calls       atomic.Int64
	mu          sync.Mutex
	tokens      map[string]bool // valid access tokens
	tokenSeq    int
	ExpiresIn   int
}

func newFakeProcore(t *testing.T) *fakeProcore {
	t.Helper()
	f := &fakeProcore{Mux: http.NewServeMux(), tokens: map[string]bool{}, ExpiresIn: 5400}
	f.Mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		f.TokenGrants.Add(1)
		if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_id") != "id" || r.FormValue("client_secret") != "secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client","error_description":"Client authentication failed"}`)
			return
		}
		f.mu.Lock()
		f.tokenSeq++
		tok := "access-" + itoa(f.tokenSeq)
		f.tokens[tok] = true
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": f.ExpiresIn, "created_at": 1})
	})
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			f.Calls.Add(1)
			if !f.authorized(r) {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is invalid"})
				return
			}
		}
		f.Mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProcore) authorized(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[bearerOf(r)]
}

// RevokeAll makes every issued access token invalid.
func (f *fakeProcore) RevokeAll() {
	f.mu.Lock()
	f.tokens = map[string]bool{}
	f.mu.Unlock()
}

// newTestClient returns a Client for f with company 42, a fake clock and no
// jitter unless cfg says otherwise.
func newTestClient(t *testing.T, url string, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{APIURL: url, ClientID: "id", ClientSecret: "secret", CompanyID: 42,
		Logger: quietLogger(), Clock: newFakeClock(), Retry: RetryConfig{Jitter: -1}}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// transportTo returns a RoundTripper sending to the real default transport,
// for stacking one RoundTripper under test over an httptest server.
func baseTransport() http.RoundTripper { return http.DefaultTransport.(*http.Transport).Clone() }
