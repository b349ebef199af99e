package auth_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/sandbox/auth"
)

const (
	clientID     = "sandbox-client"
	clientSecret = "sandbox-secret"
	otherID      = "other-client"
	otherSecret  = "other-secret"
	companyID    = int64(5_000_000_001)
	serviceUser  = int64(4_300_000_001)
	totpSecret   = "JBSWY3DPEHPK3PXP"
	password     = "correct horse battery staple"
	callbackURI  = "https://app.example.com/callback"
)

var testUsers = []auth.WebUser{
	{UserID: 4_300_000_010, Email: "alice@example.com", Password: password, Name: "Alice Totp", MFA: "totp", TOTPSecret: totpSecret},
	{UserID: 4_300_000_011, Email: "bob@example.com", Password: password, Name: "Bob Email", MFA: "email"},
	{UserID: 4_300_000_012, Email: "carol@example.com", Password: password, Name: "Carol Sms", MFA: "sms", Phone: "+15555550123"},
	{UserID: 4_300_000_013, Email: "dave@example.com", Password: password, Name: "Dave Plain"},
	{UserID: 4_300_000_014, Email: "erin@example.com", Password: password, Name: "Erin Sso", MFA: "email", SSO: true},
}

// clock is an injectable, advanceable clock starting one second into a TOTP step.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 4, 5, 6, 1, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	svc   *auth.Service
	srv   *httptest.Server
	clock *clock
}

// newEnv serves the Service plus GET|POST /probe, which answers the Principal that
// Authenticate returns (200) or the error (401).
func newEnv(t *testing.T, mutate ...func(*auth.Config)) *env {
	t.Helper()
	clk := newClock()
	cfg := auth.Config{
		Clients: []auth.Client{
			{ID: clientID, Secret: clientSecret, CompanyIDs: []int64{companyID}, ServiceUserID: serviceUser},
			{ID: otherID, Secret: otherSecret, RedirectURIs: []string{"https://other.example.com/cb"}},
		},
		Users: testUsers,
		Now:   clk.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	svc := auth.New(cfg)
	mux := http.NewServeMux()
	svc.Register(mux)
	mux.HandleFunc("/probe", func(w http.ResponseWriter, r *http.Request) {
		p, err := svc.Authenticate(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(p)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{svc: svc, srv: srv, clock: clk}
}

// tokenReply is the decoded /oauth/token answer, plus the raw keys present.
type tokenReply struct {
	status int
	body   map[string]any
}

func (r tokenReply) str(k string) string { s, _ := r.body[k].(string); return s }

func (e *env) postToken(t *testing.T, vals url.Values) tokenReply {
	t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/oauth/token", vals)
	if err != nil {
		t.Fatal(err)
	}
	return decodeToken(t, resp)
}

func decodeToken(t *testing.T, resp *http.Response) tokenReply {
	t.Helper()
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token reply (status %d): %v", resp.StatusCode, err)
	}
	return tokenReply{status: resp.StatusCode, body: body}
}

func clientCreds() url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}
}

// probe calls /probe with the bearer token (if any) and returns the status and Principal.
func (e *env) probe(t *testing.T, method, token string, hdr map[string]string, c *http.Client) (int, auth.Principal) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p auth.Principal
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, p
}

// browser is a cookie-jar HTTP client that follows redirects on the sandbox host only and
// records every Set-Cookie it sees, like a person's browser with devtools open.
type browser struct {
	t          *testing.T
	c          *http.Client
	base       *url.URL
	setCookies []*http.Cookie
}

type page struct {
	status   int
	body     string
	url      *url.URL // the last URL fetched from the sandbox
	external string   // a redirect target off the sandbox host, not followed
}

func (e *env) newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(e.srv.URL)
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(path), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, vals url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(vals.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) abs(path string) string {
	u, err := b.base.Parse(path)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.String()
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	for range 10 {
		resp, err := b.c.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.setCookies = append(b.setCookies, resp.Cookies()...)
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return page{status: resp.StatusCode, body: string(body), url: req.URL}
		}
		next, err := req.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		if next.Host != b.base.Host {
			return page{status: resp.StatusCode, url: req.URL, external: next.String()}
		}
		req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
	}
	b.t.Fatal("too many redirects")
	return page{}
}

func (b *browser) cookie(name string) *http.Cookie {
	for _, c := range b.c.Jar.Cookies(b.base) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) lastSetCookie(name string) *http.Cookie {
	for i := len(b.setCookies) - 1; i >= 0; i-- {
		if b.setCookies[i].Name == name {
			return b.setCookies[i]
		}
	}
	return nil
}

// loginTo submits email and password and returns the page that follows (MFA page, app, error).
func (b *browser) loginTo(email, pw string) page {
	b.t.Helper()
	p := b.get("/login")
	mustHaveElement(b.t, p, "email")
	p = b.post("/login", url.Values{"email": {email}, "return_to": {hiddenValue(p.body, "return_to")}})
	mustHaveElement(b.t, p, "password")
	return b.post("/login/password", url.Values{"password": {pw}})
}

func hasElement(body, id string) bool {
	return strings.Contains(body, `id="`+id+`"`)
}

func mustHaveElement(t *testing.T, p page, id string) {
	t.Helper()
	if !hasElement(p.body, id) {
		t.Fatalf("page %s (status %d) has no #%s:\n%s", p.url, p.status, id, p.body)
	}
}

// elementText returns the text of the element with the given id (no nested markup).
func elementText(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func hiddenValue(body, name string) string {
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// formFields returns the hidden inputs of the form with the given id.
func formFields(body, formID string) url.Values {
	vals := url.Values{}
	start := strings.Index(body, `<form id="`+formID+`"`)
	if start < 0 {
		return vals
	}
	form := body[start:]
	if end := strings.Index(form, "</form>"); end >= 0 {
		form = form[:end]
	}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`).FindAllStringSubmatch(form, -1) {
		vals.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return vals
}

// decide submits the consent page's form#consent-form with the given decision ("allow" or
// "deny"), as clicking button#authorize or button#deny does.
func (b *browser) decide(p page, decision string) page {
	b.t.Helper()
	mustHaveElement(b.t, p, "consent-form")
	vals := formFields(p.body, "consent-form")
	vals.Set("decision", decision)
	return b.post("/oauth/authorize", vals)
}
