package resolvers

import (
	"context"

	"procoregraph/adapter"
	"procoregraph/loaders"
)

// Owner-side figures of FinancialSummary (issue 16): contract value, billed
// to date, retainage held and pending changes. Each reads only the lists its
// formula needs (schema/cost.graphqls states the formulas), through the same
// loaders as primeContracts, paymentApplications, primeChangeOrders and
// changeOrderPackages, so one request reads each list once.

// contractValue is Σ (grand_total + approved_change_orders) of the
// project's prime contracts.
func contractValue(ctx context.Context, projectID int64) (adapter.Decimal, error) {
	l, err := ld(ctx)
	if err != nil {
		return adapter.Decimal{}, err
	}
	pcs, err := l.PrimeContracts.Load(ctx, projectID)()
	if err != nil {
		return adapter.Decimal{}, err
	}
	var sum adapter.Decimal
	for _, pc := range pcs {
		sum = sum.Add(pc.RevisedValue())
	}
	return sum, nil
}

// latestBilled returns, per prime contract of the project, the G702 of its
// latest billed payment application: the highest number whose status is
// not DRAFT. Contracts without one are left out. Every contract's list is
// asked for before any is awaited, so the loader batches them.
func latestBilled(ctx context.Context, projectID int64) ([]adapter.OwnerG702, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	pcs, err := l.PrimeContracts.Load(ctx, projectID)()
	if err != nil {
		return nil, err
	}
	thunks := make([]func() ([]adapter.PaymentApplication, error), len(pcs))
	for i, pc := range pcs {
		thunks[i] = l.PaymentApplications.Load(ctx, loaders.ItemKey{ProjectID: projectID, ID: pc.ID})
	}
	var out []adapter.OwnerG702
	for _, th := range thunks {
		apps, err := th()
		if err != nil {
			return nil, err
		}
		var latest *adapter.PaymentApplication
		for i := range apps {
			a := &apps[i]
			if a.Status == adapter.PaymentApplicationDraft {
				continue
			}
			if latest == nil || a.Number > latest.Number || (a.Number == latest.Number && a.ID > latest.ID) {
				latest = a
			}
		}
		if latest != nil {
			out = append(out, latest.G702)
		}
	}
	return out, nil
}

// billedToDate is Σ g702.total_completed_and_stored_to_date of each prime
// contract's latest billed payment application.
func billedToDate(ctx context.Context, projectID int64) (adapter.Decimal, error) {
	gs, err := latestBilled(ctx, projectID)
	if err != nil {
		return adapter.Decimal{}, err
	}
	var sum adapter.Decimal
	for _, g := range gs {
		sum = sum.Add(g.TotalCompletedAndStoredToDate)
	}
	return sum, nil
}

// retainageHeld is Σ g702.total_retainage of each prime contract's latest
// billed payment application.
func retainageHeld(ctx context.Context, projectID int64) (adapter.Decimal, error) {
	gs, err := latestBilled(ctx, projectID)
	if err != nil {
		return adapter.Decimal{}, err
	}
	var sum adapter.Decimal
	for _, g := range gs {
		sum = sum.Add(g.TotalRetainage)
	}
	return sum, nil
}

// pendingChangeStatuses are the change order statuses pendingChanges
// counts: Procore's "Pending - …" family.
var pendingChangeStatuses = map[adapter.ChangeOrderStatus]bool{
	adapter.ChangeOrderPending: true, adapter.ChangeOrderRevised: true,
	adapter.ChangeOrderPricing: true, adapter.ChangeOrderNotPricing: true,
	adapter.ChangeOrderProceeding: true, adapter.ChangeOrderNotProceeding: true,
}

// pendingChanges is Σ grand_total of the project's pending prime change
// orders (1- and 2-tier) and pending change order packages (3-tier). Both
// lists are asked for before either is awaited.
func pendingChanges(ctx context.Context, projectID int64) (adapter.Decimal, error) {
	l, err := ld(ctx)
	if err != nil {
		return adapter.Decimal{}, err
	}
	pccos := l.ChangeMgmt.PrimeChangeOrders.Load(ctx, projectID)
	l.ChangeMgmt.Packages.Load(ctx, projectID) // asked now: batched with pccos
	packages := func() ([]adapter.ChangeOrderPackage, error) { return primePackages(ctx, projectID) }
	var sum adapter.Decimal
	for _, th := range []func() ([]adapter.ChangeOrderPackage, error){pccos, packages} {
		cos, err := th()
		if err != nil {
			return adapter.Decimal{}, err
		}
		for _, co := range cos {
			if pendingChangeStatuses[co.Status] {
				sum = sum.Add(co.GrandTotal)
			}
		}
	}
	return sum, nil
}

// decimalOf adapts a figure to gqlgen's *Decimal result.
func decimalOf(d adapter.Decimal, err error) (*adapter.Decimal, error) {
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// primePackages are the project's change order packages of its prime
// contracts: Procore's package list holds every contract's packages, and on
// a 3-tier project the commitments' change orders are packages too. A
// package whose contract_id is not one of the project's prime contracts is
// left out; one naming no contract is kept. The prime contract list is read
// only when some package names a contract.
func primePackages(ctx context.Context, projectID int64) ([]adapter.ChangeOrderPackage, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	all, err := l.ChangeMgmt.Packages.Load(ctx, projectID)()
	if err != nil {
		return nil, err
	}
	named := false
	for _, pk := range all {
		named = named || pk.ContractID != nil
	}
	if !named {
		return all, nil
	}
	pcs, err := l.PrimeContracts.Load(ctx, projectID)()
	if err != nil {
		return nil, err
	}
	prime := map[int64]bool{}
	for _, pc := range pcs {
		prime[pc.ID] = true
	}
	out := make([]adapter.ChangeOrderPackage, 0, len(all))
	for _, pk := range all {
		if pk.ContractID == nil || prime[*pk.ContractID] {
			out = append(out, pk)
		}
	}
	return out, nil
}
