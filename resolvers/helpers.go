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

// listPage serves a keyset page of a project- or company-scoped list read
// through its list loader (see keysetPage).
func listPage[T any](ctx context.Context, pick func(*loaders.Loaders) *loaders.ListLoader[T], scope int64, first *int, after *string,
	since, before *time.Time, orderBy *model.ListOrder, k keyFns[T]) (pageOut[T], error) {
	a, err := parsePage(first, after, 50, orderOf(orderBy), since, before)
	if err != nil {
		return pageOut[T]{}, err
	}
	a = a.forSelection(ctx)
	l, err := ld(ctx)
	if err != nil {
		return pageOut[T]{}, err
	}
	return keysetPage(a, k, listLoad(ctx, pick(l), scope))
}

// listKey is the key of a window of a scope's list.
func listKey(scope int64, limit int, since, before *time.Time, order adapter.ListSort) loaders.ListKey {
	key := loaders.NewListKey(scope, limit, since)
	key.Order = order
	if before != nil {
		key.Before = before.UnixNano()
	}
	return key
}

// listLoad reads the windows of scope's list through its loader.
func listLoad[T any](ctx context.Context, ll *loaders.ListLoader[T], scope int64) loadFn[T] {
	return func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[T], error) {
		return ll.Load(ctx, listKey(scope, limit, since, before, order))()
	}
}

// rfiConnection, submittalConnection and commitmentConnection are the
// connections of served pages.
func rfiConnection(out pageOut[adapter.RFI]) *model.RFIConnection {
	return &model.RFIConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.RFI) model.RFIEdge { return model.RFIEdge{Cursor: c, Node: n} })}
}

func submittalConnection(out pageOut[adapter.Submittal]) *model.SubmittalConnection {
	return &model.SubmittalConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.Submittal) model.SubmittalEdge {
			return model.SubmittalEdge{Cursor: c, Node: n}
		})}
}

func commitmentConnection(out pageOut[adapter.Commitment]) *model.CommitmentConnection {
	return &model.CommitmentConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.Commitment) model.CommitmentEdge {
			return model.CommitmentEdge{Cursor: c, Node: n}
		})}
}

func projects(ctx context.Context, companyID *int64, filter *adapter.ProjectFilter, first *int, after *string) (*model.ProjectConnection, error) {
	var since, before *time.Time
	if filter != nil {
		since, before = filter.UpdatedSince, filter.UpdatedBefore
	}
	a, err := parsePage(first, after, 50, defaultOrder, since, before)
	if err != nil {
		return nil, err
	}
	a = a.forSelection(ctx)
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	if companyID != nil {
		if _, err := companyLoaders(ctx, *companyID); err != nil {
			return nil, err
		}
	}
	out, err := keysetPage(a, projectKeys, func(limit int, since, before *time.Time, _ adapter.ListSort) (adapter.Page[adapter.Project], error) {
		key := loaders.ProjectListKey{Limit: limit}
		if filter != nil {
			if filter.Status != nil {
				key.Status = *filter.Status
			}
			if filter.Search != nil {
				key.Search = *filter.Search
			}
		}
		if since != nil {
			key.Since = since.UnixNano()
		}
		if before != nil {
			key.Before = before.UnixNano()
		}
		return l.ProjectList.Load(ctx, key)()
	})
	if err != nil {
		return nil, err
	}
	loadProjectLists(ctx, l, out.items)
	return &model.ProjectConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.Project) model.ProjectEdge { return model.ProjectEdge{Cursor: c, Node: n} })}, nil
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

func userConnection(ctx context.Context, ld *loaders.ListLoader[adapter.User], scope int64, first *int, after *string, since, before *time.Time) (*model.UserConnection, error) {
	out, err := listPage(ctx, func(*loaders.Loaders) *loaders.ListLoader[adapter.User] { return ld }, scope, first, after, since, before, nil, userKeys)
	if err != nil {
		return nil, err
	}
	return &model.UserConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.User) model.UserEdge { return model.UserEdge{Cursor: c, Node: n} })}, nil
}

func vendorConnection(ctx context.Context, ld *loaders.ListLoader[adapter.Vendor], scope int64, first *int, after *string, since, before *time.Time) (*model.VendorConnection, error) {
	out, err := listPage(ctx, func(*loaders.Loaders) *loaders.ListLoader[adapter.Vendor] { return ld }, scope, first, after, since, before, nil, vendorKeys)
	if err != nil {
		return nil, err
	}
	return &model.VendorConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.Vendor) model.VendorEdge { return model.VendorEdge{Cursor: c, Node: n} })}, nil
}

func invoiceConnection(out pageOut[adapter.Invoice]) *model.InvoiceConnection {
	return &model.InvoiceConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.Invoice) model.InvoiceEdge { return model.InvoiceEdge{Cursor: c, Node: n} })}
}

// The keys (id, updated_at) of each listed type.
var (
	projectKeys     = keyFns[adapter.Project]{func(x *adapter.Project) int64 { return x.ID }, func(x *adapter.Project) time.Time { return x.UpdatedAt }}
	rfiKeys         = keyFns[adapter.RFI]{func(x *adapter.RFI) int64 { return x.ID }, func(x *adapter.RFI) time.Time { return x.UpdatedAt }}
	submittalKeys   = keyFns[adapter.Submittal]{func(x *adapter.Submittal) int64 { return x.ID }, func(x *adapter.Submittal) time.Time { return x.UpdatedAt }}
	commitmentKeys  = keyFns[adapter.Commitment]{func(x *adapter.Commitment) int64 { return x.ID }, func(x *adapter.Commitment) time.Time { return x.UpdatedAt }}
	invoiceKeys     = keyFns[adapter.Invoice]{func(x *adapter.Invoice) int64 { return x.ID }, func(x *adapter.Invoice) time.Time { return x.UpdatedAt }}
	changeOrderKeys = keyFns[adapter.ChangeOrder]{func(x *adapter.ChangeOrder) int64 { return x.ID }, func(x *adapter.ChangeOrder) time.Time { return x.UpdatedAt }}
	costCodeKeys    = keyFns[adapter.CostCode]{func(x *adapter.CostCode) int64 { return x.ID }, func(x *adapter.CostCode) time.Time { return x.UpdatedAt }}
	observationKeys = keyFns[adapter.Observation]{func(x *adapter.Observation) int64 { return x.ID }, func(x *adapter.Observation) time.Time { return x.UpdatedAt }}
	punchItemKeys   = keyFns[adapter.PunchItem]{func(x *adapter.PunchItem) int64 { return x.ID }, func(x *adapter.PunchItem) time.Time { return x.UpdatedAt }}
	userKeys        = keyFns[adapter.User]{func(x *adapter.User) int64 { return x.ID }, func(x *adapter.User) time.Time { return x.UpdatedAt }}
	vendorKeys      = keyFns[adapter.Vendor]{func(x *adapter.Vendor) int64 { return x.ID }, func(x *adapter.Vendor) time.Time { return x.UpdatedAt }}
)

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

// selectsAny reports whether the current field's selection reaches one of
// the nested field paths (through fragments), e.g. selectsAny(ctx,
// []string{"nodes", "invoices"}). Each level of the selection is collected
// once, whatever the number of paths.
func selectsAny(ctx context.Context, paths ...[]string) bool {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return false
	}
	return selectsIn(oc, fc.Field.Selections, paths...)
}

// selectsIn reports whether the selection sel reaches one of the nested
// field paths.
func selectsIn(oc *graphql.OperationContext, sel ast.SelectionSet, paths ...[]string) bool {
	for _, p := range paths {
		if len(p) == 0 {
			return true
		}
	}
	if len(paths) == 0 {
		return false
	}
	fields := graphql.CollectFields(oc, sel, nil)
	for i := range fields {
		var rest [][]string
		for _, p := range paths {
			if p[0] == fields[i].Name {
				rest = append(rest, p[1:])
			}
		}
		if len(rest) > 0 && selectsIn(oc, fields[i].Selections, rest...) {
			return true
		}
	}
	return false
}

// prefetchCommitmentInvoices starts loading the project's requisitions
// alongside its commitments when the query asks for the commitments'
// invoices, so the third level of the dashboard costs no extra round trip.
// It returns the load's thunk, or nil when it started none.
func prefetchCommitmentInvoices(ctx context.Context, projectID int64) func() (adapter.Page[adapter.Invoice], error) {
	l := loaders.For(ctx)
	if l == nil || l.Naive() {
		return nil
	}
	if selectsAny(ctx, []string{"nodes", "invoices"}, []string{"edges", "node", "invoices"}) {
		return l.Invoices.Load(ctx, loaders.NewListKey(projectID, 0, nil)) // awaited once the commitments are in
	}
	return nil
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
