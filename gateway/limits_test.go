package gateway

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/limits"
)

// TestEachFieldPastTheBudgetGetsAnErrorOfItsOwn: gqlgen writes a failed
// field's path and location into the error it is given, and fields fail
// concurrently, so the error for a field past the answer budget is a new
// one each time (a shared one was written by two fields at once).
func TestEachFieldPastTheBudgetGetsAnErrorOfItsOwn(t *testing.T) {
	ctx, _ := limits.WithNodeBudget(context.Background(), 1)
	next := func(context.Context) (any, error) { return "ok", nil }
	if _, err := spendNodes(ctx, next); err != nil {
		t.Fatalf("the first field, within the budget: %v", err)
	}
	var seen []*gqlerror.Error
	for _, mw := range []func(context.Context, func(context.Context) (any, error)) (any, error){
		func(ctx context.Context, n func(context.Context) (any, error)) (any, error) {
			return spendNodes(ctx, n)
		},
		func(ctx context.Context, n func(context.Context) (any, error)) (any, error) {
			return spendNodes(ctx, n)
		},
		func(ctx context.Context, n func(context.Context) (any, error)) (any, error) {
			render := func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) }
			return spendThen(render)(ctx, n)
		},
	} {
		_, err := mw(ctx, next)
		e, ok := err.(*gqlerror.Error)
		if !ok || e.Extensions["code"] != limits.CodeAnswerTooLarge {
			t.Fatalf("past the budget: %v, want ANSWER_TOO_LARGE", err)
		}
		for _, prev := range seen {
			if prev == e {
				t.Fatal("two fields past the budget got the same error value")
			}
		}
		seen = append(seen, e)
	}
}
