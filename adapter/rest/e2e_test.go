package rest

// End-to-end tests: the real client over real HTTP against the real sandbox
// (procoregraph/sandbox) on a loopback port. Expected values come from the
// sandbox's dataset, read under its lock, never from the client itself.

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// e2e is a sandbox plus a client for its first company.
type e2e struct {
	run       *sandbox.Running
	client    *Client
	companyID int64
	projectID int64 // the company's first project
	calls     *callLog
}

// callLog records OnUpstreamCall reports.
type callLog struct {
	mu       sync.Mutex
	byStatus map[int]int
	byRoute  map[string]int
}

func (l *callLog) record(method, route string, status int, _ time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byStatus[status]++
	l.byRoute[method+" "+route]++
}

func (l *callLog) status(s int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byStatus[s]
}

func (l *callLog) route(r string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byRoute[r]
}

func startE2E(t *testing.T, cfg sandbox.Config, mutate func(*Config)) *e2e {
	t.Helper()
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	run, err := sandbox.Start(context.Background(), cfg, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	e := &e2e{run: run, calls: &callLog{byStatus: map[int]int{}, byRoute: map[string]int{}}}
	run.ReadDataset(func(ds *data.Dataset) {
		e.companyID = ds.Companies[0].ID
		for _, p := range ds.Projects {
			if p.CompanyID == e.companyID {
				e.projectID = p.ID
				break
			}
		}
	})
	c := Config{APIURL: run.URL, ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
		CompanyID: e.companyID, Logger: quietLogger(), OnUpstreamCall: e.calls.record}
	if mutate != nil {
		mutate(&c)
	}
	e.client, err = New(c)
	if err != nil {
		t.Fatal(err)
	}
	// Before the sandbox closes (cleanups run last-in first-out): a dialled but
	// unused connection would hold its graceful shutdown for 5 s.
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// project returns a read-only snapshot accessor of the e2e project.
func (e *e2e) read(fn func(ds *data.Dataset, p *data.Project)) {
	e.run.ReadDataset(func(ds *data.Dataset) { fn(ds, ds.Project(e.projectID)) })
}

func (e *e2e) routeCalls(route string) int64 { return e.run.Stats().ByRoute[route] }

func ids[T any](items []T, id func(T) int64) []int64 {
	out := make([]int64, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func rfiID(r adapter.RFI) int64 { return r.ID }

func TestE2EListRFIsThroughPagesEqualsWholeSet(t *testing.T) {
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: 250}}, nil)
	var want []int64
	subjects := map[int64]string{}
	e.read(func(_ *data.Dataset, p *data.Project) {
		for _, r := range p.RFIs {
			want = append(want, r.ID)
			subjects[r.ID] = r.Subject
		}
	})
	page, err := e.client.RFIs(context.Background(), e.projectID, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page.Items, rfiID); !slices.Equal(got, want) {
		t.Fatalf("walked %d RFIs, want the whole set of %d in id order", len(got), len(want))
	}
	if page.Total != 250 {
		t.Fatalf("Total %d, want 250 from the Total header", page.Total)
	}
	for _, r := range page.Items {
		if r.Subject != subjects[r.ID] || r.ProjectID != e.projectID {
			t.Fatalf("RFI %d decoded as %q in project %d", r.ID, r.Subject, r.ProjectID)
		}
	}
	if n := e.routeCalls("GET /rest/v1.0/projects/{project_id}/rfis"); n != 3 {
		t.Fatalf("%d list calls, want 3 pages of per_page=100", n)
	}

	t.Run("LimitStopsEarly", func(t *testing.T) {
		e.run.ResetStats()
		page, err := e.client.RFIs(context.Background(), e.projectID, adapter.ListOptions{Limit: 120})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(page.Items, rfiID), want[:120]) || page.Total != 250 {
			t.Fatalf("%d items, Total %d; want the first 120 and Total 250", len(page.Items), page.Total)
		}
		if n := e.routeCalls("GET /rest/v1.0/projects/{project_id}/rfis"); n != 2 {
			t.Fatalf("%d calls for 120 items, want 2", n)
		}
	})
	t.Run("SmallLimitAsksForASmallPage", func(t *testing.T) {
		e.run.ResetStats()
		page, err := e.client.RFIs(context.Background(), e.projectID, adapter.ListOptions{Limit: 5})
		if err != nil || len(page.Items) != 5 || page.Total != 250 || e.routeCalls("GET /rest/v1.0/projects/{project_id}/rfis") != 1 {
			t.Fatalf("%d items, Total %d, err %v", len(page.Items), page.Total, err)
		}
	})
}

func TestE2EFilters(t *testing.T) {
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: 250}}, nil)
	ctx := context.Background()
	var all []int64
	updated := map[int64]time.Time{}
	e.read(func(_ *data.Dataset, p *data.Project) {
		for _, r := range p.RFIs {
			all = append(all, r.ID)
			updated[r.ID] = r.UpdatedAt
		}
	})
	const route = "GET /rest/v1.0/projects/{project_id}/rfis"

	t.Run("ByIDs", func(t *testing.T) {
		e.run.ResetStats()
		want := []int64{all[3], all[77], all[150], all[249]}
		page, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{IDs: []int64{want[2], want[0], want[3], want[1], want[0]}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(page.Items, rfiID), want) || page.Total != 4 || e.routeCalls(route) != 1 {
			t.Fatalf("got %v (Total %d) in %d calls, want %v in 1", ids(page.Items, rfiID), page.Total, e.routeCalls(route), want)
		}
	})
	t.Run("ManyIDsAreChunked", func(t *testing.T) {
		e.run.ResetStats()
		want := all[10:160] // 150 ids: two requests of at most 100
		page, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{IDs: want})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(page.Items, rfiID), want) || page.Total != 150 || e.routeCalls(route) != 2 {
			t.Fatalf("%d items, Total %d, %d calls", len(page.Items), page.Total, e.routeCalls(route))
		}
	})
	t.Run("EmptyIDSetMakesNoCall", func(t *testing.T) {
		e.run.ResetStats()
		page, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{IDs: []int64{}})
		if err != nil || len(page.Items) != 0 || page.Total != 0 || e.run.Stats().Total != 0 {
			t.Fatalf("%+v %v, %d calls", page, err, e.run.Stats().Total)
		}
	})
	t.Run("UpdatedSinceAcrossPages", func(t *testing.T) {
		times := make([]time.Time, 0, len(updated))
		for _, u := range updated {
			times = append(times, u)
		}
		slices.SortFunc(times, time.Time.Compare)
		since := times[len(times)/3].Truncate(time.Second) // keeps about two thirds: more than one page
		var want []int64
		for _, id := range all {
			if !updated[id].Before(since) {
				want = append(want, id)
			}
		}
		e.run.ResetStats()
		page, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{UpdatedSince: &since})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(page.Items, rfiID), want) || page.Total != len(want) {
			t.Fatalf("%d items (Total %d), want %d updated since %v", len(page.Items), page.Total, len(want), since)
		}
		if len(want) <= 100 || e.routeCalls(route) != 2 {
			t.Fatalf("%d matching items in %d calls; the filter must stay fixed across pages", len(want), e.routeCalls(route))
		}
	})
}

func TestE2EEveryReaderDecodesSandboxData(t *testing.T) {
	e := startE2E(t, sandbox.Config{}, nil)
	ctx := context.Background()
	c := e.client
	pid := e.projectID

	t.Run("Me", func(t *testing.T) {
		me, err := c.Me(ctx)
		var want *data.User
		e.read(func(ds *data.Dataset, _ *data.Project) { want = ds.User(ds.ServiceUserID) })
		if err != nil || me.ID != want.ID || me.Login != want.Email || me.Name != want.Name() {
			t.Fatalf("%+v %v", me, err)
		}
	})
	t.Run("Companies", func(t *testing.T) {
		got, err := c.Companies(ctx)
		var want []int64
		e.read(func(ds *data.Dataset, _ *data.Project) {
			want = ids(ds.Companies, func(c *data.Company) int64 { return c.ID })
		})
		if err != nil || !slices.Equal(ids(got, func(c adapter.Company) int64 { return c.ID }), want) {
			t.Fatalf("%+v %v", got, err)
		}
	})
	t.Run("ProjectsAndProject", func(t *testing.T) {
		all := adapter.ProjectStatusAll
		page, err := c.Projects(ctx, e.companyID, adapter.ProjectFilter{Status: &all}, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var want []*data.Project
		e.read(func(ds *data.Dataset, _ *data.Project) {
			for _, p := range ds.Projects {
				if p.CompanyID == e.companyID {
					want = append(want, p)
				}
			}
		})
		if len(page.Items) != len(want) || page.Total != len(want) {
			t.Fatalf("%d projects, want %d", len(page.Items), len(want))
		}
		for i, p := range page.Items {
			w := want[i]
			if p.ID != w.ID || p.Name != w.Name || p.ProjectNumber != w.ProjectNumber || p.CompanyID != e.companyID ||
				p.Active != w.Active || p.TotalValue == nil || !p.TotalValue.Equal(w.TotalValue.Decimal()) {
				t.Fatalf("project %d decoded as %+v", w.ID, p)
			}
		}
		one, err := c.Project(ctx, e.companyID, want[0].ID)
		if err != nil || one.ID != want[0].ID || one.StartDate == nil || *one.StartDate != adapter.DateOf(want[0].StartDate) {
			t.Fatalf("%+v %v", one, err)
		}
		_, err = c.Project(ctx, e.companyID, 1)
		if !adapter.IsNotFound(err) {
			t.Fatalf("unknown project: %v, want NOT_FOUND", err)
		}
	})
	t.Run("Directory", func(t *testing.T) {
		cu, err1 := c.CompanyUsers(ctx, e.companyID, adapter.ListOptions{})
		pu, err2 := c.ProjectUsers(ctx, pid, adapter.ListOptions{})
		cv, err3 := c.CompanyVendors(ctx, e.companyID, adapter.ListOptions{})
		pv, err4 := c.ProjectVendors(ctx, pid, adapter.ListOptions{})
		cc, err5 := c.CostCodes(ctx, pid, adapter.ListOptions{})
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			t.Fatal(err)
		}
		e.read(func(ds *data.Dataset, p *data.Project) {
			co := ds.Company(e.companyID)
			if !slices.Equal(ids(cu.Items, func(u adapter.User) int64 { return u.ID }), co.UserIDs) {
				t.Error("company users differ")
			}
			if !slices.Equal(ids(pu.Items, func(u adapter.User) int64 { return u.ID }), p.UserIDs) {
				t.Error("project users differ")
			}
			if !slices.Equal(ids(cv.Items, func(v adapter.Vendor) int64 { return v.ID }), ids(co.Vendors, func(v *data.Vendor) int64 { return v.ID })) {
				t.Error("company vendors differ")
			}
			if !slices.Equal(ids(pv.Items, func(v adapter.Vendor) int64 { return v.ID }), p.VendorIDs) {
				t.Error("project vendors differ")
			}
			if len(cc.Items) != len(p.CostCodes) {
				t.Errorf("%d cost codes, want %d", len(cc.Items), len(p.CostCodes))
			}
			for i, x := range cc.Items {
				w := p.CostCodes[i]
				if x.ID != w.ID || x.FullCode != w.FullCode || x.Name != w.Name || (w.ParentID != 0) != (x.ParentID != nil) {
					t.Errorf("cost code %+v, want %+v", x, w)
				}
			}
			u := ds.User(cu.Items[3].ID)
			if cu.Items[3].Login != u.Email || cu.Items[3].Name != u.Name() || cu.Items[3].JobTitle != u.JobTitle {
				t.Errorf("user %+v, want %+v", cu.Items[3], u)
			}
			v := co.Vendors[2]
			if got := cv.Items[2]; got.Name != v.Name || got.City != v.City || got.EmailAddress != v.Email {
				t.Errorf("vendor %+v, want %+v", got, v)
			}
		})
	})
	t.Run("RFIs", func(t *testing.T) {
		page, err := c.RFIs(ctx, pid, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(ds *data.Dataset, p *data.Project) {
			if len(page.Items) != len(p.RFIs) {
				t.Fatalf("%d RFIs, want %d", len(page.Items), len(p.RFIs))
			}
			for i, r := range page.Items {
				w := p.RFIs[i]
				num := ""
				if w.Number != 0 {
					num = strconv.Itoa(w.Number)
				}
				if r.ID != w.ID || r.Subject != w.Subject || string(r.Status) != normEnum(w.Status) || r.Number != num ||
					r.RFIManager == nil || r.RFIManager.ID != w.ManagerID ||
					!slices.Equal(ids(r.BallInCourt, func(p adapter.Person) int64 { return p.ID }), w.BallInCourtIDs) ||
					!slices.Equal(ids(r.Assignees, func(p adapter.Person) int64 { return p.ID }), w.AssigneeIDs) {
					t.Fatalf("RFI %d decoded as %+v", w.ID, r)
				}
			}
		})
		// The show has the questions and answers.
		var withAnswer *data.RFI
		e.read(func(_ *data.Dataset, p *data.Project) {
			for _, r := range p.RFIs {
				if len(r.Questions) > 0 && len(r.Questions[0].Answers) > 0 {
					withAnswer = r
					break
				}
			}
		})
		if withAnswer == nil {
			t.Skip("no answered RFI in the dataset")
		}
		one, err := c.RFI(ctx, pid, withAnswer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(one.Questions) != len(withAnswer.Questions) || one.Questions[0].Body != withAnswer.Questions[0].Body ||
			len(one.Questions[0].Answers) != len(withAnswer.Questions[0].Answers) ||
			one.Questions[0].Answers[0].Body != withAnswer.Questions[0].Answers[0].Body {
			t.Fatalf("questions %+v", one.Questions)
		}
	})
	t.Run("Submittals", func(t *testing.T) {
		page, err := c.Submittals(ctx, pid, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(ds *data.Dataset, p *data.Project) {
			co := ds.Company(e.companyID)
			if len(page.Items) != len(p.Submittals) {
				t.Fatalf("%d submittals, want %d", len(page.Items), len(p.Submittals))
			}
			for i, s := range page.Items {
				w := p.Submittals[i]
				if s.ID != w.ID || s.Title != w.Title || s.Status == nil || s.Status.ID != w.StatusID || s.Status.Name != co.Status(w.StatusID).Name ||
					len(s.Approvers) != len(w.Approvers) || !slices.Equal(ids(s.BallInCourt, func(p adapter.Person) int64 { return p.ID }), w.BallInCourtIDs) {
					t.Fatalf("submittal %d decoded as %+v", w.ID, s)
				}
				for j, a := range s.Approvers {
					if a.ID != w.Approvers[j].ID || a.Step != w.Approvers[j].Step || a.User == nil || a.User.ID != w.Approvers[j].UserID ||
						a.Response == nil || a.Response.ID != w.Approvers[j].ResponseID {
						t.Fatalf("approver %+v, want %+v", a, w.Approvers[j])
					}
				}
			}
		})
		one, err := c.Submittal(ctx, pid, page.Items[0].ID)
		if err != nil || one.ID != page.Items[0].ID || one.SpecSection == "" {
			t.Fatalf("%+v %v", one, err)
		}
	})
	t.Run("CommitmentsChangeOrdersInvoices", func(t *testing.T) {
		page, err := c.Commitments(ctx, pid, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var cos []adapter.ChangeOrder
		var invs adapter.Page[adapter.Invoice]
		var bps []adapter.BillingPeriod
		cos, err = c.ChangeOrders(ctx, pid, nil)
		if err == nil {
			invs, err = c.Invoices(ctx, pid, adapter.InvoiceFilter{}, adapter.ListOptions{})
		}
		if err == nil {
			bps, err = c.BillingPeriods(ctx, pid)
		}
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(ds *data.Dataset, p *data.Project) {
			if len(page.Items) != len(p.Commitments) || page.Total != len(p.Commitments) {
				t.Fatalf("%d commitments (Total %d), want %d", len(page.Items), page.Total, len(p.Commitments))
			}
			for i, x := range page.Items {
				w := p.Commitments[i]
				kind := adapter.CommitmentSubcontract
				if w.Kind == data.PurchaseOrder {
					kind = adapter.CommitmentPurchaseOrder
				}
				if x.ID != w.ID || x.Kind != kind || x.Number != w.Number || string(x.Status) != normEnum(w.Status) ||
					!x.GrandTotal.Equal(w.GrandTotal().Decimal()) || *x.VendorID != w.VendorID || !x.RetainagePercent.Equal(w.RetainagePercent.Decimal()) {
					t.Fatalf("commitment %d decoded as %+v", w.ID, x)
				}
			}
			if len(cos) != len(p.ChangeOrders) {
				t.Fatalf("%d change orders, want %d", len(cos), len(p.ChangeOrders))
			}
			for i, x := range cos {
				w := p.ChangeOrders[i]
				if x.ID != w.ID || x.CommitmentID != w.ContractID || string(x.Status) != normEnum(w.Status) || !x.GrandTotal.Equal(w.GrandTotal().Decimal()) {
					t.Fatalf("change order %+v, want %+v", x, w)
				}
			}
			if len(invs.Items) != len(p.Invoices) {
				t.Fatalf("%d invoices, want %d", len(invs.Items), len(p.Invoices))
			}
			for i, x := range invs.Items {
				w := p.Invoices[i]
				if x.ID != w.ID || x.CommitmentID != w.CommitmentID || x.Number != w.Number || string(x.Status) != normEnum(w.Status) || x.Items != nil {
					t.Fatalf("invoice %+v, want %+v", x, w)
				}
			}
			if len(bps) != len(p.BillingPeriods) || bps[0].ID != p.BillingPeriods[0].ID || bps[0].StartDate != adapter.DateOf(p.BillingPeriods[0].Start) {
				t.Fatalf("billing periods %+v", bps)
			}
		})
		// Details: one commitment with its SOV, one invoice with G703 items that add up to its G702.
		x := page.Items[0]
		one, err := c.Commitment(ctx, pid, x.Kind, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(_ *data.Dataset, p *data.Project) {
			w := p.Commitment(x.ID)
			if len(one.LineItems) != len(w.LineItems) || !one.LineItems[0].Amount.Equal(w.LineItems[0].Amount.Decimal()) {
				t.Fatalf("line items %+v", one.LineItems)
			}
		})
		cid := x.ID
		only, err := c.ChangeOrders(ctx, pid, &cid)
		if err != nil {
			t.Fatal(err)
		}
		for _, co := range only {
			if co.CommitmentID != cid {
				t.Fatalf("change order %d of commitment %d in a list filtered by %d", co.ID, co.CommitmentID, cid)
			}
		}
		if len(invs.Items) == 0 {
			t.Skip("no invoices in the dataset")
		}
		inv, err := c.Invoice(ctx, pid, invs.Items[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Items) == 0 {
			t.Fatal("invoice show has no G703 items")
		}
		var completed adapter.Decimal
		for _, it := range inv.Items {
			completed = completed.Add(it.TotalCompletedAndStoredToDate)
		}
		if !completed.Equal(inv.Summary.TotalCompletedAndStoredToDate) {
			t.Fatalf("G703 items total %s, G702 says %s", completed, inv.Summary.TotalCompletedAndStoredToDate)
		}
		byCommitment, err := c.Invoices(ctx, pid, adapter.InvoiceFilter{CommitmentID: &inv.CommitmentID}, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range byCommitment.Items {
			if x.CommitmentID != inv.CommitmentID {
				t.Fatalf("invoice of commitment %d in a list filtered by %d", x.CommitmentID, inv.CommitmentID)
			}
		}
	})
	t.Run("Budget", func(t *testing.T) {
		views, err := c.BudgetViews(ctx, pid)
		if err != nil || len(views) == 0 || views[0].ProjectID != pid {
			t.Fatalf("%+v %v", views, err)
		}
		rows, err := c.BudgetRows(ctx, pid, views[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(_ *data.Dataset, p *data.Project) {
			if len(rows) != len(p.BudgetLines) {
				t.Fatalf("%d rows, want %d", len(rows), len(p.BudgetLines))
			}
			for i, r := range rows {
				w := p.BudgetLines[i]
				if r.ID != w.ID || *r.CostCodeID != w.CostCodeID || !r.OriginalBudgetAmount.Equal(w.OriginalBudget.Decimal()) || len(r.Columns) == 0 {
					t.Fatalf("row %+v, want %+v", r, w)
				}
			}
		})
	})
	t.Run("DailyLogs", func(t *testing.T) {
		var from, to time.Time
		var manpower, notes int
		e.read(func(_ *data.Dataset, p *data.Project) {
			for _, m := range p.Manpower {
				if from.IsZero() || m.Date.Before(from) {
					from = m.Date
				}
				if m.Date.After(to) {
					to = m.Date
				}
			}
			manpower, notes = len(p.Manpower), len(p.Notes)
		})
		days, err := c.DailyLogs(ctx, pid, adapter.DateRange{From: adapter.DateOf(from.AddDate(0, 0, -30)), To: adapter.DateOf(to.AddDate(0, 0, 30))})
		if err != nil {
			t.Fatal(err)
		}
		gotM, gotN := 0, 0
		for i, d := range days {
			gotM += len(d.Manpower)
			gotN += len(d.Notes)
			if i > 0 && !days[i-1].Date.Before(d.Date) {
				t.Fatal("days out of order")
			}
			for _, m := range d.Manpower {
				if m.Date != d.Date {
					t.Fatalf("manpower of %v filed under %v", m.Date, d.Date)
				}
			}
		}
		if manpower == 0 || gotM != manpower || gotN != notes {
			t.Fatalf("%d manpower and %d notes logs, want %d and %d", gotM, gotN, manpower, notes)
		}
	})
	t.Run("ObservationsAndPunchItems", func(t *testing.T) {
		obs, err := c.Observations(ctx, pid, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		punch, err := c.PunchItems(ctx, pid, adapter.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(_ *data.Dataset, p *data.Project) {
			if len(obs.Items) != len(p.Observations) || len(punch.Items) != len(p.PunchItems) {
				t.Fatalf("%d observations, %d punch items; want %d, %d", len(obs.Items), len(punch.Items), len(p.Observations), len(p.PunchItems))
			}
			for i, o := range obs.Items {
				if w := p.Observations[i]; o.ID != w.ID || string(o.Status) != normEnum(w.Status) || o.Name != w.Name {
					t.Fatalf("observation %+v, want %+v", o, w)
				}
			}
			for i, x := range punch.Items {
				if w := p.PunchItems[i]; x.ID != w.ID || string(x.Status) != normEnum(w.Status) || x.Name != w.Name {
					t.Fatalf("punch item %+v, want %+v", x, w)
				}
			}
		})
	})
	t.Run("SubmittalStatuses", func(t *testing.T) {
		got, err := c.SubmittalStatuses(ctx, e.companyID)
		if err != nil {
			t.Fatal(err)
		}
		e.read(func(ds *data.Dataset, _ *data.Project) {
			want := ds.Company(e.companyID).Statuses
			if len(got) != len(want) || got[1].ID != want[1].ID || got[1].Name != want[1].Name || got[1].Status != want[1].Status {
				t.Fatalf("%+v, want %+v", got, want)
			}
		})
	})
}

func TestE2EDriftDecodesWithoutErrors(t *testing.T) {
	e := startE2E(t, sandbox.Config{Faults: sandbox.Faults{Drift: sandbox.Drift{ExtraFields: true, MissingOptionalField: true, UnknownEnum: true}}}, nil)
	ctx := context.Background()
	rfis, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for _, r := range rfis.Items {
		if r.Status == adapter.RFIStatusUnknown {
			unknown++
			if r.ID%4 != 0 {
				t.Fatalf("RFI %d became UNKNOWN though the sandbox drifts only ids divisible by 4", r.ID)
			}
		}
		if r.DueDate != nil {
			t.Fatalf("RFI %d has a due date although drift removed the field", r.ID)
		}
	}
	if unknown == 0 {
		t.Fatal("no RFI carried the drifted status; the test proves nothing")
	}
	if _, err := e.client.Commitments(ctx, e.projectID, adapter.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Invoices(ctx, e.projectID, adapter.InvoiceFilter{}, adapter.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PunchItems(ctx, e.projectID, adapter.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}

// resilientReads reads RFIs, submittals, commitments and invoices of the project.
func resilientReads(t *testing.T, c *Client, pid int64) (a, b, d, f []int64) {
	t.Helper()
	ctx := context.Background()
	rfis, err := c.RFIs(ctx, pid, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	subs, err := c.Submittals(ctx, pid, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cms, err := c.Commitments(ctx, pid, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	invs, err := c.Invoices(ctx, pid, adapter.InvoiceFilter{}, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ids(rfis.Items, rfiID), ids(subs.Items, func(s adapter.Submittal) int64 { return s.ID }),
		ids(cms.Items, func(x adapter.Commitment) int64 { return x.ID }), ids(invs.Items, func(x adapter.Invoice) int64 { return x.ID })
}

func TestE2EResultsCompleteUnder429StormAnd5xx(t *testing.T) {
	clock := newFakeClock() // shared by sandbox and client: waits cost no real time
	e := startE2E(t, sandbox.Config{Now: clock.Now, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: 230}},
		func(c *Config) { c.Clock = clock })
	r1, s1, c1, i1 := resilientReads(t, e.client, e.projectID)

	e.run.SetFaults(sandbox.Faults{RateLimitStorm: sandbox.Duration(20 * time.Second), ErrorRate: 0.2})
	e.run.ResetStats()
	r2, s2, c2, i2 := resilientReads(t, e.client, e.projectID)
	if !slices.Equal(r1, r2) || !slices.Equal(s1, s2) || !slices.Equal(c1, c2) || !slices.Equal(i1, i2) {
		t.Fatalf("results under faults differ: RFIs %d/%d submittals %d/%d commitments %d/%d invoices %d/%d",
			len(r2), len(r1), len(s2), len(s1), len(c2), len(c1), len(i2), len(i1))
	}
	if e.calls.status(429) == 0 {
		t.Fatal("no 429 seen: the storm was not exercised")
	}
	if e.calls.status(500)+e.calls.status(502)+e.calls.status(503) == 0 {
		t.Fatal("no 5xx seen: the error rate was not exercised")
	}
	if clock.TotalSlept() < 20*time.Second {
		t.Fatalf("slept %v; the storm lasted 20 s and had to be waited out", clock.TotalSlept())
	}
	if len(r1) != 230 {
		t.Fatalf("%d RFIs", len(r1))
	}
}

func TestE2ENeverExceedsTheSpikeWindow(t *testing.T) {
	clock := newFakeClock()
	e := startE2E(t, sandbox.Config{Now: clock.Now, SpikeLimit: 10, HourlyLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 1, RFIsPerProject: 45}}, func(c *Config) { c.Clock = clock })
	var rfiIDs []int64
	e.read(func(_ *data.Dataset, p *data.Project) { rfiIDs = ids(p.RFIs, func(r *data.RFI) int64 { return r.ID }) })
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(rfiIDs); i += 4 {
				if _, err := e.client.RFI(context.Background(), e.projectID, rfiIDs[i]); err != nil {
					failed.Add(1)
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := e.calls.status(429); n != 0 {
		t.Fatalf("Procore answered 429 %d times: the client sent more than the spike window allows", n)
	}
	if shows := e.calls.route("GET /rest/v1.0/projects/{id}/rfis/{id}"); failed.Load() != 0 || shows != len(rfiIDs) {
		t.Fatalf("%d failures, %d calls for %d RFIs", failed.Load(), shows, len(rfiIDs))
	}
	if min := time.Duration(len(rfiIDs)/10-1) * 10 * time.Second; clock.TotalSlept() < min {
		t.Fatalf("slept %v for %d calls at 10 per 10 s; want at least %v", clock.TotalSlept(), len(rfiIDs), min)
	}
}

func TestE2ETokenExpiryRecoversWithOneNewToken(t *testing.T) {
	e := startE2E(t, sandbox.Config{}, nil)
	ctx := context.Background()
	if _, err := e.client.Me(ctx); err != nil {
		t.Fatal(err)
	}
	e.run.ExpireTokens()
	e.run.ResetStats()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := e.client.RFIs(ctx, e.projectID, adapter.ListOptions{Limit: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.run.Stats().TokenRequests; n != 1 {
		t.Fatalf("%d token requests after expiry under 10 concurrent calls, want 1", n)
	}
}

func TestE2EWrongClientSecretIsUnauthenticated(t *testing.T) {
	e := startE2E(t, sandbox.Config{}, func(c *Config) { c.ClientSecret = "nope" })
	_, err := e.client.Me(context.Background())
	if adapter.ErrorCode(err) != adapter.CodeUnauthenticated {
		t.Fatalf("%v, want UNAUTHENTICATED", err)
	}
	if e.run.Stats().Total != 0 {
		t.Fatal("API calls went out without a token")
	}
}
