package gqlscalar

import (
	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
)

// Cost enums (issue 16). A value Procore sends that is not listed here is
// shown as UNKNOWN, never an error.

var (
	directCostTypes    = []adapter.DirectCostType{"INVOICE", "EXPENSE", "PAYROLL", "UNKNOWN"}
	directCostStatuses = []adapter.DirectCostStatus{"DRAFT", "PENDING", "REVISE_AND_RESUBMIT", adapter.DirectCostApproved, "UNKNOWN"}
)

func MarshalDirectCostType(v adapter.DirectCostType) graphql.Marshaler {
	return marshalEnum(v, "UNKNOWN", directCostTypes)
}
func UnmarshalDirectCostType(v any) (adapter.DirectCostType, error) {
	return unmarshalEnum(v, "DirectCostType", directCostTypes)
}
func MarshalDirectCostStatus(v adapter.DirectCostStatus) graphql.Marshaler {
	return marshalEnum(v, "UNKNOWN", directCostStatuses)
}
func UnmarshalDirectCostStatus(v any) (adapter.DirectCostStatus, error) {
	return unmarshalEnum(v, "DirectCostStatus", directCostStatuses)
}
