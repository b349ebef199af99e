package gateway

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/admission"
	"procoregraph/reqstats"
)

// operation runs the admission middleware of g over one operation of kind
// whose estimate is cost, in ctx, with an executor that records whether it
// ran; it returns the first answer and whether the executor ran.
func operation(ctx context.Context, g *admission.Gate, kind ast.Operation, cost int) (*graphql.Response, bool) {
	ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: kind}})
	ctx, stats := reqstats.With(ctx)
	stats.SetEstimate(cost)
	ran := false
	h := admitOperations(g, nil)(ctx, func(ctx context.Context) graphql.ResponseHandler {
		ran = true
		return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"ok":true}`)})
	})
	return h(ctx), ran
}

func TestAdmitOperations(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		taken    int // of the budget of 100, held by another operation
		kind     ast.Operation
		cost     int
		ctx      context.Context
		wantRan  bool
		wantCode string
	}{
		{"AQueryWithinTheBudgetRuns", 50, ast.Query, 50, context.Background(), true, ""},
		{"AMutationWithinTheBudgetRuns", 0, ast.Mutation, 100, context.Background(), true, ""},
		{"AQueryPastTheBudgetWhoseContextEndsIsServerBusyAndNeverRuns", 60, ast.Query, 50, canceled, false, CodeServerBusy},
		{"ASubscriptionPassesThroughAFullBudget", 100, ast.Subscription, 50, context.Background(), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := admission.New(100)
			if tc.taken > 0 {
				rel, err := g.Admit(context.Background(), tc.taken)
				if err != nil {
					t.Fatal(err)
				}
				defer rel()
			}
			resp, ran := operation(tc.ctx, g, tc.kind, tc.cost)
			if ran != tc.wantRan {
				t.Fatalf("executed: %v, want %v", ran, tc.wantRan)
			}
			code := ""
			if len(resp.Errors) > 0 {
				code, _ = resp.Errors[0].Extensions["code"].(string)
			}
			if code != tc.wantCode {
				t.Fatalf("code %q, want %q (%+v)", code, tc.wantCode, resp.Errors)
			}
			if g.InUse() != int64(tc.taken) {
				t.Fatalf("after the answer: %d in use, want the other operation's %d (this one's share given back)", g.InUse(), tc.taken)
			}
		})
	}
}
