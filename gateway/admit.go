package gateway

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/admission"
	"procoregraph/reqstats"
)

// CodeServerBusy answers an operation that waited for admission
// (admission.Gate) until its deadline: the replica was executing other
// operations' estimated calls up to its budget all that time. Retry later.
const CodeServerBusy = "SERVER_BUSY"

// admitOperations admits every query and mutation through g by its
// estimated Procore calls (reqstats, set by the cost guard) before it
// executes, and gives its share back once its last answer is built (or its
// request ends). An operation whose context ends while it waits is answered
// with SERVER_BUSY and nothing of it runs. Subscriptions, whose open count
// streamlimit bounds, pass through.
func admitOperations(g *admission.Gate, reg prometheus.Registerer) graphql.OperationMiddleware {
	if reg != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "procoregraph_executing_cost",
				Help: "Estimated Procore calls of the operations executing on this replica (the budget is MAX_EXECUTING_COST).",
			}, func() float64 { return float64(g.InUse()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "procoregraph_operations_waiting",
				Help: "Operations waiting for room in MAX_EXECUTING_COST before they execute.",
			}, func() float64 { return float64(g.Waiting()) }),
		)
	}
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
			return next(ctx)
		}
		release, err := g.Admit(ctx, reqstats.From(ctx).Estimate())
		if err != nil {
			return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
				Message:    "this server was busy with other operations until this one's deadline; retry later",
				Extensions: map[string]any{"code": CodeServerBusy},
			}}})
		}
		context.AfterFunc(ctx, release)
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			r := h(ctx)
			if r == nil || r.HasNext == nil || !*r.HasNext {
				release()
			}
			return r
		}
	}
}
