package limits_test

import (
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"procoregraph/graph"
	"procoregraph/limits"
)

// BenchmarkAnalyzeDashboard measures what the cost guard adds to the README's
// dashboard query: the analysis of the parsed, validated document (gqlgen
// caches parsing and validation per document), beside the validation itself
// as the baseline of the same run.
//
//	go test -run '^$' -bench AnalyzeDashboard ./limits
func BenchmarkAnalyzeDashboard(b *testing.B) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	q, err := os.ReadFile("../bench/queries/dashboard.graphql")
	if err != nil {
		b.Fatal(err)
	}
	doc, errs := gqlparser.LoadQuery(schema, string(q))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	a := limits.NewAnalyzer(limits.Options{}, limits.Rules())
	b.Run("analyze", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := a.Analyze(doc.Operations[0], doc, nil); r.Cost == 0 {
				b.Fatal("no cost")
			}
		}
	})
	b.Run("parse-and-validate(baseline)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, errs := gqlparser.LoadQuery(schema, string(q)); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
}
