package resolvers

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"

	"procoregraph/graph"
)

// TestASelectionReachesAPathThroughFragmentsAndDirectives: selectsIn
// follows named and inline fragments and @include/@skip on variables, and
// reports a path reached when any one of the paths it is given is.
func TestASelectionReachesAPathThroughFragmentsAndDirectives(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	invoices := [][]string{{"nodes", "invoices"}, {"edges", "node", "invoices"}}
	cursors := [][]string{{"edges"}, {"pageInfo", "startCursor"}, {"pageInfo", "endCursor"}}
	cases := []struct {
		name, query string
		paths       [][]string
		want        bool
	}{
		{"InvoicesUnderNodes", `{ nodes { id invoices { totalCount } } }`, invoices, true},
		{"InvoicesUnderEdges", `{ edges { node { invoices { totalCount } } } }`, invoices, true},
		{"InvoicesInANamedFragment", `{ ...C }`, invoices, true},
		{"InvoicesSkipped", `{ nodes { id invoices @skip(if: $yes) { totalCount } } }`, invoices, false},
		{"InvoicesIncluded", `{ nodes { id invoices @include(if: $yes) { totalCount } } }`, invoices, true},
		{"NodesWithoutInvoices", `{ nodes { id } edges { node { id } } }`, invoices, false},
		{"OnlyTheLastPathReached", `{ pageInfo { hasNextPage endCursor } }`, cursors, true},
		{"APrefixOfAPathIsNotThePath", `{ pageInfo { hasNextPage } totalCount }`, cursors, false},
		{"EdgesAlone", `{ edges { cursor } }`, cursors, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, `query($yes: Boolean!) { projects @include(if: $yes) { nodes { commitments `+c.query+` } } }`+fragments(c.query))
			if errs != nil {
				t.Fatal(errs)
			}
			oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{"yes": true}}
			// The commitments field's selection, as its FieldContext holds it.
			projects := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, nil)[0]
			nodes := graphql.CollectFields(oc, projects.Selections, nil)[0]
			commitments := graphql.CollectFields(oc, nodes.Selections, nil)[0]
			if got := selectsIn(oc, commitments.Selections, c.paths...); got != c.want {
				t.Errorf("selectsIn = %v, want %v", got, c.want)
			}
		})
	}
}

// fragments is the fragment definition of the document when query spreads it.
func fragments(query string) string {
	if query == `{ ...C }` {
		return ` fragment C on CommitmentConnection { nodes { ... on Commitment { invoices { totalCount } } } }`
	}
	return ""
}
