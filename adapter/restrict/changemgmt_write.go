package restrict

import (
	"context"

	"procoregraph/adapter"
)

// CreateChangeEvent implements adapter.ChangeMgmtWriter.
func (p *Procore) CreateChangeEvent(ctx context.Context, projectID int64, in_ adapter.ChangeEventCreate) (adapter.ChangeEvent, error) {
	return in(p, projectID, func() (adapter.ChangeEvent, error) { return p.next.CreateChangeEvent(ctx, projectID, in_) })
}

// CreatePotentialChangeOrder implements adapter.ChangeMgmtWriter.
func (p *Procore) CreatePotentialChangeOrder(ctx context.Context, projectID int64, in_ adapter.PotentialChangeOrderCreate) (adapter.PotentialChangeOrder, error) {
	return in(p, projectID, func() (adapter.PotentialChangeOrder, error) {
		return p.next.CreatePotentialChangeOrder(ctx, projectID, in_)
	})
}

// ChangeOrderTiers implements adapter.ChangeMgmtWriter.
func (p *Procore) ChangeOrderTiers(ctx context.Context, projectID int64) (int, error) {
	return in(p, projectID, func() (int, error) { return p.next.ChangeOrderTiers(ctx, projectID) })
}
