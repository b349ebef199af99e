package restrict

import (
	"context"

	"procoregraph/adapter"
)

// PrimeChangeOrder implements adapter.StatusWriter.
func (p *Procore) PrimeChangeOrder(ctx context.Context, projectID, id int64) (adapter.PrimeChangeOrder, error) {
	return in(p, projectID, func() (adapter.PrimeChangeOrder, error) { return p.next.PrimeChangeOrder(ctx, projectID, id) })
}

// ChangeOrderPackage implements adapter.StatusWriter.
func (p *Procore) ChangeOrderPackage(ctx context.Context, projectID, id int64) (adapter.ChangeOrderPackage, error) {
	return in(p, projectID, func() (adapter.ChangeOrderPackage, error) { return p.next.ChangeOrderPackage(ctx, projectID, id) })
}

// CommitmentChangeOrder implements adapter.StatusWriter.
func (p *Procore) CommitmentChangeOrder(ctx context.Context, projectID, id int64) (adapter.ChangeOrder, error) {
	return in(p, projectID, func() (adapter.ChangeOrder, error) { return p.next.CommitmentChangeOrder(ctx, projectID, id) })
}

// UpdatePrimeChangeOrderStatus implements adapter.StatusWriter.
func (p *Procore) UpdatePrimeChangeOrderStatus(ctx context.Context, projectID, id int64, status adapter.ChangeOrderStatus) (adapter.PrimeChangeOrder, error) {
	return in(p, projectID, func() (adapter.PrimeChangeOrder, error) {
		return p.next.UpdatePrimeChangeOrderStatus(ctx, projectID, id, status)
	})
}

// UpdateChangeOrderPackageStatus implements adapter.StatusWriter.
func (p *Procore) UpdateChangeOrderPackageStatus(ctx context.Context, projectID, id int64, status adapter.ChangeOrderStatus) (adapter.ChangeOrderPackage, error) {
	return in(p, projectID, func() (adapter.ChangeOrderPackage, error) {
		return p.next.UpdateChangeOrderPackageStatus(ctx, projectID, id, status)
	})
}

// UpdateCommitmentChangeOrderStatus implements adapter.StatusWriter.
func (p *Procore) UpdateCommitmentChangeOrderStatus(ctx context.Context, projectID, id int64, status adapter.ChangeOrderStatus) (adapter.ChangeOrder, error) {
	return in(p, projectID, func() (adapter.ChangeOrder, error) {
		return p.next.UpdateCommitmentChangeOrderStatus(ctx, projectID, id, status)
	})
}

// UpdatePaymentApplicationStatus implements adapter.StatusWriter.
func (p *Procore) UpdatePaymentApplicationStatus(ctx context.Context, projectID, primeContractID, id int64, status adapter.PaymentApplicationStatus) (adapter.PaymentApplication, error) {
	return in(p, projectID, func() (adapter.PaymentApplication, error) {
		return p.next.UpdatePaymentApplicationStatus(ctx, projectID, primeContractID, id, status)
	})
}
