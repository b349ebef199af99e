package plaintree

import (
	"bytes"
	"reflect"
	"runtime"
	"strconv"
	"sync"
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
	write func(p unsafe.Pointer, w *bytes.Buffer) (null bool)
}

// Bind declares that gqlgen marshals Go values of type T of the GraphQL
// scalar or enum name with marshal.
func Bind[T any](name string, marshal func(T) graphql.Marshaler) Scalar {
	return Scalar{
		name: name,
		typ:  reflect.TypeFor[T](),
		fn:   runtime.FuncForPC(reflect.ValueOf(marshal).Pointer()).Name(),
		write: func(p unsafe.Pointer, w *bytes.Buffer) bool {
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
		write: func(p unsafe.Pointer, w *bytes.Buffer) bool {
			m, _ := reflect.NewAt(t, p).Elem().Interface().(graphql.Marshaler)
			if m == nil || m == graphql.Null {
				return true
			}
			m.MarshalGQL(w)
			return false
		},
	}
}

// BindAppend is Bind with appendTo, which appends to a buffer the very bytes
// marshal writes, without marshal's allocations. appendTo must agree with
// marshal for every value; each one's tests check that it does.
func BindAppend[T any](name string, marshal func(T) graphql.Marshaler, appendTo func([]byte, T) []byte) Scalar {
	s := Bind(name, marshal)
	s.write = func(p unsafe.Pointer, w *bytes.Buffer) bool {
		w.Write(appendTo(w.AvailableBuffer(), *(*T)(p)))
		return false
	}
	return s
}

// maxMemoized bounds the values BindEnum remembers per enum.
const maxMemoized = 64

// BindEnum is Bind for an enum held in a Go string type: what marshal
// writes for each value is remembered (up to 64 values; an enum has fewer,
// and Procore's unknown values past them are marshaled each time).
func BindEnum[T ~string](name string, marshal func(T) graphql.Marshaler) Scalar {
	s := Bind(name, marshal)
	var (
		mu   sync.RWMutex
		memo = map[T][]byte{}
	)
	s.write = func(p unsafe.Pointer, w *bytes.Buffer) bool {
		v := *(*T)(p)
		mu.RLock()
		b, ok := memo[v]
		mu.RUnlock()
		if !ok {
			m := marshal(v)
			if m == graphql.Null {
				return true
			}
			var out bytes.Buffer
			m.MarshalGQL(&out)
			b = out.Bytes()
			mu.Lock()
			if len(memo) < maxMemoized {
				memo[v] = b
			}
			mu.Unlock()
		}
		w.Write(b)
		return false
	}
	return s
}

// AppendString appends s as graphql.MarshalString writes it: quoted, with
// '"', '\\' and the control characters escaped and nothing else (invalid
// UTF-8 passes through as it is).
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF" // gqlgen's case
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendInt appends i as graphql.MarshalInt writes it.
func AppendInt(b []byte, i int) []byte { return strconv.AppendInt(b, int64(i), 10) }

// AppendBoolean appends v as graphql.MarshalBoolean writes it.
func AppendBoolean(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }
