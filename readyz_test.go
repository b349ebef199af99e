package main

import (
	"io"
	"net/http"
	"net/url"
	"procoregraph/testwait"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// probe GETs path on g and returns the status and body.
func probe(t *testing.T, g *gatewayProc, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(g.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitNotReady polls /readyz until it answers 503 and returns the body.
func waitNotReady(t *testing.T, g *gatewayProc) string {
	t.Helper()
	var body string
	testwait.For(t, "/readyz answers 503", func() bool {
		var status int
		status, body = probe(t, g, "/readyz")
		return status == http.StatusServiceUnavailable
	})
	return body
}

// TestReadiness: /readyz answers 503, naming the cause, when Redis is
// unreachable, when the replica drains, and when no Procore token can be
// held; /healthz (liveness) stays 200 in each case.
func TestReadiness(t *testing.T) {
	small := sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}, HourlyLimit: -1, SpikeLimit: -1}

	t.Run("RedisDownIsNotReady", func(t *testing.T) {
		u, err := url.Parse(requireRedis(t))
		if err != nil {
			t.Fatal(err)
		}
		proxy := newTCPProxy(t, u.Host)
		u.Host = proxy.ln.Addr().String()
		_, env := startSandbox(t, small)
		env["REDIS_URL"] = u.String()
		env["CACHE_PREFIX"] = randomPrefix(t)
		g := startGateway(t, env)
		if status, body := probe(t, g, "/readyz"); status != http.StatusOK {
			t.Fatalf("/readyz = %d %s with Redis up, want 200", status, body)
		}
		proxy.Close()
		body := waitNotReady(t, g)
		if !strings.Contains(body, `"check":"redis"`) {
			t.Fatalf("/readyz body %s does not name Redis", body)
		}
		if status, _ := probe(t, g, "/healthz"); status != http.StatusOK {
			t.Fatalf("/healthz = %d with Redis down, want 200 (alive)", status)
		}
	})

	t.Run("DrainingIsNotReady", func(t *testing.T) {
		_, env := startSandbox(t, small)
		env["SHUTDOWN_DELAY"] = "8s" // /readyz is probed within it
		env["SHUTDOWN_GRACE"] = "1s"
		g := startGateway(t, env)
		if status, body := probe(t, g, "/readyz"); status != http.StatusOK {
			t.Fatalf("/readyz = %d %s before the drain, want 200", status, body)
		}
		g.cancel() // the process is told to stop: the drain starts
		body := waitNotReady(t, g)
		if !strings.Contains(body, "draining") {
			t.Fatalf("/readyz body %s does not say draining", body)
		}
		if status, _ := probe(t, g, "/healthz"); status != http.StatusOK {
			t.Fatalf("/healthz = %d while draining, want 200 (alive)", status)
		}
	})

	t.Run("NoProcoreTokenIsNotReady", func(t *testing.T) {
		cfg := small
		cfg.TokenTTL = 2 * time.Second // the held token expires soon
		sb, env := startSandbox(t, cfg)
		su, _ := url.Parse(sb.URL)
		proxy := newTCPProxy(t, su.Host)
		via := "http://" + proxy.ln.Addr().String()
		env["PROCORE_API_URL"], env["PROCORE_LOGIN_URL"] = via, via
		g := startGateway(t, env)
		if status, body := probe(t, g, "/readyz"); status != http.StatusOK {
			t.Fatalf("/readyz = %d %s with a token, want 200", status, body)
		}
		proxy.Close() // Procore's token endpoint is gone: the token cannot be renewed
		body := waitNotReady(t, g)
		if !strings.Contains(body, `"check":"procore_token"`) {
			t.Fatalf("/readyz body %s does not name the Procore token", body)
		}
		if strings.Contains(body, sandbox.DefaultClientSecret) {
			t.Fatal("/readyz shows the client secret")
		}
		if status, _ := probe(t, g, "/healthz"); status != http.StatusOK {
			t.Fatalf("/healthz = %d without a token, want 200 (alive)", status)
		}
	})
}
