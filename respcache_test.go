package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestResponseCacheServesOnlyWhatItMay checks the whole-response cache from
// the outside, over the in-memory store: repeated queries are hits with 0
// Procore calls, answers are kept apart by variables, operations it must not
// cache are executed every time, a mutation retires the answers that read
// what it changed, and the debug listener's invalidation empties it.
func TestResponseCacheServesOnlyWhatItMay(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6},
		HourlyLimit: -1, SpikeLimit: -1})
	g := startGateway(t, copyEnv(env), "-debug-addr", "127.0.0.1:0")
	q := readQuery(t, "bench/queries/dashboard.graphql")
	first := g.query(t, q, nil)
	dash := decodeDashboard(t, first)
	if rc := first.Extensions.Procoregraph.ResponseCache; rc != "miss" {
		t.Fatalf("first dashboard: response cache %q, want miss", rc)
	}

	t.Run("VariablesKeepAnswersApart", func(t *testing.T) {
		const pq = `query($p: ID!) { project(id: $p) { id name } }`
		var answers []string
		for _, p := range dash.Projects.Nodes[:2] {
			for i, want := range []string{"miss", "hit"} {
				r := g.query(t, pq, map[string]any{"p": p.ID})
				if rc := r.Extensions.Procoregraph.ResponseCache; rc != want {
					t.Fatalf("project %s query %d: response cache %q, want %q", p.ID, i, rc, want)
				}
				if !strings.Contains(string(r.Data), `"`+p.ID+`"`) {
					t.Fatalf("project %s answered with %s", p.ID, r.Data)
				}
				if want == "hit" {
					answers = append(answers, string(r.Data))
				}
			}
		}
		if answers[0] == answers[1] {
			t.Fatal("two projects got the same cached answer")
		}
	})

	t.Run("OperationsOutsideTheCacheableRootsAreExecuted", func(t *testing.T) {
		const sq = `{ submittalStatuses { id name } }`
		for i := 0; i < 2; i++ {
			r := g.query(t, sq, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("submittalStatuses: %+v", r.Errors)
			}
			if rc := r.Extensions.Procoregraph.ResponseCache; rc != "bypass" {
				t.Fatalf("submittalStatuses query %d: response cache %q, want bypass", i, rc)
			}
		}
	})

	t.Run("MutationRetiresWhatItChanged", func(t *testing.T) {
		var projectID, rfiID string
		for _, p := range dash.Projects.Nodes {
			for _, r := range p.RFIs.Nodes {
				if r.Status == "OPEN" && rfiID == "" {
					projectID, rfiID = p.ID, r.ID
				}
			}
		}
		if rfiID == "" {
			t.Fatal("no open RFI to close")
		}
		if r := g.query(t, q, nil); r.Extensions.Procoregraph.ResponseCache != "hit" {
			t.Fatalf("dashboard before the mutation: %+v", r.Extensions.Procoregraph)
		}
		closed := g.query(t, `mutation($in: CloseRFIInput!) { closeRFI(input: $in) { rfi { status } userErrors { code } } }`,
			map[string]any{"in": map[string]any{"projectId": projectID, "rfiId": rfiID}})
		if !strings.Contains(string(closed.Data), `"CLOSED"`) {
			t.Fatalf("closeRFI: %s %+v", closed.Data, closed.Errors)
		}
		sb.ResetStats()
		r := g.query(t, q, nil)
		calls := sb.Stats().ByRoute
		if rc := r.Extensions.Procoregraph.ResponseCache; rc != "miss" {
			t.Fatalf("dashboard after closeRFI: response cache %q, want miss", rc)
		}
		// Only the changed project's lists are refetched: at most its RFI,
		// submittal, two contract and requisition lists; the other projects
		// and the projects page come from the data cache.
		var total int64
		for route, n := range calls {
			total += n
			if !strings.Contains(route, "rfis") && !strings.Contains(route, "submittals") && !strings.Contains(route, "contracts") && !strings.Contains(route, "requisitions") {
				t.Errorf("refetched %s (%d calls) after a change to one project's RFI", route, n)
			}
		}
		if total == 0 || total > 5 {
			t.Errorf("refetched %d lists after a change to one project's RFI, want 1 to 5: %v", total, calls)
		}
		for _, p := range decodeDashboard(t, r).Projects.Nodes {
			for _, x := range p.RFIs.Nodes {
				if x.ID == rfiID && x.Status != "CLOSED" {
					t.Fatalf("RFI %s still %s after closeRFI", rfiID, x.Status)
				}
			}
		}
		if r := g.query(t, q, nil); r.Extensions.Procoregraph.ResponseCache != "hit" {
			t.Fatalf("the answer after the mutation was not stored: %+v", r.Extensions.Procoregraph)
		}
	})

	t.Run("GetRequestsToo", func(t *testing.T) {
		get := func() gqlResponse {
			u := g.URL + "/graphql?" + url.Values{"query": {`query($p: ID!) { project(id: $p) { id name } }`},
				"variables": {`{"p":"` + dash.Projects.Nodes[2].ID + `"}`}}.Encode()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("X-Procoregraph-Debug", "1")
			resp, err := http.DefaultClient.Do(withHarnessKey(req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out gqlResponse
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET: status %d, %v", resp.StatusCode, err)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("GET answer Content-Type %q", ct)
			}
			return out
		}
		first, second := get(), get()
		if first.Extensions.Procoregraph.ResponseCache != "miss" || second.Extensions.Procoregraph.ResponseCache != "hit" {
			t.Fatalf("GET twice: %q then %q, want miss then hit", first.Extensions.Procoregraph.ResponseCache, second.Extensions.Procoregraph.ResponseCache)
		}
		if !jsonEqual(t, first.Data, second.Data) || !strings.Contains(string(second.Data), dash.Projects.Nodes[2].ID) {
			t.Fatalf("GET answers differ: %s vs %s", first.Data, second.Data)
		}
	})

	t.Run("NoCacheHeaderExecutes", func(t *testing.T) {
		r := g.queryWith(t, http.Header{"Cache-Control": {"no-cache"}}, q, nil)
		if x := r.Extensions.Procoregraph; x.ResponseCache != "miss" || x.CacheHits == 0 {
			t.Fatalf("Cache-Control: no-cache: %+v", x)
		}
	})

	t.Run("DebugInvalidateEmptiesTheCache", func(t *testing.T) {
		debug := debugAddr(t, g)
		resp, err := http.Post("http://"+debug+"/debug/cache/invalidate", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("invalidate: status %d", resp.StatusCode)
		}
		sb.ResetStats()
		r := g.query(t, q, nil)
		if x := r.Extensions.Procoregraph; x.ResponseCache != "miss" || x.CacheHits != 0 || sb.Stats().Total == 0 {
			t.Fatalf("after invalidating everything: %+v, %d Procore calls", x, sb.Stats().Total)
		}
	})
}

var profilerRE = regexp.MustCompile(`msg="profiler listening" addr=(\S+)`)

// debugAddr returns the address the gateway's -debug-addr listener got.
func debugAddr(t *testing.T, g *gatewayProc) string {
	t.Helper()
	for i := 0; i < 100; i++ {
		if m := profilerRE.FindStringSubmatch(g.stderr.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no profiler address in the gateway's log:\n%s", g.stderr)
	return ""
}

// TestUpstreamConnectionsAreReused: a dashboard fans out to about 60 Procore
// calls; a second dashboard must reuse those connections (and, on real
// Procore, their TLS sessions) instead of dialing them again. The calls go
// 8 at a time (-max-concurrency 8), so both dashboards need the same number
// of connections whatever the scheduling: with a pool that kept only 2 idle
// connections the second would dial dozens anew.
func TestUpstreamConnectionsAreReused(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 12, ItemsPerProject: 4},
		HourlyLimit: -1, SpikeLimit: -1})
	proxy := newTCPProxy(t, strings.TrimPrefix(sb.URL, "http://"))
	env = copyEnv(env)
	env["PROCORE_API_URL"] = "http://" + proxy.ln.Addr().String()
	g := startGateway(t, env, "-no-cache", "-max-concurrency", "8")
	q := readQuery(t, "bench/queries/dashboard.graphql")
	sb.ResetStats()
	decodeDashboard(t, g.query(t, q, nil))
	calls, dialed := sb.Stats().Total, proxy.accepted()
	if calls < 40 {
		t.Fatalf("the dashboard made only %d calls: too few to tell reuse from luck", calls)
	}
	decodeDashboard(t, g.query(t, q, nil))
	if again := proxy.accepted() - dialed; again > 4 {
		t.Fatalf("the second dashboard (%d calls) dialed %d new connections after the first dialed %d; want them reused", calls, again, dialed)
	}
}
