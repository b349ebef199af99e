package gateway

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/audit"
	"procoregraph/principal"
	"procoregraph/streamlimit"
	"procoregraph/subshare"
)

// CodeSubscriptionLimit refuses a subscription over the bound of those open
// at once (per principal or per replica; streamlimit).
const CodeSubscriptionLimit = "SUBSCRIPTION_LIMIT_EXCEEDED"

// subscriptionTransport is a subscription transport (websocket, SSE,
// multipart) whose executor wrap wraps: the open-subscription bound and
// the sharing of identical subscriptions.
//
// With direct (the websocket transport on frameWebsockets), the shared
// subscriptions of each request are written directly to its socket
// (directAnswers).
type subscriptionTransport struct {
	graphql.Transport
	wrap      func(graphql.GraphExecutor) graphql.GraphExecutor
	direct    bool
	fallbacks prometheus.Counter // direct subscriptions whose socket was busy (nil: not counted)
}

// Do implements graphql.Transport.
func (t subscriptionTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	exec = t.wrap(exec)
	if t.direct {
		ctx, slot := withDirectSlot(r.Context())
		r = r.WithContext(ctx)
		exec = directAnswers{GraphExecutor: exec, slot: slot, fallbacks: t.fallbacks}
	}
	t.Transport.Do(w, r, exec)
}

// newSubscriptionWrap returns what wraps the executor of every subscription
// transport: identical subscriptions share one execution (groups, when not
// nil), and every subscription, shared or not, counts against limiter from
// its start until it ends, whichever side ends it. A subscription over a
// bound is answered with one SUBSCRIPTION_LIMIT_EXCEEDED error, and nothing
// of it runs. Other operations pass through.
func newSubscriptionWrap(d Deps, limiter *streamlimit.Limiter, groups *subshare.Groups) func(graphql.GraphExecutor) graphql.GraphExecutor {
	refused := newRefusedCounter(d, "subscriptions")
	return func(exec graphql.GraphExecutor) graphql.GraphExecutor {
		if groups != nil {
			exec = groups.Executor(exec)
		}
		return boundedExecutor{GraphExecutor: exec, l: limiter, refused: refused}
	}
}

// boundedExecutor counts each subscription against a streamlimit.Limiter.
type boundedExecutor struct {
	graphql.GraphExecutor
	l       *streamlimit.Limiter
	refused *prometheus.CounterVec
}

// DispatchOperation implements graphql.GraphExecutor.
func (e boundedExecutor) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return e.GraphExecutor.DispatchOperation(ctx, oc)
	}
	p := principal.From(ctx)
	release, r := e.l.Acquire(p.RateKey(audit.RemoteFrom(ctx)), p.MaxSubscriptions)
	if r != nil {
		e.refused.WithLabelValues(string(r.Scope)).Inc()
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: r.Error(),
			Extensions: map[string]any{
				"code":          CodeSubscriptionLimit,
				"subscriptions": map[string]any{"limit": r.Limit, "scope": string(r.Scope)},
			},
		}}}), ctx
	}
	// The transport ends the operation's context when the subscription
	// ends, whichever side ends it; a stream that ends first says so with nil.
	context.AfterFunc(ctx, release)
	next, ctx := e.GraphExecutor.DispatchOperation(ctx, oc)
	return func(ctx context.Context) *graphql.Response {
		r := next(ctx)
		if r == nil {
			release()
		}
		return r
	}, ctx
}

// newRefusedCounter returns (and registers with d.Metrics) the counter
// procoregraph_<noun>_refused_total of refusals for a streamlimit bound,
// labelled by the bound's scope.
func newRefusedCounter(d Deps, noun string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "procoregraph_" + noun + "_refused_total",
		Help: "The " + noun + " refused for the bound of those open at once, by the bound reached (principal or replica).",
	}, []string{"scope"})
	if d.Metrics != nil {
		d.Metrics.MustRegister(c)
	}
	return c
}
