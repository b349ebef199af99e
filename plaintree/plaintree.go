// Package plaintree writes the answer for a field whose selected sub-tree is
// plain data straight into bytes, instead of through gqlgen's execution of
// every field.
//
// gqlgen executes each field of an answer on its own: a FieldContext, a
// context, the field middleware chain, a boxed value, a Marshaler, and a
// goroutine for each element of a list of objects; about 2 µs a field. A
// dashboard answer has tens of thousands of fields, nearly all of them
// struct fields of values a resolver has already loaded (an RFI's number,
// subject, ball in court). For those, none of that work can change the
// answer.
//
// A field is plain when gqlgen binds it to a struct field of the Go value
// (not to a resolver, not to a method), it takes no arguments, and its type
// is a scalar or enum with a known marshaler, an object type whose selected
// fields are all plain, or a list of those. Field middleware passes each
// resolved value whose whole selection is plain to the renderer, which writes
// it as gqlgen would: the same keys in the same order (gqlgen's own
// CollectFields), each scalar by the marshal function gqlgen's generated
// code calls for it, null where gqlgen writes null. The field's Marshaler is
// then those bytes, and gqlgen executes nothing below it.
//
// A field served by a resolver or a method is plain too when it is declared
// an Inline: the renderer resolves it while it renders its object, with
// what the resolver would return, as long as that needs no wait (the value
// is already loaded) and raises no error. That renders a list whose
// elements each have such a field (a dashboard's commitments, each with its
// vendor and invoices) whole, instead of gqlgen executing it element by
// element and field by field.
//
// Whenever the renderer would have to do anything else, it gives the value
// back and gqlgen executes the field as always: a selection that is not
// plain (a resolver below, an abstract type, @defer, an unknown directive),
// a null where the schema forbids one (gqlgen's error and null propagation
// are its own), a scalar marshaler that answers null for a non-null field,
// an inline field that declines, or an answer budget (limits.SpendN)
// without room for the sub-tree's fields.
package plaintree

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/limits"
)

// Renderer renders plain sub-trees for one schema. It is safe for
// concurrent use; New builds it once per executable schema.
type Renderer struct {
	schema       *ast.Schema
	resolved     map[string]map[string]bool // GraphQL type → its fields served by a resolver
	scalars      map[scalarKey]Scalar
	inline       map[inlineKey]Inline
	implementors map[string][]string
	bindings     sync.Map  // bindingKey → binding
	buffers      sync.Pool // *bytes.Buffer, reused so renders do not grow a buffer each
	chunks       sync.Pool // *[]byte of chunkSize: operations' arenas (see operation)
	// shared holds the plans of selections that do not depend on their
	// operation's variables, for the operations of the same parsed
	// document (gqlgen caches documents) that follow.
	shared *lru.Cache[planKey, *valuePlan]
}

// sharedPlans bounds the plans kept across operations. Each keeps its
// document (bounded in size before parsing) in memory while it is kept.
const sharedPlans = 1024

// maxPooledBuffer bounds the buffers kept for reuse: one huge answer must
// not stay in memory for the next small one.
const maxPooledBuffer = 1 << 20

// chunkSize is the size of an operation's arena chunks. A rendered
// sub-tree larger than a quarter of it gets memory of its own instead.
const chunkSize = 64 << 10

type inlineKey struct{ object, field string }

type scalarKey struct {
	name string
	typ  reflect.Type
}

// New returns a renderer for schema, whose resolvers are the methods of
// resolverRoot (gqlgen's generated ResolverRoot interface: one method per
// type returning the interface of that type's resolver fields), and whose
// scalars and enums gqlgen marshals as scalars say. Go types that implement
// graphql.Marshaler themselves (enums gqlgen generates) need no binding.
// The fields of inline, served by resolvers or methods, are resolved by
// the renderer when they can be (see Inline).
func New(schema *ast.Schema, resolverRoot reflect.Type, scalars []Scalar, inline ...Inline) *Renderer {
	r := &Renderer{
		schema:       schema,
		resolved:     map[string]map[string]bool{},
		scalars:      make(map[scalarKey]Scalar, len(scalars)),
		inline:       make(map[inlineKey]Inline, len(inline)),
		implementors: map[string][]string{},
	}
	for _, in := range inline {
		r.inline[inlineKey{in.object, in.field}] = in
	}
	r.shared, _ = lru.New[planKey, *valuePlan](sharedPlans) // errs only on a size < 1
	for _, s := range scalars {
		r.scalars[scalarKey{s.name, s.typ}] = s
	}
	for name, def := range schema.Types {
		if def.Kind != ast.Object {
			continue
		}
		impl := []string{name}
		for _, i := range schema.GetImplements(def) {
			impl = append(impl, i.Name)
		}
		r.implementors[name] = impl
	}
	if resolverRoot != nil && resolverRoot.Kind() == reflect.Interface {
		for i := range resolverRoot.NumMethod() {
			m := resolverRoot.Method(i)
			if m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Interface {
				continue
			}
			def := r.typeNamed(m.Name)
			if def == nil {
				continue
			}
			fields := map[string]bool{}
			out := m.Type.Out(0)
			for j := range out.NumMethod() {
				fields[normalize(out.Method(j).Name)] = true
			}
			r.resolved[def.Name] = fields
		}
	}
	return r
}

// typeNamed finds the schema's type that gqlgen names goName in Go.
func (r *Renderer) typeNamed(goName string) *ast.Definition {
	if d := r.schema.Types[goName]; d != nil {
		return d
	}
	for name, d := range r.schema.Types {
		if normalize(name) == normalize(goName) {
			return d
		}
	}
	return nil
}

// normalize is gqlgen's binder's comparison of names: case and underscores
// do not count.
func normalize(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}

// Field is the field middleware. Install it after every middleware that
// must see each field: the fields it renders are not executed, so no
// middleware sees them; their answer budget is spent here, in one go.
func (r *Renderer) Field(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil || res == nil {
		return res, err
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(fc.Field.Selections) == 0 || fc.Field.Definition == nil {
		return res, nil
	}
	if out := r.renderField(ctx, fc, res); out != nil {
		return out, nil
	}
	return res, nil
}

// renderField renders res, the value of the field of fc, or returns nil
// when gqlgen must execute it. A panic of reflection on an unforeseen type
// is that case too, never a failed request.
func (r *Renderer) renderField(ctx context.Context, fc *graphql.FieldContext, res any) (out *rendered) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	oc := graphql.GetOperationContext(ctx)
	if oc == nil {
		return nil
	}
	v := reflect.ValueOf(res)
	p := r.planFor(ctx, oc, fc, v.Type())
	if p == nil {
		return nil
	}
	op, _ := ctx.Value(operationKey{}).(*operation)
	out = r.render(ctx, op, p, v)
	if out == nil || !limits.SpendN(ctx, out.fields) {
		return nil
	}
	if op != nil {
		op.pending.Add(int64(len(out.b)))
	}
	return out
}

// rendered is a rendered sub-tree: gqlgen writes it as it is.
type rendered struct {
	b      []byte
	fields int64
	op     *operation // nil outside an operation
}

// MarshalGQL writes the sub-tree. gqlgen writes an answer into one
// bytes.Buffer, which would otherwise double its way up to the answer's
// size; the first sub-tree that does not fit grows it once by what the
// operation's rendered sub-trees still to be written need, and an eighth
// more for what gqlgen writes around them.
func (x *rendered) MarshalGQL(w io.Writer) {
	if x.op != nil {
		rest := x.op.pending.Add(-int64(len(x.b)))
		if buf, ok := w.(*bytes.Buffer); ok && buf.Available() < len(x.b) && rest >= 0 {
			need := int64(len(x.b)) + rest
			buf.Grow(int(min(need+need/8, maxGrow)))
		}
	}
	w.Write(x.b)
}

// maxGrow bounds one growth of gqlgen's answer buffer ahead of what is
// written; a larger answer grows on as bytes.Buffer grows.
const maxGrow = 8 << 20

// render writes v by plan p; nil means gqlgen must execute it instead.
// Within an operation the bytes are kept in its arena (released when its
// answer is written); outside one, in memory of their own.
func (r *Renderer) render(ctx context.Context, op *operation, p *valuePlan, v reflect.Value) *rendered {
	// The writer reads values through their addresses, at the offsets the
	// plan took from reflect: a pointer is read from a variable holding
	// it, anything else from a copy (slices and structs returned by value
	// are rare).
	var at unsafe.Pointer
	if v.Kind() == reflect.Pointer {
		ptr := v.UnsafePointer()
		at = unsafe.Pointer(&ptr)
	} else {
		c := reflect.New(v.Type())
		c.Elem().Set(v)
		at = c.UnsafePointer()
	}
	b, _ := r.buffers.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	handed := false
	defer func() {
		if !handed {
			r.putBuffer(b)
		}
	}()
	w := writer{ctx: ctx, b: b}
	if !w.value(p, at) {
		return nil
	}
	if kept := op.keep(r, b.Bytes()); kept != nil {
		return &rendered{b: kept, fields: w.fields, op: op}
	}
	if op != nil {
		// Too large for the arena: the operation keeps the buffer itself
		// until its answer is written, instead of a copy.
		handed = true
		op.hold(b)
		return &rendered{b: b.Bytes(), fields: w.fields, op: op}
	}
	return &rendered{b: bytes.Clone(b.Bytes()), fields: w.fields}
}

// putBuffer gives b back to the pool unless it grew too large to keep.
func (r *Renderer) putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		b.Reset()
		r.buffers.Put(b)
	}
}

type writer struct {
	ctx    context.Context // the request's, for inline resolutions
	b      *bytes.Buffer
	fields int64
}

var null = []byte("null")

// value writes the value at address at by plan p.
func (w *writer) value(p *valuePlan, at unsafe.Pointer) bool {
	if p.goPtr {
		at = *(*unsafe.Pointer)(at)
		if at == nil {
			if p.nonNull {
				return false
			}
			w.b.Write(null)
			return true
		}
	}
	switch {
	case p.scalar != nil:
		if p.scalar.write(at, w.b) {
			if p.nonNull {
				return false
			}
			w.b.Write(null)
		}
		return true
	case p.object != nil:
		w.b.WriteByte('{')
		for i := range p.object.fields {
			f := &p.object.fields[i]
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.Write(f.key)
			if f.typename != nil {
				w.b.Write(f.typename)
				continue
			}
			w.fields++
			if f.inline != nil {
				if !f.inline(w.ctx, at, w, f.value) {
					return false
				}
				continue
			}
			if !w.value(f.value, unsafe.Add(at, f.offset)) {
				return false
			}
		}
		w.b.WriteByte('}')
		return true
	default: // list: a slice header, whatever its element type
		s := *(*[]byte)(at)
		data := unsafe.Pointer(unsafe.SliceData(s))
		if data == nil && !p.nonNull {
			w.b.Write(null)
			return true
		}
		w.b.WriteByte('[')
		for i := range len(s) {
			if i > 0 {
				w.b.WriteByte(',')
			}
			if !w.value(p.elem, unsafe.Add(data, uintptr(i)*p.elemSize)) {
				return false
			}
		}
		w.b.WriteByte(']')
		return true
	}
}

// valuePlan says how to write one value: a scalar, an object or a list.
type valuePlan struct {
	nonNull bool
	goPtr   bool // the Go value is a pointer to what is written
	scalar  *Scalar
	object  *objectPlan
	elem    *valuePlan
	// elemSize is a list's Go element size.
	elemSize uintptr
}

type objectPlan struct {
	fields []fieldPlan
}

type fieldPlan struct {
	key      []byte   // `"alias":`
	typename []byte   // set for __typename: the type's name, quoted
	offset   uintptr  // of the Go struct field in its (outermost) struct
	inline   inlineFn // set for a field resolved in line: writes its value
	value    *valuePlan
}

type planKey struct {
	sel    *ast.Selection
	n      int
	object string
	field  string
	typ    reflect.Type
}

type operationKey struct{}

// operation is one operation's state.
//
// Its plans depend on its variables (@skip, @include), so they are not
// shared between operations. A nil plan records a selection that is not
// plain.
//
// Its arena holds the bytes of its rendered sub-trees: chunks from the
// renderer's pool, filled one after the other, and for a sub-tree too large
// for a chunk the render buffer it was written in, all handed back once the
// operation's answer is written (gqlgen writes rendered sub-trees only
// while it produces an answer). Until then the arena holds what the answer
// holds, so it is bounded as answers are.
type operation struct {
	mu      sync.Mutex
	plans   map[planKey]*valuePlan
	chunks  []*[]byte
	held    []*bytes.Buffer // render buffers holding sub-trees too large for a chunk
	free    []byte          // the unused rest of the last chunk
	pending atomic.Int64    // bytes rendered and not yet written
}

// keep copies b into the arena and returns the copy, or nil when the
// operation cannot hold it (no operation, or b too large for a chunk).
func (op *operation) keep(r *Renderer, b []byte) []byte {
	if op == nil || len(b) > chunkSize/4 {
		return nil
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if len(op.free) < len(b) {
		c, _ := r.chunks.Get().(*[]byte)
		if c == nil {
			c = new([]byte)
			*c = make([]byte, chunkSize)
		}
		op.chunks = append(op.chunks, c)
		op.free = *c
	}
	kept := op.free[:len(b):len(b)]
	copy(kept, b)
	op.free = op.free[len(b):]
	return kept
}

// hold keeps b, which holds a rendered sub-tree, until release.
func (op *operation) hold(b *bytes.Buffer) {
	op.mu.Lock()
	op.held = append(op.held, b)
	op.mu.Unlock()
}

// release hands the arena's chunks back to the renderer's pool: nothing
// may write a sub-tree rendered before it afterwards. Later renders (a
// subscription's next event) fill a new arena. What was rendered and not
// written (a sub-tree under a null gqlgen propagated) is no longer pending.
func (op *operation) release(r *Renderer) {
	op.mu.Lock()
	chunks, held := op.chunks, op.held
	op.chunks, op.free, op.held = nil, nil, nil
	op.pending.Store(0)
	op.mu.Unlock()
	for _, c := range chunks {
		r.chunks.Put(c)
	}
	for _, b := range held {
		r.putBuffer(b)
	}
}

// Operations is the operation middleware that gives each operation its
// state (without it plans are built for every value, and rendered bytes
// each have memory of their own). The arena is released after the
// operation's last answer: the one that has no more to follow (a query's
// or mutation's only answer, each subscription event's, @defer's last).
// An operation whose answers are not all asked for leaves its chunks to the
// garbage collector.
func (r *Renderer) Operations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := &operation{plans: map[planKey]*valuePlan{}}
	h := next(context.WithValue(ctx, operationKey{}, op))
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			op.release(r)
		}
		return resp
	}
}

// planFor is the plan of fc's selection for a value of Go type t: the
// operation's own, else one shared by earlier operations, else a new one.
//
// An operation's plans are keyed by the address of the selection gqlgen
// collected for the field, which is the same for every value of the field
// in the operation. Shared plans are keyed by the address of the field's
// selection in the parsed document (gqlgen caches documents), which a kept
// plan keeps alive. A plan is shared only when the collected selection is
// the document's own (not merged from a field selected twice, which may
// depend on variables) and nothing in it (fragments included) takes a
// variable.
func (r *Renderer) planFor(ctx context.Context, oc *graphql.OperationContext, fc *graphql.FieldContext, t reflect.Type) *valuePlan {
	op, _ := ctx.Value(operationKey{}).(*operation)
	sel := fc.Field.Selections
	key := planKey{sel: unsafe.SliceData(sel), n: len(sel), object: fc.Object, field: fc.Field.Name, typ: t}
	if op != nil {
		op.mu.Lock()
		p, ok := op.plans[key]
		op.mu.Unlock()
		if ok {
			return p
		}
	}
	shared, share := key, ownSelection(fc.Field)
	if share {
		shared.sel = unsafe.SliceData(fc.Field.Field.SelectionSet)
	}
	p, ok := r.shared.Get(shared)
	if !share || !ok {
		var planned bool
		p, planned = r.plan(oc, fc.Field.Definition.Type, t, sel, 0)
		if !planned {
			p = nil
		}
		if share && !usesVariables(oc.Doc, sel, map[string]bool{}) {
			r.shared.Add(shared, p)
		}
	}
	if op != nil {
		op.mu.Lock()
		op.plans[key] = p
		op.mu.Unlock()
	}
	return p
}

// ownSelection reports whether f's collected selection is exactly its
// field's selection in the document.
func ownSelection(f graphql.CollectedField) bool {
	if f.Field == nil || len(f.Selections) != len(f.Field.SelectionSet) {
		return false
	}
	for i, s := range f.Selections {
		if s != f.Field.SelectionSet[i] {
			return false
		}
	}
	return true
}

// usesVariables reports whether a directive or a field argument anywhere in
// sel, or in the fragments it spreads, takes a variable (the arguments of a
// field resolved in line are part of its plan). An unknown fragment counts
// as one.
func usesVariables(doc *ast.QueryDocument, sel ast.SelectionSet, seen map[string]bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if directivesUseVariables(s.Directives) || argumentsUseVariables(s.Arguments) || usesVariables(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if directivesUseVariables(s.Directives) || usesVariables(doc, s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if directivesUseVariables(s.Directives) {
				return true
			}
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			var f *ast.FragmentDefinition
			if doc != nil {
				f = doc.Fragments.ForName(s.Name)
			}
			if f == nil || directivesUseVariables(f.Directives) || usesVariables(doc, f.SelectionSet, seen) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func directivesUseVariables(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if argumentsUseVariables(d.Arguments) {
			return true
		}
	}
	return false
}

func argumentsUseVariables(as ast.ArgumentList) bool {
	for _, a := range as {
		if valueUsesVariables(a.Value) {
			return true
		}
	}
	return false
}

func valueUsesVariables(v *ast.Value) bool {
	if v == nil {
		return false
	}
	if v.Kind == ast.Variable {
		return true
	}
	for _, c := range v.Children {
		if valueUsesVariables(c.Value) {
			return true
		}
	}
	return false
}

// maxDepth bounds the recursion of planning (documents are bounded in depth
// before execution; this only keeps a plan from running away on its own).
const maxDepth = 64

// plan plans a value of GraphQL type gt held in Go type t, with selection sel.
func (r *Renderer) plan(oc *graphql.OperationContext, gt *ast.Type, t reflect.Type, sel ast.SelectionSet, depth int) (*valuePlan, bool) {
	if depth > maxDepth {
		return nil, false
	}
	p := &valuePlan{nonNull: gt.NonNull}
	if t.Kind() == reflect.Pointer {
		p.goPtr = true
		t = t.Elem()
	}
	if gt.Elem != nil {
		if t.Kind() != reflect.Slice {
			return nil, false
		}
		elem, ok := r.plan(oc, gt.Elem, t.Elem(), sel, depth+1)
		if !ok {
			return nil, false
		}
		p.elem = elem
		p.elemSize = t.Elem().Size()
		return p, true
	}
	def := r.schema.Types[gt.NamedType]
	if def == nil || strings.HasPrefix(def.Name, "__") {
		return nil, false
	}
	switch def.Kind {
	case ast.Scalar, ast.Enum:
		if len(sel) != 0 {
			return nil, false
		}
		s, ok := r.scalars[scalarKey{def.Name, t}]
		if !ok {
			if !t.Implements(marshalerType) {
				return nil, false
			}
			s = methodScalar(def.Name, t)
		}
		p.scalar = &s
		return p, true
	case ast.Object:
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		o, ok := r.planObject(oc, def, t, sel, depth)
		if !ok {
			return nil, false
		}
		p.object = o
		return p, true
	default:
		return nil, false
	}
}

func (r *Renderer) planObject(oc *graphql.OperationContext, def *ast.Definition, t reflect.Type, sel ast.SelectionSet, depth int) (*objectPlan, bool) {
	fields := graphql.CollectFields(oc, sel, r.implementors[def.Name])
	o := &objectPlan{fields: make([]fieldPlan, 0, len(fields))}
	for _, f := range fields {
		if len(f.Deferrables) > 0 || f.Field == nil || f.Definition == nil {
			return nil, false
		}
		for _, d := range f.Directives {
			if d.Name != "skip" && d.Name != "include" {
				return nil, false
			}
		}
		fp := fieldPlan{key: quoted(f.Alias, ":")}
		if f.Name == "__typename" {
			fp.typename = quoted(def.Name, "")
			o.fields = append(o.fields, fp)
			continue
		}
		var vt reflect.Type
		if in, ok := r.inline[inlineKey{def.Name, f.Name}]; ok && in.obj == t {
			fn, ok := in.prepare(oc, f)
			if !ok {
				return nil, false
			}
			fp.inline, vt = fn, in.val
		} else {
			if len(f.Definition.Arguments) > 0 {
				return nil, false
			}
			b, ok := r.bind(def.Name, t, f.Name)
			if !ok {
				return nil, false
			}
			fp.offset, vt = b.offset, b.typ
		}
		v, ok := r.plan(oc, f.Definition.Type, vt, f.Selections, depth+1)
		if !ok {
			return nil, false
		}
		fp.value = v
		o.fields = append(o.fields, fp)
	}
	return o, true
}

// quoted is s as gqlgen writes a string, then suffix.
func quoted(s, suffix string) []byte {
	var b bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&b)
	b.WriteString(suffix)
	return b.Bytes()
}

type bindingKey struct {
	object string
	typ    reflect.Type
	field  string
}

type binding struct {
	offset uintptr
	typ    reflect.Type
	ok     bool
}

// bind finds the struct field gqlgen binds field of object to in Go type t:
// none when a resolver or a method serves it (gqlgen looks for a method
// first), or when the field is reached through an embedded pointer.
func (r *Renderer) bind(object string, t reflect.Type, field string) (binding, bool) {
	key := bindingKey{object, t, field}
	if b, ok := r.bindings.Load(key); ok {
		b := b.(binding)
		return b, b.ok
	}
	b := r.findBinding(object, t, field)
	r.bindings.Store(key, b)
	return b, b.ok
}

func (r *Renderer) findBinding(object string, t reflect.Type, field string) binding {
	name := normalize(field)
	if r.resolved[object][name] {
		return binding{}
	}
	pt := reflect.PointerTo(t)
	for i := range pt.NumMethod() {
		if normalize(pt.Method(i).Name) == name {
			return binding{}
		}
	}
	sf, ok := t.FieldByNameFunc(func(n string) bool { return normalize(n) == name })
	if !ok || !sf.IsExported() {
		return binding{}
	}
	// Every step but the last is an embedded struct held by value (a
	// pointer there could be nil): the offsets add up.
	var off uintptr
	cur := t
	for k, i := range sf.Index {
		f := cur.Field(i)
		off += f.Offset
		cur = f.Type
		if k < len(sf.Index)-1 && cur.Kind() != reflect.Struct {
			return binding{}
		}
	}
	return binding{offset: off, typ: sf.Type, ok: true}
}
