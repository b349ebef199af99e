package limits

import (
	"math"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/cursor"
)

// Rule says what resolving one field costs in Procore calls, for each
// object it is resolved on, and how many objects it yields (the multiplier
// of everything selected below it).
type Rule struct {
	// Connection marks a Relay connection: it reads `first` (or its default)
	// and `after`, and yields `first` objects to its nodes and edges.
	Connection bool
	// Page, when > 0, makes the field a paginated Procore list read Page
	// items a call: ceil(items/Page) calls, where items is offset + first for
	// a connection and Items otherwise.
	Page int
	// Calls is a fixed number of calls a resolution (when Page is 0):
	// detail fetches, unpaginated lists.
	Calls int
	// Lists is how many Procore lists one resolution reads (commitments
	// merge subcontracts and purchase orders: 2). Default 1.
	Lists int
	// Per names the ancestor type whose count multiplies the calls instead
	// of the parent's, for lists the loaders fetch once per ancestor
	// (invoices of every commitment come from one requisitions list per
	// project: Per "Project"). Empty: the parent's count.
	Per string
	// Batch, when > 0, means the parents are looked up together, Batch a
	// call (dataloader batches, filters[id][]): ceil(parents/Batch) calls.
	Batch int
	// ProjectSearch multiplies the calls by the company's project count:
	// lookups of items known only by id ask every project.
	ProjectSearch bool
	// SearchWithout names an argument (projectId) without whose value the
	// field looks its item up in every project, as ProjectSearch does; with
	// it, Calls alone.
	SearchWithout string
	// WholeWith names the arguments that, when any is given a value, make a
	// connection read the whole Procore list whatever `first` and `after`
	// are (Procore has no such filter, so the gateway applies it to the
	// whole list): WholeItems items are assumed then, unless offset + first
	// is more.
	WholeWith  []string
	WholeItems int
	// Items is how many objects a list field without `first` yields (0: the
	// field yields one object, or for a connection `first`).
	Items int
}

// Options bound documents. Zero values mean the defaults.
type Options struct {
	// MaxDepth bounds field nesting (introspection excluded). Default 12.
	MaxDepth int
	// MaxAliases bounds the fields selected under an alias. Default 30.
	MaxAliases int
	// MaxRootFields bounds the fields of the operation's root. Default 20.
	MaxRootFields int
	// MaxCost bounds the estimated Procore calls. Default 1000.
	MaxCost int
	// Projects is the company's project count assumed by lookups that ask
	// every project (ProjectSearch). Default 50.
	Projects int
	// ListItems is the size assumed of a list field with no rule (people on
	// an item, line items) for what is selected below it. Default 20.
	ListItems int
	// MaxListItems caps items read from one list (offset + first): a list
	// longer than this is not served. Default cursor.MaxOffset.
	MaxListItems int
}

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = 12
	}
	if o.MaxAliases <= 0 {
		o.MaxAliases = 30
	}
	if o.MaxRootFields <= 0 {
		o.MaxRootFields = 20
	}
	if o.MaxCost <= 0 {
		o.MaxCost = 1000
	}
	if o.Projects <= 0 {
		o.Projects = 50
	}
	if o.ListItems <= 0 {
		o.ListItems = 20
	}
	if o.MaxListItems <= 0 {
		o.MaxListItems = cursor.MaxOffset
	}
	return o
}

// Analyzer measures operations against Options and a table of Rules keyed
// "Type.field". It is safe for concurrent use.
type Analyzer struct {
	o     Options
	rules map[string]Rule
}

// NewAnalyzer returns an Analyzer.
func NewAnalyzer(o Options, rules map[string]Rule) *Analyzer {
	return &Analyzer{o: o.withDefaults(), rules: rules}
}

// Options are the analyzer's limits, defaults applied.
func (a *Analyzer) Options() Options { return a.o }

// Result is what an operation asks for.
type Result struct {
	Depth, Aliases, RootFields int
	// Cost is the estimated Procore calls (an upper bound under the rules:
	// caching and batching only lower the real count).
	Cost int
}

// maxMult keeps multiplicities finite; any cost near it is refused anyway.
const maxMult = 1e12

// Analyze measures op (validated, with doc's fragments) under vars.
func (a *Analyzer) Analyze(op *ast.OperationDefinition, doc *ast.QueryDocument, vars map[string]any) Result {
	w := walker{a: a, doc: doc, vars: vars}
	var res Result
	roots := w.fields(op.SelectionSet, 0)
	res.RootFields = len(roots)
	cost := 0.0
	for _, f := range roots {
		cost += w.field(f, 1, map[string]float64{}, 1)
	}
	res.Depth, res.Aliases = w.depth, w.aliases
	res.Cost = int(math.Min(math.Ceil(cost), math.MaxInt32))
	return res
}

type walker struct {
	a              *Analyzer
	doc            *ast.QueryDocument
	vars           map[string]any
	depth, aliases int
}

// fields flattens a selection set through its fragments (validation has
// refused fragment cycles; depth guards all the same).
func (w *walker) fields(set ast.SelectionSet, guard int) []*ast.Field {
	var out []*ast.Field
	if guard > 32 {
		return out
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out = append(out, s)
		case *ast.InlineFragment:
			out = append(out, w.fields(s.SelectionSet, guard+1)...)
		case *ast.FragmentSpread:
			def := s.Definition
			if def == nil && w.doc != nil {
				def = w.doc.Fragments.ForName(s.Name)
			}
			if def != nil {
				out = append(out, w.fields(def.SelectionSet, guard+1)...)
			}
		}
	}
	return out
}

// field returns the calls of f resolved on mult objects, and of everything
// below it. per holds the multiplicity of each ancestor type.
func (w *walker) field(f *ast.Field, mult float64, per map[string]float64, depth int) float64 {
	if f.Name == "__schema" || f.Name == "__type" || f.Name == "__typename" {
		return 0 // the schema: no Procore call, bounded size
	}
	if depth > w.depth {
		w.depth = depth
	}
	if f.Alias != "" && f.Alias != f.Name {
		w.aliases++
	}
	if depth > w.a.o.MaxDepth+4 {
		return 0 // refused for its depth; no need to go on
	}
	if f.Name == "_entities" {
		return w.entities(f, per, depth)
	}
	parent := ""
	if f.ObjectDefinition != nil {
		parent = f.ObjectDefinition.Name
	}
	child := ""
	isList := false
	if f.Definition != nil && f.Definition.Type != nil {
		child = f.Definition.Type.Name()
		isList = f.Definition.Type.Elem != nil
	}
	rule, ok := w.a.rules[parent+"."+f.Name]
	cost := 0.0
	childMult := mult
	if ok {
		cost, childMult = w.cost(f, rule, mult, per)
	} else if isList && !(len(parent) > 10 && parent[len(parent)-10:] == "Connection") {
		childMult = mult * float64(w.a.o.ListItems)
	}
	childMult = math.Min(childMult, maxMult)
	if len(f.SelectionSet) > 0 {
		next := per
		if child != "" {
			next = make(map[string]float64, len(per)+1)
			for k, v := range per {
				next[k] = v
			}
			next[child] = childMult
		}
		for _, sub := range w.fields(f.SelectionSet, 0) {
			cost += w.field(sub, childMult, next, depth+1)
			if cost > maxMult {
				return maxMult
			}
		}
	}
	return cost
}

// cost applies a rule to f on mult objects: its calls, and the objects it
// yields.
func (w *walker) cost(f *ast.Field, r Rule, mult float64, per map[string]float64) (float64, float64) {
	base := mult
	if r.Per != "" {
		if m, ok := per[r.Per]; ok {
			base = math.Min(base, m)
		}
	}
	if r.Batch > 0 {
		base = math.Ceil(base / float64(r.Batch))
	}
	calls := float64(r.Calls)
	yield := mult
	if r.Connection {
		first := w.intArg(f, "first")
		offset, beyond := w.afterArg(f)
		items := offset + first
		if beyond {
			items = 1
		}
		if w.argGiven(f, "orderBy") {
			items += 2 // a keyset page in updated_at order reads the cursor's item and one more
		}
		for _, name := range r.WholeWith {
			if w.argGiven(f, name) {
				items = max(items, r.WholeItems)
				break
			}
		}
		items = min(items, w.a.o.MaxListItems)
		if r.Page > 0 {
			calls = math.Max(1, math.Ceil(float64(items)/float64(r.Page)))
		}
		yield = mult * float64(first)
	} else {
		if r.Page > 0 {
			calls = math.Max(1, math.Ceil(float64(r.Items)/float64(r.Page)))
		}
		if r.Items > 0 {
			yield = mult * float64(r.Items)
		}
	}
	if r.Lists > 1 {
		calls *= float64(r.Lists)
	}
	if r.ProjectSearch || (r.SearchWithout != "" && !w.argGiven(f, r.SearchWithout)) {
		calls *= float64(w.a.o.Projects)
	}
	return base * calls, yield
}

// argGiven reports whether f's argument name has a non-null value (after
// variables).
func (w *walker) argGiven(f *ast.Field, name string) bool {
	a := f.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return false
	}
	v, err := a.Value.Value(w.vars)
	return err == nil && v != nil
}

// intArg is an Int argument's value, else its schema default, else 0.
func (w *walker) intArg(f *ast.Field, name string) int {
	if a := f.Arguments.ForName(name); a != nil && a.Value != nil {
		v, err := a.Value.Value(w.vars)
		if err == nil {
			if n, ok := toInt(v); ok {
				return max(n, 0)
			}
		}
	}
	if f.Definition != nil {
		if d := f.Definition.Arguments.ForName(name); d != nil && d.DefaultValue != nil {
			if v, err := d.DefaultValue.Value(nil); err == nil {
				if n, ok := toInt(v); ok {
					return max(n, 0)
				}
			}
		}
	}
	return 0
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		return int(min(max(n, -1), math.MaxInt32)), true
	case int:
		return n, true
	case float64:
		if math.IsNaN(n) {
			return 0, false
		}
		return int(math.Min(math.Max(n, -1), math.MaxInt32)), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// afterArg is the offset an `after` cursor asks for (the position after
// it), and whether it is past the end of any list. A keyset cursor in id
// order reads the list from its start up to its position hint; one in
// updated_at order starts at its key (Procore filters by updated_at), so it
// costs as a first page.
func (w *walker) afterArg(f *ast.Field) (int, bool) {
	a := f.Arguments.ForName("after")
	if a == nil || a.Value == nil {
		return 0, false
	}
	v, err := a.Value.Value(w.vars)
	s, ok := v.(string)
	if err != nil || !ok || s == "" {
		return 0, false
	}
	c, err := cursor.Parse(s)
	switch {
	case err != nil:
		return 0, false // refused by the resolver as BAD_USER_INPUT
	case c.Key == nil:
		return c.Offset + 1, c.Beyond
	case c.Key.Order == cursor.ByID:
		return c.Key.Pos + 1, false
	default:
		return 0, false
	}
}

// entities costs federation's _entities: each representation type's
// lookups, in batches, under the selection for that type.
func (w *walker) entities(f *ast.Field, per map[string]float64, depth int) float64 {
	counts := map[string]float64{}
	if a := f.Arguments.ForName("representations"); a != nil && a.Value != nil {
		if v, err := a.Value.Value(w.vars); err == nil {
			if list, ok := v.([]any); ok {
				for _, r := range list {
					if m, ok := r.(map[string]any); ok {
						if t, ok := m["__typename"].(string); ok {
							counts[t]++
						}
					}
				}
			}
		}
	}
	cost := 0.0
	for t, n := range counts {
		if r, ok := w.a.rules["_Entity."+t]; ok {
			c, _ := w.cost(f, r, n, per)
			cost += c
		}
	}
	for _, sel := range f.SelectionSet {
		frag, ok := sel.(*ast.InlineFragment)
		var set ast.SelectionSet
		var typ string
		switch {
		case ok:
			set, typ = frag.SelectionSet, frag.TypeCondition
		default:
			if sp, ok := sel.(*ast.FragmentSpread); ok {
				def := sp.Definition
				if def == nil && w.doc != nil {
					def = w.doc.Fragments.ForName(sp.Name)
				}
				if def != nil {
					set, typ = def.SelectionSet, def.TypeCondition
				}
			}
		}
		n := counts[typ]
		if n == 0 {
			continue
		}
		next := map[string]float64{typ: n}
		for _, sub := range w.fields(set, 0) {
			cost += w.field(sub, n, next, depth+1)
		}
	}
	return math.Min(cost, maxMult)
}
