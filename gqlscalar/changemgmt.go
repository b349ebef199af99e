package gqlscalar

import (
	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
)

var (
	changeEventStatuses = []adapter.ChangeEventStatus{adapter.ChangeEventOpen, adapter.ChangeEventPending,
		adapter.ChangeEventClosed, adapter.ChangeEventVoid, adapter.ChangeEventUnknown}
	changeEventScopes = []adapter.ChangeEventScope{adapter.ScopeTBD, adapter.ScopeInScope,
		adapter.ScopeOutOfScope, adapter.ScopeUnknown}
)

// MarshalChangeEventStatus binds ChangeEventStatus; unknown values are UNKNOWN.
func MarshalChangeEventStatus(v adapter.ChangeEventStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.ChangeEventUnknown, changeEventStatuses)
}

// UnmarshalChangeEventStatus binds ChangeEventStatus.
func UnmarshalChangeEventStatus(v any) (adapter.ChangeEventStatus, error) {
	return unmarshalEnum(v, "ChangeEventStatus", changeEventStatuses)
}

// MarshalChangeEventScope binds ChangeEventScope; unknown values are UNKNOWN.
func MarshalChangeEventScope(v adapter.ChangeEventScope) graphql.Marshaler {
	return marshalEnum(v, adapter.ScopeUnknown, changeEventScopes)
}

// UnmarshalChangeEventScope binds ChangeEventScope.
func UnmarshalChangeEventScope(v any) (adapter.ChangeEventScope, error) {
	return unmarshalEnum(v, "ChangeEventScope", changeEventScopes)
}
