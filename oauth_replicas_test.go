package main

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestRefreshTokenReplicasShareOneTokenPair: Procore refresh tokens are
// single-use, so replicas configured with the same authorization must share
// the token pair. Two gateways on one Redis start from one refresh token
// (the second would otherwise spend the token the first already rotated),
// and after Procore expires the access token, concurrent queries on both
// refresh it once and keep working.
func TestRefreshTokenReplicasShareOneTokenPair(t *testing.T) {
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3},
		HourlyLimit: -1, SpikeLimit: -1, DemoMFA: "none"})
	env["PROCORE_REFRESH_TOKEN"] = userRefreshToken(t, sb)
	env["REDIS_URL"] = redisURL
	env["CACHE_PREFIX"] = randomPrefix(t)
	// -no-cache: every query calls Procore (the token store is shared all
	// the same).
	a := startGateway(t, copyEnv(env), "-no-cache")
	b := startGateway(t, copyEnv(env), "-no-cache") // starts with the refresh token A already spent
	const q = `{ viewer { id name } projects { nodes { id } } }`
	for name, g := range map[string]*gatewayProc{"A": a, "B": b} {
		if r := g.query(t, q, nil); len(r.Errors) > 0 {
			t.Fatalf("replica %s: %+v", name, r.Errors)
		}
	}

	sb.ResetStats()
	resp, err := http.Post(sb.URL+"/_sandbox/expire", "application/json", strings.NewReader(`{"tokens":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		for name, g := range map[string]*gatewayProc{"A": a, "B": b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := g.query(t, `{ viewer { id } }`, nil)
				if len(r.Errors) > 0 {
					t.Errorf("replica %s after the token expired: %+v", name, r.Errors)
				}
			}()
		}
	}
	wg.Wait()
	if n := sb.Stats().TokenRequests; n != 1 {
		t.Fatalf("the replicas made %d token requests after the access token expired, want 1 refresh", n)
	}
}

// userRefreshToken logs the demo user (no MFA) into the sandbox's web
// portal, authorizes the default client out of band and exchanges the code
// for a token pair, as an operator would once; it returns the refresh token.
func userRefreshToken(t *testing.T, sb *sandbox.Running) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	const oob = "urn:ietf:wg:oauth:2.0:oob"
	q := url.Values{"response_type": {"code"}, "client_id": {sandbox.DefaultClientID}, "redirect_uri": {oob}, "state": {"s"}}
	page := func(resp *http.Response, err error) (string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.Request.URL.String(), b.String()
	}
	_, body := page(c.Get(sb.URL + "/oauth/authorize?" + q.Encode()))
	m := regexp.MustCompile(`name="return_to" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login form on the authorize page:\n%.500s", body)
	}
	page(c.PostForm(sb.URL+"/login", url.Values{"email": {sandbox.DefaultDemoEmail}, "return_to": {html.UnescapeString(m[1])}}))
	// The login comes back to the consent page: submit its form with Allow.
	_, body = page(c.PostForm(sb.URL+"/login/password", url.Values{"password": {sandbox.DefaultDemoPassword}}))
	consent := url.Values{"decision": {"allow"}}
	for _, f := range regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		consent.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	if consent.Get("authenticity_token") == "" || consent.Get("client_id") == "" {
		t.Fatalf("no consent form after the login:\n%.500s", body)
	}
	at, _ := page(c.PostForm(sb.URL+"/oauth/authorize", consent))
	u, err := url.Parse(at)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("the portal did not end on a code page: %s", at)
	}
	resp, err := http.PostForm(sb.URL+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {sandbox.DefaultClientID},
		"client_secret": {sandbox.DefaultClientSecret}, "code": {u.Query().Get("code")}, "redirect_uri": {oob}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: status %d, %v", resp.StatusCode, err)
	}
	return tok.RefreshToken
}
