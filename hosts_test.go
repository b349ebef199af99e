package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestBrowsersCannotBeTurnedAgainstTheGateway: a request for a host the
// gateway does not serve (DNS rebinding: evil.example resolving to the
// gateway's address) is refused with 421 before anything runs; a CORS
// preflight from a listed frontend origin succeeds with credentials allowed,
// one from an unlisted origin gets no CORS header at all; a websocket from
// an unlisted origin is refused at the upgrade.
func TestBrowsersCannotBeTurnedAgainstTheGateway(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}})
	env["CORS_ORIGINS"] = "https://app.example.com, http://localhost:5173"
	g := startGateway(t, env)

	t.Run("UnknownHostIs421WithNoUpstreamCall", func(t *testing.T) {
		sb.ResetStats()
		for _, host := range []string{"evil.example", "evil.example:8080", "127.0.0.1.evil.example"} {
			req, _ := http.NewRequest(http.MethodPost, g.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { id } }"}`))
			req.Host = host
			req.Header.Set("Content-Type", "application/json")
			withHarnessKey(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMisdirectedRequest {
				t.Fatalf("Host %s: status %d, want 421", host, resp.StatusCode)
			}
		}
		if n := sb.Stats().Total; n != 0 {
			t.Fatalf("%d Procore calls for refused hosts", n)
		}
	})

	t.Run("LoopbackNamesAreServed", func(t *testing.T) {
		for _, host := range []string{"localhost", strings.TrimPrefix(g.URL, "http://")} {
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/graphql?query=%7B__typename%7D", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("Host %s: status %d, want 200", host, resp.StatusCode)
			}
		}
	})

	preflight := func(t *testing.T, origin string) http.Header {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, g.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type") // as browsers send it
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("preflight from %s: status %d", origin, resp.StatusCode)
		}
		return resp.Header
	}

	t.Run("PreflightFromListedOriginSucceeds", func(t *testing.T) {
		h := preflight(t, "https://app.example.com")
		if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("CORS headers %v", h)
		}
	})

	t.Run("UnlistedOriginGetsNoCORSHeaders", func(t *testing.T) {
		h := preflight(t, "https://evil.example")
		for k := range h {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Fatalf("unlisted origin got %s: %v", k, h)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Fatalf("unlisted origin's request got Access-Control-Allow-Origin %q", v)
		}
	})

	t.Run("WebsocketFromUnlistedOriginIsRefused", func(t *testing.T) {
		h := http.Header{"Origin": {"https://evil.example"}}
		c, resp, err := websocket.Dial(t.Context(), wsURL(g), &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{"graphql-transport-ws"}})
		if err == nil {
			c.CloseNow()
			t.Fatal("websocket from an unlisted origin was accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("websocket from an unlisted origin: %v (response %v), want 403", err, resp)
		}
		h.Set("Origin", "https://app.example.com")
		c, _, err = websocket.Dial(t.Context(), wsURL(g), &websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatalf("websocket from a listed origin: %v", err)
		}
		c.CloseNow()
	})
}
