package loaders

import "procoregraph/adapter"

// initCost builds the cost loaders (issue 16). Both lists are project-scoped
// cache entries (kinds "budget_modifications" and "direct_costs"), so
// whatever invalidates a project's scope invalidates them, like the
// project's budget rows and change orders.
func (l *Loaders) initCost(p adapter.Procore) {
	l.BudgetModifications = single(l, "budget_modifications", p.BudgetModifications, func(id int64) (string, string) { return projectScope(id), "" })
	l.DirectCosts = single(l, "direct_costs", p.DirectCosts, func(id int64) (string, string) { return projectScope(id), "" })
}
