package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"procoregraph/adapter"
)

// rotatingLogin is a login host with single-use, rotating refresh tokens, as
// Procore's: a refresh token works once; reusing it is invalid_grant.
type rotatingLogin struct {
	mu       sync.Mutex
	refresh  map[string]bool // unused refresh tokens
	access   map[string]bool
	seq      int
	grants   atomic.Int64
	reused   atomic.Int64
	expireIn int
	delay    time.Duration
}

func newRotatingLogin(seed string) *rotatingLogin {
	return &rotatingLogin{refresh: map[string]bool{seed: true}, access: map[string]bool{}, expireIn: 5400}
}

func (l *rotatingLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		l.grants.Add(1)
		time.Sleep(l.delay)
		if r.FormValue("grant_type") != "refresh_token" || r.FormValue("client_id") != "id" {
			writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		rt := r.FormValue("refresh_token")
		if !l.refresh[rt] {
			l.reused.Add(1)
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "The provided authorization grant is invalid"})
			return
		}
		delete(l.refresh, rt)
		l.seq++
		at, nrt := "at-"+itoa(l.seq), "rt-"+itoa(l.seq)
		l.access[at] = true
		l.refresh[nrt] = true
		writeJSON(w, 200, map[string]any{"access_token": at, "refresh_token": nrt, "token_type": "bearer", "expires_in": l.expireIn})
		return
	}
	l.mu.Lock()
	ok := l.access[bearerOf(r)]
	l.mu.Unlock()
	if !ok {
		writeJSON(w, 401, map[string]string{"error": "invalid_token"})
		return
	}
	io.WriteString(w, `{"id":1,"login":"a@b.c","name":"A"}`)
}

func (l *rotatingLogin) expireAccess() {
	l.mu.Lock()
	l.access = map[string]bool{}
	l.mu.Unlock()
}

func newAuthStack(t *testing.T, srvURL string, store TokenStore, clock Clock, seed string) (*oauthCredentials, http.RoundTripper) {
	t.Helper()
	creds := newOAuthCredentials(oauthOptions{TokenURL: srvURL + "/oauth/token", ClientID: "id", ClientSecret: "secret",
		RefreshToken: seed, Store: store, HTTPClient: &http.Client{Transport: baseTransport()}, Clock: clock, Logger: quietLogger()})
	return creds, &authTransport{creds: creds, next: baseTransport()}
}

func get(t *testing.T, rt http.RoundTripper, url string) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	resp, err := rt.RoundTrip(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestRefreshTokenConcurrentRequestsRefreshOnce(t *testing.T) {
	login := newRotatingLogin("seed")
	login.delay = 20 * time.Millisecond // keep the flight open while the others arrive
	srv := httptest.NewServer(login)
	defer srv.Close()
	store := NewMemoryTokenStore(nil)
	creds, rt := newAuthStack(t, srv.URL, store, newFakeClock(), "seed")

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			resp, err := get(t, rt, srv.URL+"/rest/v1.0/me")
			if err == nil && resp.StatusCode != 200 {
				err = errors.New(resp.Status)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if g := login.grants.Load(); g != 1 {
		t.Fatalf("%d refreshes for 20 concurrent requests, want 1", g)
	}
	if login.reused.Load() != 0 || creds.fetches.Load() != 1 {
		t.Fatalf("reused %d, fetches %d", login.reused.Load(), creds.fetches.Load())
	}
	tok, _ := store.Load(context.Background())
	if tok == nil || tok.RefreshToken != "rt-1" || tok.AccessToken != "at-1" {
		t.Fatalf("store holds %+v, want the rotated pair at-1/rt-1", tok)
	}
}

func TestRefreshTokenRotationIsPersistedAndUsedNext(t *testing.T) {
	login := newRotatingLogin("seed")
	srv := httptest.NewServer(login)
	defer srv.Close()
	store := NewMemoryTokenStore(nil)
	_, rt := newAuthStack(t, srv.URL, store, newFakeClock(), "seed")
	for i := range 3 {
		if resp, err := get(t, rt, srv.URL+"/rest/v1.0/me"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("round %d: %v %v", i, resp, err)
		}
		login.expireAccess() // Procore answers 401 next: the stack must refresh with the newest refresh token
	}
	if login.reused.Load() != 0 {
		t.Fatalf("a spent refresh token was sent %d times", login.reused.Load())
	}
	if g := login.grants.Load(); g != 3 {
		t.Fatalf("%d refreshes, want 3 (one per expiry)", g)
	}
	if tok, _ := store.Load(context.Background()); tok.RefreshToken != "rt-3" {
		t.Fatalf("store refresh token %q, want rt-3", tok.RefreshToken)
	}
	if store.Saves() != 3 {
		t.Fatalf("%d saves, want 3", store.Saves())
	}
}

func TestRefreshTokenFromStoreWinsOverSeed(t *testing.T) {
	// Another replica rotated the seed already and saved the new pair.
	login := newRotatingLogin("rotated-elsewhere")
	srv := httptest.NewServer(login)
	defer srv.Close()
	store := NewMemoryTokenStore(&oauth2.Token{RefreshToken: "rotated-elsewhere"})
	_, rt := newAuthStack(t, srv.URL, store, newFakeClock(), "seed-spent-long-ago")
	if resp, err := get(t, rt, srv.URL+"/rest/v1.0/me"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if login.reused.Load() != 0 {
		t.Fatal("the spent seed was sent instead of the stored refresh token")
	}
}

func TestRefreshTokenReuseIsReauthRequired(t *testing.T) {
	login := newRotatingLogin("other")
	srv := httptest.NewServer(login)
	defer srv.Close()
	_, rt := newAuthStack(t, srv.URL, NewMemoryTokenStore(nil), newFakeClock(), "spent")
	_, err := get(t, rt, srv.URL+"/rest/v1.0/me")
	if adapter.ErrorCode(err) != adapter.CodeReauthRequired {
		t.Fatalf("err %v, want REAUTH_REQUIRED", err)
	}
	if strings.Contains(err.Error(), "spent") {
		t.Fatalf("error %q leaks the refresh token", err)
	}
}

func TestRefreshesBeforeExpiry(t *testing.T) {
	login := newRotatingLogin("seed")
	login.expireIn = 600
	srv := httptest.NewServer(login)
	defer srv.Close()
	clock := newFakeClock()
	_, rt := newAuthStack(t, srv.URL, NewMemoryTokenStore(nil), clock, "seed")
	get(t, rt, srv.URL+"/rest/v1.0/me")
	clock.Advance(8 * time.Minute) // 2 of 10 minutes left: still valid (skew is a quarter, max 1 min)
	get(t, rt, srv.URL+"/rest/v1.0/me")
	if g := login.grants.Load(); g != 1 {
		t.Fatalf("%d grants, want the token reused", g)
	}
	clock.Advance(90 * time.Second) // 30 s left: inside the skew, refresh first
	get(t, rt, srv.URL+"/rest/v1.0/me")
	if g := login.grants.Load(); g != 2 {
		t.Fatalf("%d grants, want a proactive refresh", g)
	}
}

func TestAuthRetriesOnceOn401WithFreshToken(t *testing.T) {
	f := newFakeProcore(t)
	var calls atomic.Int64
	f.Mux.HandleFunc("GET /rest/v1.0/me", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			f.RevokeAll() // the first request was authorized, then Procore revoked the token
			writeJSON(w, 401, map[string]string{"error": "invalid_token"})
			return
		}
		writeJSON(w, 200, map[string]any{"id": 1})
	})
	creds := newOAuthCredentials(oauthOptions{TokenURL: f.URL + "/oauth/token", ClientID: "id", ClientSecret: "secret",
		Store: NewMemoryTokenStore(nil), HTTPClient: &http.Client{}, Clock: newFakeClock(), Logger: quietLogger()})
	rt := &authTransport{creds: creds, next: baseTransport()}
	resp, err := get(t, rt, f.URL+"/rest/v1.0/me")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v, want 200 after one fresh token", resp, err)
	}
	if f.TokenGrants.Load() != 2 || calls.Load() != 2 {
		t.Fatalf("%d grants, %d calls; want 2 and 2", f.TokenGrants.Load(), calls.Load())
	}
}

func TestAuthDoesNotLoopOnPersistent401(t *testing.T) {
	f := newFakeProcore(t)
	f.Mux.HandleFunc("GET /rest/v1.0/me", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, map[string]string{"error": "invalid_token"})
	})
	creds := newOAuthCredentials(oauthOptions{TokenURL: f.URL + "/oauth/token", ClientID: "id", ClientSecret: "secret",
		Store: NewMemoryTokenStore(nil), HTTPClient: &http.Client{}, Clock: newFakeClock(), Logger: quietLogger()})
	resp, err := get(t, &authTransport{creds: creds, next: baseTransport()}, f.URL+"/rest/v1.0/me")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("%v %v, want the second 401 returned", resp, err)
	}
	if f.Calls.Load() != 2 || f.TokenGrants.Load() != 2 {
		t.Fatalf("%d calls, %d grants; want exactly one retry", f.Calls.Load(), f.TokenGrants.Load())
	}
}

func TestAuthBadClientIsUnauthenticated(t *testing.T) {
	f := newFakeProcore(t)
	creds := newOAuthCredentials(oauthOptions{TokenURL: f.URL + "/oauth/token", ClientID: "id", ClientSecret: "wrong",
		Store: NewMemoryTokenStore(nil), HTTPClient: &http.Client{}, Clock: newFakeClock(), Logger: quietLogger()})
	_, err := get(t, &authTransport{creds: creds, next: baseTransport()}, f.URL+"/rest/v1.0/me")
	if adapter.ErrorCode(err) != adapter.CodeUnauthenticated || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err %v, want UNAUTHENTICATED naming invalid_client", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error %q leaks the secret", err)
	}
	if f.Calls.Load() != 0 {
		t.Fatal("an API call went out without a token")
	}
}

func TestInvalidateKeepsANewerToken(t *testing.T) {
	f := newFakeProcore(t)
	creds := newOAuthCredentials(oauthOptions{TokenURL: f.URL + "/oauth/token", ClientID: "id", ClientSecret: "secret",
		Store: NewMemoryTokenStore(nil), HTTPClient: &http.Client{}, Clock: newFakeClock(), Logger: quietLogger()})
	ctx := context.Background()
	r1, _ := http.NewRequest("GET", f.URL, nil)
	if err := creds.Apply(ctx, r1); err != nil {
		t.Fatal(err)
	}
	creds.Invalidate(ctx, r1, errUnauthorized)
	r2, _ := http.NewRequest("GET", f.URL, nil)
	creds.Apply(ctx, r2) // a fresh token
	// A late 401 for the old token must not throw away the fresh one.
	creds.Invalidate(ctx, r1, errUnauthorized)
	r3, _ := http.NewRequest("GET", f.URL, nil)
	creds.Apply(ctx, r3)
	if r3.Header.Get("Authorization") != r2.Header.Get("Authorization") || f.TokenGrants.Load() != 2 {
		t.Fatalf("grants %d; r2 %q r3 %q: a stale 401 discarded a fresh token", f.TokenGrants.Load(),
			r2.Header.Get("Authorization"), r3.Header.Get("Authorization"))
	}
}

// lockingStore records that refreshes happen under its lock.
type lockingStore struct {
	*MemoryTokenStore
	mu     sync.Mutex
	locked atomic.Int64
}

func (s *lockingStore) LockRefresh(ctx context.Context) (func(), error) {
	s.mu.Lock()
	s.locked.Add(1)
	return s.mu.Unlock, nil
}

func TestRefreshRunsUnderTheStoreLock(t *testing.T) {
	login := newRotatingLogin("seed")
	srv := httptest.NewServer(login)
	defer srv.Close()
	store := &lockingStore{MemoryTokenStore: NewMemoryTokenStore(nil)}
	_, rt := newAuthStack(t, srv.URL, store, newFakeClock(), "seed")
	if resp, err := get(t, rt, srv.URL+"/rest/v1.0/me"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if store.locked.Load() != 1 {
		t.Fatalf("lock taken %d times, want 1", store.locked.Load())
	}
}
