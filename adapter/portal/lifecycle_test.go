package portal

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
)

// concurrentReads runs n reads at once (released together) and returns their errors.
func concurrentReads(t *testing.T, clients []*rest.Client, n int) []error {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			_, errs[i] = clients[i%len(clients)].Me(ctx)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

func TestReloginAfterExpiry(t *testing.T) {
	needBrowser(t)
	cases := []struct {
		name string
		cfg  sandbox.Config
		mfa  MFA
	}{
		{"TOTP", sandbox.Config{}, totpMFA()},
		{"EmailCode", sandbox.Config{DemoMFA: "email"}, MFA{Method: MFAEmail}},
	}
	for _, tc := range cases {
		t.Run(tc.name+"OneAutomaticReloginAlsoFor20ConcurrentCalls", func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			m := newManager(t, e, memStore(t), nil)
			s, err := m.CreateSession(ctxFor(t, time.Minute), e.demoLogin(tc.mfa))
			if err != nil {
				t.Fatal(err)
			}
			c := restClient(t, e, m, s, nil)
			noErrors(t, concurrentReads(t, []*rest.Client{c}, 1))

			// Procore drops the session: the next call logs in once and succeeds.
			e.sb.ExpireSessions()
			e.clock.Advance(totpPeriod) // a new TOTP step without waiting for it
			if _, err := c.Me(ctxFor(t, time.Minute)); err != nil {
				t.Fatalf("first call after expiry: %v", err)
			}
			if e.logins() != 2 {
				t.Fatalf("logins after one expiry: %d, want 2", e.logins())
			}

			// Again, with 20 calls in flight at that moment: still one login.
			e.sb.ExpireSessions()
			e.clock.Advance(totpPeriod)
			noErrors(t, concurrentReads(t, []*rest.Client{c}, 20))
			if e.logins() != 3 || m.Stats().Logins != 3 {
				t.Fatalf("logins after 20 concurrent calls: sandbox %d, manager %d, want 3", e.logins(), m.Stats().Logins)
			}
			got, err := m.Session(ctxFor(t, 5*time.Second), s.ID)
			if err != nil || got.Logins != 3 || !got.LoggedInAt.After(s.LoggedInAt) {
				t.Fatalf("stored session after re-logins: %+v, %v", got, err)
			}
		})
	}
}

// redisStores returns two RedisStores on REDIS_URL (two replicas) sharing
// one fresh prefix, and a reader of the raw bytes Redis holds for a key.
func redisStores(t *testing.T) (cache.Store, cache.Store, func(key string) []byte) {
	t.Helper()
	a, rdb, prefix := cachetest.Redis(t, "portal")
	b, err := cache.NewRedis(cache.RedisOptions{Client: cachetest.Client(t), Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw := func(key string) []byte {
		v, _ := rdb.Get(context.Background(), prefix+key).Bytes()
		return v
	}
	return a, b, raw
}

func TestTwoReplicas(t *testing.T) {
	needBrowser(t)
	stores := []struct {
		name string
		open func(t *testing.T) (cache.Store, cache.Store, func(string) []byte)
	}{
		{"SharedMemoryStore", func(t *testing.T) (cache.Store, cache.Store, func(string) []byte) {
			s := memStore(t)
			return s, s, func(key string) []byte {
				it, _, _ := s.Get(context.Background(), key)
				return it.Value
			}
		}},
		{"Redis", redisStores},
	}
	for _, st := range stores {
		t.Run(st.name+"ExactlyOneLoginAcrossReplicas", func(t *testing.T) {
			a, b, raw := st.open(t)
			e := newEnv(t, sandbox.Config{DemoMFA: "email"})
			ma := newManager(t, e, a, nil)
			mb := newManager(t, e, b, nil)
			s, err := ma.CreateSession(ctxFor(t, time.Minute), e.demoLogin(MFA{Method: MFAEmail}))
			if err != nil {
				t.Fatal(err)
			}
			// Replica B serves the session from the shared store, without logging in.
			ca, cb := restClient(t, e, ma, s, nil), restClient(t, e, mb, s, nil)
			noErrors(t, concurrentReads(t, []*rest.Client{cb}, 3))
			if e.logins() != 1 || mb.Stats().Logins != 0 {
				t.Fatalf("replica B logged in: sandbox %d, B %d", e.logins(), mb.Stats().Logins)
			}
			blob := raw(recordKey(s.ID))
			var rec *record
			if r, err := ma.load(ctxFor(t, 5*time.Second), s.ID); err == nil {
				rec = r
			} else {
				t.Fatal(err)
			}
			if len(blob) == 0 || strings.Contains(string(blob), rec.Web.value(SessionCookie)) ||
				strings.Contains(string(blob), sandbox.DefaultDemoPassword) || strings.Contains(string(blob), sandbox.DefaultDemoEmail) {
				t.Fatalf("the stored session is readable without the key (%d bytes)", len(blob))
			}

			e.sb.ExpireSessions()
			noErrors(t, concurrentReads(t, []*rest.Client{ca, cb}, 20))
			if e.logins() != 2 || ma.Stats().Logins+mb.Stats().Logins != 2 {
				t.Fatalf("logins after expiry with 20 calls on two replicas: sandbox %d, A %d, B %d; want one re-login",
					e.logins(), ma.Stats().Logins, mb.Stats().Logins)
			}
			if n := len(e.sb.Outbox(sandbox.DefaultDemoEmail)); n != 2 {
				t.Fatalf("email codes sent: %d, want 2", n)
			}
		})
	}
}

func TestStoredCredentialsStopWorking(t *testing.T) {
	needBrowser(t)
	cases := []struct {
		name   string
		change func(r *record)
		route  string
	}{
		{"PasswordChangedGivesReauthRequiredAfterOneAttempt", func(r *record) { r.Login.Password = "an-old-password" }, "POST /login/password"},
		{"MFAResetGivesReauthRequiredAfterOneAttempt", func(r *record) { r.Login.MFA.TOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" }, "POST /login/mfa"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			m := newManager(t, e, memStore(t), nil)
			s, err := m.CreateSession(ctxFor(t, time.Minute), e.demoLogin(totpMFA()))
			if err != nil {
				t.Fatal(err)
			}
			// What Procore accepts changes under the stored session.
			if _, err := m.update(ctxFor(t, 5*time.Second), s.ID, func(r *record) error { tc.change(r); return nil }); err != nil {
				t.Fatal(err)
			}
			before := e.count(tc.route)
			e.sb.ExpireSessions()
			e.clock.Advance(totpPeriod)

			c := restClient(t, e, m, s, nil)
			for i, err := range concurrentReads(t, []*rest.Client{c}, 20) {
				if adapter.ErrorCode(err) != adapter.CodeReauthRequired || !errors.Is(err, ErrReauthRequired) {
					t.Fatalf("call %d: %v, want REAUTH_REQUIRED", i, err)
				}
			}
			if n := e.count(tc.route) - before; n != 1 {
				t.Fatalf("%s sent %d times for 20 calls, want one attempt", tc.route, n)
			}
			// Later calls, a refresh and another replica's calls try nothing.
			if _, err := c.Me(ctxFor(t, 5*time.Second)); adapter.ErrorCode(err) != adapter.CodeReauthRequired {
				t.Fatalf("later call: %v", err)
			}
			if _, err := m.Refresh(ctxFor(t, 5*time.Second), s.ID); adapter.ErrorCode(err) != adapter.CodeReauthRequired {
				t.Fatalf("refresh: %v", err)
			}
			other := newManager(t, e, m.o.Store, nil)
			if _, err := restClient(t, e, other, s, nil).Me(ctxFor(t, 5*time.Second)); adapter.ErrorCode(err) != adapter.CodeReauthRequired {
				t.Fatalf("other replica: %v", err)
			}
			if n := e.count(tc.route) - before; n != 1 || m.Stats().Refused != 1 {
				t.Fatalf("attempts %d, refused %d: want nothing retried", n, m.Stats().Refused)
			}
			got, err := m.Session(ctxFor(t, 5*time.Second), s.ID)
			if err != nil || got.State != StateReauthRequired {
				t.Fatalf("session state %q, %v", got.State, err)
			}
			if e.logins() != 1 {
				t.Fatalf("logins %d", e.logins())
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	needBrowser(t)
	t.Run("RevokedSessionEndsAtProcoreAndHere", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		m := newManager(t, e, memStore(t), nil)
		s, err := m.CreateSession(ctxFor(t, time.Minute), e.demoLogin(totpMFA()))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := m.load(ctxFor(t, 5*time.Second), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Revoke(ctxFor(t, 10*time.Second), s.ID); err != nil {
			t.Fatal(err)
		}
		// The old cookie no longer works at Procore.
		req, _ := http.NewRequest(http.MethodGet, e.url+"/rest/v1.0/me", nil)
		applyWeb(req, rec.Web)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the revoked cookie still gets %d", resp.StatusCode)
		}
		if _, err := m.Session(ctxFor(t, 5*time.Second), s.ID); !errors.Is(err, ErrSessionNotFound) || adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
			t.Fatalf("Session after revoke: %v", err)
		}
		if _, err := restClient(t, e, m, s, nil).Me(ctxFor(t, 10*time.Second)); adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
			t.Fatalf("call after revoke: %v", err)
		}
		if err := m.Revoke(ctxFor(t, 5*time.Second), s.ID); err != nil {
			t.Fatalf("revoking twice: %v", err)
		}
		if e.logins() != 1 {
			t.Fatalf("logins %d: a revoked session must not log in again", e.logins())
		}
	})
}

func TestHealthAndRefresh(t *testing.T) {
	needBrowser(t)
	e := newEnv(t, sandbox.Config{})
	m := newManager(t, e, memStore(t), nil)
	ctx := ctxFor(t, 3*time.Minute)
	s, err := m.CreateSession(ctx, e.demoLogin(totpMFA()))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CheckSeesALiveSession", func(t *testing.T) {
		h, err := m.Check(ctx, s.ID)
		if err != nil || !h.Alive || h.Status != http.StatusOK {
			t.Fatalf("health %+v, %v", h, err)
		}
	})
	t.Run("MaintainLogsInAgainWhenTheCheckFails", func(t *testing.T) {
		e.sb.ExpireSessions()
		e.clock.Advance(totpPeriod)
		if h, err := m.Check(ctx, s.ID); err != nil || h.Alive {
			t.Fatalf("health of an expired session %+v, %v", h, err)
		}
		if err := m.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if h, err := m.Check(ctx, s.ID); err != nil || !h.Alive || e.logins() != 2 {
			t.Fatalf("after Maintain: health %+v, %v, logins %d", h, err, e.logins())
		}
		if err := m.Maintain(ctx); err != nil || e.logins() != 2 {
			t.Fatalf("Maintain on a healthy session logged in: %v, logins %d", err, e.logins())
		}
	})
	t.Run("CallsNearExpiryRefreshInTheBackground", func(t *testing.T) {
		cur, err := m.Session(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Into the refresh window (the cookie lives 2h; the window is 10m).
		e.clock.Advance(cur.ProcoreExpiresAt.Sub(e.clock.Now()) - 5*time.Minute)
		if _, err := restClient(t, e, m, s, nil).Me(ctx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for m.Stats().Logins < 3 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		after, err := m.Session(ctx, s.ID)
		if err != nil || e.logins() != 3 || !after.ProcoreExpiresAt.After(cur.ProcoreExpiresAt) {
			t.Fatalf("no proactive refresh: logins %d, expiry %v -> %v, %v", e.logins(), cur.ProcoreExpiresAt, after.ProcoreExpiresAt, err)
		}
	})
	t.Run("RefreshLogsInAndExtendsTheSession", func(t *testing.T) {
		cur, err := m.Session(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(totpPeriod)
		got, err := m.Refresh(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e.logins() != 4 || got.Logins != cur.Logins+1 || !got.ExpiresAt.After(cur.ExpiresAt) {
			t.Fatalf("refresh: logins %d, session %+v (was %+v)", e.logins(), got, cur)
		}
	})
}
