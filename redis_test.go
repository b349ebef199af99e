package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// requireRedis returns REDIS_URL, skipping without it (failing under CI=true).
func requireRedis(t *testing.T) string { return cachetest.URL(t) }

func randomPrefix(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b) + ":"
}

// TestSharedRedisCache: a second gateway sharing Redis answers the warm
// dashboard with zero Procore calls, and another tenant (another OAuth app in
// another company) makes its own calls and never sees the first one's data.
func TestSharedRedisCache(t *testing.T) {
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 2, ProjectsPerCompany: 3, ItemsPerProject: 8},
		HourlyLimit: -1, SpikeLimit: -1,
		ExtraClients: []auth.Client{{ID: "tenant-b", Secret: "tenant-b-secret"}}})
	env["REDIS_URL"] = redisURL
	env["CACHE_PREFIX"] = randomPrefix(t)
	q := readQuery(t, "bench/queries/dashboard.graphql")

	a := startGateway(t, copyEnv(env))
	b := startGateway(t, copyEnv(env))
	sb.ResetStats()
	first := a.query(t, q, nil)
	if n := sb.Stats().Total; n == 0 {
		t.Fatal("replica A's cold query made no Procore calls")
	}
	sb.ResetStats()
	second := b.query(t, q, nil)
	if n := sb.Stats().Total; n != 0 {
		t.Fatalf("replica B made %d Procore calls for the query A just answered, want 0 (by route %v)", n, sb.Stats().ByRoute)
	}
	if !jsonEqual(t, first.Data, second.Data) {
		t.Fatal("replica B's answer from the shared cache differs from A's")
	}
	if rc := second.Extensions.Procoregraph.ResponseCache; rc != "hit" {
		t.Fatalf("replica B's warm answer: response cache %q, want hit from the answer A stored", rc)
	}

	// A change made through replica A retires the answer on replica B too.
	var projectID, rfiID string
	for _, p := range decodeDashboard(t, first).Projects.Nodes {
		for _, r := range p.RFIs.Nodes {
			if r.Status == "OPEN" && rfiID == "" {
				projectID, rfiID = p.ID, r.ID
			}
		}
	}
	if rfiID == "" {
		t.Fatal("no open RFI in the dashboard to close")
	}
	closed := a.query(t, `mutation($in: CloseRFIInput!) { closeRFI(input: $in) { rfi { id status } userErrors { code message } } }`,
		map[string]any{"in": map[string]any{"projectId": projectID, "rfiId": rfiID}})
	if len(closed.Errors) > 0 || !strings.Contains(string(closed.Data), `"CLOSED"`) {
		t.Fatalf("closeRFI on replica A: %s %+v", closed.Data, closed.Errors)
	}
	sb.ResetStats()
	after := b.query(t, q, nil)
	if rc := after.Extensions.Procoregraph.ResponseCache; rc != "miss" {
		t.Fatalf("replica B after A's closeRFI: response cache %q, want miss", rc)
	}
	if n := sb.Stats().Total; n == 0 {
		t.Fatal("replica B answered without refetching the project A changed")
	}
	found := false
	for _, p := range decodeDashboard(t, after).Projects.Nodes {
		for _, r := range p.RFIs.Nodes {
			if r.ID == rfiID {
				found = true
				if r.Status != "CLOSED" {
					t.Fatalf("replica B still shows RFI %s as %s after A closed it", rfiID, r.Status)
				}
			}
		}
	}
	if !found {
		t.Fatalf("RFI %s missing from replica B's answer", rfiID)
	}

	var companyB int64
	companyBProjects := map[string]bool{}
	sb.ReadDataset(func(d *data.Dataset) {
		companyB = d.Companies[1].ID
		for _, p := range d.Projects {
			if p.CompanyID == companyB {
				companyBProjects[strconv.FormatInt(p.ID, 10)] = true
			}
		}
	})
	envB := copyEnv(env)
	envB["PROCORE_CLIENT_ID"], envB["PROCORE_CLIENT_SECRET"] = "tenant-b", "tenant-b-secret"
	envB["PROCORE_COMPANY_ID"] = strconv.FormatInt(companyB, 10)
	other := startGateway(t, envB)
	sb.ResetStats()
	r := other.query(t, q, nil)
	if n := sb.Stats().ByClient["tenant-b"]; n == 0 {
		t.Fatal("the other tenant made no Procore calls of its own: it was served someone else's cache")
	}
	d := decodeDashboard(t, r)
	if len(d.Projects.Nodes) == 0 {
		t.Fatal("other tenant sees no projects")
	}
	for _, p := range d.Projects.Nodes {
		if !companyBProjects[p.ID] {
			t.Fatalf("tenant B sees project %s of another company", p.ID)
		}
	}
}

// TestSharedRedisDataCacheWithoutResponseCache: with the whole-answer cache
// off (RESPONSE_CACHE=off), replica B answers the dashboard replica A has
// answered (A then stopped) without one Procore call, from the data cache the
// two share in Redis, and its answer equals A's (and the sandbox's data).
func TestSharedRedisDataCacheWithoutResponseCache(t *testing.T) {
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 8},
		HourlyLimit: -1, SpikeLimit: -1})
	env["REDIS_URL"] = redisURL
	env["CACHE_PREFIX"] = randomPrefix(t)
	env["RESPONSE_CACHE"] = "off"
	q := readQuery(t, "bench/queries/dashboard.graphql")

	a := startGateway(t, copyEnv(env))
	b := startGateway(t, copyEnv(env))
	sb.ResetStats()
	first := a.query(t, q, nil)
	cold := sb.Stats()
	if cold.Total == 0 {
		t.Fatal("replica A's cold query made no Procore calls")
	}
	assertDashboardMatches(t, sb, decodeDashboard(t, first))
	// The cache writes behind, after the answer is sent; A's shutdown
	// closes its cache, which finishes those writes. Without this B could
	// ask before A's values reach Redis, and that would depend on timing.
	a.stop()

	sb.ResetStats()
	second := b.query(t, q, nil)
	if n := sb.Stats().Total; n != 0 {
		t.Fatalf("replica B made %d Procore calls for the query A answered with %d, want 0 (by route %v)", n, cold.Total, sb.Stats().ByRoute)
	}
	if !jsonEqual(t, first.Data, second.Data) {
		t.Fatal("replica B's answer from the shared data cache differs from A's")
	}
	for name, r := range map[string]gqlResponse{"A": first, "B": second} {
		if rc := r.Extensions.Procoregraph.ResponseCache; rc != "" {
			t.Errorf("replica %s: response cache %q with RESPONSE_CACHE=off, want it off (\"\")", name, rc)
		}
	}
	if x := second.Extensions.Procoregraph; x.UpstreamCalls != 0 || x.CacheHits == 0 {
		t.Fatalf("replica B's warm answer: %+v, want cache hits and no upstream calls", x)
	}
}

// tcpProxy forwards loopback connections to target until closed, so a test
// can take Redis away from the gateway mid-test.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *tcpProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestQueriesSurviveRedisOutage: with Redis gone mid-test, queries still
// succeed from Procore.
func TestQueriesSurviveRedisOutage(t *testing.T) {
	redisURL := requireRedis(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 5},
		HourlyLimit: -1, SpikeLimit: -1})
	env["REDIS_URL"] = u.String()
	env["CACHE_PREFIX"] = randomPrefix(t)
	g := startGateway(t, env)
	q := readQuery(t, "bench/queries/dashboard.graphql")

	want := g.query(t, q, nil)
	decodeDashboard(t, want)
	proxy.Close() // Redis is gone
	sb.ResetStats()
	for i := 0; i < 2; i++ {
		got := g.query(t, q, nil)
		if len(got.Errors) > 0 {
			t.Fatalf("query %d with Redis down failed: %+v", i, got.Errors)
		}
		if !jsonEqual(t, got.Data, want.Data) {
			t.Fatalf("query %d with Redis down returned different data", i)
		}
	}
	if sb.Stats().Total == 0 {
		t.Fatal("with Redis down the answers must come from Procore, but no calls were made")
	}
}
