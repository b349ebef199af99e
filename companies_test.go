package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// onlyAKey is an API key allowed in the first company only.
const onlyAKey = "pgk_companyAonlyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// startTwoCompanies serves a sandbox of two companies through one gateway
// (PROCORE_COMPANY_IDS), the first the default. env is added to the
// harness's.
func startTwoCompanies(t *testing.T, o data.Options, extra map[string]string, args ...string) (sb *sandbox.Running, g *gatewayProc, a, b int64) {
	t.Helper()
	sb, env := startSandbox(t, sandbox.Config{Data: o, WebhookMinBackoff: 50 * time.Millisecond})
	sb.ReadDataset(func(d *data.Dataset) { a, b = d.Companies[0].ID, d.Companies[1].ID })
	env["PROCORE_COMPANY_IDS"] = strconv.FormatInt(a, 10) + "," + strconv.FormatInt(b, 10)
	env["API_KEYS"] += ";" + apiKeyEntry("only-a", "read,subscribe", "", onlyAKey) + ":company=" + strconv.FormatInt(a, 10)
	for k, v := range extra {
		env[k] = v
	}
	return sb, startGateway(t, env, args...), a, b
}

// activeProjects are a company's active project ids in the sandbox, sorted.
func activeProjects(sb *sandbox.Running, company int64) []string {
	var ids []int64
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.CompanyID == company && p.Active {
				ids = append(ids, p.ID)
			}
		}
	})
	slices.Sort(ids)
	return idStrings(ids...)
}

// companyHeader is a header naming a company ("" for none).
func companyHeader(id int64) http.Header {
	h := http.Header{}
	if id != 0 {
		h.Set("Procore-Company-Id", strconv.FormatInt(id, 10))
	}
	return h
}

// postRaw POSTs a query with headers h and returns the HTTP status and the
// decoded answer.
func postInCompany(t *testing.T, g *gatewayProc, h http.Header, query string) (int, gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/graphql", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	g.authorize(req)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode (status %d): %v\n%s", resp.StatusCode, err, raw)
	}
	return resp.StatusCode, out
}

const companiesQuery = `{ companies { id } projects(first: 100) { totalCount nodes { id } } }`

type companiesAnswer struct {
	Companies []struct{ ID string }
	Projects  struct {
		TotalCount int
		Nodes      []struct{ ID string }
	}
}

func decodeCompanies(t *testing.T, r gqlResponse) companiesAnswer {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var out companiesAnswer
	if err := json.Unmarshal(r.Data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (c companiesAnswer) projectIDs() []string {
	var ids []string
	for _, n := range c.Projects.Nodes {
		ids = append(ids, n.ID)
	}
	slices.SortFunc(ids, func(x, y string) int {
		a, _ := strconv.ParseInt(x, 10, 64)
		b, _ := strconv.ParseInt(y, 10, 64)
		return int(a - b)
	})
	return ids
}

func (c companiesAnswer) companyIDs() []string {
	var ids []string
	for _, n := range c.Companies {
		ids = append(ids, n.ID)
	}
	return ids
}

// TestCompaniesPerRequest: one gateway serves two companies; the
// Procore-Company-Id request header picks one, every upstream call carries
// it, and neither the data cache nor the response cache ever answers one
// company with the other's data. A key allowed in one company is refused in
// the other before any Procore call.
func TestCompaniesPerRequest(t *testing.T) {
	sb, g, a, b := startTwoCompanies(t, data.Options{Companies: 2, ProjectsPerCompany: 3, ItemsPerProject: 2}, nil)
	as, bs := strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)
	wantA, wantB := activeProjects(sb, a), activeProjects(sb, b)
	if len(wantA) == 0 || len(wantB) == 0 || slices.Equal(wantA, wantB) {
		t.Fatalf("the sandbox's companies need distinct active projects: %v and %v", wantA, wantB)
	}

	// ask runs companiesQuery in company id (0: no header) and returns the
	// answer and the sandbox's requests by company header.
	ask := func(t *testing.T, id int64) (companiesAnswer, gqlResponse, map[string]int64) {
		t.Helper()
		sb.ResetStats()
		r := g.queryWith(t, companyHeader(id), companiesQuery, nil)
		return decodeCompanies(t, r), r, sb.Stats().ByCompany
	}

	t.Run("DefaultCompanyWithoutHeader", func(t *testing.T) {
		got, r, byCompany := ask(t, 0)
		if !slices.Equal(got.projectIDs(), wantA) || got.Projects.TotalCount != len(wantA) {
			t.Fatalf("projects %v (total %d), want company %d's %v", got.projectIDs(), got.Projects.TotalCount, a, wantA)
		}
		if !slices.Equal(got.companyIDs(), []string{as, bs}) {
			t.Fatalf("companies %v, want [%s %s]", got.companyIDs(), as, bs)
		}
		// One companies list and one projects list, both in company A.
		if len(byCompany) != 1 || byCompany[as] != 2 || r.Extensions.Procoregraph.UpstreamCalls != 2 {
			t.Fatalf("upstream calls by company header %v (%d in all), want 2, all with %s", byCompany, r.Extensions.Procoregraph.UpstreamCalls, as)
		}
	})
	t.Run("CachedAnswerOfAIsServedToA", func(t *testing.T) {
		got, r, byCompany := ask(t, a)
		if !slices.Equal(got.projectIDs(), wantA) || r.Extensions.Procoregraph.ResponseCache != "hit" || len(byCompany) != 0 {
			t.Fatalf("projects %v, response cache %q, upstream %v: want A's projects from the response cache, no call",
				got.projectIDs(), r.Extensions.Procoregraph.ResponseCache, byCompany)
		}
	})
	t.Run("SameQueryInBIsBsOwn", func(t *testing.T) {
		got, r, byCompany := ask(t, b)
		if !slices.Equal(got.projectIDs(), wantB) || got.Projects.TotalCount != len(wantB) {
			t.Fatalf("projects %v (total %d), want company %d's %v", got.projectIDs(), got.Projects.TotalCount, b, wantB)
		}
		if r.Extensions.Procoregraph.ResponseCache == "hit" {
			t.Fatal("company B was answered from the response cache that company A filled")
		}
		if len(byCompany) != 1 || byCompany[bs] != 2 || r.Extensions.Procoregraph.UpstreamCalls != 2 {
			t.Fatalf("upstream calls by company header %v (%d in all), want 2, all with %s", byCompany, r.Extensions.Procoregraph.UpstreamCalls, bs)
		}
		again, r2, byCompany := ask(t, b)
		if !slices.Equal(again.projectIDs(), wantB) || r2.Extensions.Procoregraph.ResponseCache != "hit" || len(byCompany) != 0 {
			t.Fatalf("B again: projects %v, response cache %q, upstream %v: want B's projects from the cache",
				again.projectIDs(), r2.Extensions.Procoregraph.ResponseCache, byCompany)
		}
	})
	t.Run("OtherCompanyArgumentIsForbidden", func(t *testing.T) {
		sb.ResetStats()
		r := g.queryWith(t, companyHeader(a), `{ projects(companyId: "`+bs+`") { totalCount } }`, nil)
		if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
			t.Fatalf("errors %+v, want FORBIDDEN for company B's projects asked in company A", r.Errors)
		}
		if st := sb.Stats(); st.Total != 0 {
			t.Fatalf("%d upstream calls (%v), want none", st.Total, st.ByRoute)
		}
	})

	refusals := []struct {
		name, token string
		company     string
		status      int
		code        string
	}{
		{"KeyAllowedInAOnlyIsForbiddenInB", onlyAKey, bs, http.StatusForbidden, "FORBIDDEN"},
		{"CompanyNotServedIsForbidden", "", "999999999", http.StatusForbidden, "FORBIDDEN"},
		{"MalformedCompanyIsBadInput", "", "acme", http.StatusBadRequest, "BAD_USER_INPUT"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			sb.ResetStats()
			h := http.Header{"Procore-Company-Id": {tc.company}}
			if tc.token != "" {
				h.Set("Authorization", "Bearer "+tc.token)
			}
			status, r := postInCompany(t, g, h, companiesQuery)
			if status != tc.status || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != tc.code || r.Data != nil && string(r.Data) != "null" {
				t.Fatalf("status %d, errors %+v, data %s: want %d and one %s error", status, r.Errors, r.Data, tc.status, tc.code)
			}
			if st := sb.Stats(); st.Total != 0 {
				t.Fatalf("%d upstream calls (%v), want none", st.Total, st.ByRoute)
			}
		})
	}
	t.Run("KeyAllowedInAOnlyCannotResolveCompanyB", func(t *testing.T) {
		h := http.Header{"Authorization": {"Bearer " + onlyAKey}}
		status, r := postInCompany(t, g, h, `{ _entities(representations: [{__typename: "Company", id: "`+bs+`"}, {__typename: "Company", id: "`+as+`"}]) { ... on Company { id } } }`)
		if status != http.StatusOK || len(r.Errors) > 0 || string(r.Data) != `{"_entities":[null,{"id":"`+as+`"}]}` {
			t.Fatalf("status %d, data %s, errors %+v: want company B unresolved (null) and A resolved", status, r.Data, r.Errors)
		}
	})
	t.Run("KeyAllowedInAOnlySeesOnlyA", func(t *testing.T) {
		for _, h := range []http.Header{companyHeader(0), companyHeader(a)} {
			h.Set("Authorization", "Bearer "+onlyAKey)
			status, r := postInCompany(t, g, h, companiesQuery)
			got := decodeCompanies(t, r)
			if status != http.StatusOK || !slices.Equal(got.companyIDs(), []string{as}) || !slices.Equal(got.projectIDs(), wantA) {
				t.Fatalf("status %d, companies %v, projects %v: want only company %s and its projects %v", status, got.companyIDs(), got.projectIDs(), as, wantA)
			}
		}
	})
}

// pickRFIIn returns a project of company and an open RFI of it with a ball
// in court, and a project user outside that court.
func pickRFIIn(t *testing.T, sb *sandbox.Running, company int64) (project, rfi, to int64) {
	t.Helper()
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.CompanyID != company {
				continue
			}
			for _, r := range p.RFIs {
				if r.Status != data.RFIOpen || len(r.BallInCourtIDs) == 0 {
					continue
				}
				for _, u := range p.UserIDs {
					if u != d.ServiceUserID && u != d.DemoUserID && !hasID(r.BallInCourtIDs, u) {
						project, rfi, to = p.ID, r.ID, u
						return
					}
				}
			}
		}
	})
	if project == 0 {
		t.Fatalf("company %d has no open RFI with a ball in court and another project user", company)
	}
	return project, rfi, to
}

// TestCompaniesSubscriptionStaysInItsCompany: with webhooks registered in
// both companies, a subscription opened in company B (graphql-ws,
// Procore-Company-Id in connection_init) receives B's change and never A's,
// and one opened in company A (SSE, the header) receives A's and never B's.
func TestCompaniesSubscriptionStaysInItsCompany(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	sb, g, a, b := startTwoCompanies(t, data.Options{Companies: 2, ProjectsPerCompany: 1, ItemsPerProject: 6},
		map[string]string{"WEBHOOK_AUTHORIZATION": webhookSecret}, "-register-webhooks")
	pa, ra, toA := pickRFIIn(t, sb, a)
	pb, rb, toB := pickRFIIn(t, sb, b)

	// No projectId: every project of the subscription's company.
	subB := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{
		"url": wsURL(g), "query": bicSubscription, "variables": map[string]any{},
		"connectionParams": map[string]any{"Authorization": g.bearer(), "Procore-Company-Id": strconv.FormatInt(b, 10)},
	}))
	subB.await(t, 15*time.Second, "connected")
	subA := subscribeSSEInCompany(t, g, a, bicSubscription)
	waitActive(t, g, 2)

	moveBall(t, sb, pa, ra, toA) // A's change first: B's subscriber must skip it
	moveBall(t, sb, pb, rb, toB)

	eb := subB.nextBIC(t, 15*time.Second)
	if eb.ItemID != strconv.FormatInt(rb, 10) || eb.ProjectID != strconv.FormatInt(pb, 10) || eb.Source != "WEBHOOK" {
		t.Fatalf("company B's subscriber got %+v, want RFI %d of project %d (company B) from WEBHOOK", eb, rb, pb)
	}
	ea := subA.nextBIC(t, 15*time.Second)
	if ea.ItemID != strconv.FormatInt(ra, 10) || ea.ProjectID != strconv.FormatInt(pa, 10) || ea.Source != "WEBHOOK" {
		t.Fatalf("company A's subscriber got %+v, want RFI %d of project %d (company A) from WEBHOOK", ea, ra, pa)
	}
	// A second round, B's change first this time: each subscriber's next
	// event is again its own company's.
	moveBall(t, sb, pb, rb, firstOther(t, sb, pb, rb))
	moveBall(t, sb, pa, ra, firstOther(t, sb, pa, ra))
	if e := subB.nextBIC(t, 15*time.Second); e.ItemID != strconv.FormatInt(rb, 10) {
		t.Fatalf("company B's subscriber got %+v, want RFI %d again", e, rb)
	}
	if e := subA.nextBIC(t, 15*time.Second); e.ItemID != strconv.FormatInt(ra, 10) {
		t.Fatalf("company A's subscriber got %+v, want RFI %d again", e, ra)
	}
	subB.quiet(t, 1500*time.Millisecond)

	t.Run("KeyAllowedInAOnlyIsClosedWith4403InB", func(t *testing.T) {
		refused := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{
			"url": wsURL(g), "query": bicSubscription, "variables": map[string]any{},
			"connectionParams": map[string]any{"Authorization": "Bearer " + onlyAKey, "companyId": b},
		}))
		if closed := refused.await(t, 10*time.Second, "closed", "error"); closed.Code != 4403 || !strings.Contains(closed.Reason, "may not use Procore company") {
			t.Fatalf("closed with %d %q, want 4403 naming the company", closed.Code, closed.Reason)
		}
	})
}

// firstOther is a user of the RFI's project outside its current court.
func firstOther(t *testing.T, sb *sandbox.Running, project, rfi int64) int64 {
	t.Helper()
	court := ballInCourtOf(sb, project, rfi)
	var users []int64
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.ID == project {
				for _, u := range p.UserIDs {
					if u != d.ServiceUserID && u != d.DemoUserID {
						users = append(users, u)
					}
				}
			}
		}
	})
	return otherUser(t, users, court)
}

// subscribeSSEInCompany opens bicSubscription-like query over SSE in company.
func subscribeSSEInCompany(t *testing.T, g *gatewayProc, company int64, query string) *sseSubscription {
	t.Helper()
	return subscribeSSEWith(t, g.URL+"/graphql", companyHeader(company), query, map[string]any{})
}

// TestCompaniesStartupValidation: PROCORE_COMPANY_IDS is checked at start,
// against the companies the credential sees, with a message saying what to
// fix.
func TestCompaniesStartupValidation(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 2, ProjectsPerCompany: 1, ItemsPerProject: 1}})
	var a, b int64
	sb.ReadDataset(func(d *data.Dataset) { a, b = d.Companies[0].ID, d.Companies[1].ID })
	as, bs := strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)
	for _, c := range []struct{ name, ids, company, want string }{
		{"ErrCompanyTheCredentialDoesNotSee", as + ",424242", as, "does not see company 424242 (it sees " + as + ", " + bs + ")"},
		{"ErrDefaultNotListed", bs, as, "PROCORE_COMPANY_ID " + as + " is not in PROCORE_COMPANY_IDS"},
		{"ErrMalformed", as + ",acme", "", `"acme" is not a company id`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := copyEnv(env)
			e["PROCORE_COMPANY_IDS"], e["PROCORE_COMPANY_ID"], e["ADDR"] = c.ids, c.company, "127.0.0.1:0"
			var out, errb bytes.Buffer
			err := run(t.Context(), nil, func(k string) string { return e[k] }, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: %v; want an error containing %q", err, c.want)
			}
		})
	}
	t.Run("AllServesEveryCompanyTheCredentialSees", func(t *testing.T) {
		e := copyEnv(env)
		e["PROCORE_COMPANY_IDS"] = "all"
		g := startGateway(t, e)
		r := g.queryWith(t, companyHeader(b), `{ companies { id } }`, nil)
		if got := decodeCompanies(t, r).companyIDs(); !slices.Equal(got, []string{as, bs}) {
			t.Fatalf("companies %v, want [%s %s]", got, as, bs)
		}
	})
}

// TestMintAPIKeyWithCompanies: `procoregraph apikey -companies` prints an
// entry whose company= options the gateway reads back.
func TestMintAPIKeyWithCompanies(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"apikey", "-name", "bi", "-scopes", "read", "-companies", "5,3"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	entry := lines[len(lines)-1]
	if !strings.HasPrefix(entry, "bi:read::") || !strings.HasSuffix(entry, ":company=3,company=5") {
		t.Fatalf("entry %q, want bi:read::<hash>:company=3,company=5", entry)
	}
	err := run(t.Context(), []string{"apikey", "-name", "bi", "-companies", "acme"}, func(string) string { return "" }, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `-companies: company "acme"`) {
		t.Fatalf("run: %v; want an error naming the company", err)
	}
}
