package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*>`)
	nameRE  = regexp.MustCompile(`\bname="([^"]+)"`)
	valueRE = regexp.MustCompile(`\bvalue="([^"]*)"`)
	tokenRE = regexp.MustCompile(`<code id="token">([^<]+)</code>`)
)

// submitForm posts the first form of body whose action contains action,
// with its inputs (hidden ones included) overridden by fields.
func submitForm(t *testing.T, c *http.Client, base, body, action string, fields url.Values) (*http.Response, string) {
	t.Helper()
	for _, f := range formRE.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(f[1], action) {
			continue
		}
		vals := url.Values{}
		for _, in := range inputRE.FindAllString(f[2], -1) {
			n := nameRE.FindStringSubmatch(in)
			if n == nil {
				continue
			}
			v := ""
			if m := valueRE.FindStringSubmatch(in); m != nil {
				v = html.UnescapeString(m[1])
			}
			vals.Set(n[1], v)
		}
		for k, v := range fields {
			vals[k] = v
		}
		target, _ := url.Parse(base)
		ref, _ := url.Parse(html.UnescapeString(f[1]))
		resp, err := c.PostForm(target.ResolveReference(ref).String(), vals)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	t.Fatalf("no form with action %q in:\n%.1500s", action, body)
	return nil, ""
}

// signInForToken signs a person in with Procore as a command-line client
// would (response=token), driving the sandbox's login and consent pages with
// plain HTTP, and returns the gateway's bearer token (pgu_…).
func signInForToken(t *testing.T, g *gatewayProc, sbURL, email, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(g.URL + "/auth/login?response=token")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, body := submitForm(t, c, sbURL, string(b), "/login", url.Values{"email": {email}})
	resp, body = submitForm(t, c, sbURL, body, "/login/password", url.Values{"password": {password}})
	resp, body = submitForm(t, c, sbURL, body, "/oauth/authorize", url.Values{"decision": {"allow"}})
	m := tokenRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("sign-in ended at %s with %d:\n%.1500s", resp.Request.URL, resp.StatusCode, body)
	}
	return html.UnescapeString(m[1])
}

// TestRevokedSessionsStreamsCloseOnAnotherReplica: two replicas share Redis.
// A person's session — signed in with Procore, or a headless browser session
// from createSession — has a subscription open on replica B over
// server-sent events, one over graphql-ws and one over HTTP multipart;
// revoking the session on replica A (POST /auth/logout, revokeSession) ends
// all three on B at once (the multipart one with an UNAUTHENTICATED part). The
// replicas' periodic re-check runs only every 30 s, so streams that end
// within the wait were ended by the revocation itself (the test fails when
// replicas do not announce revocations).
func TestRevokedSessionsStreamsCloseOnAnotherReplica(t *testing.T) {
	redis := requireRedis(t)
	node := requireNodePackages(t, subscriptionPackages...)
	cfg := sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}}
	user := pickSignInUser(t, cfg)
	cfg.ExtraUsers = []auth.WebUser{user.webUser}
	sb, env := startSandbox(t, cfg)
	env = sessionEnv(env)
	env["REDIS_URL"] = redis
	env["CACHE_PREFIX"] = randomPrefix(t)
	a, b := startGateway(t, copyEnv(env)), startGateway(t, copyEnv(env))

	for _, kind := range []struct {
		name   string
		open   func(t *testing.T) string
		revoke func(t *testing.T, token string)
	}{
		{"SignedInWithProcore",
			func(t *testing.T) string { return signInForToken(t, a, sb.URL, user.email, user.password) },
			func(t *testing.T, token string) {
				req, _ := http.NewRequest(http.MethodPost, a.URL+"/auth/logout", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					t.Fatalf("logout on replica A: %d", resp.StatusCode)
				}
			}},
		{"BrowserSession",
			func(t *testing.T) string {
				requireChromium(t)
				s := createSession(t, a, map[string]any{"username": sandbox.DefaultDemoEmail, "password": sandbox.DefaultDemoPassword,
					"mfa": map[string]any{"method": "TOTP", "totpSecret": sandbox.DefaultDemoTOTPSecret}})
				if s.CreateSession.Session == nil {
					t.Fatalf("createSession: %+v", s.CreateSession.UserErrors)
				}
				return s.CreateSession.Session.Token
			},
			func(t *testing.T, token string) {
				r := a.queryAs(t, token, `mutation { revokeSession { revoked userErrors { code message } } }`, nil)
				if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"revoked":true`) {
					t.Fatalf("revokeSession on replica A: %s %+v", r.Data, r.Errors)
				}
			}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			token := kind.open(t)
			const sub = `subscription { rfiChanged { cursor } }`
			sse := subscribeSSEAs(t, b.URL+"/graphql", token, sub, nil)
			ws := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": wsURL(b), "query": sub,
				"connectionParams": map[string]any{"Authorization": "Bearer " + token}}))
			ws.await(t, 10*time.Second, "connected")
			mp := openMultipart(t, b, token, sub, nil)
			waitActive(t, b, 3)

			start := time.Now()
			kind.revoke(t, token)
			deadline := time.After(10 * time.Second)
		sse:
			for {
				select {
				case _, ok := <-sse.events:
					if !ok {
						break sse
					}
				case <-deadline:
					t.Fatal("the SSE subscription on replica B is still open 10 s after the session was revoked on A")
				}
			}
			sseClosed := time.Since(start)
			ws.await(t, 10*time.Second, "closed", "error")
			wsClosed := time.Since(start)
			if p := mp.next(t, 10*time.Second); p.transportErrorCode() != "UNAUTHENTICATED" {
				t.Fatalf("the multipart stream's last part %+v, want an UNAUTHENTICATED transport error", p)
			}
			mp.end(t, 10*time.Second)
			t.Logf("revoked on A; on B the SSE stream ended after %s and the websocket after %s",
				sseClosed.Round(time.Millisecond), wsClosed.Round(time.Millisecond))
			waitActive(t, b, 0)

			// The token is refused everywhere from now on.
			for _, g := range []*gatewayProc{a, b} {
				status, r := rawPost(t, g.URL, `{ viewer { id } }`, nil, bearerHeader(token))
				if status != http.StatusUnauthorized || firstCode(r) != "UNAUTHENTICATED" {
					t.Fatalf("revoked token on %s: %d %+v", g.URL, status, r.Errors)
				}
			}
		})
	}
}
