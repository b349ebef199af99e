package gqlscalar

import (
	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
)

var (
	primeContractStatuses      = append(append([]adapter.PrimeContractStatus{}, adapter.PrimeContractStatuses...), adapter.PrimeContractUnknown)
	paymentApplicationStatuses = append(append([]adapter.PaymentApplicationStatus{}, adapter.PaymentApplicationStatuses...), adapter.PaymentApplicationUnknown)
)

// MarshalPrimeContractStatus writes v, UNKNOWN for a value outside the enum.
func MarshalPrimeContractStatus(v adapter.PrimeContractStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.PrimeContractUnknown, primeContractStatuses)
}

// UnmarshalPrimeContractStatus reads an enum value.
func UnmarshalPrimeContractStatus(v any) (adapter.PrimeContractStatus, error) {
	return unmarshalEnum(v, "PrimeContractStatus", primeContractStatuses)
}

// MarshalPaymentApplicationStatus writes v, UNKNOWN for a value outside the enum.
func MarshalPaymentApplicationStatus(v adapter.PaymentApplicationStatus) graphql.Marshaler {
	return marshalEnum(v, adapter.PaymentApplicationUnknown, paymentApplicationStatuses)
}

// UnmarshalPaymentApplicationStatus reads an enum value.
func UnmarshalPaymentApplicationStatus(v any) (adapter.PaymentApplicationStatus, error) {
	return unmarshalEnum(v, "PaymentApplicationStatus", paymentApplicationStatuses)
}
