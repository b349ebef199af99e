package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"procoregraph/graphiql"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

var assetRefRE = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

// TestGraphiQLServedFromTheBinary: the gateway's GraphiQL page names no
// external URL, and every script and stylesheet it references is served by
// the gateway itself, byte for byte the pinned build. With GRAPHIQL=off
// neither the page nor its assets are served.
func TestGraphiQLServedFromTheBinary(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 1}})
	g := startGateway(t, env)
	status, page := fetch(t, g.URL+"/")
	page = html.UnescapeString(page)
	if status != http.StatusOK || !strings.Contains(page, "GraphiQL") {
		t.Fatalf("GET /: %d %.300s", status, page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Fatalf("the page names an external URL:\n%s", page)
	}
	refs := assetRefRE.FindAllStringSubmatch(page, -1)
	if len(refs) != len(graphiql.Assets()) {
		t.Fatalf("the page references %v, want the %d pinned assets", refs, len(graphiql.Assets()))
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Fatalf("reference %q is not a path on the gateway", ref)
		}
		status, body := fetch(t, g.URL+ref)
		var want []byte
		for _, a := range graphiql.Assets() {
			if a.Path == ref {
				want, _ = graphiql.Open(a.File)
			}
		}
		if status != http.StatusOK || want == nil || body != string(want) {
			t.Fatalf("GET %s: %d, %d bytes; want the pinned asset (%d bytes)", ref, status, len(body), len(want))
		}
	}

	off := copyEnv(env)
	off["GRAPHIQL"] = "off"
	h := startGateway(t, off)
	for _, path := range []string{"/", graphiql.Assets()[0].Path} {
		if status, _ := fetch(t, h.URL+path); status != http.StatusNotFound {
			t.Fatalf("GRAPHIQL=off: GET %s = %d, want 404", path, status)
		}
	}
}

// TestGraphiQLRunsAQueryOffline: real headless Chromium loads GraphiQL from
// the gateway while every request to any other host fails, and runs a
// query whose answer (the sandbox's project names) appears in the result
// pane. No request left the gateway's origin.
func TestGraphiQLRunsAQueryOffline(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 1}})
	g := startGateway(t, env)
	var name string
	sb.ReadDataset(func(d *data.Dataset) { name = d.Projects[0].Name })
	gw, _ := url.Parse(g.URL)

	b := startChromium(t)
	router := b.HijackRequests()
	var mu sync.Mutex
	var blocked, served []string
	router.MustAdd("*", func(h *rod.Hijack) {
		u := h.Request.URL()
		mu.Lock()
		defer mu.Unlock()
		if u.Host != gw.Host {
			blocked = append(blocked, u.String())
			h.Response.Fail(proto.NetworkErrorReasonInternetDisconnected)
			return
		}
		served = append(served, u.Path)
		h.ContinueRequest(&proto.FetchContinueRequest{})
	})
	go router.Run()
	t.Cleanup(func() { _ = router.Stop() })

	query := `{ projects(first: 2) { nodes { id name } } }`
	headers := `{"Authorization": "` + g.bearer() + `"}`
	if g.bearer() == "" {
		headers = `{}`
	}
	page := openGraphiQL(t, b, g, query, "projects", headers)
	page.MustElement(".graphiql-execute-button").MustClick()
	got := waitText(t, page, ".result-window", func(s string) bool { return strings.Contains(s, name) })
	if !strings.Contains(got, `"projects"`) {
		t.Fatalf("result pane: %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(blocked) > 0 {
		t.Fatalf("GraphiQL asked for other hosts: %v", blocked)
	}
	for _, a := range graphiql.Assets() {
		if !hasString(served, a.Path) {
			t.Fatalf("the browser never loaded %s from the gateway (it loaded %v)", a.Path, served)
		}
	}
	t.Logf("requests, all to the gateway: %d", len(served))
}

// openGraphiQL opens the gateway's GraphiQL with query and headers in its
// editors (waiting until the query editor shows field). GraphiQL reads them from localStorage (and keeps tabs there once
// it ran), so they are stored from another page of the same origin (an
// asset) before GraphiQL first loads.
func openGraphiQL(t *testing.T, b *rod.Browser, g *gatewayProc, query, field, headers string) *rod.Page {
	t.Helper()
	page := b.MustPage("").Timeout(60 * time.Second)
	if err := page.Navigate(g.URL + graphiql.Assets()[0].Path); err != nil {
		t.Fatal(err)
	}
	page.MustWaitLoad()
	page.MustEval(`(q, h) => { localStorage.clear(); localStorage.setItem('graphiql:query', q); localStorage.setItem('graphiql:headers', h); }`, query, headers)
	if err := page.Navigate(g.URL + "/"); err != nil {
		t.Fatal(err)
	}
	page.MustWaitLoad()
	waitText(t, page, ".graphiql-query-editor", func(s string) bool { return strings.Contains(s, field) })
	return page
}

// fetch GETs url and returns its status and body.
func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGraphiQLSubscribesOffline: as in the no-credential demo (ANONYMOUS=
// service), GraphiQL loaded offline in real Chromium subscribes to
// ballInCourtChanged over graphql-ws, and a ball moved in the sandbox
// appears in its result pane.
func TestGraphiQLSubscribesOffline(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	env["ANONYMOUS"] = "service"
	g := startGateway(t, env, "-register-webhooks")
	project, rfis, users := pickRFIs(t, sb, 1)
	gw, _ := url.Parse(g.URL)

	b := startChromium(t)
	router := b.HijackRequests()
	var mu sync.Mutex
	var blocked []string
	router.MustAdd("*", func(h *rod.Hijack) {
		if u := h.Request.URL(); u.Host != gw.Host {
			mu.Lock()
			blocked = append(blocked, u.String())
			mu.Unlock()
			h.Response.Fail(proto.NetworkErrorReasonInternetDisconnected)
			return
		}
		h.ContinueRequest(&proto.FetchContinueRequest{})
	})
	go router.Run()
	t.Cleanup(func() { _ = router.Stop() })

	query := `subscription { ballInCourtChanged(projectId: "` + id64(project) + `") { itemId ballInCourt { id } } }`
	page := openGraphiQL(t, b, g, query, "ballInCourtChanged", `{}`)
	page.MustElement(".graphiql-execute-button").MustClick()
	waitActive(t, g, 1)
	to := otherUser(t, users, ballInCourtOf(sb, project, rfis[0]))
	moveBall(t, sb, project, rfis[0], to)
	got := waitText(t, page, ".result-window", func(s string) bool { return strings.Contains(s, id64(rfis[0])) })
	if !strings.Contains(got, id64(to)) {
		t.Fatalf("result pane %s, want the ball in %d's court", got, to)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(blocked) > 0 {
		t.Fatalf("GraphiQL asked for other hosts: %v", blocked)
	}
}
