package resolvers

import (
	"context"

	"procoregraph/adapter"
	"procoregraph/loaders"
)

// lookupInProject answers Query.rfi and its kin: with a project, the item's
// show through the cached detail loader (one Procore call); without one, the
// search of every visible project (uncached; see loaders.searchByIDs). An
// item that does not exist or cannot be seen is nil without an error.
func lookupInProject[T any](ctx context.Context, id int64, projectID *int64,
	detail func(*loaders.Loaders) *loaders.Loader[loaders.ItemKey, T],
	anywhere func(*loaders.Loaders) *loaders.Loader[int64, T]) (*T, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	if projectID != nil {
		return nullIfNotFound(detail(l).Load(ctx, loaders.ItemKey{ProjectID: *projectID, ID: id})())
	}
	return nullIfNotFound(anywhere(l).Load(ctx, id)())
}

// lookupCommitment answers Query.commitment. With a project and a kind it is
// the one show of that kind; with a project alone, the subcontract show and
// then, when that finds nothing, the purchase order show; without a project,
// the search of every visible project (a found commitment of another kind
// than kind is nil).
func lookupCommitment(ctx context.Context, id int64, projectID *int64, kind *adapter.CommitmentKind) (*adapter.Commitment, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	if projectID == nil {
		c, err := nullIfNotFound(l.CommitmentsAnywhere.Load(ctx, id)())
		if err != nil || c == nil || (kind != nil && c.Kind != *kind) {
			return nil, err
		}
		return c, nil
	}
	kinds := []adapter.CommitmentKind{adapter.CommitmentSubcontract, adapter.CommitmentPurchaseOrder}
	if kind != nil {
		kinds = []adapter.CommitmentKind{*kind}
	}
	for _, k := range kinds {
		c, err := nullIfNotFound(l.CommitmentDetail.Load(ctx, loaders.CommitmentKey{ProjectID: *projectID, Kind: k, ID: id})())
		if err != nil || c != nil {
			return c, err
		}
	}
	return nil, nil
}
