package limits_test

import (
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"procoregraph/graph"
	"procoregraph/limits"
)

// FuzzAnalyze: no valid document makes the analyzer panic or report a
// negative cost or depth.
func FuzzAnalyze(f *testing.F) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	a := limits.NewAnalyzer(limits.Options{}, limits.Rules())
	dashboard, err := os.ReadFile("../bench/queries/dashboard.graphql")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(dashboard),
		`{ projects(first: 1000, after: "Y3Vyc29yOjk5OTk5OQ==") { nodes { rfis(first: 1000) { nodes { project { rfis { nodes { id } } } } } } } }`,
		`query($r: [_Any!]!) { _entities(representations: $r) { ... on RFI { id project { name } } } }`,
		`fragment P on Project { id rfis { nodes { id } } } { a: projects { nodes { ...P } } b: projects { nodes { ...P } } }`,
		`{ __schema { types { name fields { name type { ofType { ofType { name } } } } } } }`,
		`{ project(id: "1") { dailyLogs(from: "2026-01-01", to: "2026-12-31") { manpower { workers } } budget { rows { cells { value } } } } }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		doc, errs := gqlparser.LoadQuery(schema, q)
		if len(errs) > 0 || doc == nil {
			return
		}
		for _, op := range doc.Operations {
			r := a.Analyze(op, doc, map[string]any{"r": []any{map[string]any{"__typename": "RFI", "id": "1"}}})
			if r.Cost < 0 || r.Depth < 0 || r.Aliases < 0 || r.RootFields < 0 {
				t.Fatalf("negative result %+v for %q", r, q)
			}
		}
	})
}
