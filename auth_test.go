package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// Keys of the authentication tests (never real: test data only).
const (
	readKey      = "pgk_readReadReadReadReadReadReadReadReadReadRea"
	subscribeKey = "pgk_subscribeSubscribeSubscribeSubscribeSubsc"
)

// rawPost POSTs a GraphQL request with exactly the given headers (no
// harness key) and returns the status and decoded body.
func rawPost(t *testing.T, url, query string, vars map[string]any, header http.Header) (int, gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("status %d, body is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func bearerHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func firstCode(r gqlResponse) string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// TestNobodyReachesProcoreWithoutACredential: with a real Procore (here a
// sandbox on its own port) a request without a credential, with an unknown
// API key or with a bearer token the gateway did not issue is answered 401
// UNAUTHENTICATED and makes no Procore call; a read key gets the dashboard
// but a mutation with it is FORBIDDEN with no Procore write; a subscribe-only
// key cannot run queries. The schema (introspection, _service) stays public.
func TestNobodyReachesProcoreWithoutACredential(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}})
	env["API_KEYS"] += ";" + apiKeyEntry("bi-reader", "read", "", readKey) + ";" + apiKeyEntry("live-only", "subscribe", "", subscribeKey)
	g := startGateway(t, env)
	dashboard := readQuery(t, "bench/queries/dashboard.graphql")
	var project, rfi string
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			for _, r := range p.RFIs {
				if r.Status == "open" && !r.Draft && rfi == "" {
					project, rfi = id64(p.ID), id64(r.ID)
				}
			}
		}
	})
	if rfi == "" {
		t.Fatal("no open RFI in the sandbox")
	}
	closeRFI := `mutation($p: ID!, $r: ID!) { closeRFI(input: {projectId: $p, rfiId: $r}) { rfi { id status } userErrors { code } } }`

	refused := []struct {
		name   string
		header http.Header
	}{
		{"NoCredential", http.Header{}},
		{"UnknownAPIKey", bearerHeader(apikeysPrefixed("unknownUnknownUnknownUnknownUnknownUnknownU"))},
		{"NotAGatewayToken", bearerHeader("eyJhbGciOiJIUzI1NiJ9.e30.c2ln")},
		{"NotBearer", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
		{"SessionCookieThatIsNotOne", http.Header{"Cookie": {"pg_session=pgu_forgedForgedForged"}}},
	}
	for _, c := range refused {
		t.Run(c.name+"Is401WithNoUpstreamCall", func(t *testing.T) {
			sb.ResetStats()
			for _, q := range []string{dashboard, `{ viewer { id name } }`} {
				status, resp := rawPost(t, g.URL, q, nil, c.header)
				if status != http.StatusUnauthorized || firstCode(resp) != "UNAUTHENTICATED" || string(resp.Data) != "" && string(resp.Data) != "null" {
					t.Fatalf("status %d, code %q, data %s; want 401 UNAUTHENTICATED without data", status, firstCode(resp), resp.Data)
				}
			}
			status, resp := rawPost(t, g.URL, closeRFI, map[string]any{"p": project, "r": rfi}, c.header)
			if status != http.StatusUnauthorized || firstCode(resp) != "UNAUTHENTICATED" {
				t.Fatalf("mutation: status %d, code %q; want 401 UNAUTHENTICATED", status, firstCode(resp))
			}
			if n := sb.Stats().Total; n != 0 {
				t.Fatalf("%d Procore calls for refused requests, want 0: %v", n, sb.Stats().ByRoute)
			}
		})
	}

	t.Run("RefusalsAreAuditedWithoutTheCredential", func(t *testing.T) {
		kinds := map[string]int{}
		for _, r := range g.auditRecords(t) {
			if r.Event == "credential.refused" {
				if r.Outcome != "refused" || r.Code != "UNAUTHENTICATED" || r.Remote == "" || r.RequestID == "" {
					t.Fatalf("refusal record %+v", r)
				}
				kinds[r.Credential]++
			}
		}
		// UnknownAPIKey, NotAGatewayToken (no JWT issuer configured),
		// NotBearer, and the forged cookie; 3 requests each.
		if kinds["api_key"] != 3 || kinds["unknown"] != 6 || kinds["cookie"] != 3 {
			t.Fatalf("refusals by credential kind %v", kinds)
		}
		for _, secret := range []string{"unknownUnknownUnknown", "eyJhbGciOiJIUzI1NiJ9", "dXNlcjpwYXNz", "forgedForged", testAPIKey, readKey} {
			if strings.Contains(g.stderr.String(), secret) {
				t.Fatalf("the gateway's output holds a credential (%s)", secret)
			}
		}
	})

	t.Run("SchemaIsPublic", func(t *testing.T) {
		status, resp := rawPost(t, g.URL, `{ _service { sdl } __schema { queryType { name } } }`, nil, http.Header{})
		if status != http.StatusOK || len(resp.Errors) > 0 || !strings.Contains(string(resp.Data), "Query") {
			t.Fatalf("status %d, errors %+v", status, resp.Errors)
		}
	})

	t.Run("ReadKeyGetsTheDashboard", func(t *testing.T) {
		status, resp := rawPost(t, g.URL, dashboard, nil, bearerHeader(readKey))
		if status != http.StatusOK || len(resp.Errors) > 0 {
			t.Fatalf("status %d, errors %+v", status, resp.Errors)
		}
		var d struct {
			Projects struct{ TotalCount int } `json:"projects"`
		}
		_ = json.Unmarshal(resp.Data, &d)
		if d.Projects.TotalCount != 2 {
			t.Fatalf("dashboard has %d projects, want the sandbox's 2: %s", d.Projects.TotalCount, resp.Data)
		}
	})

	t.Run("ReadKeyMutationIsForbiddenWithNoWrite", func(t *testing.T) {
		sb.ResetStats()
		status, resp := rawPost(t, g.URL, closeRFI, map[string]any{"p": project, "r": rfi}, bearerHeader(readKey))
		if status != http.StatusForbidden || firstCode(resp) != "FORBIDDEN" || !strings.Contains(resp.Errors[0].Message, `"write"`) {
			t.Fatalf("status %d, errors %+v; want 403 FORBIDDEN naming the write scope", status, resp.Errors)
		}
		if n := sb.Stats().Total; n != 0 {
			t.Fatalf("%d Procore calls for a forbidden mutation, want 0: %v", n, sb.Stats().ByRoute)
		}
		recs := g.auditRecords(t)
		last := recs[len(recs)-1]
		if last.Event != "mutation" || last.Operation != "closeRFI" || last.Outcome != "forbidden" || last.Principal.Kind != "api_key" || last.Principal.Name != "bi-reader" {
			t.Fatalf("last audit record %+v, want the forbidden closeRFI of bi-reader", last)
		}
	})

	t.Run("SubscribeOnlyKeyCannotQuery", func(t *testing.T) {
		status, resp := rawPost(t, g.URL, `{ viewer { id } }`, nil, bearerHeader(subscribeKey))
		if status != http.StatusForbidden || firstCode(resp) != "FORBIDDEN" {
			t.Fatalf("status %d, errors %+v; want 403 FORBIDDEN", status, resp.Errors)
		}
	})

	t.Run("SubscriptionWithoutCredentialIs401", func(t *testing.T) {
		body := `{"query":"subscription { rfiChanged { cursor } }"}`
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("SSE subscription without a credential: status %d, want 401", resp.StatusCode)
		}
	})

	t.Run("WriteKeyWrites", func(t *testing.T) {
		sb.ResetStats()
		status, resp := rawPost(t, g.URL, closeRFI, map[string]any{"p": project, "r": rfi}, bearerHeader(testAPIKey))
		if status != http.StatusOK || len(resp.Errors) > 0 || !strings.Contains(string(resp.Data), `"status":"CLOSED"`) {
			t.Fatalf("status %d, data %s, errors %+v", status, resp.Data, resp.Errors)
		}
		if len(writes(sb)) == 0 {
			t.Fatal("no Procore write for an authorized mutation")
		}
	})
}

func apikeysPrefixed(s string) string { return "pgk_" + s }

// TestStartupRefusesRedisWithoutASessionKey: with a real Procore and Redis,
// a gateway without PORTAL_SESSION_KEY would encrypt sessions with a key of
// its own, so tokens would work on one replica only and revocations
// elsewhere would not hold: it refuses to start, naming the setting.
func TestStartupRefusesRedisWithoutASessionKey(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 1}})
	env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
	delete(env, "PORTAL_SESSION_KEY")
	env["ADDR"] = "127.0.0.1:0"
	var out, errb bytes.Buffer
	err := run(t.Context(), nil, func(k string) string { return env[k] }, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "PORTAL_SESSION_KEY") {
		t.Fatalf("run: %v; want a refusal naming PORTAL_SESSION_KEY", err)
	}
}

// TestStartupRefusesMalformedAPIKeys: a malformed API_KEYS entry stops the
// start with a message naming the entry and what to fix, never echoing a
// key.
func TestStartupRefusesMalformedAPIKeys(t *testing.T) {
	for _, c := range []struct{ name, entries, want string }{
		{"KeyInsteadOfEntry", testAPIKey, "looks like a key, not an entry"},
		{"UnknownScope", "ci:read,admin::" + strings.Repeat("a", 64), `unknown scope "admin"`},
		{"ShortHash", "ci:read::abcd", "64 lowercase hex"},
		{"BadProject", "ci:read:12x:" + strings.Repeat("a", 64), `project "12x"`},
		{"DuplicateName", "ci:read::" + strings.Repeat("a", 64) + ";ci:write::" + strings.Repeat("b", 64), `"ci" is used twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := map[string]string{"PROCORE_API_URL": "http://127.0.0.1:1", "PROCORE_CLIENT_ID": "x", "PROCORE_CLIENT_SECRET": "y", "API_KEYS": c.entries}
			err := run(t.Context(), nil, func(k string) string { return env[k] }, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: %v; want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Fatalf("the error echoes the key: %v", err)
			}
		})
	}
}
