package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// costString walks decoded JSON by object keys and array indexes (nil: the
// first element that leads to a string) and returns the string found there
// ("" when there is none).
func costString(raw json.RawMessage, path ...any) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return costWalk(v, path)
}

func costWalk(v any, path []any) string {
	if len(path) == 0 {
		s, _ := v.(string)
		return s
	}
	switch k := path[0].(type) {
	case string:
		if m, ok := v.(map[string]any); ok {
			return costWalk(m[k], path[1:])
		}
	case int:
		if a, ok := v.([]any); ok && k < len(a) {
			return costWalk(a[k], path[1:])
		}
	case nil: // any element
		a, _ := v.([]any)
		for _, e := range a {
			if s := costWalk(e, path[1:]); s != "" {
				return s
			}
		}
	}
	return ""
}

// costWarm has a fresh gateway get its Procore access token (POST
// /oauth/token, which the gateway's first request would otherwise make and
// count, and which no field's rule covers). It primes nothing else: without
// a cache, every request reads Procore anew.
func costWarm(t testing.TB, g *gatewayProc) {
	t.Helper()
	r := g.query(t, `{ viewer { id } }`, nil)
	// The gateway obtains its access token at start, so no query waits for it.
	if len(r.Errors) > 0 || r.Extensions.Procoregraph.UpstreamByRoute["POST /oauth/token"] != 0 {
		t.Fatalf("warm-up: errors %+v, calls %v (want no token request: the token is held from start)", r.Errors, r.Extensions.Procoregraph.UpstreamByRoute)
	}
}

// costIDs are ids of the sandbox's data the battery looks up.
type costIDs struct {
	company                        int64
	projects                       []int64 // active, in id order
	inactiveProject                int64
	rfis, submittals, commitments  []int64 // from different projects
	invoices, users, vendors       []int64
	logFrom, logTo                 string // a range with daily logs
	projectWithInvoices, otherProj int64
	// Items of projectWithInvoices for lookups by id (a purchase order: its
	// lookup without kind tries the subcontract show first).
	lookupRFI, lookupSubmittal, lookupPO, lookupInvoice int64
}

func costIDsOf(t *testing.T, sb *sandbox.Running) costIDs {
	t.Helper()
	var ids costIDs
	sb.ReadDataset(func(d *data.Dataset) {
		c := d.Companies[0]
		ids.company = c.ID
		for _, p := range d.Projects {
			if p.CompanyID != c.ID {
				continue
			}
			if !p.Active {
				ids.inactiveProject = p.ID
				continue
			}
			ids.projects = append(ids.projects, p.ID)
			if len(p.RFIs) > 0 && len(ids.rfis) < 3 {
				ids.rfis = append(ids.rfis, p.RFIs[0].ID)
			}
			if len(p.Submittals) > 0 && len(ids.submittals) < 3 {
				ids.submittals = append(ids.submittals, p.Submittals[0].ID)
			}
			if len(p.Commitments) > 0 && len(ids.commitments) < 3 {
				ids.commitments = append(ids.commitments, p.Commitments[0].ID)
			}
			if len(p.Invoices) > 0 && len(ids.invoices) < 3 {
				ids.invoices = append(ids.invoices, p.Invoices[0].ID)
				if ids.projectWithInvoices == 0 && len(p.RFIs) > 0 && len(p.Submittals) > 0 {
					ids.projectWithInvoices = p.ID
					ids.lookupRFI, ids.lookupSubmittal, ids.lookupInvoice = p.RFIs[0].ID, p.Submittals[0].ID, p.Invoices[0].ID
					for _, c := range p.Commitments {
						if c.Kind == data.PurchaseOrder && ids.lookupPO == 0 {
							ids.lookupPO = c.ID
						}
					}
				}
			}
		}
		for _, u := range c.UserIDs[:min(4, len(c.UserIDs))] {
			ids.users = append(ids.users, u)
		}
		for _, v := range c.Vendors[:min(3, len(c.Vendors))] {
			ids.vendors = append(ids.vendors, v.ID)
		}
		ids.logTo = d.Base.Format("2006-01-02")
		ids.logFrom = d.Base.AddDate(0, 0, -13).Format("2006-01-02")
	})
	if len(ids.projects) < 2 || len(ids.rfis) == 0 || len(ids.submittals) == 0 || len(ids.commitments) == 0 ||
		len(ids.invoices) == 0 || len(ids.users) == 0 || len(ids.vendors) == 0 || ids.lookupPO == 0 {
		t.Fatalf("the sandbox lacks data for the battery: %+v", ids)
	}
	ids.otherProj = ids.projects[1]
	if ids.otherProj == ids.projectWithInvoices {
		ids.otherProj = ids.projects[0]
	}
	return ids
}

func costReps(typename string, ids ...int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"__typename": typename, "id": strconv.FormatInt(id, 10)}
	}
	return out
}

// costCase is one query of the battery. page, when set, is run first (on
// its own fresh gateway) and the string at cursor in its answer is passed
// as the variable "after" of query: a cursor from a previous page.
type costCase struct {
	name   string
	query  string
	vars   map[string]any
	page   string
	cursor []any
}

const costEntitiesQuery = `query($reps: [_Any!]!) { _entities(representations: $reps) { __typename
  ... on Project { id name rfis(first: 3) { nodes { id } } company { id } }
  ... on Company { id name }
  ... on RFI { id subject questions { id answers { id } } project { id } }
  ... on Submittal { id title project { id name } }
  ... on Commitment { id title vendor { id } lineItems { id } changeOrders { id } project { id }
      invoices(first: 5) { totalCount nodes { id items { id } } } }
  ... on Invoice { id number items { id } commitment { id title } period { id } }
  ... on User { id name login }
  ... on Vendor { id name }
} }`

func costBattery(t *testing.T, ids costIDs) []costCase {
	var cases []costCase
	// Each Project list field: a small page, a large one (past Procore's
	// page size), and the page after the small one's end cursor.
	for _, f := range []string{"rfis", "submittals", "commitments", "invoices", "changeOrders", "costCodes",
		"observations", "punchItems", "users", "vendors"} {
		sel := fmt.Sprintf(`query($first: Int, $after: String) { projects(first: 8) { nodes { id
  %s(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } } } }`, f)
		cases = append(cases,
			costCase{name: "Project." + f + " first 5", query: sel, vars: map[string]any{"first": 5}},
			costCase{name: "Project." + f + " first 250", query: sel, vars: map[string]any{"first": 250}},
			costCase{name: "Project." + f + " after a page of 5", query: sel, vars: map[string]any{"first": 5},
				page: sel, cursor: []any{"projects", "nodes", nil, f, "pageInfo", "endCursor"}},
		)
	}
	// Lists Procore cannot filter by updated_at are read whole for
	// updatedSince, whatever first is.
	for _, f := range []string{"costCodes", "vendors"} {
		sel := fmt.Sprintf(`query($since: DateTime) { projects(first: 8) { nodes { id
  %s(first: 2, updatedSince: $since) { totalCount nodes { id } } } } }`, f)
		cases = append(cases, costCase{name: "Project." + f + " updatedSince first 2", query: sel,
			vars: map[string]any{"since": "2000-01-01T00:00:00Z"}})
	}
	projects := `query($first: Int, $after: String) { projects(first: $first, after: $after) { totalCount pageInfo { endCursor } nodes { id name } } }`
	company := `query($first: Int, $after: String) { companies { id
  users(first: $first, after: $after) { totalCount pageInfo { endCursor } nodes { id name } }
  vendors(first: $first, after: $after) { totalCount pageInfo { endCursor } nodes { id name } }
  projects(first: $first, after: $after) { totalCount pageInfo { endCursor } nodes { id } } } }`
	cases = append(cases,
		costCase{name: "dashboard", query: readQuery(t, "bench/queries/dashboard.graphql")},
		costCase{name: "projects first 3", query: projects, vars: map[string]any{"first": 3}},
		costCase{name: "projects first 500", query: projects, vars: map[string]any{"first": 500}},
		costCase{name: "projects after a page of 3", query: projects, vars: map[string]any{"first": 3},
			page: projects, cursor: []any{"projects", "pageInfo", "endCursor"}},
		costCase{name: "company lists first 5", query: company, vars: map[string]any{"first": 5}},
		costCase{name: "company lists first 250", query: company, vars: map[string]any{"first": 250}},
		costCase{name: "company lists after a page of 5", query: company, vars: map[string]any{"first": 5},
			page: company, cursor: []any{"companies", 0, "users", "pageInfo", "endCursor"}},
		costCase{name: "project list fields first 0", query: `{ projects(first: 8) { nodes { id
  rfis(first: 0) { totalCount } submittals(first: 0) { totalCount } commitments(first: 0) { totalCount }
  invoices(first: 0) { totalCount } changeOrders(first: 0) { totalCount } costCodes(first: 0) { totalCount }
  observations(first: 0) { totalCount } punchItems(first: 0) { totalCount } users(first: 0) { totalCount }
  vendors(first: 0) { totalCount } } } }`},
		costCase{name: "viewer, companies, statuses and responses", query: fmt.Sprintf(`{ viewer { id name company { id name } }
  companies { id name } submittalStatuses { id name } submittalResponses(projectId: "%d") { id name } }`, ids.projects[0])},
		costCase{name: "project by id: active, inactive and unknown", query: fmt.Sprintf(`{
  a: project(id: "%d") { id name company { id } rfis(first: 3) { nodes { id } } }
  b: project(id: "%d") { id name }
  c: project(id: "%d") { id }
  d: project(id: "1") { id } }`, ids.projects[0], ids.otherProj, ids.inactiveProject)},
		// One rule each, so slack elsewhere cannot hide a missing one.
		costCase{name: "viewer with its company", query: `{ viewer { id company { id name } } }`},
		costCase{name: "Project.company", query: `{ projects(first: 8) { nodes { id company { id } } } }`},
		costCase{name: "RFI.project", query: `{ projects(first: 8) { nodes { rfis(first: 10) { nodes { id project { id } } } } } }`},
		costCase{name: "Submittal.project", query: `{ projects(first: 8) { nodes { submittals(first: 10) { nodes { id project { id } } } } } }`},
		costCase{name: "Invoice.commitment and period", query: `{ projects(first: 8) { nodes {
  invoices(first: 10) { nodes { id commitment { id } period { id } } } } } }`},
		costCase{name: "nested lists under projects", query: `{ projects(first: 8) { nodes { id company { id name }
  rfis(first: 10) { nodes { id questions { id answers { id } } project { id name } ballInCourt { id } } }
  submittals(first: 10) { nodes { id workflow { step approvers { id } } project { id } } }
  observations(first: 10) { nodes { id assignee { id } } } punchItems(first: 10) { nodes { id ballInCourt { id } } }
  users(first: 10) { nodes { id } } vendors(first: 10) { nodes { id } } costCodes(first: 10) { nodes { id } } } } }`},
		costCase{name: "commitments with invoices, lineItems, changeOrders", query: `{ projects(first: 8) { nodes { id
  commitments(first: 6) { totalCount edges { node { id kind vendor { id name } project { id }
    lineItems { id amount costCode { id } } changeOrders { id grandTotal }
    invoices(first: 3) { totalCount nodes { id items { id } period { id } commitment { id } } } } } } } } }`},
		costCase{name: "invoices with items, commitment and period", query: `{ projects(first: 8) { nodes { id
  invoices(first: 20) { nodes { id summary { currentPaymentDue } items { id scheduledValue }
    commitment { id title } period { id startDate } } }
  changeOrders(first: 20) { nodes { id } } billingPeriods { id } } } }`},
		costCase{name: "prime contracts with payment applications and project", query: `{ projects(first: 8) { nodes { id
  primeContracts(first: 3) { totalCount nodes { id revisedValue pendingChangeOrders scheduleOfValues { id } project { id }
    paymentApplications(first: 4) { totalCount nodes { id g702 { currentPaymentDue } } } } } } } }`},
		costCase{name: "budget with rows", query: `{ projects(first: 8) { nodes { id
  budget { id name rows { id originalBudgetAmount columns { name value } } } } } }`},
		costCase{name: "dailyLogs", query: `query($from: Date, $to: Date) { projects(first: 8) { nodes { id
  dailyLogs(from: $from, to: $to) { date manpower { id vendor { id } } notes { id createdBy { id } } }
  defaultRange: dailyLogs { date } } } }`, vars: map[string]any{"from": ids.logFrom, "to": ids.logTo}},
		costCase{name: "a project by id, every list", query: fmt.Sprintf(`{ project(id: "%d") { id
  rfis(first: 120) { nodes { id } } submittals { nodes { id } } commitments { nodes { id invoices { nodes { id } } } }
  invoices { nodes { id } } changeOrders { nodes { id } } budget { rows { id } } billingPeriods { id }
  costCodes { nodes { id } } observations { nodes { id } } punchItems { nodes { id } } users { nodes { id } }
  vendors { nodes { id } } company { id users(first: 3) { nodes { id } } } } }`, ids.projectWithInvoices)},
		costCase{name: "lookups by id with their project", query: `query($p: ID, $r: ID!, $s: ID!, $c: ID!, $i: ID!, $u: ID!, $v: ID!) {
  rfi(id: $r, projectId: $p) { id subject questions { id } project { id } }
  submittal(id: $s, projectId: $p) { id title }
  commitment(id: $c, projectId: $p) { id lineItems { id } }
  invoice(id: $i, projectId: $p) { id items { id } }
  user(id: $u) { id } vendor(id: $v) { id } }`, vars: map[string]any{"p": ids.projectWithInvoices, "r": ids.lookupRFI,
			"s": ids.lookupSubmittal, "c": ids.lookupPO, "i": ids.lookupInvoice, "u": ids.users[0], "v": ids.vendors[0]}},
		costCase{name: "lookups by id without their project", query: `query($r: ID!, $s: ID!, $c: ID!, $i: ID!) {
  rfi(id: $r) { id subject } submittal(id: $s) { id title } commitment(id: $c) { id } invoice(id: $i) { id } }`,
			vars: map[string]any{"r": ids.lookupRFI, "s": ids.lookupSubmittal, "c": ids.lookupPO, "i": ids.lookupInvoice}},
	)
	// Federation lookups, one type at a time and all together.
	entities := []struct {
		name string
		reps []any
	}{
		{"Project", costReps("Project", ids.projects[:min(3, len(ids.projects))]...)},
		{"Company", costReps("Company", ids.company, ids.company)},
		{"RFI", costReps("RFI", ids.rfis...)},
		{"Submittal", costReps("Submittal", ids.submittals...)},
		{"Commitment", costReps("Commitment", ids.commitments...)},
		{"Invoice", costReps("Invoice", ids.invoices...)},
		{"User", costReps("User", ids.users...)},
		{"Vendor", costReps("Vendor", ids.vendors...)},
	}
	var all []any
	for _, e := range entities {
		cases = append(cases, costCase{name: "_entities " + e.name, query: costEntitiesQuery, vars: map[string]any{"reps": e.reps}})
		all = append(all, e.reps...)
	}
	cases = append(cases, costCase{name: "_entities of every type", query: costEntitiesQuery, vars: map[string]any{"reps": all}})
	return cases
}

// TestCostEstimateBoundsRealCalls runs a battery of queries, each on a fresh
// gateway without a cache (every call goes to Procore and is counted), and
// checks that the cost analyzer's estimate is never below the calls made.
func TestCostEstimateBoundsRealCalls(t *testing.T) {
	// Over 100 RFIs and company users, so their large pages take two calls.
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 8, ItemsPerProject: 30,
		RFIsPerProject: 130, UsersPerCompany: 130}, HourlyLimit: -1, SpikeLimit: -1})
	ids := costIDsOf(t, sb)
	type row struct {
		name                string
		estimated, upstream int
	}
	var rows []row
	for _, c := range costBattery(t, ids) {
		t.Run(c.name+" makes no more calls than estimated", func(t *testing.T) {
			vars := c.vars
			if c.page != "" {
				prev := startGateway(t, copyEnv(env), "-no-cache").query(t, c.page, c.vars)
				after := costString(prev.Data, c.cursor...)
				if len(prev.Errors) > 0 || after == "" {
					t.Fatalf("previous page: no cursor at %v (errors %+v)\n%s", c.cursor, prev.Errors, prev.Data)
				}
				vars = map[string]any{"after": after}
				for k, v := range c.vars {
					vars[k] = v
				}
			}
			g := startGateway(t, copyEnv(env), "-no-cache", "-max-cost", "100000")
			costWarm(t, g)
			r := g.query(t, c.query, vars)
			g.stop()
			if len(r.Errors) > 0 {
				t.Fatalf("errors: %+v", r.Errors)
			}
			x := r.Extensions.Procoregraph
			rows = append(rows, row{c.name, x.EstimatedCalls, x.UpstreamCalls})
			t.Logf("estimated %d, upstream %d: %v", x.EstimatedCalls, x.UpstreamCalls, x.UpstreamByRoute)
			if x.UpstreamCalls == 0 {
				t.Fatalf("no upstream call counted: is the debug extension on?")
			}
			if x.EstimatedCalls < x.UpstreamCalls {
				t.Errorf("estimated %d Procore calls, made %d: %v", x.EstimatedCalls, x.UpstreamCalls, x.UpstreamByRoute)
			}
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-55s %9s %8s\n", "query", "estimated", "upstream")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-55s %9d %8d\n", r.name, r.estimated, r.upstream)
	}
	t.Logf("estimate vs actual (no cache):\n%s", b.String())
}

// TestDashboardFitsTheDefaultCostLimit checks the README's dashboard query is
// served under the default limits for a company with 50 active projects.
func TestDashboardFitsTheDefaultCostLimit(t *testing.T) {
	// Every seventh generated project is inactive: 58 give 50 active ones.
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 58, ItemsPerProject: 3},
		HourlyLimit: -1, SpikeLimit: -1})
	active := 0
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.Active {
				active++
			}
		}
	})
	g := startGateway(t, copyEnv(env), "-no-cache")
	costWarm(t, g)
	r := g.query(t, readQuery(t, "bench/queries/dashboard.graphql"), nil)
	x := r.Extensions.Procoregraph
	t.Logf("dashboard over %d active projects: estimated %d calls, made %d", active, x.EstimatedCalls, x.UpstreamCalls)
	t.Run("answered without errors", func(t *testing.T) {
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %+v", r.Errors)
		}
		if n := strings.Count(string(r.Data), `"projectNumber"`); n != min(active, 50) {
			t.Errorf("%d projects in the answer, want %d", n, min(active, 50))
		}
	})
	t.Run("estimate under the default limit of 1000", func(t *testing.T) {
		if x.EstimatedCalls <= 0 || x.EstimatedCalls > 1000 {
			t.Errorf("estimated %d calls", x.EstimatedCalls)
		}
	})
	t.Run("estimate covers the calls made", func(t *testing.T) {
		if x.EstimatedCalls < x.UpstreamCalls {
			t.Errorf("estimated %d calls, made %d", x.EstimatedCalls, x.UpstreamCalls)
		}
	})
}
