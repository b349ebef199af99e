package plaintree

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/limits"
)

const testSchema = `
type Query { item: Item list: [Item!]! node: Node }
interface Node { id: ID! }
type Item implements Node {
  id: ID!
  name: String!
  note: String
  size: Int!
  ok: Boolean
  tags: [String!]
  owner: Person
  people: [Person!]!
  computed: String!
  method: String!
  kind: Kind!
}
type Person { id: ID! name: String! }
enum Kind { A B }
`

type person struct {
	ID   string
	Name string
}

// base's Method field is shadowed, for gqlgen, by item's Method method.
type base struct{ Method string }

type item struct {
	base
	ID       string
	Name     string
	Note     *string
	Size     int
	OK       *bool
	Tags     []string
	Owner    *person
	People   []person
	Computed string // served by a resolver: never read by the renderer
	Kind     kind
}

func (item) Method() string { return "m" }

type kind string

func (k kind) MarshalGQL(w io.Writer) { io.WriteString(w, strconv.Quote(strings.ToUpper(string(k)))) }

// itemResolver is the shape of gqlgen's generated resolver interfaces.
type itemResolver interface {
	Computed(ctx context.Context, obj *item) (string, error)
}

type resolverRoot interface {
	Item() itemResolver
}

func newTestRenderer(t *testing.T) (*Renderer, *ast.Schema) {
	t.Helper()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: testSchema})
	r := New(schema, reflect.TypeFor[resolverRoot](), []Scalar{
		BindAppend("ID", graphql.MarshalID, func(b []byte, s string) []byte { return AppendString(b, s) }),
		BindAppend("String", graphql.MarshalString, AppendString),
		BindAppend("Int", graphql.MarshalInt, AppendInt),
		Bind("Boolean", graphql.MarshalBoolean),
	})
	return r, schema
}

// field runs the renderer as gqlgen's field middleware would for the
// document's first root field, with value as what its resolver returned.
func field(t *testing.T, r *Renderer, schema *ast.Schema, query string, vars map[string]any, value any, budget int64) (any, *limits.NodeBudget) {
	out, b, _ := fieldCtx(t, r, schema, query, vars, value, budget)
	return out, b
}

// fieldCtx is field, also returning the context the field ran in.
func fieldCtx(t *testing.T, r *Renderer, schema *ast.Schema, query string, vars map[string]any, value any, budget int64) (any, *limits.NodeBudget, context.Context) {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(schema, query)
	if errs != nil {
		t.Fatal(errs)
	}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	ctx, b := limits.WithNodeBudget(ctx, budget)
	ctx = context.WithValue(ctx, operationKey{}, &operation{plans: map[planKey]*valuePlan{}})
	root := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, []string{"Query"})
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: root[0]})
	out, err := r.Field(ctx, func(context.Context) (any, error) { return value, nil })
	if err != nil {
		t.Fatal(err)
	}
	return out, b, ctx
}

func written(t *testing.T, v any) string {
	t.Helper()
	m, ok := v.(*rendered)
	if !ok {
		t.Fatalf("got %T, want a rendered sub-tree", v)
	}
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func fullItem() *item {
	return &item{ID: "7", Name: "a \"b\"\n", Note: nil, Size: -3, OK: ptr(true), Tags: []string{"x", "y"},
		Owner: &person{ID: "1", Name: "Ann"}, People: []person{{ID: "2", Name: "Bo"}}, Kind: "a"}
}

func TestPlainSelectionsAreWrittenAsGqlgenWritesThem(t *testing.T) {
	r, schema := newTestRenderer(t)
	cases := []struct {
		name, query string
		vars        map[string]any
		value       any
		want        string
	}{
		{"ScalarsNullsListsAndObjectsInSelectionOrder",
			`{ item { size id name note ok tags owner { name id } people { id } kind } }`, nil, fullItem(),
			`{"size":-3,"id":"7","name":"a \"b\"\n","note":null,"ok":true,"tags":["x","y"],"owner":{"name":"Ann","id":"1"},"people":[{"id":"2"}],"kind":"A"}`},
		{"AliasesTypenameAndMergedFields",
			`{ item { k: id __typename id owner { id } owner { name } } }`, nil, fullItem(),
			`{"k":"7","__typename":"Item","id":"7","owner":{"id":"1","name":"Ann"}}`},
		{"FragmentsOnTheTypeAndItsInterface",
			`{ item { ...F ... on Node { id } ... on Item { size } } } fragment F on Item { name }`, nil, fullItem(),
			`{"name":"a \"b\"\n","id":"7","size":-3}`},
		{"SkipAndIncludeFollowTheVariables",
			`query($a: Boolean!) { item { id name @include(if: $a) size @skip(if: $a) } }`, map[string]any{"a": false}, fullItem(),
			`{"id":"7","size":-3}`},
		{"NilNullableListAndObjectAreNull",
			`{ item { tags owner { id } ok } }`, nil, &item{}, `{"tags":null,"owner":null,"ok":null}`},
		{"NilNonNullListIsEmpty",
			`{ list { id } }`, nil, []item(nil), `[]`},
		{"AListOfObjects",
			`{ list { id size } }`, nil, []item{{ID: "1", Size: 1}, {ID: "2", Size: 2}}, `[{"id":"1","size":1},{"id":"2","size":2}]`},
		{"AStructValueNotAPointer",
			`{ item { id } }`, nil, item{ID: "9"}, `{"id":"9"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _ := field(t, r, schema, c.query, c.vars, c.value, 0)
			if got := written(t, out); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestWhatIsNotPlainIsLeftToGqlgen(t *testing.T) {
	r, schema := newTestRenderer(t)
	cases := []struct {
		name, query string
		value       any
	}{
		{"AFieldServedByAResolver", `{ item { id computed } }`, fullItem()},
		{"AFieldServedByAMethod", `{ item { id method } }`, fullItem()},
		{"AnAbstractType", `{ node { id } }`, fullItem()},
		{"ANullInANonNullField", `{ list { id owner { id } people { id } } }`, []*item{fullItem(), nil}},
		{"ANilObjectInANonNullList", `{ list { id } }`, []*item{nil}},
		{"ADeferredFragment", `{ item { id ... @defer { name } } }`, fullItem()},
		{"AGoTypeThatIsNotTheSchemasShape", `{ item { id } }`, map[string]any{"ID": "1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, b := field(t, r, schema, c.query, nil, c.value, 0)
			if _, rendered := out.(*rendered); rendered {
				t.Fatalf("rendered %s; want the value back for gqlgen", written(t, out))
			}
			if !reflect.DeepEqual(out, c.value) {
				t.Errorf("got %#v back, want the resolver's value", out)
			}
			if b.Tripped() {
				t.Error("a value left to gqlgen spent the answer budget")
			}
		})
	}
}

func TestRenderedFieldsAreSpentOnlyWhenTheyAllFit(t *testing.T) {
	r, schema := newTestRenderer(t)
	const q = `{ list { id owner { id } } }`
	value := []item{{ID: "1", Owner: &person{ID: "2"}}, {ID: "3"}}
	// Fields: 2 × (id, owner) + owner's id = 5.
	out, _ := field(t, r, schema, q, nil, value, 5)
	if got := written(t, out); got != `[{"id":"1","owner":{"id":"2"}},{"id":"3","owner":null}]` {
		t.Fatalf("within the budget: %s", got)
	}
	out, b, ctx := fieldCtx(t, r, schema, q, nil, value, 4)
	if _, rendered := out.(*rendered); rendered {
		t.Fatal("rendered past the budget; gqlgen must execute it and trip the budget where it does")
	}
	if b.Tripped() || !limits.SpendN(ctx, 4) || limits.SpendN(ctx, 1) {
		t.Error("a refused sub-tree spent part of the budget")
	}
}

func TestAResolverErrorPassesThrough(t *testing.T) {
	r, schema := newTestRenderer(t)
	doc, _ := gqlparser.LoadQuery(schema, `{ item { id } }`)
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	root := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, []string{"Query"})
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: root[0]})
	boom := errors.New("boom")
	if _, err := r.Field(ctx, func(context.Context) (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the resolver's", err)
	}
}

func TestAppendStringWritesWhatMarshalStringWrites(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\t\r\n\x00\x01\x1f\x7f", "é中😀", "\xff\xfe invalid \xc3", "</script>&"} {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\n\x00\xff")
	f.Fuzz(func(t *testing.T, s string) { checkAppendString(t, s) })
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&want)
	if got := AppendString([]byte("x"), s); string(got) != "x"+want.String() {
		t.Errorf("AppendString(%q) = %q, want %q", s, got[1:], want.String())
	}
}

func TestAppendIntAndBooleanWriteWhatGqlgensMarshalersWrite(t *testing.T) {
	for _, i := range []int{0, 1, -1, 42, math.MaxInt, math.MinInt} {
		var want bytes.Buffer
		graphql.MarshalInt(i).MarshalGQL(&want)
		if got := AppendInt(nil, i); string(got) != want.String() {
			t.Errorf("AppendInt(%d) = %s, want %s", i, got, want.String())
		}
	}
	for _, v := range []bool{true, false} {
		var want bytes.Buffer
		graphql.MarshalBoolean(v).MarshalGQL(&want)
		if got := AppendBoolean(nil, v); string(got) != want.String() {
			t.Errorf("AppendBoolean(%v) = %s, want %s", v, got, want.String())
		}
	}
}

func TestAnEnumPastTheMemoIsStillMarshaled(t *testing.T) {
	calls := 0
	s := BindEnum("Kind", func(k kind) graphql.Marshaler {
		calls++
		return graphql.MarshalString("K-" + string(k))
	})
	for round := range 2 {
		for i := range maxMemoized + 10 {
			v := kind(strconv.Itoa(i))
			var b bytes.Buffer
			if null := s.write(unsafe.Pointer(&v), &b); null || b.String() != `"K-`+strconv.Itoa(i)+`"` {
				t.Fatalf("round %d value %d: wrote %s (null %v)", round, i, b.String(), null)
			}
		}
	}
	// The first 64 values are marshaled once; the 10 past them each time.
	if want := maxMemoized + 10 + 10; calls != want {
		t.Errorf("marshal called %d times, want %d", calls, want)
	}
}

// BenchmarkRenderList writes 1,000 objects of 14 fields (one nested
// object, one list of objects, the rest scalars).
func BenchmarkRenderList(b *testing.B) {
	r, schema := newTestRenderer(&testing.T{})
	items := make([]item, 1000)
	for i := range items {
		items[i] = *fullItem()
	}
	const q = `{ list { id name note size ok tags owner { id name } people { id name } kind } }`
	t := &testing.T{}
	b.ReportAllocs()
	for b.Loop() {
		out, _ := field(t, r, schema, q, nil, items, 0)
		if _, ok := out.(*rendered); !ok {
			b.Fatal("not rendered")
		}
	}
}

// operationRun runs doc as one operation through the renderer's operation
// middleware: each call of the returned function is one answer (a
// subscription event), rendering value for the first root field with vars
// and writing it as gqlgen would, into a buffer of its own.
func operationRun(t *testing.T, r *Renderer, doc *ast.QueryDocument, vars map[string]any) func(value any) string {
	t.Helper()
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
	var value any
	var inner context.Context // what gqlgen's executor calls the response handler with
	h := r.Operations(graphql.WithOperationContext(context.Background(), oc), func(ctx context.Context) graphql.ResponseHandler {
		inner = ctx
		return func(ctx context.Context) *graphql.Response {
			root := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, []string{"Query"})
			fctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: root[0]})
			out, err := r.Field(fctx, func(context.Context) (any, error) { return value, nil })
			if err != nil {
				t.Fatal(err)
			}
			m, ok := out.(graphql.Marshaler)
			if !ok {
				t.Fatalf("got %T, want a rendered sub-tree", out)
			}
			var b bytes.Buffer
			m.MarshalGQL(&b)
			return &graphql.Response{Data: b.Bytes()}
		}
	})
	return func(v any) string {
		value = v
		return string(h(inner).Data)
	}
}

func TestAPlanIsSharedOnlyWhenItsSelectionTakesNoVariable(t *testing.T) {
	r, schema := newTestRenderer(t)
	cases := []struct {
		name, query string
		shared      bool
	}{
		{"no directive", `{ item { id name } }`, true},
		{"a literal @include", `{ item { id name @include(if: false) } }`, true},
		{"@include on a variable", `query($b: Boolean!) { item { id name @include(if: $b) } }`, false},
		{"@skip on a variable in a fragment", `query($b: Boolean!) { item { id ...F } } fragment F on Item { name @skip(if: $b) }`, false},
		{"@include on a variable on an inline fragment, deeper", `query($b: Boolean!) { item { id owner { ... @include(if: $b) { name } } } }`, false},
		{"a field selected twice", `{ item { id } item { name } }`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.shared.Purge()
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if errs != nil {
				t.Fatal(errs)
			}
			operationRun(t, r, doc, map[string]any{"b": true})(fullItem())
			if got := r.shared.Len() > 0; got != tc.shared {
				t.Fatalf("shared = %v, want %v", got, tc.shared)
			}
		})
	}
}

func TestOperationsOfOneDocumentAnswerByTheirOwnVariables(t *testing.T) {
	r, schema := newTestRenderer(t)
	doc, errs := gqlparser.LoadQuery(schema, `query($b: Boolean!) { item { id ...F owner { name } } } fragment F on Item { name @include(if: $b) }`)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		b    bool
		want string
	}{
		{true, `{"id":"7","name":"a \"b\"\n","owner":{"name":"Ann"}}`},
		{false, `{"id":"7","owner":{"name":"Ann"}}`},
		{true, `{"id":"7","name":"a \"b\"\n","owner":{"name":"Ann"}}`},
	} {
		if got := operationRun(t, r, doc, map[string]any{"b": tc.b})(fullItem()); got != tc.want {
			t.Errorf("b=%v: got %s, want %s", tc.b, got, tc.want)
		}
	}
	// The field's selection merged from three, two of them on variables:
	// as long as each other, from the same first field.
	merged, errs := gqlparser.LoadQuery(schema, `query($a: Boolean!, $b: Boolean!) { item { id } item @include(if: $a) { name } item @include(if: $b) { size } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		a, b bool
		want string
	}{
		{true, false, `{"id":"7","name":"a \"b\"\n"}`},
		{false, true, `{"id":"7","size":-3}`},
		{true, false, `{"id":"7","name":"a \"b\"\n"}`},
	} {
		if got := operationRun(t, r, merged, map[string]any{"a": tc.a, "b": tc.b})(fullItem()); got != tc.want {
			t.Errorf("merged, a=%v b=%v: got %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEachAnswerOfAnOperationKeepsItsOwnBytes(t *testing.T) {
	r, schema := newTestRenderer(t)
	doc, errs := gqlparser.LoadQuery(schema, `{ item { id name tags } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	event := operationRun(t, r, doc, nil)
	other := operationRun(t, r, doc, nil)
	for i := range 50 {
		// Answers large enough to take arena chunks, so that released
		// chunks are filled again by the next answer and by the other
		// operation.
		tags := make([]string, 200+i)
		for j := range tags {
			tags[j] = strconv.Itoa(i*1000 + j)
		}
		it := &item{ID: strconv.Itoa(i), Name: strings.Repeat("n", i), Tags: tags}
		want := `{"id":"` + it.ID + `","name":"` + it.Name + `","tags":["` + strings.Join(tags, `","`) + `"]}`
		if got := event(it); got != want {
			t.Fatalf("event %d: got %.80s…, want %.80s…", i, got, want)
		}
		if got := other(&item{ID: "x", Name: "y"}); got != `{"id":"x","name":"y","tags":null}` {
			t.Fatalf("other operation, event %d: got %s", i, got)
		}
	}
}

func TestASubTreeTooLargeForTheArenaIsKeptApart(t *testing.T) {
	r, schema := newTestRenderer(t)
	doc, errs := gqlparser.LoadQuery(schema, `{ item { name } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	name := strings.Repeat("z", chunkSize)
	if got, want := operationRun(t, r, doc, nil)(&item{Name: name}), `{"name":"`+name+`"}`; got != want {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
}

// TestWhatAnAnswerDidNotWriteIsNotCarriedToTheNext: a sub-tree rendered
// but not written (gqlgen dropped it under a propagated null) does not stay
// pending into the operation's next answer, where it would grow gqlgen's
// buffer for bytes that never come.
func TestWhatAnAnswerDidNotWriteIsNotCarriedToTheNext(t *testing.T) {
	r, schema := newTestRenderer(t)
	doc, errs := gqlparser.LoadQuery(schema, `{ item { id name } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
	var op *operation
	h := r.Operations(graphql.WithOperationContext(context.Background(), oc), func(ctx context.Context) graphql.ResponseHandler {
		op, _ = ctx.Value(operationKey{}).(*operation)
		return func(ctx context.Context) *graphql.Response {
			root := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, []string{"Query"})
			fctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: root[0]})
			for range 2 { // two renders, neither written
				if _, err := r.Field(fctx, func(context.Context) (any, error) { return fullItem(), nil }); err != nil {
					t.Fatal(err)
				}
			}
			return &graphql.Response{Data: []byte(`{"item":null}`)}
		}
	})
	if op == nil {
		t.Fatal("the operation middleware gave the operation no state")
	}
	for event := range 3 {
		h(graphql.WithOperationContext(context.WithValue(context.Background(), operationKey{}, op), oc))
		if n := op.pending.Load(); n != 0 {
			t.Fatalf("after answer %d: %d bytes still pending", event, n)
		}
	}
}

// TestEachLargeSubTreeKeepsItsOwnBytes: sub-trees too large for the arena
// stay in the buffers they were rendered in until their answer is written.
// Two of them rendered for one answer before either is written (as gqlgen
// renders fields, then writes the answer) each keep their bytes, and the
// buffers handed back serve the next answers without one answer's bytes
// showing in another's.
func TestEachLargeSubTreeKeepsItsOwnBytes(t *testing.T) {
	r, schema := newTestRenderer(t)
	doc, errs := gqlparser.LoadQuery(schema, `{ item { id tags } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
	large := func(id string, n int) (*item, string) {
		tags := make([]string, n)
		for j := range tags {
			tags[j] = id + strconv.Itoa(j)
		}
		return &item{ID: id, Tags: tags}, `{"id":"` + id + `","tags":["` + strings.Join(tags, `","`) + `"]}`
	}
	var inner context.Context
	var values [2]*item
	h := r.Operations(graphql.WithOperationContext(context.Background(), oc), func(ctx context.Context) graphql.ResponseHandler {
		inner = ctx
		return func(ctx context.Context) *graphql.Response {
			root := graphql.CollectFields(oc, doc.Operations[0].SelectionSet, []string{"Query"})
			fctx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query", Field: root[0]})
			var outs [2]any
			for k, v := range values { // both rendered, then both written
				out, err := r.Field(fctx, func(context.Context) (any, error) { return v, nil })
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = out
			}
			var b bytes.Buffer
			for k, out := range outs {
				if k > 0 {
					b.WriteByte('|')
				}
				out.(graphql.Marshaler).MarshalGQL(&b)
			}
			return &graphql.Response{Data: b.Bytes()}
		}
	})
	for i := range 10 {
		a, wantA := large("a"+strconv.Itoa(i)+"-", 3000+i*50)
		b, wantB := large("b"+strconv.Itoa(i)+"-", 2500+i*70)
		if len(wantA) <= chunkSize/4 || len(wantB) <= chunkSize/4 {
			t.Fatal("a sub-tree fits the arena")
		}
		values = [2]*item{a, b}
		if got, want := string(h(inner).Data), wantA+"|"+wantB; got != want {
			t.Fatalf("answer %d: the two sub-trees' bytes differ from theirs (%d bytes, want %d)", i, len(got), len(want))
		}
	}
}
