package resolvers

import (
	"context"
	"time"

	"procoregraph/adapter"
	"procoregraph/graph/model"
	"procoregraph/loaders"
)

// Cost (issue 16): budget modifications, direct costs and the project's
// financial summary.

var (
	budgetModificationKeys = keyFns[adapter.BudgetModification]{func(x *adapter.BudgetModification) int64 { return x.ID }, func(x *adapter.BudgetModification) time.Time { return x.UpdatedAt }}
	directCostKeys         = keyFns[adapter.DirectCost]{func(x *adapter.DirectCost) int64 { return x.ID }, func(x *adapter.DirectCost) time.Time { return x.UpdatedAt }}
)

// wholePage pages a list read whole by the gateway: id order, the
// updated_at bounds applied here.
func wholePage[T any](all []T, keys keyFns[T], first *int, after *string, since, before *time.Time) (pageOut[T], error) {
	a, err := parsePage(first, after, 50, defaultOrder, since, before)
	if err != nil {
		return pageOut[T]{}, err
	}
	return keysetPage(a, keys, wholeLoad(all, keys))
}

func budgetModificationConnection(ctx context.Context, projectID int64, first *int, after *string, since, before *time.Time) (*model.BudgetModificationConnection, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	all, err := l.BudgetModifications.Load(ctx, projectID)()
	if err != nil {
		return nil, err
	}
	out, err := wholePage(all, budgetModificationKeys, first, after, since, before)
	if err != nil {
		return nil, err
	}
	return &model.BudgetModificationConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.BudgetModification) model.BudgetModificationEdge {
			return model.BudgetModificationEdge{Cursor: c, Node: n}
		})}, nil
}

func directCostConnection(ctx context.Context, projectID int64, first *int, after *string, since, before *time.Time) (*model.DirectCostConnection, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	all, err := l.DirectCosts.Load(ctx, projectID)()
	if err != nil {
		return nil, err
	}
	out, err := wholePage(all, directCostKeys, first, after, since, before)
	if err != nil {
		return nil, err
	}
	return &model.DirectCostConnection{Nodes: out.items, PageInfo: out.info, TotalCount: out.total,
		Edges: edgesOf(out, func(c string, n *adapter.DirectCost) model.DirectCostEdge {
			return model.DirectCostEdge{Cursor: c, Node: n}
		})}, nil
}

// financialSummary computes a project's FinancialSummary (formulas in
// schema/cost.graphqls). It asks for every list before waiting on any, so
// the loaders batch them; the budget rows wait on the views.
func financialSummary(ctx context.Context, projectID int64) (*adapter.FinancialSummary, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	views := l.BudgetViews.Load(ctx, projectID)
	mods := l.BudgetModifications.Load(ctx, projectID)
	costs := l.DirectCosts.Load(ctx, projectID)
	commitments := l.Commitments.Load(ctx, loaders.NewListKey(projectID, 0, nil))

	s := &adapter.FinancialSummary{ProjectID: projectID}
	vs, err := views()
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 {
		rows, err := l.BudgetRows.Load(ctx, loaders.BudgetKey{ProjectID: projectID, ViewID: vs[0].ID})()
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			s.OriginalBudget = s.OriginalBudget.Add(r.OriginalBudgetAmount)
		}
	}
	ms, err := mods()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		s.ApprovedBudgetChanges = s.ApprovedBudgetChanges.Add(m.Net())
	}
	cs, err := commitments()
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		s.CommittedCosts = s.CommittedCosts.Add(c.RevisedContract)
	}
	dcs, err := costs()
	if err != nil {
		return nil, err
	}
	for _, d := range dcs {
		if d.Status == adapter.DirectCostApproved {
			s.DirectCosts = s.DirectCosts.Add(d.GrandTotal)
		}
	}
	s.RevisedBudget = s.OriginalBudget.Add(s.ApprovedBudgetChanges)
	s.ProjectedCosts = s.CommittedCosts.Add(s.DirectCosts)
	s.ProjectedOverUnder = s.RevisedBudget.Sub(s.ProjectedCosts)
	return s, nil
}
