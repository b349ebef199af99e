package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/adapter"
	"procoregraph/gqlscalar"
	"procoregraph/graph/model"
	"procoregraph/loaders"
)

// CommitmentInvoicesInline prepares Commitment.invoices for the selection f
// to be resolved while its commitment is rendered (plaintree.Resolved): the
// same page the Invoices resolver serves, from the project's invoices when
// the request already has them (Project.commitments, and Query.projects
// for its page's projects, load them with the commitments when the query
// selects invoices). It declines, and gqlgen
// runs the resolver, whenever the resolver could answer otherwise: the
// arguments do not coerce or are refused, the request is in naive mode
// (one list per commitment), or the invoices are not loaded.
func CommitmentInvoicesInline(oc *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *adapter.Commitment) (*model.InvoiceConnection, bool), bool) {
	a, ok := inlinePageArgs(oc, f, false)
	if !ok {
		return nil, false
	}
	return func(ctx context.Context, obj *adapter.Commitment) (*model.InvoiceConnection, bool) {
		l := loaders.For(ctx)
		if l == nil || l.Naive() {
			return nil, false
		}
		res, ok := l.Invoices.Peek(loaders.NewListKey(obj.ProjectID, 0, nil))
		if !ok {
			return nil, false
		}
		c, err := commitmentInvoices(a, obj, res.Items)
		return c, err == nil
	}, true
}

// ProjectRFIsInline, ProjectSubmittalsInline and ProjectCommitmentsInline
// prepare Project.rfis, submittals and commitments to be resolved while
// their project is rendered: the page their resolvers serve, from the
// windows of the list the request already has (Query.projects and
// Company.projects load them with the projects when the query selects
// them: loadProjectLists). Each declines, and gqlgen runs the resolver,
// when its arguments do not coerce or are refused, an order is asked for
// (rfis' orderBy), or a window is not at hand.
func ProjectRFIsInline(oc *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *adapter.Project) (*model.RFIConnection, bool), bool) {
	return projectListInline(oc, f, true, func(l *loaders.Loaders) *loaders.ListLoader[adapter.RFI] { return l.RFIs }, rfiKeys, rfiConnection)
}

// ProjectSubmittalsInline: see ProjectRFIsInline.
func ProjectSubmittalsInline(oc *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *adapter.Project) (*model.SubmittalConnection, bool), bool) {
	return projectListInline(oc, f, false, func(l *loaders.Loaders) *loaders.ListLoader[adapter.Submittal] { return l.Submittals }, submittalKeys, submittalConnection)
}

// ProjectCommitmentsInline: see ProjectRFIsInline. The commitments'
// invoices are Commitment.invoices' own (CommitmentInvoicesInline).
func ProjectCommitmentsInline(oc *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *adapter.Project) (*model.CommitmentConnection, bool), bool) {
	return projectListInline(oc, f, false, func(l *loaders.Loaders) *loaders.ListLoader[adapter.Commitment] { return l.Commitments }, commitmentKeys, commitmentConnection)
}

func projectListInline[T, C any](oc *graphql.OperationContext, f graphql.CollectedField, ordered bool,
	pick func(*loaders.Loaders) *loaders.ListLoader[T], k keyFns[T], conn func(pageOut[T]) C) (func(context.Context, *adapter.Project) (C, bool), bool) {
	a, ok := inlinePageArgs(oc, f, ordered)
	if !ok {
		return nil, false
	}
	return func(ctx context.Context, p *adapter.Project) (C, bool) {
		var zero C
		l := loaders.For(ctx)
		if l == nil {
			return zero, false
		}
		out, err := keysetPage(a, k, listPeek(pick(l), p.ID))
		if err != nil {
			return zero, false
		}
		return conn(out), true
	}, true
}

// inlinePageArgs are the page arguments of the connection field f, coerced
// as gqlgen's generated code coerces them (first, after, updatedSince,
// updatedBefore, and orderBy when ordered, which must be absent or null),
// with the cursors its selection asks for. False: the resolver's to read.
func inlinePageArgs(oc *graphql.OperationContext, f graphql.CollectedField, ordered bool) (pageArgs, bool) {
	want := 4
	if ordered {
		want = 5
	}
	if f.Definition == nil || len(f.Definition.Arguments) != want { // a new argument: the resolver's to read
		return pageArgs{}, false
	}
	raw := f.ArgumentMap(oc.Variables)
	if ordered && raw["orderBy"] != nil {
		return pageArgs{}, false
	}
	first, ok1 := optArg(raw, "first", graphql.UnmarshalInt)
	after, ok2 := optArg(raw, "after", graphql.UnmarshalString)
	since, ok3 := optArg(raw, "updatedSince", gqlscalar.UnmarshalDateTime)
	before, ok4 := optArg(raw, "updatedBefore", gqlscalar.UnmarshalDateTime)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return pageArgs{}, false
	}
	a, err := parsePage(first, after, 50, defaultOrder, since, before)
	if err != nil {
		return pageArgs{}, false
	}
	return a.forFields(oc, f.Selections), true
}

// errNotAtHand stops a page read through listPeek or startList.
var errNotAtHand = errors.New("not at hand")

// listPeek reads the windows of scope's list the request has at hand, and
// fails on any other.
func listPeek[T any](ll *loaders.ListLoader[T], scope int64) loadFn[T] {
	return func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[T], error) {
		if res, ok := ll.Peek(listKey(scope, limit, since, before, order)); ok {
			return res, nil
		}
		return adapter.Page[T]{}, errNotAtHand
	}
}

// startList starts loading the first window page a reads of scope's list
// (nearly always the only one) and returns its thunk, or nil when it reads
// none. It does not wait.
func startList[T any](ctx context.Context, ll *loaders.ListLoader[T], k keyFns[T], a pageArgs, scope int64) func() {
	var thunk func() (adapter.Page[T], error)
	_, _ = keysetPage(a, k, func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[T], error) {
		thunk = ll.Load(ctx, listKey(scope, limit, since, before, order))
		return adapter.Page[T]{}, errNotAtHand
	})
	if thunk == nil {
		return nil
	}
	return func() { _, _ = thunk() }
}

// loadProjectLists loads, for each of a page's projects, the lists the
// selection of the projects field (the context's) asks of each: rfis,
// submittals and commitments, the commitments' invoices with them. The
// loads are all started, in one batch per list as each project's resolver
// would have started them, then waited for, so that the page is rendered
// whole with them (ProjectRFIsInline and the others). An error is left to
// the field whose resolver meets it again, when gqlgen executes it.
func loadProjectLists(ctx context.Context, l *loaders.Loaders, projects []adapter.Project) {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil || l.Naive() || len(projects) == 0 {
		return
	}
	var waits []func()
	start := func(w func()) {
		if w != nil {
			waits = append(waits, w)
		}
	}
	for _, node := range nodeSelections(oc, fc.Field.Selections) {
		for _, f := range graphql.CollectFields(oc, node, nil) {
			switch f.Name {
			case "rfis":
				if a, ok := inlinePageArgs(oc, f, true); ok {
					for i := range projects {
						start(startList(ctx, l.RFIs, rfiKeys, a, projects[i].ID))
					}
				}
			case "submittals":
				if a, ok := inlinePageArgs(oc, f, false); ok {
					for i := range projects {
						start(startList(ctx, l.Submittals, submittalKeys, a, projects[i].ID))
					}
				}
			case "commitments":
				a, ok := inlinePageArgs(oc, f, false)
				if !ok {
					continue
				}
				invoices := a.first > 0 && selectsIn(oc, f.Selections, []string{"nodes", "invoices"}, []string{"edges", "node", "invoices"})
				for i := range projects {
					start(startList(ctx, l.Commitments, commitmentKeys, a, projects[i].ID))
					if invoices {
						t := l.Invoices.Load(ctx, loaders.NewListKey(projects[i].ID, 0, nil))
						start(func() { _, _ = t() })
					}
				}
			}
		}
	}
	for _, w := range waits {
		w()
	}
}

// nodeSelections are the selections of a connection's nodes and of its
// edges' node.
func nodeSelections(oc *graphql.OperationContext, sel ast.SelectionSet) []ast.SelectionSet {
	var out []ast.SelectionSet
	for _, f := range graphql.CollectFields(oc, sel, nil) {
		switch f.Name {
		case "nodes":
			out = append(out, f.Selections)
		case "edges":
			for _, e := range graphql.CollectFields(oc, f.Selections, nil) {
				if e.Name == "node" {
					out = append(out, e.Selections)
				}
			}
		}
	}
	return out
}

// commitmentInvoices is the page a of the commitment's invoices among its
// project's.
func commitmentInvoices(a pageArgs, obj *adapter.Commitment, all []adapter.Invoice) (*model.InvoiceConnection, error) {
	out, err := keysetPage(a, invoiceKeys, wholeLoadWhere(all, invoiceKeys, func(inv *adapter.Invoice) bool { return inv.CommitmentID == obj.ID }))
	if err != nil {
		return nil, err
	}
	return invoiceConnection(out), nil
}

// optArg coerces the optional argument name of raw (gqlgen's argument map)
// as gqlgen's generated code does: absent or null is nil. False: it does
// not coerce.
func optArg[T any](raw map[string]any, name string, unmarshal func(any) (T, error)) (*T, bool) {
	v, ok := raw[name]
	if !ok || v == nil {
		return nil, true
	}
	t, err := unmarshal(v)
	if err != nil {
		return nil, false
	}
	return &t, true
}
