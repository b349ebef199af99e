package resolvers

import (
	"context"
	"slices"
	"time"

	"procoregraph/adapter"
	"procoregraph/graph/model"
	"procoregraph/loaders"
)

// Change management: every project list is read whole through its loader
// (one Procore list per project and kind per request, cached), and every
// link between change events, PCOs, change order requests, packages and
// prime change orders is answered from those lists; only a PCO's line items
// (which name the change events) cost a call per PCO, Procore having no batch
// read of them.

var (
	changeEventKeys = keyFns[adapter.ChangeEvent]{func(x *adapter.ChangeEvent) int64 { return x.ID }, func(x *adapter.ChangeEvent) time.Time { return x.UpdatedAt }}
	pcoKeys         = keyFns[adapter.PotentialChangeOrder]{func(x *adapter.PotentialChangeOrder) int64 { return x.ID }, func(x *adapter.PotentialChangeOrder) time.Time { return x.UpdatedAt }}
	packageKeys     = keyFns[adapter.ChangeOrderPackage]{func(x *adapter.ChangeOrderPackage) int64 { return x.ID }, func(x *adapter.ChangeOrderPackage) time.Time { return x.UpdatedAt }}
)

// cmLoad reads one project's whole list of one kind through a loader.
func cmLoad[V any](ctx context.Context, pick func(*loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []V], projectID int64) ([]V, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	return pick(&l.ChangeMgmt).Load(ctx, projectID)()
}

func cmEvents(l *loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []adapter.ChangeEvent] {
	return l.Events
}
func cmPCOs(l *loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []adapter.PotentialChangeOrder] {
	return l.PCOs
}
func cmCORs(l *loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []adapter.ChangeOrderRequest] {
	return l.CORs
}
func cmPackages(l *loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []adapter.ChangeOrderPackage] {
	return l.Packages
}
func cmPrimes(l *loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []adapter.PrimeChangeOrder] {
	return l.PrimeChangeOrders
}

// cmPage pages a whole list for a connection field.
func cmPage[T any](ctx context.Context, all func() ([]T, error), k keyFns[T], first *int, after *string, since, before *time.Time) (pageOut[T], error) {
	a, err := parsePage(first, after, 50, defaultOrder, since, before)
	if err != nil {
		return pageOut[T]{}, err
	}
	a = a.forSelection(ctx)
	items, err := all()
	if err != nil {
		return pageOut[T]{}, err
	}
	return keysetPage(a, k, wholeLoad(items, k))
}

// cmFind returns the item with id in the project's list, nil when absent.
func cmFind[V any](ctx context.Context, pick func(*loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []V], projectID int64, id *int64, idOf func(*V) int64) (*V, error) {
	if id == nil {
		return nil, nil
	}
	all, err := cmLoad(ctx, pick, projectID)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if idOf(&all[i]) == *id {
			return &all[i], nil
		}
	}
	return nil, nil
}

// cmFilter returns the items of the project's list that keep passes, in id order.
func cmFilter[V any](ctx context.Context, pick func(*loaders.ChangeMgmtLoaders) *loaders.Loader[int64, []V], projectID int64, keep func(*V) bool) ([]V, error) {
	all, err := cmLoad(ctx, pick, projectID)
	if err != nil {
		return nil, err
	}
	out := []V{}
	for i := range all {
		if keep(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// pcoLineItems reads one PCO's line items.
func pcoLineItems(ctx context.Context, pco *adapter.PotentialChangeOrder) ([]adapter.PCOLineItem, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	return l.ChangeMgmt.PCOLineItems.Load(ctx, loaders.ItemKey{ProjectID: pco.ProjectID, ID: pco.ID})()
}

// pcoChangeEvents returns the change events a PCO's line items name, by id.
func pcoChangeEvents(ctx context.Context, pco *adapter.PotentialChangeOrder) ([]adapter.ChangeEvent, error) {
	lines, err := pcoLineItems(ctx, pco)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, li := range lines {
		if li.ChangeEventID != nil && !slices.Contains(ids, *li.ChangeEventID) {
			ids = append(ids, *li.ChangeEventID)
		}
	}
	if len(ids) == 0 {
		return []adapter.ChangeEvent{}, nil
	}
	return cmFilter(ctx, cmEvents, pco.ProjectID, func(e *adapter.ChangeEvent) bool { return slices.Contains(ids, e.ID) })
}

// pcoPackage returns the package of a PCO's change order request.
func pcoPackage(ctx context.Context, pco *adapter.PotentialChangeOrder) (*adapter.ChangeOrderPackage, error) {
	cor, err := cmFind(ctx, cmCORs, pco.ProjectID, pco.ChangeOrderRequestID, func(x *adapter.ChangeOrderRequest) int64 { return x.ID })
	if err != nil || cor == nil {
		return nil, err
	}
	return cmFind(ctx, cmPackages, pco.ProjectID, cor.PackageID, func(x *adapter.ChangeOrderPackage) int64 { return x.ID })
}

// packagePCOs returns the PCOs of a package's change order requests.
func packagePCOs(ctx context.Context, pk *adapter.ChangeOrderPackage) ([]adapter.PotentialChangeOrder, error) {
	cors, err := cmFilter(ctx, cmCORs, pk.ProjectID, func(c *adapter.ChangeOrderRequest) bool { return c.PackageID != nil && *c.PackageID == pk.ID })
	if err != nil {
		return nil, err
	}
	if len(cors) == 0 {
		return []adapter.PotentialChangeOrder{}, nil
	}
	return cmFilter(ctx, cmPCOs, pk.ProjectID, func(p *adapter.PotentialChangeOrder) bool {
		return p.ChangeOrderRequestID != nil && slices.ContainsFunc(cors, func(c adapter.ChangeOrderRequest) bool { return c.ID == *p.ChangeOrderRequestID })
	})
}

func changeEventConnection(out pageOut[adapter.ChangeEvent]) *model.ChangeEventConnection {
	return &model.ChangeEventConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.ChangeEvent) model.ChangeEventEdge {
			return model.ChangeEventEdge{Cursor: c, Node: n}
		})}
}

func pcoConnection(out pageOut[adapter.PotentialChangeOrder]) *model.PotentialChangeOrderConnection {
	return &model.PotentialChangeOrderConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.PotentialChangeOrder) model.PotentialChangeOrderEdge {
			return model.PotentialChangeOrderEdge{Cursor: c, Node: n}
		})}
}

func packageConnection(out pageOut[adapter.ChangeOrderPackage]) *model.ChangeOrderPackageConnection {
	return &model.ChangeOrderPackageConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.ChangeOrderPackage) model.ChangeOrderPackageEdge {
			return model.ChangeOrderPackageEdge{Cursor: c, Node: n}
		})}
}

func primeConnection(out pageOut[adapter.PrimeChangeOrder]) *model.PrimeChangeOrderConnection {
	return &model.PrimeChangeOrderConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.PrimeChangeOrder) model.PrimeChangeOrderEdge {
			return model.PrimeChangeOrderEdge{Cursor: c, Node: n}
		})}
}
