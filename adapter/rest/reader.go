package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"procoregraph/adapter"
	"procoregraph/safe"
)

// Page sizes: the largest per_page each endpoint allows (sandbox/ROUTES.md).
// Real Procore may cap lower; the returned Per-Page and Link headers rule.
const (
	perPageProjects     = 300
	perPageDefault      = 100
	perPageRequisitions = 100
	perPageCompanies    = 100
)

// Me returns the user or service account behind the credential.
func (c *Client) Me(ctx context.Context) (adapter.Person, error) {
	var w wirePerson
	if err := c.getJSON(ctx, call{what: "get the current user", method: http.MethodGet, path: "/rest/v1.0/me"}, &w); err != nil {
		return adapter.Person{}, err
	}
	return w.person(), nil
}

// Companies lists the companies the credential can see.
func (c *Client) Companies(ctx context.Context) ([]adapter.Company, error) {
	items, _, err := fetchList(ctx, c, listSpec{what: "list companies", path: "/rest/v1.0/companies", perPage: perPageCompanies},
		0, func(w wireCompany) int64 { return int64(w.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]adapter.Company, 0, len(items))
	for _, w := range items {
		out = append(out, w.company())
	}
	return out, nil
}

// Projects lists a company's projects (active ones unless f.Status says
// otherwise: filters[by_status], which Procore defaults to Active).
func (c *Client) Projects(ctx context.Context, companyID int64, f adapter.ProjectFilter, opt adapter.ListOptions) (adapter.Page[adapter.Project], error) {
	if err := validID("company id", companyID); err != nil {
		return adapter.Page[adapter.Project]{}, err
	}
	q := companyQuery(companyID)
	if f.Status != nil {
		switch *f.Status {
		case adapter.ProjectStatusActive:
			q.Set("filters[by_status]", "Active")
		case adapter.ProjectStatusInactive:
			q.Set("filters[by_status]", "Inactive")
		case adapter.ProjectStatusAll:
			q.Set("filters[by_status]", "All")
		default:
			return adapter.Page[adapter.Project]{}, badInput([]string{"status"}, "unknown project status %q", *f.Status)
		}
	}
	if f.Search != nil && *f.Search != "" {
		q.Set("filters[name]", *f.Search)
	}
	if f.UpdatedSince != nil {
		opt.UpdatedSince = f.UpdatedSince
	}
	if f.UpdatedBefore != nil {
		opt.UpdatedBefore = f.UpdatedBefore
	}
	s := listSpec{what: "list projects", path: "/rest/v1.1/projects", query: q, perPage: perPageProjects, company: companyID}
	return list(ctx, c, s, opt, func(w wireProject) int64 { return int64(w.ID) },
		func(w wireProject) adapter.Project { return w.project(companyID) })
}

// Project returns one project of a company.
func (c *Client) Project(ctx context.Context, companyID, projectID int64) (adapter.Project, error) {
	if err := firstErr(validID("company id", companyID), validID("project id", projectID)); err != nil {
		return adapter.Project{}, err
	}
	var w wireProject
	k := call{what: "get project", method: http.MethodGet, path: pathf("/rest/v1.0/projects/%d", projectID),
		query: companyQuery(companyID), company: companyID}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.Project{}, err
	}
	return w.project(companyID), nil
}

// CompanyUsers lists the company directory's users. Procore's company users
// list has no id filter (GET /rest/v1.3/companies/{company_id}/users takes
// none), so ids are looked up with the show endpoint
// (GET /rest/v1.3/companies/{company_id}/users/{id}) and the directory (see
// idLookup).
func (c *Client) CompanyUsers(ctx context.Context, companyID int64, opt adapter.ListOptions) (adapter.Page[adapter.User], error) {
	if err := validID("company id", companyID); err != nil {
		return adapter.Page[adapter.User]{}, err
	}
	s := listSpec{what: "list company users", path: pathf("/rest/v1.3/companies/%d/users", companyID),
		perPage: perPageDefault, company: companyID}
	if opt.IDs == nil {
		return list(ctx, c, s, opt, func(w wireUser) int64 { return int64(w.ID) }, wireUser.user)
	}
	one := func(ctx context.Context, id int64) (wireUser, bool, error) {
		var w wireUser
		k := call{what: "get company user", method: http.MethodGet, path: pathf("/rest/v1.3/companies/%d/users/%d", companyID, id), company: companyID}
		if err := c.getJSON(ctx, k, &w); err != nil {
			if adapter.IsNotFound(err) {
				return w, false, nil
			}
			return w, false, err
		}
		return w, updatedWithin(w.UpdatedAt.V, opt), nil
	}
	return idLookup(ctx, c, s, opt, func(w wireUser) int64 { return int64(w.ID) }, one, wireUser.user)
}

// ProjectUsers lists a project directory's users. Its filters[id] takes one
// id, not a set, so ids are looked up one filtered call each and through the
// directory (see idLookup).
func (c *Client) ProjectUsers(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.User], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.User]{}, err
	}
	s := listSpec{what: "list project users", path: pathf("/rest/v1.0/projects/%d/users", projectID), perPage: perPageDefault}
	userID := func(w wireUser) int64 { return int64(w.ID) }
	if opt.IDs == nil {
		return list(ctx, c, s, opt, userID, wireUser.user)
	}
	one := func(ctx context.Context, id int64) (wireUser, bool, error) {
		spec := s
		spec.query = c.listOptions(url.Values{"filters[id]": {strconv.FormatInt(id, 10)}}, adapter.ListOptions{UpdatedSince: opt.UpdatedSince, UpdatedBefore: opt.UpdatedBefore}, nil)
		items, _, err := fetchList(ctx, c, spec, 0, userID)
		if err != nil {
			return wireUser{}, false, err
		}
		for _, w := range items {
			if int64(w.ID) == id {
				return w, true, nil
			}
		}
		return wireUser{}, false, nil
	}
	return idLookup(ctx, c, s, opt, userID, one, wireUser.user)
}

// CompanyVendors lists the company directory's vendors.
func (c *Client) CompanyVendors(ctx context.Context, companyID int64, opt adapter.ListOptions) (adapter.Page[adapter.Vendor], error) {
	if err := validID("company id", companyID); err != nil {
		return adapter.Page[adapter.Vendor]{}, err
	}
	s := listSpec{what: "list company vendors", path: "/rest/v1.0/vendors", query: companyQuery(companyID),
		perPage: perPageDefault, company: companyID}
	return list(ctx, c, s, opt, func(w wireVendor) int64 { return int64(w.ID) }, wireVendor.vendor)
}

// ProjectVendors lists a project directory's vendors. The endpoint has no
// filters[updated_at]: UpdatedSince is applied here (see listSince).
func (c *Client) ProjectVendors(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Vendor], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.Vendor]{}, err
	}
	s := listSpec{what: "list project vendors", path: pathf("/rest/v1.1/projects/%d/vendors", projectID), perPage: perPageDefault}
	return listSince(ctx, c, s, opt, func(w wireVendor) int64 { return int64(w.ID) },
		func(w wireVendor) time.Time { return w.UpdatedAt.V }, wireVendor.vendor)
}

// CostCodes lists a project's cost codes. The endpoint has no
// filters[updated_at]: UpdatedSince is applied here (see listSince).
func (c *Client) CostCodes(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.CostCode], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.CostCode]{}, err
	}
	s := listSpec{what: "list cost codes", path: "/rest/v1.0/cost_codes", query: projectQuery(projectID), perPage: perPageDefault}
	return listSince(ctx, c, s, opt, func(w wireCostCode) int64 { return int64(w.ID) },
		func(w wireCostCode) time.Time { return w.UpdatedAt.V }, wireCostCode.costCode)
}

// RFIs lists a project's RFIs.
func (c *Client) RFIs(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.RFI], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.RFI]{}, err
	}
	s := listSpec{what: "list RFIs", path: pathf("/rest/v1.0/projects/%d/rfis", projectID), perPage: perPageDefault, sortable: true}
	return list(ctx, c, s, opt, func(w wireRFI) int64 { return int64(w.ID) },
		func(w wireRFI) adapter.RFI { return w.rfi(projectID) })
}

// RFI returns one RFI with its questions and answers.
func (c *Client) RFI(ctx context.Context, projectID, rfiID int64) (adapter.RFI, error) {
	if err := firstErr(validID("project id", projectID), validID("RFI id", rfiID)); err != nil {
		return adapter.RFI{}, err
	}
	var w wireRFI
	k := call{what: "get RFI", method: http.MethodGet, path: pathf("/rest/v1.0/projects/%d/rfis/%d", projectID, rfiID)}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.RFI{}, err
	}
	return w.rfi(projectID), nil
}

// Submittals lists a project's submittals.
func (c *Client) Submittals(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Submittal], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.Submittal]{}, err
	}
	s := listSpec{what: "list submittals", path: pathf("/rest/v1.1/projects/%d/submittals", projectID), perPage: perPageDefault}
	return list(ctx, c, s, opt, func(w wireSubmittal) int64 { return int64(w.ID) },
		func(w wireSubmittal) adapter.Submittal { return w.submittal(projectID) })
}

// Submittal returns one submittal with its approvers.
func (c *Client) Submittal(ctx context.Context, projectID, submittalID int64) (adapter.Submittal, error) {
	if err := firstErr(validID("project id", projectID), validID("submittal id", submittalID)); err != nil {
		return adapter.Submittal{}, err
	}
	var w wireSubmittal
	k := call{what: "get submittal", method: http.MethodGet, path: pathf("/rest/v1.1/projects/%d/submittals/%d", projectID, submittalID)}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.Submittal{}, err
	}
	return w.submittal(projectID), nil
}

// commitmentPath returns the collection path and body key of a kind.
func commitmentPath(kind adapter.CommitmentKind) (path, key string, err error) {
	switch kind {
	case adapter.CommitmentSubcontract:
		return "/rest/v1.0/work_order_contracts", "work_order_contract", nil
	case adapter.CommitmentPurchaseOrder:
		return "/rest/v1.0/purchase_order_contracts", "purchase_order_contract", nil
	}
	return "", "", badInput([]string{"kind"}, "unknown commitment kind %q", kind)
}

// Commitments lists a project's subcontracts and purchase orders, fetched
// concurrently, merged and ordered by id; Total is the sum of both totals.
func (c *Client) Commitments(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Commitment], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.Commitment]{}, err
	}
	kinds := []adapter.CommitmentKind{adapter.CommitmentSubcontract, adapter.CommitmentPurchaseOrder}
	pages := make([]adapter.Page[adapter.Commitment], len(kinds))
	g, gctx := errgroup.WithContext(ctx)
	for i, kind := range kinds {
		path, _, _ := commitmentPath(kind)
		what := "list subcontracts"
		if kind == adapter.CommitmentPurchaseOrder {
			what = "list purchase orders"
		}
		g.Go(safe.Func(func() error {
			s := listSpec{what: what, path: path, query: projectQuery(projectID), perPage: perPageDefault}
			p, err := list(gctx, c, s, opt, func(w wireCommitment) int64 { return int64(w.ID) },
				func(w wireCommitment) adapter.Commitment { return w.commitment(projectID, kind) })
			pages[i] = p
			return err
		}))
	}
	if err := g.Wait(); err != nil {
		return adapter.Page[adapter.Commitment]{}, err
	}
	out := adapter.Page[adapter.Commitment]{Items: append(pages[0].Items, pages[1].Items...), Total: pages[0].Total + pages[1].Total}
	slices.SortStableFunc(out.Items, func(a, b adapter.Commitment) int { return cmpInt64(a.ID, b.ID) })
	out.Items = slices.CompactFunc(out.Items, func(a, b adapter.Commitment) bool { return a.ID == b.ID && a.Kind == b.Kind })
	if opt.Limit > 0 && len(out.Items) > opt.Limit {
		out.Items = out.Items[:opt.Limit]
	}
	return out, nil
}

// Commitment returns one subcontract or purchase order with its line items.
func (c *Client) Commitment(ctx context.Context, projectID int64, kind adapter.CommitmentKind, commitmentID int64) (adapter.Commitment, error) {
	if err := firstErr(validID("project id", projectID), validID("commitment id", commitmentID)); err != nil {
		return adapter.Commitment{}, err
	}
	path, _, err := commitmentPath(kind)
	if err != nil {
		return adapter.Commitment{}, err
	}
	var w wireCommitment
	k := call{what: "get commitment", method: http.MethodGet, path: pathf("%s/%d", path, commitmentID), query: projectQuery(projectID)}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.Commitment{}, err
	}
	return w.commitment(projectID, kind), nil
}

// ThreeTierChangeOrdersMessage is CreateChangeOrder's BAD_USER_INPUT on a
// project whose change management has 3 tiers.
const ThreeTierChangeOrdersMessage = "this project uses 3-tier change management; commitment change orders are created through " +
	"change order packages, which this gateway does not support yet"

// tierWord finds "tier", "tiers", "3-tier" in a message.
var tierWord = regexp.MustCompile(`(?i)\btiers?\b`)

// threeTierRefusal reports whether err is Procore refusing a commitment
// change order route because the project's change management has 3 tiers
// (the commitment change order API serves 1- and 2-tier projects only). Its
// answer to that is not published: a 4xx (400, 403 or 422) whose message
// names the tiers is taken for it.
func threeTierRefusal(err error) bool {
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusUnprocessableEntity:
		return tierWord.MatchString(ae.Message)
	}
	return false
}

// statusOf is err's upstream HTTP status, 0 when it has none.
func statusOf(err error) int {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// ChangeOrders lists a project's commitment change orders (not paginated by
// Procore), optionally of one commitment. Procore's commitment change order
// list serves 1- and 2-tier projects only; on a 3-tier project it refuses,
// and the commitments' change orders are change order packages naming the
// commitment as contract_id: they are read from the project's package list
// (RestV10ChangeOrderPackagesGet), without the packages of its prime
// contracts (RestV10PrimeContractsGet): three calls there.
func (c *Client) ChangeOrders(ctx context.Context, projectID int64, commitmentID *int64) ([]adapter.ChangeOrder, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	q := url.Values{}
	if commitmentID != nil {
		q.Set("filters[contract_id]", strconv.FormatInt(*commitmentID, 10))
	}
	items, err := fetchAll[wireChangeOrder](ctx, c, listSpec{what: "list change orders",
		path: pathf("/rest/v1.0/projects/%d/commitment_change_orders", projectID), query: q})
	if threeTierRefusal(err) {
		return c.packageChangeOrders(ctx, projectID, commitmentID)
	}
	if err != nil {
		return nil, err
	}
	out := []adapter.ChangeOrder{}
	for _, w := range items {
		co := w.changeOrder(projectID)
		// Procore ignores filters it does not know; the list is whole, so
		// filtering here too costs nothing and keeps the contract.
		if commitmentID != nil && co.CommitmentID != *commitmentID {
			continue
		}
		out = append(out, co)
	}
	return out, nil
}

// Invoices lists a project's subcontractor invoices (requisitions), without items.
func (c *Client) Invoices(ctx context.Context, projectID int64, f adapter.InvoiceFilter, opt adapter.ListOptions) (adapter.Page[adapter.Invoice], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.Invoice]{}, err
	}
	q := projectQuery(projectID)
	if f.CommitmentID != nil {
		q.Set("filters[commitment_id]", strconv.FormatInt(*f.CommitmentID, 10))
	}
	if f.Status != nil {
		st, err := invoiceStatusWire(*f.Status)
		if err != nil {
			return adapter.Page[adapter.Invoice]{}, err
		}
		q.Set("filters[status]", st)
	}
	s := listSpec{what: "list invoices", path: "/rest/v1.1/requisitions", query: q, perPage: perPageRequisitions}
	return list(ctx, c, s, opt, func(w wireRequisition) int64 { return int64(w.ID) },
		func(w wireRequisition) adapter.Invoice {
			inv := w.invoice(projectID)
			inv.Items = nil // the contract: lists carry no items
			return inv
		})
}

// Invoice returns one invoice with its G703 items.
func (c *Client) Invoice(ctx context.Context, projectID, invoiceID int64) (adapter.Invoice, error) {
	if err := firstErr(validID("project id", projectID), validID("invoice id", invoiceID)); err != nil {
		return adapter.Invoice{}, err
	}
	q := projectQuery(projectID)
	q.Set("view", "extended") // items come with the extended view on real Procore
	var w wireRequisition
	k := call{what: "get invoice", method: http.MethodGet, path: pathf("/rest/v1.1/requisitions/%d", invoiceID), query: q}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.Invoice{}, err
	}
	return w.invoice(projectID), nil
}

// BillingPeriods lists a project's billing periods.
func (c *Client) BillingPeriods(ctx context.Context, projectID int64) ([]adapter.BillingPeriod, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireBillingPeriod](ctx, c, listSpec{what: "list billing periods",
		path: pathf("/rest/v1.0/projects/%d/billing_periods", projectID)})
	if err != nil {
		return nil, err
	}
	out := []adapter.BillingPeriod{}
	for _, w := range items {
		out = append(out, w.period())
	}
	return out, nil
}

// BudgetViews lists a project's budget views.
func (c *Client) BudgetViews(ctx context.Context, projectID int64) ([]adapter.BudgetView, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireBudgetView](ctx, c, listSpec{what: "list budget views",
		path: "/rest/v1.0/budget_views", query: projectQuery(projectID)})
	if err != nil {
		return nil, err
	}
	out := []adapter.BudgetView{}
	for _, w := range items {
		out = append(out, w.view(projectID))
	}
	return out, nil
}

// BudgetRows returns a budget view's detail rows.
func (c *Client) BudgetRows(ctx context.Context, projectID, viewID int64) ([]adapter.BudgetRow, error) {
	if err := firstErr(validID("project id", projectID), validID("budget view id", viewID)); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireBudgetRow](ctx, c, listSpec{what: "list budget rows",
		path: pathf("/rest/v1.0/budget_views/%d/detail_rows", viewID), query: projectQuery(projectID)})
	if err != nil {
		return nil, err
	}
	out := []adapter.BudgetRow{}
	for _, w := range items {
		out = append(out, w.row)
	}
	return out, nil
}

// DailyLogs returns manpower and notes logs within r, grouped by day in date
// order. Both log lists are fetched concurrently, always with start_date and
// end_date (Procore returns only today's logs without them).
func (c *Client) DailyLogs(ctx context.Context, projectID int64, r adapter.DateRange) ([]adapter.DailyLog, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	if r.From.IsZero() || r.To.IsZero() || r.To.Before(r.From) {
		return nil, badInput([]string{"range"}, "a date range needs From <= To")
	}
	q := url.Values{"start_date": {r.From.String()}, "end_date": {r.To.String()}}
	var manpower []wireManpowerLog
	var notes []wireNotesLog
	g, gctx := errgroup.WithContext(ctx)
	g.Go(safe.Func(func() (err error) {
		manpower, err = fetchAll[wireManpowerLog](gctx, c, listSpec{what: "list manpower logs",
			path: pathf("/rest/v1.0/projects/%d/manpower_logs", projectID), query: q})
		return err
	}))
	g.Go(safe.Func(func() (err error) {
		notes, err = fetchAll[wireNotesLog](gctx, c, listSpec{what: "list notes logs",
			path: pathf("/rest/v1.0/projects/%d/notes_logs", projectID), query: q})
		return err
	}))
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byDay := map[adapter.Date]*adapter.DailyLog{}
	day := func(d adapter.Date) *adapter.DailyLog {
		if byDay[d] == nil {
			byDay[d] = &adapter.DailyLog{Date: d}
		}
		return byDay[d]
	}
	for _, w := range manpower {
		l := w.log()
		day(l.Date).Manpower = append(day(l.Date).Manpower, l)
	}
	for _, w := range notes {
		l := w.log()
		day(l.Date).Notes = append(day(l.Date).Notes, l)
	}
	out := make([]adapter.DailyLog, 0, len(byDay))
	for _, d := range byDay {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b adapter.DailyLog) int { return a.Date.Time().Compare(b.Date.Time()) })
	return out, nil
}

// Observations lists a project's observation items.
func (c *Client) Observations(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.Observation], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.Observation]{}, err
	}
	s := listSpec{what: "list observations", path: "/rest/v1.0/observations/items", query: projectQuery(projectID), perPage: perPageDefault}
	return list(ctx, c, s, opt, func(w wireObservation) int64 { return int64(w.ID) },
		func(w wireObservation) adapter.Observation { return w.observation(projectID) })
}

// PunchItems lists a project's punch items.
func (c *Client) PunchItems(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.PunchItem], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.PunchItem]{}, err
	}
	s := listSpec{what: "list punch items", path: "/rest/v1.1/punch_items", query: projectQuery(projectID), perPage: perPageDefault}
	return list(ctx, c, s, opt, func(w wirePunchItem) int64 { return int64(w.ID) },
		func(w wirePunchItem) adapter.PunchItem { return w.punchItem(projectID) })
}

// updatedWithin reports whether an item updated at u passes opt's
// UpdatedSince and UpdatedBefore bounds (nil: no bound), compared in whole
// seconds as Procore compares them; an unknown updated_at passes.
func updatedWithin(u time.Time, opt adapter.ListOptions) bool {
	if u.IsZero() {
		return true
	}
	if opt.UpdatedSince != nil && u.Before(opt.UpdatedSince.Truncate(time.Second)) {
		return false
	}
	return opt.UpdatedBefore == nil || !u.Truncate(time.Second).After(*opt.UpdatedBefore)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var _ adapter.RecycleBin = (*Client)(nil)

// RecycledRFIs implements adapter.RecycleBin: GET
// /rest/v1.0/projects/{project_id}/rfis/recycle_bin, whose items are RFIs.
func (c *Client) RecycledRFIs(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[adapter.RFI], error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Page[adapter.RFI]{}, err
	}
	s := listSpec{what: "list recycled RFIs", path: pathf("/rest/v1.0/projects/%d/rfis/recycle_bin", projectID), perPage: perPageDefault}
	return list(ctx, c, s, opt, func(w wireRFI) int64 { return int64(w.ID) },
		func(w wireRFI) adapter.RFI { return w.rfi(projectID) })
}

// packageChangeOrders are a 3-tier project's commitment change orders: its
// change order packages whose contract_id names a contract other than its
// prime contracts (optionally only commitmentID's), in id order.
func (c *Client) packageChangeOrders(ctx context.Context, projectID int64, commitmentID *int64) ([]adapter.ChangeOrder, error) {
	packages, err := c.ChangeOrderPackages(ctx, projectID)
	if err != nil {
		return nil, err
	}
	primes, err := c.PrimeContracts(ctx, projectID)
	if err != nil {
		return nil, err
	}
	prime := map[int64]bool{}
	for _, pc := range primes {
		prime[pc.ID] = true
	}
	out := []adapter.ChangeOrder{}
	for _, pk := range packages {
		if pk.ContractID == nil || prime[*pk.ContractID] || (commitmentID != nil && *pk.ContractID != *commitmentID) {
			continue
		}
		out = append(out, adapter.ChangeOrder{ID: pk.ID, ProjectID: projectID, CommitmentID: *pk.ContractID,
			Number: pk.Number, Title: pk.Title, Status: pk.Status, GrandTotal: pk.GrandTotal, DueDate: pk.DueDate,
			CreatedAt: pk.CreatedAt, UpdatedAt: pk.UpdatedAt})
	}
	return out, nil
}
