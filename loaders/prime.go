package loaders

import (
	"context"

	"procoregraph/adapter"
)

// newPrime makes the prime contract loaders: a project's prime contracts
// (kind "prime_contracts", keyed by project id) and one contract's payment
// applications (kind "payment_applications", keyed by project and contract
// id), a contract's pending change orders from its show ("prime_contract")
// and its schedule of values ("prime_contract_lines"), both keyed by project
// and contract id. All are in the project's cache scope, so a write or a
// change seen in the project invalidates them with the project's other kinds.
func (l *Loaders) newPrime(p adapter.Procore) {
	l.PrimeContracts = single(l, "prime_contracts", p.PrimeContracts,
		func(id int64) (string, string) { return projectScope(id), "" })
	l.PaymentApplications = single(l, "payment_applications", func(ctx context.Context, k ItemKey) ([]adapter.PaymentApplication, error) {
		return p.PaymentApplications(ctx, k.ProjectID, k.ID)
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
	l.PrimeContractPending = single(l, "prime_contract", func(ctx context.Context, k ItemKey) (*adapter.Decimal, error) {
		return p.PrimeContractPending(ctx, k.ProjectID, k.ID)
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
	l.PrimeContractLines = single(l, "prime_contract_lines", func(ctx context.Context, k ItemKey) ([]adapter.PrimeContractLine, error) {
		return p.PrimeContractLines(ctx, k.ProjectID, k.ID)
	}, func(k ItemKey) (string, string) { return projectScope(k.ProjectID), itoa(k.ID) })
}
