package plaintree

import (
	"io"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
)

// Scalar binds one Go type of a GraphQL scalar or enum to the function
// gqlgen's generated code marshals it with (gqlgen.yml's `models`). A value
// is written by that same function, so its bytes are gqlgen's.
type Scalar struct {
	name  string
	typ   reflect.Type
	fn    string
	write func(p unsafe.Pointer, w io.Writer) (null bool)
}

// Bind declares that gqlgen marshals Go values of type T of the GraphQL
// scalar or enum name with marshal.
func Bind[T any](name string, marshal func(T) graphql.Marshaler) Scalar {
	return Scalar{
		name: name,
		typ:  reflect.TypeFor[T](),
		fn:   runtime.FuncForPC(reflect.ValueOf(marshal).Pointer()).Name(),
		write: func(p unsafe.Pointer, w io.Writer) bool {
			m := marshal(*(*T)(p))
			if m == graphql.Null {
				return true
			}
			m.MarshalGQL(w)
			return false
		},
	}
}

// Name is the GraphQL scalar or enum.
func (s Scalar) Name() string { return s.name }

// Type is the Go type.
func (s Scalar) Type() reflect.Type { return s.typ }

// Func is the marshal function's full name ("procoregraph/gqlscalar.MarshalDate"),
// for checking the bindings against gqlgen's generated code.
func (s Scalar) Func() string { return s.fn }

var marshalerType = reflect.TypeFor[graphql.Marshaler]()

// methodScalar writes a Go type that is its own graphql.Marshaler (the enums
// gqlgen generates into graph/model), as gqlgen's generated code does.
func methodScalar(name string, t reflect.Type) Scalar {
	return Scalar{
		name: name,
		typ:  t,
		fn:   t.String() + ".MarshalGQL",
		write: func(p unsafe.Pointer, w io.Writer) bool {
			m, _ := reflect.NewAt(t, p).Elem().Interface().(graphql.Marshaler)
			if m == nil || m == graphql.Null {
				return true
			}
			m.MarshalGQL(w)
			return false
		},
	}
}
