package limits_test

import (
	"testing"

	"github.com/vektah/gqlparser/v2"

	"procoregraph/graph"
	"procoregraph/limits"
)

// TestWholeListReadsAreCostedWhole: project cost codes and vendors have no
// updated_at filter in Procore, so updatedSince reads the whole list (up to
// 1,000 items assumed: 10 calls) whatever first is; without it, or with a
// null value, first decides. Company users have no id filter, so a
// federation lookup of a batch of ids is costed as a walk of the directory.
func TestWholeListReadsAreCostedWhole(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	a := limits.NewAnalyzer(limits.Options{}, limits.Rules())
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"cost codes without updatedSince read one page", `{ project(id: "1") { costCodes(first: 5) { nodes { id } } } }`, nil, 1 + 1},
		{"cost codes with updatedSince read the whole list", `{ project(id: "1") { costCodes(first: 5, updatedSince: "2026-01-01T00:00:00Z") { nodes { id } } } }`, nil, 1 + 10},
		{"vendors with updatedSince from a variable read the whole list", `query($s: DateTime) { project(id: "1") { vendors(first: 1, updatedSince: $s) { nodes { id } } } }`,
			map[string]any{"s": "2026-01-01T00:00:00Z"}, 1 + 10},
		{"vendors with a null updatedSince read one page", `query($s: DateTime) { project(id: "1") { vendors(first: 1, updatedSince: $s) { nodes { id } } } }`,
			map[string]any{"s": nil}, 1 + 1},
		{"vendors with updatedSince and a large page read that page", `{ project(id: "1") { vendors(first: 1500, updatedSince: "2026-01-01T00:00:00Z") { nodes { id } } } }`, nil, 1 + 15},
		{"RFIs with updatedSince read one page (Procore filters them)", `{ project(id: "1") { rfis(first: 5, updatedSince: "2026-01-01T00:00:00Z") { nodes { id } } } }`, nil, 1 + 1},
		{"cost codes with updatedBefore read the whole list", `{ project(id: "1") { costCodes(first: 5, updatedBefore: "2026-01-01T00:00:00Z") { nodes { id } } } }`, nil, 1 + 10},
		{"RFIs by updated_at read the cursor's item and one more", `{ project(id: "1") { rfis(first: 99, orderBy: {field: UPDATED_AT}) { nodes { id } } } }`, nil, 1 + 2},
		{"company users by id walk the directory", `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }`,
			map[string]any{"r": []any{map[string]any{"__typename": "User", "id": "1"}, map[string]any{"__typename": "User", "id": "2"}}}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := a.Analyze(doc.Operations[0], doc, tc.vars).Cost; got != tc.want {
				t.Fatalf("cost %d, want %d", got, tc.want)
			}
		})
	}
}

// TestLookupsCostOneCallWithTheirProject: a lookup by id with projectId is one
// Procore call (two for a commitment of unknown kind); without projectId it
// asks every project (Options.Projects, default 50).
func TestLookupsCostOneCallWithTheirProject(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	a := limits.NewAnalyzer(limits.Options{}, limits.Rules())
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"RFI with its project is one call", `{ rfi(id: "1", projectId: "2") { id } }`, nil, 1},
		{"RFI with projectId from a variable is one call", `query($p: ID) { rfi(id: "1", projectId: $p) { id } }`, map[string]any{"p": "2"}, 1},
		{"RFI with a null projectId asks every project", `query($p: ID) { rfi(id: "1", projectId: $p) { id } }`, map[string]any{"p": nil}, 50},
		{"submittal without its project asks every project", `{ submittal(id: "1") { id } }`, nil, 50},
		{"invoice with its project is one call", `{ invoice(id: "1", projectId: "2") { id } }`, nil, 1},
		{"commitment with its project is at most two calls", `{ commitment(id: "1", projectId: "2") { id } }`, nil, 2},
		{"commitment without its project reads both lists of every project", `{ commitment(id: "1") { id } }`, nil, 100},
		{"user and vendor are one call each", `{ user(id: "1") { id } vendor(id: "2") { id } }`, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := a.Analyze(doc.Operations[0], doc, tc.vars).Cost; got != tc.want {
				t.Fatalf("cost %d, want %d", got, tc.want)
			}
		})
	}
}
