package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter/portal"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// requireChromium skips without a browser (fails under CI=true).
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := portal.FindChromium(os.Getenv("CHROMIUM_PATH")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium: CI must install Debian's chromium: %v", err)
		}
		t.Skipf("no Chromium (%v): skipping browser-session tests", err)
	}
}

const createSessionMutation = `mutation($in: CreateSessionInput!) {
  createSession(input: $in) { session { token expiresAt email mfaMethod state } userErrors { field message code } }
}`

type createSessionAnswer struct {
	CreateSession struct {
		Session *struct {
			Token, Email, MfaMethod, State string
		} `json:"session"`
		UserErrors []struct {
			Field   []string
			Message string
			Code    string
		} `json:"userErrors"`
	} `json:"createSession"`
}

func createSession(t *testing.T, g *gatewayProc, in map[string]any) createSessionAnswer {
	t.Helper()
	r := g.query(t, createSessionMutation, map[string]any{"in": in})
	if len(r.Errors) > 0 {
		t.Fatalf("createSession errors: %+v", r.Errors)
	}
	var a createSessionAnswer
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func sessionEnv(env map[string]string) map[string]string {
	env = copyEnv(env)
	env["PORTAL_CODE_PROVIDER"] = "outbox"
	return env
}

// TestBrowserSessionServesTheDashboard: createSession logs in through the
// sandbox's web portal in real headless Chromium (TOTP, then an email code
// from the outbox), and the dashboard query with the returned token is served
// over that cookie session, not OAuth.
func TestBrowserSessionServesTheDashboard(t *testing.T) {
	requireChromium(t)
	for _, mfa := range []string{"totp", "email"} {
		t.Run(mfa, func(t *testing.T) {
			sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 5},
				DemoMFA: mfa, HourlyLimit: -1, SpikeLimit: -1})
			g := startGateway(t, sessionEnv(env))
			in := map[string]any{"username": sandbox.DefaultDemoEmail, "password": sandbox.DefaultDemoPassword,
				"mfa": map[string]any{"method": map[string]string{"totp": "TOTP", "email": "EMAIL"}[mfa]}}
			if mfa == "totp" {
				in["mfa"].(map[string]any)["totpSecret"] = sandbox.DefaultDemoTOTPSecret
			}
			a := createSession(t, g, in)
			if a.CreateSession.Session == nil {
				t.Fatalf("no session: %+v", a.CreateSession.UserErrors)
			}
			token := a.CreateSession.Session.Token
			sb.ResetStats()
			r := g.queryAs(t, token, readQuery(t, "bench/queries/dashboard.graphql"), nil)
			st := sb.Stats()
			assertDashboardMatches(t, sb, decodeDashboard(t, r))
			if st.ByClient["session"] == 0 || st.ByClient[sandbox.DefaultClientID] != 0 {
				t.Fatalf("dashboard was not served over the web session: by client %v", st.ByClient)
			}
		})
	}
}

// TestBrowserSessionReloginOnceUnderLoad: when the sandbox expires the cookie,
// 20 concurrent queries on two replicas sharing Redis cause exactly one login.
func TestBrowserSessionReloginOnceUnderLoad(t *testing.T) {
	requireChromium(t)
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 5},
		HourlyLimit: -1, SpikeLimit: -1})
	env = sessionEnv(env)
	env["REDIS_URL"] = redisURL
	env["CACHE_PREFIX"] = randomPrefix(t)
	env["PORTAL_SESSION_KEY"] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	// The re-login right after createSession cannot reuse its TOTP code: it
	// waits for the next 30 s TOTP period, so the queries waiting for it can
	// outlive the default 30 s operation deadline depending on the clock's
	// phase (a run failed that way). The deadline is not what this test is
	// about.
	a := startGateway(t, copyEnv(env), "-no-cache", "-operation-timeout", "2m")
	b := startGateway(t, copyEnv(env), "-no-cache", "-operation-timeout", "2m")
	ans := createSession(t, a, map[string]any{"username": sandbox.DefaultDemoEmail, "password": sandbox.DefaultDemoPassword,
		"mfa": map[string]any{"method": "TOTP", "totpSecret": sandbox.DefaultDemoTOTPSecret}})
	if ans.CreateSession.Session == nil {
		t.Fatalf("no session: %+v", ans.CreateSession.UserErrors)
	}
	token := ans.CreateSession.Session.Token
	q := `{ projects(first: 2) { nodes { id rfis(first: 5) { totalCount } } } }`
	if r := b.queryAs(t, token, q, nil); len(r.Errors) > 0 {
		t.Fatalf("replica B cannot use A's session: %+v", r.Errors)
	}

	sb.ExpireSessions()
	logins := sb.Stats().Logins
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- postQuery(g.URL, token, q)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := sb.Stats().Logins - logins; got != 1 {
		t.Fatalf("%d logins after the cookie expired, want exactly 1\nreplica A:\n%s\nreplica B:\n%s", got, a.stderr, b.stderr)
	}
}

// TestBrowserSessionWrongPasswordFailsOnce: a wrong password or TOTP secret
// is a clear userError after one login attempt.
func TestBrowserSessionWrongPasswordFailsOnce(t *testing.T) {
	requireChromium(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}})
	g := startGateway(t, sessionEnv(env))
	for name, in := range map[string]map[string]any{
		"WrongPassword": {"username": sandbox.DefaultDemoEmail, "password": "not-the-password",
			"mfa": map[string]any{"method": "TOTP", "totpSecret": sandbox.DefaultDemoTOTPSecret}},
		"WrongTOTPSecret": {"username": sandbox.DefaultDemoEmail, "password": sandbox.DefaultDemoPassword,
			"mfa": map[string]any{"method": "TOTP", "totpSecret": "JBSWY3DPEHPK3PXP"}},
	} {
		t.Run(name, func(t *testing.T) {
			before := sb.Stats().Logins
			a := createSession(t, g, in)
			if a.CreateSession.Session != nil || len(a.CreateSession.UserErrors) == 0 {
				t.Fatalf("want a userError, got %+v", a.CreateSession)
			}
			if code := a.CreateSession.UserErrors[0].Code; code != "UNAUTHENTICATED" {
				t.Fatalf("code %s (%s)", code, a.CreateSession.UserErrors[0].Message)
			}
			if sb.Stats().Logins != before {
				t.Fatal("a refused login was counted as a login")
			}
		})
	}
	t.Run("UnknownTokenIsUnauthenticated", func(t *testing.T) {
		r := g.queryAs(t, "pgs_not-a-session", `{ viewer { id } }`, nil)
		if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
}

// postQuery runs a query with a token from any goroutine.
func postQuery(base, token, q string) error {
	body, _ := json.Marshal(map[string]any{"query": q})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("query errors: %+v", r.Errors)
	}
	return nil
}

// TestPollerServesBrowserSessionConnections: a subscriber on a browser-session
// connection hears about a change another Procore user made (no webhooks),
// through a poller this process started for that connection when it began
// serving it.
func TestPollerServesBrowserSessionConnections(t *testing.T) {
	requireChromium(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4},
		HourlyLimit: -1, SpikeLimit: -1})
	g := startGateway(t, sessionEnv(env), "-poll-interval", "1s")
	ans := createSession(t, g, map[string]any{"username": sandbox.DefaultDemoEmail, "password": sandbox.DefaultDemoPassword,
		"mfa": map[string]any{"method": "TOTP", "totpSecret": sandbox.DefaultDemoTOTPSecret}})
	if ans.CreateSession.Session == nil {
		t.Fatalf("no session: %+v", ans.CreateSession.UserErrors)
	}
	token := ans.CreateSession.Session.Token
	project, rfis, users := pickRFIs(t, sb, 1)
	sub := subscribeSSEAs(t, g.URL+"/graphql", token, bicSubscription, map[string]any{"projectId": strconv.FormatInt(project, 10)})
	waitActive(t, g, 1)

	// Wait for two polls over the session (the first records a silent
	// baseline), so the change below is one the poller must notice.
	calls := func() int64 { return sb.Stats().ByClient["session"] }
	deadline := time.Now().Add(15 * time.Second)
	for calls() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	first := calls()
	for calls() <= first+1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if calls() <= first+1 {
		t.Fatalf("no poll over the browser session (%d session calls)", calls())
	}

	to := otherUser(t, users, ballInCourtOf(sb, project, rfis[0]))
	moveBall(t, sb, project, rfis[0], to)
	e := sub.nextBIC(t, 10*time.Second)
	if e.ItemID != strconv.FormatInt(rfis[0], 10) || e.Source != "POLLER" || e.Kind != "BALL_IN_COURT_CHANGED" {
		t.Fatalf("event %+v, want BALL_IN_COURT_CHANGED of RFI %d from POLLER", e, rfis[0])
	}
	if !slices.Equal(e.court(), idStrings(to)) {
		t.Fatalf("event moved the ball to %v, want [%d]", e.court(), to)
	}
}
