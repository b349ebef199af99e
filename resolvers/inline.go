package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
	"procoregraph/gqlscalar"
	"procoregraph/graph/model"
	"procoregraph/loaders"
)

// CommitmentInvoicesInline prepares Commitment.invoices for the selection f
// to be resolved while its commitment is rendered (plaintree.Resolved): the
// same page the Invoices resolver serves, from the project's invoices when
// the request already has them (Project.commitments loads them with the
// commitments when the query selects invoices). It declines, and gqlgen
// runs the resolver, whenever the resolver could answer otherwise: the
// arguments do not coerce or are refused, the request is in naive mode
// (one list per commitment), or the invoices are not loaded.
func CommitmentInvoicesInline(oc *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *adapter.Commitment) (*model.InvoiceConnection, bool), bool) {
	raw := f.ArgumentMap(oc.Variables)
	first, ok1 := optArg(raw, "first", graphql.UnmarshalInt)
	after, ok2 := optArg(raw, "after", graphql.UnmarshalString)
	since, ok3 := optArg(raw, "updatedSince", gqlscalar.UnmarshalDateTime)
	before, ok4 := optArg(raw, "updatedBefore", gqlscalar.UnmarshalDateTime)
	if !ok1 || !ok2 || !ok3 || !ok4 || f.Definition == nil || len(f.Definition.Arguments) != 4 { // a new argument: the resolver's to read
		return nil, false
	}
	a, err := parsePage(first, after, 50, defaultOrder, since, before)
	if err != nil {
		return nil, false
	}
	a = a.forFields(oc, f.Selections)
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
