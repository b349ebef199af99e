package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

const (
	noisyKey = "pgk_noisyNoisyNoisyNoisyNoisyNoisyNoisyNoisyNo"
	quietKey = "pgk_quietQuietQuietQuietQuietQuietQuietQuietQu"
)

// postRaw sends body as a GraphQL POST with the harness key and returns the
// status and raw answer.
func postRaw(t *testing.T, url string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	withHarnessKey(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func codeOf(t *testing.T, raw []byte) string {
	t.Helper()
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("answer is not JSON: %.300s", raw)
	}
	return firstCode(r)
}

func queryBody(q string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return b
}

// nest repeats open around inner n times: nest("a { ", "x", " }", 3).
func nest(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// TestAbuseSuite: attacks a client can send in one request (or a burst),
// each answered with its documented code before it costs anything: no
// Procore call (or the stated bound), and no secret repeated anywhere.
func TestAbuseSuite(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 4, ItemsPerProject: 5}})
	var project string
	sb.ReadDataset(func(d *data.Dataset) { project = id64(d.Projects[0].ID) })
	env["API_KEYS"] += ";" + apiKeyEntry("noisy", "read", "", noisyKey) + ":rpm=60" + ";" + apiKeyEntry("quiet", "read", "", quietKey)
	g := startGateway(t, env)

	cyclic := "{ projects { nodes { " + nest("rfis { nodes { project { ", "id", " } } }", 6) + " } } }"
	depthBomb := "{ projects { nodes { " + nest("company { projects { nodes { ", "id", " } } }", 8) + " } } }"
	var aliases, dailyRanges, roots strings.Builder
	for i := range 200 {
		fmt.Fprintf(&aliases, "a%d: viewer { id } ", i)
	}
	for i := range 40 {
		fmt.Fprintf(&dailyRanges, `d%d: dailyLogs(from: "2026-%02d-01", to: "2026-%02d-28") { date } `, i, i%12+1, i%12+1)
	}
	for _, f := range []string{"viewer { id }", "companies { id }", "submittalStatuses { id }", "procoreRateLimit { limit }", "__typename"} {
		for i := range 5 {
			fmt.Fprintf(&roots, "r%s%d: %s ", strings.Fields(f)[0][:2], i, f)
		}
	}
	reps := make([]map[string]any, 10_000)
	for i := range reps {
		reps[i] = map[string]any{"__typename": "RFI", "id": strconv.Itoa(9300000000 + i)}
	}
	big := bytes.Repeat([]byte(" "), 50<<20)
	copy(big, `{"query":"{ viewer { id } }","x":"`)
	big[len(big)-2], big[len(big)-1] = '"', '}'

	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
		calls  int64 // the most Procore calls allowed
	}{
		{"SixLevelCyclicQuery", queryBody(cyclic, nil), 200, "DEPTH_LIMIT_EXCEEDED", 0},
		{"DepthBomb", queryBody(depthBomb, nil), 200, "DEPTH_LIMIT_EXCEEDED", 0},
		{"AliasBomb", queryBody("{ "+aliases.String()+"}", nil), 200, "ALIAS_LIMIT_EXCEEDED", 0},
		{"AliasedDailyLogRanges", queryBody(`query($p: ID!) { project(id: $p) { `+dailyRanges.String()+`} }`, map[string]any{"p": project}), 200, "ALIAS_LIMIT_EXCEEDED", 0},
		{"RootFieldBomb", queryBody("{ "+roots.String()+"}", nil), 200, "ROOT_FIELD_LIMIT_EXCEEDED", 0},
		{"HugeFirst", queryBody(`{ projects(first: 100000) { nodes { id } } }`, nil), 200, "BAD_USER_INPUT", 0},
		{"HugeFirstNested", queryBody(`{ projects(first: 1000) { nodes { rfis(first: 1000) { nodes { id } } } } }`, nil), 200, "COST_LIMIT_EXCEEDED", 0},
		{"DeepCursorOffset", queryBody(`query($p: ID!, $a: String) { project(id: $p) { rfis(first: 1000, after: $a) { nodes { id } } } }`,
			map[string]any{"p": project, "a": "Y3Vyc29yOjk5OTk5"}), 200, "COST_LIMIT_EXCEEDED", 0},
		{"CursorOverflowGivesAnEmptyPage", queryBody(`{ projects(after: "Y3Vyc29yOjkyMjMzNzIwMzY4NTQ3NzU4MDc=") { totalCount nodes { id } } }`, nil), 200, "", 1},
		{"MalformedCursor", queryBody(`{ projects(after: "not-a-cursor") { nodes { id } } }`, nil), 200, "BAD_USER_INPUT", 0},
		{"EntitiesWithTenThousandIDs", queryBody(`query($r: [_Any!]!) { _entities(representations: $r) { ... on RFI { id } } }`, map[string]any{"r": reps}), 200, "COST_LIMIT_EXCEEDED", 0},
		{"FragmentCycle", queryBody(`fragment A on Project { company { projects { nodes { ...B } } } } fragment B on Project { ...A } { projects { nodes { ...A } } }`, nil), 200, "GRAPHQL_VALIDATION_FAILED", 0},
		{"TokenFlood", queryBody("{ viewer { "+strings.Repeat("id ", 20_000)+"} }", nil), 200, "GRAPHQL_PARSE_FAILED", 0},
		{"FiftyMegabyteBody", big, 413, "PAYLOAD_TOO_LARGE", 0},
		{"MalformedJSONWithASecret", []byte(`{"query": "mutation { createSession(input: {username: \"pat\", password: \"hunter2-SECRET-PASSWORD\"}) { session { token } } }", `), 400, "BAD_REQUEST", 0},
		{"BatchArray", []byte(`[{"query":"{ viewer { id } }"},{"query":"{ viewer { id } }"}]`), 400, "BAD_REQUEST", 0},
		{"WrongTypes", []byte(`{"query": 42}`), 400, "BAD_REQUEST", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sb.ResetStats()
			status, raw := postRaw(t, g.URL, c.body, nil)
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, raw)
			}
			if got := codeOf(t, raw); got != c.code {
				t.Fatalf("code %q, want %q: %.500s", got, c.code, raw)
			}
			if n := sb.Stats().Total; n > c.calls {
				t.Fatalf("%d Procore calls, want at most %d: %v", n, c.calls, sb.Stats().ByRoute)
			}
			if strings.Contains(string(raw), "SECRET-PASSWORD") {
				t.Fatalf("the answer repeats the body: %.300s", raw)
			}
		})
	}
	t.Run("NoSecretInAnyLogLine", func(t *testing.T) {
		if strings.Contains(g.stderr.String(), "SECRET-PASSWORD") {
			t.Fatal("the gateway logged a malformed body's secret")
		}
	})
	t.Run("CostEstimateIsReported", func(t *testing.T) {
		r := g.query(t, `{ projects(first: 2) { nodes { rfis(first: 3) { totalCount } } } }`, nil)
		st := r.Extensions.Procoregraph
		if len(r.Errors) > 0 || st.EstimatedCalls < 3 || st.EstimatedCalls < st.UpstreamCalls {
			t.Fatalf("debug extensions %+v (errors %+v): want the estimate (at least 3) beside the actual calls", st, r.Errors)
		}
	})

	t.Run("ThousandRequestsASecondFromOneKey", func(t *testing.T) {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100 {
					st, _ := postRaw(t, g.URL, queryBody("{ __typename }", nil), bearerHeader(noisyKey))
					mu.Lock()
					statuses[st]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusOK] == 0 {
			t.Fatalf("statuses %v: want some 200 then 429s", statuses)
		}
		status, raw := postRaw(t, g.URL, queryBody("{ __typename }", nil), bearerHeader(noisyKey))
		if status != http.StatusTooManyRequests || codeOf(t, raw) != "RATE_LIMITED" {
			t.Fatalf("the noisy key once more: %d %.200s", status, raw)
		}
		// Another key is not slowed down at all.
		for range 20 {
			if status, raw := postRaw(t, g.URL, queryBody("{ viewer { id } }", nil), bearerHeader(quietKey)); status != http.StatusOK {
				t.Fatalf("the quiet key got %d: %.200s", status, raw)
			}
		}
		t.Logf("noisy key: %v", statuses)
	})

	t.Run("SubscriptionsToRandomProjects", func(t *testing.T) {
		sb.ResetStats()
		for i := range 5 {
			sub := subscribeSSE(t, g.URL+"/graphql", `subscription($p: ID) { rfiChanged(projectId: $p) { cursor } }`,
				map[string]any{"p": strconv.Itoa(7999999900 + i)})
			select {
			case ev := <-sub.events:
				if !strings.Contains(string(ev), "NOT_FOUND") && !strings.Contains(string(ev), "errors") {
					t.Fatalf("subscription to a random project: %s", ev)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no answer to a subscription to a random project")
			}
			sub.cancel()
		}
		if n := sb.Stats().Total; n > 10 {
			t.Fatalf("%d Procore calls for 5 subscriptions to unknown projects, want at most 2 each", n)
		}
	})
}

// TestLockedDownGateway: with INTROSPECTION=off the schema cannot be read;
// with ONLY_PERSISTED only the manifest's documents run; with a small
// MAX_ANSWER_FIELDS an answer that outgrows it is refused whole.
func TestLockedDownGateway(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 5}})
	dashboard := readQuery(t, "bench/queries/dashboard.graphql")
	sum := sha256.Sum256([]byte(dashboard))
	manifest, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]any{{"id": hex.EncodeToString(sum[:]), "name": "Dashboard", "type": "query", "body": dashboard}}})
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := copyEnv(env)
	locked["INTROSPECTION"] = "off"
	locked["PERSISTED_OPERATIONS"] = path
	locked["ONLY_PERSISTED"] = "true"
	g := startGateway(t, locked)

	t.Run("IntrospectionIsOff", func(t *testing.T) {
		sb.ResetStats()
		_, raw := postRaw(t, g.URL, queryBody(`{ __schema { types { name } } }`, nil), nil)
		if c := codeOf(t, raw); c != "PERSISTED_QUERY_REQUIRED" && c != "INTROSPECTION_DISABLED" {
			t.Fatalf("introspection: %.300s", raw)
		}
	})
	t.Run("UnknownDocumentIsRefused", func(t *testing.T) {
		sb.ResetStats()
		_, raw := postRaw(t, g.URL, queryBody(`{ projects { nodes { id } } }`, nil), nil)
		if codeOf(t, raw) != "PERSISTED_QUERY_REQUIRED" || sb.Stats().Total != 0 {
			t.Fatalf("an unknown document: %.300s, %d calls", raw, sb.Stats().Total)
		}
	})
	t.Run("ManifestDocumentRunsByID", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}})
		status, raw := postRaw(t, g.URL, body, nil)
		if status != http.StatusOK || codeOf(t, raw) != "" || !strings.Contains(string(raw), `"projects"`) {
			t.Fatalf("the trusted dashboard by id: %d %.300s", status, raw)
		}
	})

	small := copyEnv(env)
	small["MAX_ANSWER_FIELDS"] = "200"
	s := startGateway(t, small)
	t.Run("AnswerOverItsFieldBoundIsRefused", func(t *testing.T) {
		_, raw := postRaw(t, s.URL, queryBody(dashboard, nil), nil)
		if codeOf(t, raw) != "ANSWER_TOO_LARGE" || bytes.Count(raw, []byte(`"code"`)) != 1 {
			t.Fatalf("a dashboard over 200 fields: %.500s", raw)
		}
	})
}

// TestOperationDeadlineCancelsProcoreCalls: with OPERATION_TIMEOUT shorter
// than Procore's answer, the query ends with an error instead of waiting,
// and its Procore call is cancelled (the gateway does not retry past the
// deadline).
func TestOperationDeadlineCancelsProcoreCalls(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 2}})
	env["OPERATION_TIMEOUT"] = "300ms"
	g := startGateway(t, env, "-no-cache")
	sb.SetFaults(sandbox.Faults{Latency: sandbox.Duration(5 * time.Second)})
	defer sb.SetFaults(sandbox.Faults{})
	sb.ResetStats()
	r := g.query(t, `{ projects(first: 2) { nodes { id } } }`, nil)
	if len(r.Errors) == 0 || firstCode(r) != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("a query past its deadline: %s %+v, want UPSTREAM_UNAVAILABLE", r.Data, r.Errors)
	}
	if n := sb.Stats().Total; n > 1 {
		t.Fatalf("%d Procore calls for one list past the deadline, want at most 1 (no retries)", n)
	}
}

// TestStreamAcceptOnAPlainRequestKeepsItsDeadline: a GET query that asks
// for a subscription stream in its Accept header (multipart or server-sent
// events) is served by the GET transport as a plain request, so it keeps
// OPERATION_TIMEOUT: it ends with an error instead of waiting for Procore.
func TestStreamAcceptOnAPlainRequestKeepsItsDeadline(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 2}})
	env["OPERATION_TIMEOUT"] = "300ms"
	g := startGateway(t, env, "-no-cache")
	sb.SetFaults(sandbox.Faults{Latency: sandbox.Duration(5 * time.Second)})
	defer sb.SetFaults(sandbox.Faults{})
	for _, c := range []struct{ name, accept string }{
		{"MultipartAcceptEndsAtTheDeadline", `multipart/mixed;boundary="graphql";subscriptionSpec="1.0", application/json`},
		{"EventStreamAcceptEndsAtTheDeadline", "text/event-stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/graphql?query="+url.QueryEscape(`{ projects(first: 2) { nodes { id } } }`), nil)
			req.Header.Set("Accept", c.accept)
			resp, err := http.DefaultClient.Do(withHarnessKey(req))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if code := codeOf(t, raw); code != "UPSTREAM_UNAVAILABLE" {
				t.Fatalf("a GET query past its deadline: %d %.300s, want UPSTREAM_UNAVAILABLE", resp.StatusCode, raw)
			}
		})
	}
}
