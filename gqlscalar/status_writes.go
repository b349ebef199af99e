package gqlscalar

import (
	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
)

// MarshalChangeOrderType binds ChangeOrderType (an input-only enum: the
// gateway never writes a value outside it).
func MarshalChangeOrderType(v adapter.ChangeOrderType) graphql.Marshaler {
	return marshalEnum(v, adapter.ChangeOrderTypePrime, adapter.ChangeOrderTypes)
}

// UnmarshalChangeOrderType binds ChangeOrderType.
func UnmarshalChangeOrderType(v any) (adapter.ChangeOrderType, error) {
	return unmarshalEnum(v, "ChangeOrderType", adapter.ChangeOrderTypes)
}
