package gateway

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"

	"procoregraph/graph"
	"procoregraph/resolvers"
	"procoregraph/tenant"
)

func TestShareKeySharesOnlyWhatAnswersAlike(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New()}).Schema()
	const sub = `subscription($p: ID, $a: String) { ballInCourtChanged(projectId: $p, after: $a) { cursor itemId } }`
	conn := &tenant.Connection{ID: "c1", CompanyID: 7, UserKey: "u1"}
	base := tenant.With(context.Background(), conn)
	key := func(t *testing.T, ctx context.Context, query string, vars map[string]any) (string, bool) {
		t.Helper()
		doc, errs := gqlparser.LoadQuery(schema, query)
		if errs != nil {
			t.Fatal(errs)
		}
		return shareKey(ctx, &graphql.OperationContext{RawQuery: query, Doc: doc, Operation: doc.Operations[0], Variables: vars})
	}
	ref, ok := key(t, base, sub, map[string]any{"p": "1"})
	if !ok {
		t.Fatal("a live subscription is not shared")
	}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		query  string
		vars   map[string]any
		shared bool // false: runs alone
		same   bool // shares ref's key
	}{
		{"the same subscription shares", base, sub, map[string]any{"p": "1"}, true, true},
		{"after: null shares", base, sub, map[string]any{"p": "1", "a": nil}, true, false},
		{"other variables get their own", base, sub, map[string]any{"p": "2"}, true, false},
		{"another Procore user gets its own", tenant.With(context.Background(), &tenant.Connection{ID: "c1", CompanyID: 7, UserKey: "u1|projects-ab"}), sub, map[string]any{"p": "1"}, true, false},
		{"another connection gets its own", tenant.With(context.Background(), &tenant.Connection{ID: "c2", CompanyID: 7, UserKey: "u1"}), sub, map[string]any{"p": "1"}, true, false},
		{"other companies get their own", tenant.WithCompanies(base, []int64{7}), sub, map[string]any{"p": "1"}, true, false},
		{"a resumed subscription (after variable) runs alone", base, sub, map[string]any{"p": "1", "a": "cur"}, false, false},
		{"a resumed subscription (after literal) runs alone", base, `subscription { ballInCourtChanged(after: "cur") { cursor } }`, nil, false, false},
		{"a query is not shared", base, `query { viewer { name } }`, nil, false, false},
		{"the debug header runs alone", context.WithValue(base, debugKey{}, true), sub, map[string]any{"p": "1"}, false, false},
		{"no connection runs alone", context.Background(), sub, map[string]any{"p": "1"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := key(t, tc.ctx, tc.query, tc.vars)
			if ok != tc.shared {
				t.Fatalf("shared = %v, want %v", ok, tc.shared)
			}
			if ok && (k == ref) != tc.same {
				t.Fatalf("same key as the reference = %v, want %v", k == ref, tc.same)
			}
		})
	}
}
