package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/limits"
	"procoregraph/principal"
	"procoregraph/ratelimit"
	"procoregraph/reqstats"
)

// Codes of the document limits.
const (
	CodeDepthLimit     = "DEPTH_LIMIT_EXCEEDED"
	CodeAliasLimit     = "ALIAS_LIMIT_EXCEEDED"
	CodeRootFieldLimit = "ROOT_FIELD_LIMIT_EXCEEDED"
	CodeCostLimit      = "COST_LIMIT_EXCEEDED"
)

// costGuard measures every operation before it runs (limits.Analyzer):
// its depth, aliases, root fields and estimated Procore calls. Over a limit
// the operation is refused with its code and nothing reaches Procore; the
// cost limit may be raised or lowered per principal (an API key's cost=).
// The estimate goes to the debug extensions beside the actual calls.
type costGuard struct {
	a     *limits.Analyzer
	rates *ratelimit.Limiter
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = costGuard{}

func (costGuard) ExtensionName() string                          { return "CostGuard" }
func (costGuard) Validate(schema graphql.ExecutableSchema) error { return nil }

func (g costGuard) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if g.a == nil || oc.Operation == nil {
		return nil
	}
	o := g.a.Options()
	res := g.a.Analyze(oc.Operation, oc.Doc, oc.Variables)
	reqstats.From(ctx).SetEstimate(res.Cost)
	maxCost := o.MaxCost
	if p := principal.From(ctx); p.MaxCost > 0 {
		maxCost = p.MaxCost
	}
	refuse := func(code, msg string, ext map[string]any) *gqlerror.Error {
		e := map[string]any{"code": code}
		for k, v := range ext {
			e[k] = v
		}
		return &gqlerror.Error{Message: msg, Extensions: e}
	}
	switch {
	case res.Depth > o.MaxDepth:
		return refuse(CodeDepthLimit, fmt.Sprintf("the operation nests %d fields deep; the limit is %d", res.Depth, o.MaxDepth),
			map[string]any{"depth": map[string]int{"actual": res.Depth, "limit": o.MaxDepth}})
	case res.Aliases > o.MaxAliases:
		return refuse(CodeAliasLimit, fmt.Sprintf("the operation uses %d aliases; the limit is %d", res.Aliases, o.MaxAliases), nil)
	case res.RootFields > o.MaxRootFields:
		return refuse(CodeRootFieldLimit, fmt.Sprintf("the operation selects %d root fields; the limit is %d", res.RootFields, o.MaxRootFields), nil)
	case res.Cost > maxCost:
		return refuse(CodeCostLimit, fmt.Sprintf("the operation would make up to %d Procore calls; the limit is %d (ask for fewer items with first, fewer projects, or split it)", res.Cost, maxCost),
			map[string]any{"cost": map[string]int{"estimated": res.Cost, "limit": maxCost}})
	}
	if g.rates != nil && res.Cost > 0 {
		p := principal.From(ctx)
		r, pol := g.rates.Calls(ctx, p.RateKey(audit.RemoteFrom(ctx)), res.Cost, p.CallsPerMinute)
		if !r.Allowed {
			secs := max(1, int(math.Ceil(r.RetryAfter.Seconds())))
			setRetryAfter(ctx, secs)
			return refuse(string(adapter.CodeRateLimited), fmt.Sprintf("this client has spent its budget of %d estimated Procore calls a %s; retry in %d s", pol.Limit, pol.Window, secs),
				map[string]any{"retryAfterSeconds": secs, "cost": map[string]int{"estimated": res.Cost}})
		}
	}
	return nil
}

// withRateLimit counts each request against its principal's request budget
// (before anything else runs, response-cache hits included) and answers
// 429 RATE_LIMITED with Retry-After when it is spent; every answer carries
// the RateLimit headers. One principal's requests never spend another's.
func withRateLimit(d Deps, next http.Handler) http.Handler {
	if d.RateLimits == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principal.From(r.Context())
		res, pol := d.RateLimits.Request(r.Context(), p.RateKey(audit.RemoteFrom(r.Context())), p.RequestsPerMinute)
		ratelimit.SetHeaders(w.Header(), pol, res)
		if !res.Allowed {
			secs := max(1, int(math.Ceil(res.RetryAfter.Seconds())))
			limits.WriteError(w, http.StatusTooManyRequests, string(adapter.CodeRateLimited),
				fmt.Sprintf("this client sent more than %d requests a %s; retry in %d s", pol.Limit, pol.Window, secs),
				map[string]any{"retryAfterSeconds": secs})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// boundAnswers gives every answer (each event of a subscription too) a
// budget of fields; an answer that outgrows it is replaced by one
// ANSWER_TOO_LARGE error, so no document can grow memory without bound
// whatever its estimate.
func boundAnswers(max int64) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ctx, b := limits.WithNodeBudget(ctx, max)
		resp := next(ctx)
		if resp != nil && b.Tripped() {
			return &graphql.Response{Errors: gqlerror.List{{
				Message:    fmt.Sprintf("the answer has more than %d fields: ask for fewer items or fields", b.Max()),
				Extensions: map[string]any{"code": limits.CodeAnswerTooLarge, "limit": b.Max()},
			}}}
		}
		return resp
	}
}

// errAnswerTooLarge stops the resolution of a field past the budget. It is
// a new error each time: gqlgen writes the field's path and location into
// the error it is given, and fields fail concurrently.
func errAnswerTooLarge() *gqlerror.Error {
	return &gqlerror.Error{Message: "answer too large", Extensions: map[string]any{"code": limits.CodeAnswerTooLarge}}
}

// spendNodes counts each resolved field against the answer's budget.
func spendNodes(ctx context.Context, next graphql.Resolver) (any, error) {
	if !limits.Spend(ctx) {
		return nil, errAnswerTooLarge()
	}
	return next(ctx)
}

// guardFields is the server's one field middleware: every field is counted
// against the answer's budget (spendNodes), then handed to render (the
// plain sub-tree renderer; nil for none), and every mutation field is
// audited (auditMutation, outside the count, so a mutation refused for the
// budget is recorded too). One middleware instead of three, because gqlgen
// runs the chain for every field it executes (about 400 for the 7-project
// dashboard; the plain sub-trees below them are written by package
// plaintree, which spends their fields itself): each layer costs gqlgen
// closures, a call, a context lookup and stack.
func guardFields(l *audit.Logger, render graphql.FieldMiddleware) graphql.FieldMiddleware {
	spend := spendThen(render)
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		if l != nil {
			if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" && fc.Field.Field != nil && !sessionRoots[fc.Field.Name] {
				return auditMutation(ctx, l, fc, func(ctx context.Context) (any, error) { return spend(ctx, next) })
			}
		}
		return spend(ctx, next)
	}
}

// spendThen is spendNodes, then render (nil: none), as one middleware.
func spendThen(render graphql.FieldMiddleware) graphql.FieldMiddleware {
	if render == nil {
		return spendNodes
	}
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		if !limits.Spend(ctx) {
			return nil, errAnswerTooLarge()
		}
		return render(ctx, next)
	}
}
