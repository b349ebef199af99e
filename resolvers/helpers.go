package resolvers

import (
	"context"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/adapter"
	"procoregraph/graph/model"
	"procoregraph/loaders"
	"procoregraph/tenant"
)

// listPage loads the window of a project- or company-scoped list and slices it.
// It returns the page, its PageInfo, the total and the page's start offset.
func listPage[T any](ctx context.Context, pick func(*loaders.Loaders) *loaders.ListLoader[T], scope int64, first *int, after *string, since *time.Time) ([]T, *model.PageInfo, int, int, error) {
	w, err := parseWindow(first, after, 50)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	l, err := ld(ctx)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	// Even first: 0 fetches one item: totalCount needs Procore's Total header.
	res, err := pick(l).Load(ctx, loaders.NewListKey(scope, max(w.limit(), 1), since))()
	if err != nil {
		return nil, nil, 0, 0, err
	}
	page, pi, total := slice(res.Items, res.Total, w)
	return page, pi, total, min(w.offset, len(res.Items)), nil
}

func projects(ctx context.Context, companyID *int64, filter *adapter.ProjectFilter, first *int, after *string) (*model.ProjectConnection, error) {
	w, err := parseWindow(first, after, 50)
	if err != nil {
		return nil, err
	}
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	if companyID != nil {
		if _, err := companyLoaders(ctx, *companyID); err != nil {
			return nil, err
		}
	}
	key := loaders.ProjectListKey{Limit: max(w.limit(), 1)}
	if filter != nil {
		if filter.Status != nil {
			key.Status = *filter.Status
		}
		if filter.Search != nil {
			key.Search = *filter.Search
		}
		if filter.UpdatedSince != nil {
			key.Since = filter.UpdatedSince.UnixNano()
		}
	}
	res, err := l.ProjectList.Load(ctx, key)()
	if err != nil {
		return nil, err
	}
	page, pi, total := slice(res.Items, res.Total, w)
	start := min(w.offset, len(res.Items))
	return &model.ProjectConnection{Nodes: page, PageInfo: pi, TotalCount: total,
		Edges: edgesOf(page, start, func(c string, n *adapter.Project) model.ProjectEdge { return model.ProjectEdge{Cursor: c, Node: n} })}, nil
}

// companyLoaders returns the loaders when companyID is the connection's
// company. A connection works in one company (its Procore-Company-Id); other
// companies are reached through their own connections, which a request picks
// with the Procore-Company-Id header.
func companyLoaders(ctx context.Context, companyID int64) (*loaders.Loaders, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	if companyID != l.Connection().CompanyID {
		return nil, adapter.Errorf(adapter.CodeForbidden,
			"company %d is not this request's company (%d): send the Procore-Company-Id header to work in it", companyID, l.Connection().CompanyID)
	}
	return l, nil
}

// usableCompanies keeps the companies the request's principal may use on
// this gateway (tenant.Companies), in Procore's order; all of them when the
// request carries no such list.
func usableCompanies(ctx context.Context, all []adapter.Company) []adapter.Company {
	ids, ok := tenant.Companies(ctx)
	if !ok {
		return all
	}
	out := make([]adapter.Company, 0, len(ids))
	for _, c := range all {
		if slices.Contains(ids, c.ID) {
			out = append(out, c)
		}
	}
	return out
}

// companyByID returns company id among those the request's principal may
// use (usableCompanies); NOT_FOUND for any other.
func companyByID(ctx context.Context, l *loaders.Loaders, id int64) (*adapter.Company, error) {
	all, err := l.Companies.Load(ctx, struct{}{})()
	if err != nil {
		return nil, err
	}
	all = usableCompanies(ctx, all)
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, adapter.Errorf(adapter.CodeNotFound, "company %d not found", id)
}

func userConnection(ctx context.Context, ld *loaders.ListLoader[adapter.User], scope int64, first *int, after *string, since *time.Time) (*model.UserConnection, error) {
	page, pi, total, start, err := listPage(ctx, func(*loaders.Loaders) *loaders.ListLoader[adapter.User] { return ld }, scope, first, after, since)
	if err != nil {
		return nil, err
	}
	return &model.UserConnection{Nodes: page, PageInfo: pi, TotalCount: total,
		Edges: edgesOf(page, start, func(c string, n *adapter.User) model.UserEdge { return model.UserEdge{Cursor: c, Node: n} })}, nil
}

func vendorConnection(ctx context.Context, ld *loaders.ListLoader[adapter.Vendor], scope int64, first *int, after *string, since *time.Time) (*model.VendorConnection, error) {
	page, pi, total, start, err := listPage(ctx, func(*loaders.Loaders) *loaders.ListLoader[adapter.Vendor] { return ld }, scope, first, after, since)
	if err != nil {
		return nil, err
	}
	return &model.VendorConnection{Nodes: page, PageInfo: pi, TotalCount: total,
		Edges: edgesOf(page, start, func(c string, n *adapter.Vendor) model.VendorEdge { return model.VendorEdge{Cursor: c, Node: n} })}, nil
}

func invoiceConnection(page []adapter.Invoice, pi *model.PageInfo, total, start int) *model.InvoiceConnection {
	return &model.InvoiceConnection{Nodes: page, PageInfo: pi, TotalCount: total,
		Edges: edgesOf(page, start, func(c string, n *adapter.Invoice) model.InvoiceEdge { return model.InvoiceEdge{Cursor: c, Node: n} })}
}

// nullIfNotFound turns NOT_FOUND into a null result, as nullable root fields
// promise ("null when it does not exist or the credential cannot see it").
func nullIfNotFound[T any](v T, err error) (*T, error) {
	if adapter.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// MaxDailyLogDays bounds a dailyLogs range.
const MaxDailyLogDays = 366

// dateRange applies dailyLogs' defaults (the last 7 days up to today) and checks the range.
func dateRange(from, to *adapter.Date, now time.Time) (adapter.DateRange, error) {
	r := adapter.DateRange{To: adapter.DateOf(now.UTC())}
	if to != nil {
		r.To = *to
	}
	r.From = adapter.DateOf(r.To.Time().AddDate(0, 0, -6))
	if from != nil {
		r.From = *from
	}
	if r.To.Before(r.From) {
		return r, adapter.Errorf(adapter.CodeBadUserInput, "dailyLogs: from (%s) is after to (%s)", r.From, r.To)
	}
	if r.To.Time().Sub(r.From.Time()) > MaxDailyLogDays*24*time.Hour {
		return r, adapter.Errorf(adapter.CodeBadUserInput, "dailyLogs: range longer than %d days", MaxDailyLogDays)
	}
	return r, nil
}

// selects reports whether the current field's selection reaches the nested
// field path (through fragments), e.g. selects(ctx, "nodes", "invoices").
func selects(ctx context.Context, path ...string) bool {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return false
	}
	var walk func(sel ast.SelectionSet, rest []string) bool
	walk = func(sel ast.SelectionSet, rest []string) bool {
		if len(rest) == 0 {
			return true
		}
		for _, f := range graphql.CollectFields(oc, sel, nil) {
			if f.Name == rest[0] && walk(f.Selections, rest[1:]) {
				return true
			}
		}
		return false
	}
	return walk(fc.Field.Selections, path)
}

// prefetchCommitmentInvoices starts loading the project's requisitions
// alongside its commitments when the query asks for the commitments'
// invoices, so the third level of the dashboard costs no extra round trip.
func prefetchCommitmentInvoices(ctx context.Context, projectID int64) {
	l := loaders.For(ctx)
	if l == nil || l.Naive() {
		return
	}
	if selects(ctx, "nodes", "invoices") || selects(ctx, "edges", "node", "invoices") {
		l.Invoices.Load(ctx, loaders.NewListKey(projectID, 0, nil)) // not awaited: primes the batch
	}
}

// procoreRateLimit reports the connection's Procore rate-limit window as its
// adapter last learned it (no Procore call); nil before the first call.
func procoreRateLimit(ctx context.Context) (*model.ProcoreRateLimit, error) {
	c, err := conn(ctx)
	if err != nil {
		return nil, err
	}
	rl, ok := c.Procore.(adapter.RateLimiter)
	if !ok {
		return nil, nil
	}
	st, ok := rl.RateLimit(ctx)
	if !ok {
		return nil, nil
	}
	out := &model.ProcoreRateLimit{Limit: st.Limit, Remaining: st.Remaining}
	if !st.ResetAt.IsZero() {
		t := st.ResetAt.UTC()
		out.ResetAt = &t
	}
	return out, nil
}
