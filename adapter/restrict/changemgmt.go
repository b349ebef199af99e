package restrict

import (
	"context"

	"procoregraph/adapter"
)

// ChangeEvents implements adapter.Reader.
func (p *Procore) ChangeEvents(ctx context.Context, projectID int64) ([]adapter.ChangeEvent, error) {
	return in(p, projectID, func() ([]adapter.ChangeEvent, error) { return p.next.ChangeEvents(ctx, projectID) })
}

// PotentialChangeOrders implements adapter.Reader.
func (p *Procore) PotentialChangeOrders(ctx context.Context, projectID int64) ([]adapter.PotentialChangeOrder, error) {
	return in(p, projectID, func() ([]adapter.PotentialChangeOrder, error) { return p.next.PotentialChangeOrders(ctx, projectID) })
}

// PCOLineItems implements adapter.Reader.
func (p *Procore) PCOLineItems(ctx context.Context, projectID, pcoID int64) ([]adapter.PCOLineItem, error) {
	return in(p, projectID, func() ([]adapter.PCOLineItem, error) { return p.next.PCOLineItems(ctx, projectID, pcoID) })
}

// ChangeOrderRequests implements adapter.Reader.
func (p *Procore) ChangeOrderRequests(ctx context.Context, projectID int64) ([]adapter.ChangeOrderRequest, error) {
	return in(p, projectID, func() ([]adapter.ChangeOrderRequest, error) { return p.next.ChangeOrderRequests(ctx, projectID) })
}

// ChangeOrderPackages implements adapter.Reader.
func (p *Procore) ChangeOrderPackages(ctx context.Context, projectID int64) ([]adapter.ChangeOrderPackage, error) {
	return in(p, projectID, func() ([]adapter.ChangeOrderPackage, error) { return p.next.ChangeOrderPackages(ctx, projectID) })
}

// PrimeChangeOrders implements adapter.Reader.
func (p *Procore) PrimeChangeOrders(ctx context.Context, projectID int64) ([]adapter.PrimeChangeOrder, error) {
	return in(p, projectID, func() ([]adapter.PrimeChangeOrder, error) { return p.next.PrimeChangeOrders(ctx, projectID) })
}
