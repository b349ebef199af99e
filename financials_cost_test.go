package main

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// projectFinancialsQuery is the "project financials" query of issue 16: every
// project's financial summary (budget, cost and owner-side figures) with its
// budget modification and direct cost counts. first: 20 keeps its cost
// estimate (31 calls a project) within the default limit of 1,000.
const projectFinancialsQuery = `{ projects(first: 20, filter: {status: ALL}) { totalCount nodes { id
  financialSummary { originalBudget approvedBudgetChanges revisedBudget committedCosts directCosts projectedCosts projectedOverUnder
    contractValue billedToDate retainageHeld pendingChanges }
  budgetModifications(first: 5) { totalCount nodes { id transferAmount net } }
  directCosts(first: 5) { totalCount nodes { id status grandTotal } }
} } }`

type financialsAnswer struct {
	Projects struct {
		TotalCount int
		Nodes      []struct {
			ID               string
			FinancialSummary *struct {
				OriginalBudget, ApprovedBudgetChanges, RevisedBudget, CommittedCosts string
				DirectCosts, ProjectedCosts, ProjectedOverUnder                      string
				ContractValue, BilledToDate, RetainageHeld, PendingChanges           string
			}
			BudgetModifications *struct{ TotalCount int }
			DirectCosts         *struct{ TotalCount int }
		}
	}
}

// expectedFinancials are one project's figures and list lengths computed
// here from the sandbox's rows, not by the gateway's code.
type expectedFinancials struct {
	originalBudget, approvedChanges, committed, direct decimal.Decimal
	modifications, directCosts, wo, po                 int
	// The owner side: figures, and the list lengths behind the call count
	// (payment applications per prime contract, packages).
	contractValue, billed, retainage, pending decimal.Decimal
	primeContracts, packages                  int
	pendingPackages                           bool // a pending 3-tier package counts
	paymentApps                               []int
}

// pendingChangeStatus are the Procore change order statuses the summary's
// pendingChanges counts (its documented "Pending - …" family).
var pendingChangeStatus = map[string]bool{"pending": true, "revised": true, "pricing": true,
	"not_pricing": true, "proceeding": true, "not_proceeding": true}

func cents(f data.Fixed) decimal.Decimal { return decimal.New(int64(f), -2) }

func financialsFromDataset(t *testing.T, sb *sandbox.Running) map[string]expectedFinancials {
	t.Helper()
	out := map[string]expectedFinancials{}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			var e expectedFinancials
			var lineMods, lineDirect decimal.Decimal
			for _, bl := range p.BudgetLines {
				e.originalBudget = e.originalBudget.Add(cents(bl.OriginalBudget))
				lineMods = lineMods.Add(cents(bl.Modifications))
				lineDirect = lineDirect.Add(cents(bl.DirectCosts))
			}
			for _, m := range p.BudgetModifications {
				if m.ToLineID != 0 {
					e.approvedChanges = e.approvedChanges.Add(cents(m.TransferAmount))
				}
				if m.FromLineID != 0 {
					e.approvedChanges = e.approvedChanges.Sub(cents(m.TransferAmount))
				}
			}
			for _, c := range p.DirectCosts {
				if c.Status == "approved" {
					e.direct = e.direct.Add(cents(c.GrandTotal))
				}
			}
			// The modification and direct cost rows agree with the budget
			// view rows' own columns.
			if !e.approvedChanges.Equal(lineMods) || !e.direct.Equal(lineDirect) {
				t.Fatalf("project %d: rows disagree with budget lines: modifications %s vs %s, direct %s vs %s",
					p.ID, e.approvedChanges, lineMods, e.direct, lineDirect)
			}
			for _, c := range p.Commitments {
				var approved data.Fixed
				for _, co := range p.ChangeOrders {
					if co.ContractID == c.ID && co.Status == "approved" {
						for _, l := range co.Lines {
							approved += l.Amount
						}
					}
				}
				var sov data.Fixed
				for _, li := range c.LineItems {
					sov += li.Amount
				}
				e.committed = e.committed.Add(cents(sov + approved))
				if c.Kind == data.WorkOrder {
					e.wo++
				} else {
					e.po++
				}
			}
			e.modifications, e.directCosts = len(p.BudgetModifications), len(p.DirectCosts)
			// Owner side, from the raw rows: each prime contract's revised
			// value; the G702 line 4 and line 5 of its latest non-draft
			// application (primeExpectedG702 computes them from the raw
			// work, stored and retainage figures); pending prime change
			// orders and packages.
			for _, pc := range p.PrimeContracts {
				e.contractValue = e.contractValue.Add(cents(pc.OriginalValue + pc.ApprovedChangeOrders))
				latest := -1
				for i, a := range pc.PaymentApplications {
					if a.Status != "draft" && (latest < 0 || a.Number > pc.PaymentApplications[latest].Number) {
						latest = i
					}
				}
				if latest >= 0 {
					g := primeExpectedG702(pc, latest)
					e.billed = e.billed.Add(g["totalCompletedAndStoredToDate"])
					e.retainage = e.retainage.Add(g["totalRetainage"])
				}
				e.paymentApps = append(e.paymentApps, len(pc.PaymentApplications))
			}
			for _, co := range p.ChangeMgmt.PrimeChangeOrders {
				if pendingChangeStatus[co.Status] {
					e.pending = e.pending.Add(cents(co.GrandTotal))
				}
			}
			for _, pk := range p.ChangeMgmt.Packages {
				if pendingChangeStatus[pk.Status] && pk.GrandTotal != 0 {
					e.pending = e.pending.Add(cents(pk.GrandTotal))
					e.pendingPackages = true
				}
			}
			e.primeContracts, e.packages = len(p.PrimeContracts), len(p.ChangeMgmt.Packages)
			out[strconv.FormatInt(p.ID, 10)] = e
		}
	})
	return out
}

// TestProjectFinancialsAcross20Projects: the financials query over 20
// projects costs exactly the minimum calls, warm 0, and every figure matches
// the sandbox's rows to the cent.
//
// Minimum: 1 (projects list, 20 ≤ 300 a page) + Σ over projects of
// 1 (budget views) + 1 (first view's detail rows, unpaginated)
// + pages(budget modifications) + pages(direct costs)
// + pages(work order contracts) + pages(purchase order contracts)
// + pages(prime contracts) + Σ over its prime contracts of pages(payment applications)
// + 1 (prime change orders, unpaginated; refused, and read as empty, on a
// 3-tier project) + pages(change order packages),
// pages(n) = max(1, ⌈n/100⌉).
func TestProjectFinancialsAcross20Projects(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 20, ItemsPerProject: 10},
		HourlyLimit: -1, SpikeLimit: -1})
	want := financialsFromDataset(t, sb)
	if len(want) != 20 {
		t.Fatalf("dataset has %d projects, want 20", len(want))
	}
	withPackages := 0
	for _, e := range want {
		if e.pendingPackages {
			withPackages++
		}
	}
	if withPackages == 0 {
		t.Fatal("no 3-tier project has a pending package: pendingChanges on 3 tiers is not proved")
	}
	minimum := 1
	for _, e := range want {
		minimum += 2 + pages(e.modifications, 0, 100) + pages(e.directCosts, 0, 100) +
			pages(e.wo, 0, maxPerPageContracts) + pages(e.po, 0, maxPerPageContracts) +
			pages(e.primeContracts, 0, 100) + 1 + pages(e.packages, 0, 100)
		for _, n := range e.paymentApps {
			minimum += pages(n, 0, 100)
		}
	}
	g := startGateway(t, copyEnv(env))
	costWarm(t, g)

	check := func(t *testing.T, r gqlResponse) {
		t.Helper()
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %+v", r.Errors)
		}
		var a financialsAnswer
		if err := json.Unmarshal(r.Data, &a); err != nil {
			t.Fatal(err)
		}
		if a.Projects.TotalCount != 20 || len(a.Projects.Nodes) != 20 {
			t.Fatalf("got %d of %d projects, want 20", len(a.Projects.Nodes), a.Projects.TotalCount)
		}
		nonZero, owner := 0, map[string]int{}
		for _, n := range a.Projects.Nodes {
			e, ok := want[n.ID]
			if !ok || n.FinancialSummary == nil || n.BudgetModifications == nil || n.DirectCosts == nil {
				t.Fatalf("project %s: missing answer %+v", n.ID, n)
			}
			revised := e.originalBudget.Add(e.approvedChanges)
			projected := e.committed.Add(e.direct)
			s := n.FinancialSummary
			for _, f := range []struct {
				name, got string
				want      decimal.Decimal
			}{
				{"originalBudget", s.OriginalBudget, e.originalBudget},
				{"approvedBudgetChanges", s.ApprovedBudgetChanges, e.approvedChanges},
				{"revisedBudget", s.RevisedBudget, revised},
				{"committedCosts", s.CommittedCosts, e.committed},
				{"directCosts", s.DirectCosts, e.direct},
				{"projectedCosts", s.ProjectedCosts, projected},
				{"projectedOverUnder", s.ProjectedOverUnder, revised.Sub(projected)},
				{"contractValue", s.ContractValue, e.contractValue},
				{"billedToDate", s.BilledToDate, e.billed},
				{"retainageHeld", s.RetainageHeld, e.retainage},
				{"pendingChanges", s.PendingChanges, e.pending},
			} {
				if !f.want.IsZero() {
					owner[f.name]++
				}
				got, err := decimal.NewFromString(f.got)
				if err != nil || !got.Equal(f.want) {
					t.Errorf("project %s %s = %q, want %s", n.ID, f.name, f.got, f.want.StringFixed(2))
				}
			}
			if !e.approvedChanges.IsZero() && !e.direct.IsZero() && !e.committed.IsZero() {
				nonZero++
			}
			if n.BudgetModifications.TotalCount != e.modifications || n.DirectCosts.TotalCount != e.directCosts {
				t.Errorf("project %s: %d modifications, %d direct costs; want %d, %d", n.ID,
					n.BudgetModifications.TotalCount, n.DirectCosts.TotalCount, e.modifications, e.directCosts)
			}
		}
		if nonZero < 10 {
			t.Fatalf("only %d projects have non-zero changes, direct and committed costs: the dataset proves little", nonZero)
		}
		if owner["contractValue"] < 20 || owner["billedToDate"] < 5 || owner["retainageHeld"] < 5 || owner["pendingChanges"] < 5 {
			t.Fatalf("non-zero owner-side figures by name %v: the dataset proves little", owner)
		}
	}

	sb.ResetStats()
	r := g.query(t, projectFinancialsQuery, nil)
	st := sb.Stats()
	check(t, r)
	if got := int(st.Total); got != minimum {
		t.Fatalf("cold financials made %d Procore calls, want the minimum %d (by route: %v)", got, minimum, st.ByRoute)
	}
	if est := r.Extensions.Procoregraph.EstimatedCalls; est < int(st.Total) {
		t.Fatalf("cost estimate %d is below the %d calls made", est, st.Total)
	}
	t.Logf("cold: %d Procore calls for 20 projects (estimate %d)", st.Total, r.Extensions.Procoregraph.EstimatedCalls)

	t.Run("WarmIsZero", func(t *testing.T) {
		sb.ResetStats()
		r := g.query(t, projectFinancialsQuery+"\n# executed from the value cache", nil)
		st := sb.Stats()
		check(t, r)
		if st.Total != 0 {
			t.Fatalf("warm financials made %d Procore calls, want 0 (by route: %v)", st.Total, st.ByRoute)
		}
	})
}

// TestDirectCostEnumDriftIsUnknown: direct cost types and statuses Procore
// does not document (sandbox drift: every 4th id, and a rule on every item's
// type) read as UNKNOWN, without an error; the rest keep their values.
func TestDirectCostEnumDriftIsUnknown(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 5},
		HourlyLimit: -1, SpikeLimit: -1})
	var projectID int64
	statuses := map[string]string{}
	sb.ReadDataset(func(d *data.Dataset) {
		p := d.Projects[0]
		projectID = p.ID
		for _, c := range p.DirectCosts {
			statuses[strconv.FormatInt(c.ID, 10)] = c.Status
		}
	})
	sb.SetFaults(sandbox.Faults{Drift: sandbox.Drift{UnknownEnum: true, Rules: []sandbox.DriftRule{
		{Resource: "direct_costs", Kind: sandbox.DriftUnknownEnum, Field: "direct_cost_type", Value: json.RawMessage(`"equipment"`)},
	}}})
	g := startGateway(t, copyEnv(env), "-no-cache", "-no-response-cache")
	r := g.query(t, `query($p: ID!) { project(id: $p) { directCosts(first: 1000) { nodes { id type status } } } }`,
		map[string]any{"p": strconv.FormatInt(projectID, 10)})
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var a struct {
		Project struct {
			DirectCosts struct {
				Nodes []struct{ ID, Type, Status string }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	drifted, kept := 0, 0
	for _, n := range a.Project.DirectCosts.Nodes {
		id, _ := strconv.ParseInt(n.ID, 10, 64)
		want := map[string]string{"draft": "DRAFT", "pending": "PENDING", "revise_and_resubmit": "REVISE_AND_RESUBMIT", "approved": "APPROVED"}[statuses[n.ID]]
		if id%4 == 0 {
			want = "UNKNOWN"
			drifted++
		} else {
			kept++
		}
		if n.Status != want || n.Type != "UNKNOWN" {
			t.Errorf("direct cost %s: type %s status %s, want UNKNOWN and %s", n.ID, n.Type, n.Status, want)
		}
	}
	if len(a.Project.DirectCosts.Nodes) != len(statuses) || drifted == 0 || kept == 0 {
		t.Fatalf("%d direct costs (dataset %d), %d drifted, %d kept: the test proves little", len(a.Project.DirectCosts.Nodes), len(statuses), drifted, kept)
	}
}

// TestFinancialSummaryIsNullWhenDirectCostsAreForbidden: when Procore
// refuses the direct cost list, financialSummary and directCosts are null
// with FORBIDDEN errors at their paths; budgetModifications still renders.
func TestFinancialSummaryIsNullWhenDirectCostsAreForbidden(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 5},
		HourlyLimit: -1, SpikeLimit: -1})
	want := financialsFromDataset(t, sb)
	sb.SetFaults(sandbox.Faults{FailRoutes: map[string]int{"GET /rest/v1.1/projects/{project_id}/direct_costs": 403}})
	g := startGateway(t, copyEnv(env), "-no-cache", "-no-response-cache")
	r := g.query(t, projectFinancialsQuery, nil)
	var a financialsAnswer
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Projects.Nodes) != 2 {
		t.Fatalf("got %d projects, want 2: %s", len(a.Projects.Nodes), r.Data)
	}
	for _, n := range a.Projects.Nodes {
		if n.FinancialSummary != nil || n.DirectCosts != nil {
			t.Errorf("project %s: financialSummary %+v, directCosts %+v; want both null", n.ID, n.FinancialSummary, n.DirectCosts)
		}
		if n.BudgetModifications == nil || n.BudgetModifications.TotalCount != want[n.ID].modifications {
			t.Errorf("project %s: budgetModifications %+v, want %d", n.ID, n.BudgetModifications, want[n.ID].modifications)
		}
	}
	fields := map[string]int{}
	for _, e := range r.Errors {
		if e.Extensions["code"] != "FORBIDDEN" || len(e.Path) != 4 {
			t.Errorf("error %+v: want FORBIDDEN at a project field", e)
			continue
		}
		fields[e.Path[3].(string)]++
	}
	if fields["financialSummary"] != 2 || fields["directCosts"] != 2 {
		t.Fatalf("errors by field %v, want 2 financialSummary and 2 directCosts", fields)
	}
}

// TestCostListsPageAndFilterByUpdatedAt: budgetModifications and directCosts
// page by keyset cursors through every item exactly once, and updatedSince
// keeps the items updated at or after it (counted here from the dataset).
func TestCostListsPageAndFilterByUpdatedAt(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 5},
		HourlyLimit: -1, SpikeLimit: -1})
	var projectID int64
	var mods, costs []time.Time
	sb.ReadDataset(func(d *data.Dataset) {
		p := d.Projects[0]
		projectID = p.ID
		for _, m := range p.BudgetModifications {
			mods = append(mods, m.UpdatedAt)
		}
		for _, c := range p.DirectCosts {
			costs = append(costs, c.UpdatedAt)
		}
	})
	g := startGateway(t, copyEnv(env))
	for _, tc := range []struct {
		field   string
		updated []time.Time
	}{{"budgetModifications", mods}, {"directCosts", costs}} {
		t.Run(tc.field, func(t *testing.T) {
			if len(tc.updated) < 5 {
				t.Fatalf("only %d items", len(tc.updated))
			}
			q := `query($p: ID!, $after: String, $since: DateTime) { project(id: $p) { list: ` + tc.field +
				`(first: 2, after: $after, updatedSince: $since) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } } }`
			type page struct {
				Project struct {
					List struct {
						TotalCount int
						Nodes      []struct{ ID string }
						PageInfo   struct {
							HasNextPage bool
							EndCursor   string
						}
					}
				}
			}
			read := func(vars map[string]any) page {
				r := g.query(t, q, vars)
				if len(r.Errors) > 0 {
					t.Fatalf("errors: %+v", r.Errors)
				}
				var p page
				if err := json.Unmarshal(r.Data, &p); err != nil {
					t.Fatal(err)
				}
				return p
			}
			seen := map[string]bool{}
			vars := map[string]any{"p": strconv.FormatInt(projectID, 10)}
			for i := 0; ; i++ {
				p := read(vars)
				for _, n := range p.Project.List.Nodes {
					if seen[n.ID] {
						t.Fatalf("%s repeated", n.ID)
					}
					seen[n.ID] = true
				}
				if !p.Project.List.PageInfo.HasNextPage || i > len(tc.updated) {
					break
				}
				vars["after"] = p.Project.List.PageInfo.EndCursor
			}
			if len(seen) != len(tc.updated) {
				t.Fatalf("paged through %d items, want %d", len(seen), len(tc.updated))
			}
			sorted := slices.Clone(tc.updated)
			slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
			since := sorted[len(sorted)/2]
			want := 0
			for _, u := range tc.updated {
				if !u.Before(since) {
					want++
				}
			}
			p := read(map[string]any{"p": strconv.FormatInt(projectID, 10), "since": since.Format(time.RFC3339)})
			if p.Project.List.TotalCount != want {
				t.Fatalf("updatedSince %s: %d items, want %d", since, p.Project.List.TotalCount, want)
			}
		})
	}
}

// TestOwnerFinancialsWithDefaultPagesFitTheCostLimit: the owner side of the
// financials query over 20 projects, the prime contracts and their payment
// applications at their default page sizes, passes the default cost limit
// (1,000 estimated calls; primeContracts' default first of 10 keeps it
// there), its estimate covers the calls made, and those are exactly the
// minimum of TestProjectFinancialsAcross20Projects (the prime contract and
// payment application lists are shared with the summary's figures).
func TestOwnerFinancialsWithDefaultPagesFitTheCostLimit(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 20, ItemsPerProject: 10},
		HourlyLimit: -1, SpikeLimit: -1})
	want := financialsFromDataset(t, sb)
	minimum, apps := 1, 0
	for _, e := range want {
		minimum += 2 + pages(e.modifications, 0, 100) + pages(e.directCosts, 0, 100) +
			pages(e.wo, 0, maxPerPageContracts) + pages(e.po, 0, maxPerPageContracts) +
			pages(e.primeContracts, 0, 100) + 1 + pages(e.packages, 0, 100)
		for _, n := range e.paymentApps {
			minimum += pages(n, 0, 100)
			apps += n
		}
	}
	g := startGateway(t, copyEnv(env))
	costWarm(t, g)
	sb.ResetStats()
	r := g.query(t, `{ projects(first: 20, filter: {status: ALL}) { nodes { id
  financialSummary { contractValue billedToDate retainageHeld pendingChanges }
  primeContracts { totalCount nodes { id revisedValue paymentApplications { totalCount nodes { id status g702 { totalCompletedAndStoredToDate totalRetainage } } } } } } } }`, nil)
	st := sb.Stats()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var a struct {
		Projects struct {
			Nodes []struct {
				PrimeContracts struct {
					Nodes []struct {
						PaymentApplications struct{ TotalCount int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	gotApps := 0
	for _, p := range a.Projects.Nodes {
		for _, c := range p.PrimeContracts.Nodes {
			gotApps += c.PaymentApplications.TotalCount
		}
	}
	if len(a.Projects.Nodes) != 20 || gotApps != apps || apps == 0 {
		t.Fatalf("%d projects, %d payment applications; want 20 and %d", len(a.Projects.Nodes), gotApps, apps)
	}
	est := r.Extensions.Procoregraph.EstimatedCalls
	if int(st.Total) != minimum || est < minimum || est > 1000 {
		t.Fatalf("%d Procore calls (minimum %d), estimate %d (limit 1,000); by route %v", st.Total, minimum, est, st.ByRoute)
	}
	t.Logf("%d Procore calls, estimate %d", st.Total, est)
}

// TestFinancialSummaryIsNullWhenPaymentApplicationsAreForbidden: when
// Procore refuses the payment application lists, a summary selecting
// billedToDate and retainageHeld is null, with FORBIDDEN errors at those
// figures' paths; the project's other fields still render.
func TestFinancialSummaryIsNullWhenPaymentApplicationsAreForbidden(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 5},
		HourlyLimit: -1, SpikeLimit: -1})
	want := financialsFromDataset(t, sb)
	sb.SetFaults(sandbox.Faults{FailRoutes: map[string]int{"GET /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications": 403}})
	g := startGateway(t, copyEnv(env), "-no-cache", "-no-response-cache")
	r := g.query(t, projectFinancialsQuery, nil)
	var a financialsAnswer
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Projects.Nodes) != 2 {
		t.Fatalf("got %d projects, want 2: %s", len(a.Projects.Nodes), r.Data)
	}
	for _, n := range a.Projects.Nodes {
		if len(want[n.ID].paymentApps) == 0 {
			t.Fatalf("project %s has no prime contract: the test proves little", n.ID)
		}
		if n.FinancialSummary != nil {
			t.Errorf("project %s: financialSummary %+v, want null", n.ID, n.FinancialSummary)
		}
		if n.DirectCosts == nil || n.DirectCosts.TotalCount != want[n.ID].directCosts {
			t.Errorf("project %s: directCosts %+v, want %d", n.ID, n.DirectCosts, want[n.ID].directCosts)
		}
	}
	fields := map[string]int{}
	for _, e := range r.Errors {
		if e.Extensions["code"] != "FORBIDDEN" || len(e.Path) != 5 || e.Path[3] != "financialSummary" {
			t.Errorf("error %+v: want FORBIDDEN at a financialSummary figure", e)
			continue
		}
		fields[e.Path[4].(string)]++
	}
	if fields["billedToDate"]+fields["retainageHeld"] < 2 || len(fields) > 2 {
		t.Fatalf("errors by figure %v, want billedToDate or retainageHeld for each project", fields)
	}
}
