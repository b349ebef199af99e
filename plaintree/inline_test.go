package plaintree

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const inlineSchema = `
type Query { shelf: Shelf shelves: [Shelf!]! }
type Shelf { id: ID! label: String! first: Book books(n: Int, prefix: String): [Book!]! }
type Book { id: ID! title: String! }
`

type book struct {
	ID    string
	Title string
}

type shelf struct {
	ID    string
	Label string
	Books []book // gqlgen never reads it: books is served by a resolver
}

// First is what gqlgen's binder binds Shelf.first to.
func (s *shelf) First() *book {
	if len(s.Books) == 0 {
		return nil
	}
	return &s.Books[0]
}

type shelfResolver interface {
	Books(ctx context.Context, obj *shelf, n *int, prefix *string) ([]book, error)
}

type inlineRoot interface {
	Shelf() shelfResolver
}

// inlineFixture is a renderer whose Shelf.books is resolved in line, with
// what its resolution was asked and told.
type inlineFixture struct {
	r        *Renderer
	schema   *ast.Schema
	prepared int               // prepare calls
	refuse   bool              // prepare refuses every selection
	atHand   map[string]bool   // shelf id → its books are at hand
	asked    []string          // shelves resolved, in order
	args     []map[string]any  // the raw arguments of each prepare
	ctxs     []context.Context // the contexts resolutions ran in
}

type ctxKey struct{}

func newInlineFixture(t *testing.T) *inlineFixture {
	t.Helper()
	x := &inlineFixture{schema: gqlparser.MustLoadSchema(&ast.Source{Input: inlineSchema}), atHand: map[string]bool{}}
	books := Resolved("Shelf", "books", func(oc *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *shelf) ([]book, bool), bool) {
		x.prepared++
		raw := f.ArgumentMap(oc.Variables)
		x.args = append(x.args, raw)
		if x.refuse {
			return nil, false
		}
		n, _ := raw["n"].(int64)
		prefix, _ := raw["prefix"].(string)
		return func(ctx context.Context, s *shelf) ([]book, bool) {
			x.asked = append(x.asked, s.ID)
			x.ctxs = append(x.ctxs, ctx)
			if !x.atHand[s.ID] {
				return nil, false
			}
			var out []book
			for _, b := range s.Books {
				if strings.HasPrefix(b.Title, prefix) && (n == 0 || len(out) < int(n)) {
					out = append(out, b)
				}
			}
			return out, true
		}, true
	})
	x.r = New(x.schema, reflect.TypeFor[inlineRoot](), []Scalar{
		BindAppend("ID", graphql.MarshalID, func(b []byte, s string) []byte { return AppendString(b, s) }),
		BindAppend("String", graphql.MarshalString, AppendString),
	}, books, Method("Shelf", "first", (*shelf).First))
	return x
}

func testShelves() []shelf {
	return []shelf{
		{ID: "s1", Label: "one", Books: []book{{"b1", "alpha"}, {"b2", "beta"}, {"b3", "apex"}}},
		{ID: "s2", Label: "two"},
	}
}

// run renders the document's first root field in one operation, with
// value as its resolver's, and returns what it wrote ("" when it gave the
// value back).
func (x *inlineFixture) run(t *testing.T, query string, vars map[string]any, value any) string {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(x.schema, query)
	if errs != nil {
		t.Fatal(errs)
	}
	var out string
	h := x.r.Operations(context.Background(), func(ctx context.Context) graphql.ResponseHandler {
		return func(ctx context.Context) *graphql.Response {
			oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
			ctx = graphql.WithOperationContext(ctx, oc)
			ctx = context.WithValue(ctx, ctxKey{}, "the request's")
			root := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, []string{"Query"})
			ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: root[0]})
			res, err := x.r.Field(ctx, func(context.Context) (any, error) { return value, nil })
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := res.(*rendered); ok {
				out = written(t, m)
			} else if !reflect.DeepEqual(res, value) {
				t.Fatalf("got %#v back, want the resolver's value", res)
			}
			return &graphql.Response{}
		}
	})
	h(context.Background())
	return out
}

func TestAnInlineFieldIsResolvedAndWrittenInItsPlace(t *testing.T) {
	x := newInlineFixture(t)
	x.atHand["s1"], x.atHand["s2"] = true, true
	got := x.run(t, `{ shelves { id a: books(n: 2) { title } first { id } books(prefix: "a") { id } label } }`, nil, testShelves())
	want := `[{"id":"s1","a":[{"title":"alpha"},{"title":"beta"}],"first":{"id":"b1"},"books":[{"id":"b1"},{"id":"b3"}],"label":"one"},` +
		`{"id":"s2","a":[],"first":null,"books":[],"label":"two"}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if x.prepared != 2 {
		t.Errorf("prepared %d times, want once for each of the two selections of books", x.prepared)
	}
	if !slicesEqual(x.asked, []string{"s1", "s1", "s2", "s2"}) {
		t.Errorf("resolved %v, want each shelf's two selections in order", x.asked)
	}
	for _, ctx := range x.ctxs {
		if ctx.Value(ctxKey{}) != "the request's" {
			t.Fatal("a resolution did not run in the request's context")
		}
	}
}

func TestAnInlineFieldNotAtHandLeavesTheWholeValueToGqlgen(t *testing.T) {
	x := newInlineFixture(t)
	x.atHand["s1"] = true // s2's are not
	if got := x.run(t, `{ shelves { id books { id } } }`, nil, testShelves()); got != "" {
		t.Fatalf("rendered %s; want the value back for gqlgen to execute", got)
	}
	// The same selection renders once every resolution answers: the
	// refusal was not kept in the plan.
	x.atHand["s2"] = true
	if got := x.run(t, `{ shelves { id books { id } } }`, nil, testShelves()); got == "" {
		t.Fatal("not rendered once the books were at hand")
	}
}

func TestARefusedSelectionOfAnInlineFieldIsLeftToGqlgen(t *testing.T) {
	x := newInlineFixture(t)
	x.atHand["s1"], x.atHand["s2"] = true, true
	x.refuse = true
	if got := x.run(t, `{ shelves { id books(n: 1) { id } } }`, nil, testShelves()); got != "" {
		t.Fatalf("rendered %s; want the value back for gqlgen", got)
	}
	if len(x.asked) != 0 {
		t.Errorf("resolved %v under a refused selection", x.asked)
	}
}

func TestAnInlineFieldOnAnotherGoTypeIsLeftToGqlgen(t *testing.T) {
	type otherShelf struct {
		ID    string
		Label string
	}
	x := newInlineFixture(t)
	x.atHand["s1"] = true
	if got := x.run(t, `{ shelf { id books { id } } }`, nil, &otherShelf{ID: "s1"}); got != "" {
		t.Fatalf("rendered %s for a Go type the resolution was not declared for", got)
	}
	if x.prepared != 0 {
		t.Error("prepared a resolution declared for another Go type")
	}
}

func TestInlineArgumentsFollowEachOperationsVariables(t *testing.T) {
	x := newInlineFixture(t)
	x.atHand["s1"], x.atHand["s2"] = true, true
	const q = `query($n: Int) { shelves { books(n: $n) { title } } }`
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{1, `[{"books":[{"title":"alpha"}]},{"books":[]}]`},
		{3, `[{"books":[{"title":"alpha"},{"title":"beta"},{"title":"apex"}]},{"books":[]}]`},
		{1, `[{"books":[{"title":"alpha"}]},{"books":[]}]`},
	} {
		if got := x.run(t, q, map[string]any{"n": tc.n}, testShelves()); got != tc.want {
			t.Errorf("n=%d: got %s, want %s", tc.n, got, tc.want)
		}
	}
	if x.r.shared.Len() != 0 {
		t.Error("a plan whose field arguments take a variable was shared between operations")
	}
	x.r.shared.Purge()
	x.run(t, `{ shelves { books(n: 2) { title } } }`, nil, testShelves())
	x.run(t, `{ shelves { books(n: 2) { title } } }`, nil, testShelves())
	if x.r.shared.Len() == 0 {
		t.Error("a plan whose arguments are literals was not shared")
	}
}

func slicesEqual(a, b []string) bool { return reflect.DeepEqual(a, b) }
