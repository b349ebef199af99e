package resolvers

import (
	"context"

	"procoregraph/adapter"
	"procoregraph/events"
	"procoregraph/graph/model"
	"procoregraph/loaders"
)

// Change management subscriptions (issue 16): the change order types map to
// the differ's item kinds one to one, and the item behind an event is read
// from its project's whole list (cached, shared by every subscriber of the
// event) only when the client selects it.

var changeOrderTypeKinds = map[adapter.ChangeOrderType]events.ItemKind{
	adapter.ChangeOrderTypePrime:      events.ItemPrimeChangeOrder,
	adapter.ChangeOrderTypePackage:    events.ItemChangeOrderPackage,
	adapter.ChangeOrderTypePotential:  events.ItemPotentialChangeOrder,
	adapter.ChangeOrderTypeCommitment: events.ItemCommitmentChangeOrder,
}

// changeOrderKinds are the item kinds of types (every change order kind when
// types is empty), each once.
func changeOrderKinds(types []adapter.ChangeOrderType) []events.ItemKind {
	if len(types) == 0 {
		types = adapter.ChangeOrderTypes
	}
	var out []events.ItemKind
	seen := map[events.ItemKind]bool{}
	for _, t := range types {
		if k, ok := changeOrderTypeKinds[t]; ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// findByID returns the item of items with id, nil when none.
func findByID[T any](items []T, id int64, idOf func(*T) int64) *T {
	for i := range items {
		if idOf(&items[i]) == id {
			return &items[i]
		}
	}
	return nil
}

// cmItemOf finds one item of a project's change management list; nil when
// the list no longer holds it or the project is gone.
func cmItemOf[T any](ctx context.Context, pick func(*loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []T], projectID, id int64, idOf func(*T) int64) (*T, error) {
	items, err := cmLoad(ctx, pick, projectID)
	if adapter.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return findByID(items, id, idOf), nil
}

func commitmentChangeOrderOf(ctx context.Context, projectID, id int64) (*adapter.ChangeOrder, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	items, err := l.ChangeOrders.Load(ctx, projectID)()
	if adapter.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return findByID(items, id, func(c *adapter.ChangeOrder) int64 { return c.ID }), nil
}

// paymentApplicationOf finds an owner invoice by id in its project: the
// project's prime contracts, then each one's payment applications until it
// is found (cached loaders: 1 + at most one call per prime contract).
func paymentApplicationOf(ctx context.Context, projectID, id int64) (*adapter.PaymentApplication, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	contracts, err := l.PrimeContracts.Load(ctx, projectID)()
	if adapter.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, pc := range contracts {
		apps, err := l.PaymentApplications.Load(ctx, loaders.ItemKey{ProjectID: projectID, ID: pc.ID})()
		if adapter.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if a := findByID(apps, id, func(a *adapter.PaymentApplication) int64 { return a.ID }); a != nil {
			return a, nil
		}
	}
	return nil, nil
}

func changeOrderChange(e events.Event) (*model.ChangeOrderChange, bool) {
	var typ adapter.ChangeOrderType
	for t, k := range changeOrderTypeKinds {
		if k == e.ItemKind {
			typ = t
		}
	}
	if typ == "" {
		return nil, false
	}
	return &model.ChangeOrderChange{Cursor: e.ID, Kind: model.ChangeKind(e.Kind), ProjectID: e.ProjectID, Type: typ,
		ChangeOrderID: e.ItemID, Title: e.Title, PreviousStatus: previous[adapter.ChangeOrderStatus](e.PreviousStatus),
		Status: adapter.ChangeOrderStatus(e.NewStatus), At: e.At, Source: model.ChangeSource(e.Source)}, true
}
