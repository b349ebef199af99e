package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// clock is an injectable clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a sandbox on a loopback port plus a client_credentials token.
type env struct {
	t     testing.TB
	run   *sandbox.Running
	token string
	hc    *http.Client
}

func start(t testing.TB, cfg sandbox.Config) *env {
	t.Helper()
	if cfg.HourlyLimit == 0 {
		cfg.HourlyLimit = -1
	}
	if cfg.SpikeLimit == 0 {
		cfg.SpikeLimit = -1
	}
	// These tests exercise the handlers' own rules, some with requests
	// outside Procore's contract to show what a handler does with them:
	// record such requests rather than refuse them (enforcement, the default,
	// is tested in sandbox/contract and by the change order tests).
	if cfg.Contract == "" {
		cfg.Contract = sandbox.ContractRecord
	}
	run, err := sandbox.Start(context.Background(), cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	e := &env{t: t, run: run, hc: &http.Client{Timeout: 10 * time.Second}}
	e.token = e.clientToken(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	return e
}

func (e *env) clientToken(id, secret string) string {
	e.t.Helper()
	resp, err := e.hc.PostForm(e.run.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

func (e *env) ds() *data.Dataset { return e.run.Dataset() }

// company and project of the dataset used by most tests.
func (e *env) company() int64 { return e.ds().Companies[0].ID }

func (e *env) project() *data.Project { return e.ds().Projects[0] }

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call makes a request with the env token and the given company header (0: none).
func (e *env) call(method, path string, company int64, body any) reply {
	return e.callAs(e.token, method, path, company, body)
}

func (e *env) callAs(token, method, path string, company int64, body any) reply {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.run.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if company != 0 {
		req.Header.Set("Procore-Company-Id", fmt.Sprint(company))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.send(e.hc, req)
}

func (e *env) send(hc *http.Client, req *http.Request) reply {
	e.t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) get(path string) reply { return e.call("GET", path, e.company(), nil) }

func expectStatus(t *testing.T, r reply, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

// session logs the demo user in through the web portal (email, password,
// TOTP) and returns a client carrying the session cookie, plus the CSRF token.
func (e *env) session() (*http.Client, string) {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	post := func(path string, form url.Values) {
		resp, err := hc.PostForm(e.run.URL+path, form)
		if err != nil {
			e.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			e.t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/login", url.Values{"email": {sandbox.DefaultDemoEmail}})
	post("/login/password", url.Values{"password": {sandbox.DefaultDemoPassword}})
	code, err := totp.GenerateCode(sandbox.DefaultDemoTOTPSecret, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	post("/login/mfa", url.Values{"code": {code}})
	u, _ := url.Parse(e.run.URL)
	for _, c := range jar.Cookies(u) {
		if c.Name == "csrf_token" {
			return hc, c.Value
		}
	}
	e.t.Fatal("no csrf_token cookie after login")
	return nil, ""
}

// links parses a Link header into rel → URL.
func links(h string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		u, rel, ok := strings.Cut(part, ">; rel=")
		if !ok {
			continue
		}
		out[strings.Trim(rel, `"`)] = strings.TrimPrefix(u, "<")
	}
	return out
}
