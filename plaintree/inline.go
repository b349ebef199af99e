package plaintree

import (
	"context"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
)

// Inline is a field that a resolver or a method serves, which the renderer
// resolves itself while it renders the object the field belongs to, so
// that a list of such objects is rendered whole instead of executed by
// gqlgen one element and one field at a time.
//
// Inline resolution never waits: a resolver that would have to (its value
// is not loaded yet, or its load failed) says so, and the renderer gives
// the whole value back to gqlgen, which executes it as always, errors
// included. So must a field's arguments that do not coerce: gqlgen then
// reports them.
type Inline struct {
	object, field string
	method        string       // Method's: the method's full name
	obj, val      reflect.Type // Go types of the object (a struct) and of the field's value
	prepare       func(oc *graphql.OperationContext, f graphql.CollectedField) (inlineFn, bool)
}

// inlineFn writes the field's value for the object at obj by plan p, or
// returns false when gqlgen must execute it.
type inlineFn func(ctx context.Context, obj unsafe.Pointer, w *writer, p *valuePlan) bool

// Resolved declares that the field of the GraphQL object, whose Go type is
// T, may be resolved in line. prepare is called once per selection of the
// field in an operation (or shared by the operations of a document when no
// variable reaches it), with its collected field (arguments, selection); it
// returns the resolution for each object, or false when the field must be
// executed by gqlgen wherever this selection reaches it (arguments that do
// not coerce, say). The resolution returns the value the field's resolver
// would return for obj in the request of ctx, and false when it cannot
// without waiting or without error; it must not keep obj.
func Resolved[T, V any](object, field string, prepare func(oc *graphql.OperationContext, f graphql.CollectedField) (func(ctx context.Context, obj *T) (V, bool), bool)) Inline {
	return Inline{
		object: object,
		field:  field,
		obj:    reflect.TypeFor[T](),
		val:    reflect.TypeFor[V](),
		prepare: func(oc *graphql.OperationContext, f graphql.CollectedField) (inlineFn, bool) {
			resolve, ok := prepare(oc, f)
			if !ok {
				return nil, false
			}
			return func(ctx context.Context, obj unsafe.Pointer, w *writer, p *valuePlan) bool {
				v, ok := resolve(ctx, (*T)(obj))
				if !ok {
					return false
				}
				return w.value(p, unsafe.Pointer(&v))
			}, true
		},
	}
}

// Method declares that gqlgen serves the field of the GraphQL object, whose
// Go type is T, with method, a method of *T without context or arguments
// (pass the method expression, such as (*adapter.Commitment).Vendor). The
// renderer calls it as gqlgen's generated code does.
func Method[T, V any](object, field string, method func(*T) V) Inline {
	in := Resolved(object, field, func(_ *graphql.OperationContext, f graphql.CollectedField) (func(context.Context, *T) (V, bool), bool) {
		if f.Definition == nil || len(f.Definition.Arguments) > 0 {
			return nil, false
		}
		return func(_ context.Context, obj *T) (V, bool) { return method(obj), true }, true
	})
	in.method = runtime.FuncForPC(reflect.ValueOf(method).Pointer()).Name()
	return in
}

// Object is the GraphQL object the field belongs to.
func (in Inline) Object() string { return in.object }

// Field is the GraphQL field's name.
func (in Inline) Field() string { return in.field }

// Method is a Method's method, by its full name
// ("procoregraph/adapter.(*Commitment).Vendor"); "" for Resolved's.
func (in Inline) Method() string { return in.method }
