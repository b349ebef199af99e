package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"procoregraph/adapter/portal"
	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// signInUser is a sandbox person who can sign in through the portal (no
// second factor) and is on some projects of the company but not all.
type signInUser struct {
	id                  int64
	email, name         string
	visible, hidden     []string // active projects of the company the person is / is not on
	password, companyID string
	webUser             auth.WebUser
}

func pickSignInUser(t *testing.T, cfg sandbox.Config) signInUser {
	t.Helper()
	ds := data.Generate(func() data.Options { o := cfg.Data; o.Seed = cfg.Seed; return o }())
	co := ds.Companies[0]
	for _, id := range co.UserIDs {
		u := ds.User(id)
		if id == ds.ServiceUserID || id == ds.DemoUserID || u.Admin || !u.IsActive || u.VendorID != 0 {
			continue
		}
		su := signInUser{id: id, email: u.Email, name: u.Name(), password: "signin-password", companyID: id64(co.ID)}
		for _, p := range ds.Projects {
			if p.CompanyID != co.ID || !p.Active {
				continue
			}
			if p.HasUser(id) {
				su.visible = append(su.visible, id64(p.ID))
			} else {
				su.hidden = append(su.hidden, id64(p.ID))
			}
		}
		if len(su.visible) > 0 && len(su.hidden) > 0 {
			su.webUser = auth.WebUser{UserID: id, Email: u.Email, Password: su.password, Name: u.Name()}
			return su
		}
	}
	t.Fatal("no sandbox person on some but not all projects")
	return signInUser{}
}

// startChromium launches Debian's Chromium headless for a test (never a
// download) and returns a connected browser.
func startChromium(t *testing.T) *rod.Browser {
	t.Helper()
	requireChromium(t)
	bin, err := portal.FindChromium(os.Getenv("CHROMIUM_PATH"))
	if err != nil {
		t.Fatal(err)
	}
	l := launcher.New().Bin(bin).Headless(true).Leakless(false).
		Set("no-sandbox").Set("disable-gpu").Set("disable-quic").Set("no-first-run").
		Set("disable-background-networking").Set("disable-component-update").Set("disable-sync").
		Set("disable-dev-shm-usage")
	u, err := l.Launch()
	if err != nil {
		t.Fatalf("launch Chromium: %v", err)
	}
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		l.Kill()
		t.Fatalf("connect to Chromium: %v", err)
	}
	t.Cleanup(func() { _ = b.Close(); l.Kill(); l.Cleanup() })
	return b
}

// frontendPage is a single-page app served from its own origin: it fetches
// the dashboard and the viewer from the gateway with the session cookie
// (credentials: 'include') and shows the JSON answer in #out.
const frontendPage = `<!doctype html><html><body><pre id="out">loading</pre><script>
const gateway = %q;
const query = %q;
async function run(id, url, init) {
  try {
    const r = await fetch(url, init);
    document.getElementById(id).textContent = JSON.stringify({status: r.status, body: await r.text()});
  } catch (e) {
    document.getElementById(id).textContent = JSON.stringify({error: String(e)});
  }
}
run('out', gateway + '/graphql', {method: 'POST', credentials: 'include',
  headers: {'content-type': 'application/json'}, body: JSON.stringify({query})});
window.logout = () => run('out', gateway + '/auth/logout', {method: 'POST', credentials: 'include', headers: {'content-type': 'application/json'}});
window.again = () => run('out', gateway + '/graphql', {method: 'POST', credentials: 'include',
  headers: {'content-type': 'application/json'}, body: JSON.stringify({query: '{ viewer { id } }'})});
</script></body></html>`

// TestSignInWithProcoreInChromium: a person signs in with Procore in real
// headless Chromium (the gateway's /auth/login, the sandbox's login page,
// its consent page, the gateway's callback); a page served from a listed
// frontend origin then fetches the dashboard with the HttpOnly session
// cookie. The viewer is that person and the answer holds exactly the active
// projects they are a member of: a project the sandbox hides from them is
// absent. Signing out from the page ends the session.
func TestSignInWithProcoreInChromium(t *testing.T) {
	cfg := sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 6, ItemsPerProject: 3}}
	user := pickSignInUser(t, cfg)
	cfg.ExtraUsers = []auth.WebUser{user.webUser}
	sb, env := startSandbox(t, cfg)
	b := startChromium(t)

	dashboard := readQuery(t, "bench/queries/dashboard.graphql")
	query := strings.Replace(dashboard, "{", "{ viewer { id login name } ", 1)
	var gatewayURL string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, frontendPage, gatewayURL, query)
	}))
	t.Cleanup(front.Close)
	env["CORS_ORIGINS"] = front.URL
	g := startGateway(t, env)
	gatewayURL = g.URL

	page := b.MustPage("").Timeout(60 * time.Second)
	t.Cleanup(func() { _ = page.Close() })
	login := g.URL + "/auth/login?" + url.Values{"return_to": {front.URL + "/app"}}.Encode()
	if err := page.Navigate(login); err != nil {
		t.Fatal(err)
	}
	page.MustElement("#email").MustInput(user.email)
	page.MustElement("#next").MustClick()
	page.MustElement("#password").MustInput(user.password)
	page.MustElement("#sign-in").MustClick()
	consent := page.MustElement("#consent")
	if who := page.MustElement("#consent-user").MustText(); !strings.Contains(who, user.name) {
		t.Fatalf("the consent page names %q, want %q", who, user.name)
	}
	_ = consent
	page.MustElement("#authorize").MustClick()

	out := waitText(t, page, "#out", func(s string) bool { return s != "loading" })
	var res struct {
		Status int
		Body   string
		Error  string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status != http.StatusOK {
		t.Fatalf("the frontend's fetch: %s (page at %s)", out, page.MustInfo().URL)
	}
	var answer struct {
		Data struct {
			Viewer   struct{ ID, Login, Name string }
			Projects struct {
				TotalCount int
				Nodes      []struct{ ID string }
			}
		}
		Errors []gqlError
	}
	if err := json.Unmarshal([]byte(res.Body), &answer); err != nil || len(answer.Errors) > 0 {
		t.Fatalf("dashboard answer: %v %+v\n%.2000s", err, answer.Errors, res.Body)
	}
	if answer.Data.Viewer.ID != id64(user.id) || answer.Data.Viewer.Login != user.email {
		t.Fatalf("viewer %+v, want %d %s", answer.Data.Viewer, user.id, user.email)
	}
	var got []string
	for _, n := range answer.Data.Projects.Nodes {
		got = append(got, n.ID)
	}
	slices.Sort(got)
	want := slices.Clone(user.visible)
	slices.Sort(want)
	if !slices.Equal(got, want) || answer.Data.Projects.TotalCount != len(want) {
		t.Fatalf("projects %v (total %d), want exactly the person's %v", got, answer.Data.Projects.TotalCount, want)
	}
	for _, h := range user.hidden {
		if i := strings.Index(res.Body, `"`+h+`"`); i >= 0 {
			t.Fatalf("the answer holds project %s, which the sandbox hides from %s: …%s…", h, user.email, res.Body[max(0, i-300):min(len(res.Body), i+100)])
		}
	}

	// The session cookie is HttpOnly and SameSite=Lax.
	cookies, err := page.Cookies([]string{g.URL})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range cookies {
		if c.Name == "pg_session" {
			found = true
			if !c.HTTPOnly || c.SameSite != proto.NetworkCookieSameSiteLax {
				t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Lax", c)
			}
		}
	}
	if !found {
		t.Fatalf("no pg_session cookie for %s: %+v", g.URL, cookies)
	}

	// The cookie cannot be used for cross-site forgeries: a state change
	// needs an allowed Origin and a JSON body (or a preflight header), which
	// a plain HTML form cannot send; a query by GET still works.
	var session string
	for _, c := range cookies {
		if c.Name == "pg_session" {
			session = c.Value
		}
	}
	forged := []struct {
		name, origin, contentType string
	}{
		{"TextPlainFromTheFrontend", front.URL, "text/plain"},
		{"FormFromTheFrontend", front.URL, "application/x-www-form-urlencoded"},
		{"JSONFromAnotherSite", "https://evil.example", "application/json"},
		{"JSONWithCrossSiteFetchMetadata", "", "application/json"},
	}
	for _, f := range forged {
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { id } }"}`))
		req.Header.Set("Content-Type", f.contentType)
		req.AddCookie(&http.Cookie{Name: "pg_session", Value: session})
		if f.origin != "" {
			req.Header.Set("Origin", f.origin)
		} else {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: a cookie request answered %d, want 403", f.name, resp.StatusCode)
		}
	}
	// Nor can a cross-site form sign the person out.
	logoutReq, _ := http.NewRequest(http.MethodPost, g.URL+"/auth/logout", strings.NewReader("x=1"))
	logoutReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	logoutReq.Header.Set("Origin", "https://evil.example")
	logoutReq.AddCookie(&http.Cookie{Name: "pg_session", Value: session})
	logoutResp, err := http.DefaultClient.Do(logoutReq)
	if err != nil {
		t.Fatal(err)
	}
	logoutResp.Body.Close()
	if logoutResp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site sign-out form: %d, want 403", logoutResp.StatusCode)
	}
	getReq, _ := http.NewRequest(http.MethodGet, g.URL+"/graphql?query=%7Bviewer%7Bid%7D%7D", nil)
	getReq.AddCookie(&http.Cookie{Name: "pg_session", Value: session})
	getResp, err := http.DefaultClient.Do(getReq)
	if err != nil {
		t.Fatal(err)
	}
	getResp.Body.Close()
	if getResp.StatusCode != http.StatusOK {
		t.Fatalf("a query by GET with the cookie: %d, want 200", getResp.StatusCode)
	}

	// Sign-in is audited with the person.
	var signedIn bool
	for _, r := range g.auditRecords(t) {
		if r.Event == "signin" && r.Outcome == "ok" && r.Principal.Kind == "procore_user" && r.Principal.ProcoreUserID == user.id {
			signedIn = true
		}
	}
	if !signedIn {
		t.Fatalf("no sign-in audit record for %d: %+v", user.id, g.auditRecords(t))
	}

	// Signing out from the page ends the session: the next fetch is 401.
	page.MustEval(`() => { document.getElementById('out').textContent = 'loading'; logout(); }`)
	if out := waitText(t, page, "#out", func(s string) bool { return s != "loading" }); !strings.Contains(out, `"status":204`) {
		t.Fatalf("logout: %s", out)
	}
	page.MustEval(`() => { document.getElementById('out').textContent = 'loading'; again(); }`)
	if out := waitText(t, page, "#out", func(s string) bool { return s != "loading" }); !strings.Contains(out, `"status":401`) {
		t.Fatalf("a request after logout: %s, want 401", out)
	}
	_ = sb
}

// waitText waits until the element's text satisfies ok and returns it.
func waitText(t *testing.T, p *rod.Page, selector string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if el, err := p.Timeout(5 * time.Second).Element(selector); err == nil {
			if txt, err := el.Text(); err == nil {
				last = txt
				if ok(txt) {
					return txt
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never satisfied the wait; last text %q (page %s)", selector, last, p.MustInfo().URL)
	return ""
}
