package loaders

import (
	"context"

	"procoregraph/adapter"
)

// ChangeMgmtLoaders load a project's change management lists, each whole
// (one Procore list per project and kind, cached under the project's scope
// so every project invalidation drops them), and one PCO's line items.
type ChangeMgmtLoaders struct {
	Events            *Loader[int64, []adapter.ChangeEvent]
	PCOs              *Loader[int64, []adapter.PotentialChangeOrder]
	PCOLineItems      *Loader[ItemKey, []adapter.PCOLineItem]
	CORs              *Loader[int64, []adapter.ChangeOrderRequest]
	Packages          *Loader[int64, []adapter.ChangeOrderPackage]
	PrimeChangeOrders *Loader[int64, []adapter.PrimeChangeOrder]
}

func newChangeMgmt(l *Loaders, p adapter.Procore) ChangeMgmtLoaders {
	byProject := func(id int64) (string, string) { return projectScope(id), "" }
	return ChangeMgmtLoaders{
		Events:   single(l, "change_events", p.ChangeEvents, byProject),
		PCOs:     single(l, "potential_change_orders", p.PotentialChangeOrders, byProject),
		CORs:     single(l, "change_order_requests", p.ChangeOrderRequests, byProject),
		Packages: single(l, "change_order_packages", p.ChangeOrderPackages, byProject),
		PCOLineItems: single(l, "pco_line_items", func(ctx context.Context, k ItemKey) ([]adapter.PCOLineItem, error) {
			return p.PCOLineItems(ctx, k.ProjectID, k.ID)
		}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) }),
		PrimeChangeOrders: single(l, "prime_change_orders", p.PrimeChangeOrders, byProject),
	}
}
