package adapter

import (
	"context"
	"errors"
)

// Status writes (issue 16): the status of prime contract change orders,
// change order packages, commitment change orders and payment applications
// (owner invoices).

// ChangeOrderType names which of Procore's change order resources an item is.
// Which ones a project has depends on its change order tier setting.
type ChangeOrderType string

// The change order types.
const (
	// ChangeOrderTypePrime is a prime contract change order
	// (/rest/v1.0/projects/{project_id}/prime_change_orders), on 1- and
	// 2-tier projects.
	ChangeOrderTypePrime ChangeOrderType = "PRIME_CHANGE_ORDER"
	// ChangeOrderTypePackage is a change order package
	// (/rest/v1.0/change_order_packages): the prime contract change order of
	// a 3-tier project.
	ChangeOrderTypePackage ChangeOrderType = "CHANGE_ORDER_PACKAGE"
	// ChangeOrderTypeCommitment is a commitment change order
	// (/rest/v1.0/projects/{project_id}/commitment_change_orders), on 1- and
	// 2-tier projects.
	ChangeOrderTypeCommitment ChangeOrderType = "COMMITMENT_CHANGE_ORDER"
	// ChangeOrderTypePotential is a potential change order (2- and 3-tier
	// projects). Events name it; its status is not written through
	// UpdateChangeOrderStatus.
	ChangeOrderTypePotential ChangeOrderType = "POTENTIAL_CHANGE_ORDER"
)

// ChangeOrderTypes are the change order types.
var ChangeOrderTypes = []ChangeOrderType{ChangeOrderTypePrime, ChangeOrderTypePackage, ChangeOrderTypePotential, ChangeOrderTypeCommitment}

// StatusWritableChangeOrderTypes are the types whose status
// UpdateChangeOrderStatus writes.
var StatusWritableChangeOrderTypes = []ChangeOrderType{ChangeOrderTypePrime, ChangeOrderTypePackage, ChangeOrderTypeCommitment}

// ErrWrongChangeOrderTier is wrapped by the error a StatusWriter method
// returns when Procore refuses the resource because the project's change
// order tier does not use it (prime and commitment change orders on a 3-tier
// project). Test it with IsWrongChangeOrderTier.
var ErrWrongChangeOrderTier = errors.New("the project's change order tier does not use this kind of change order")

// IsWrongChangeOrderTier reports whether err says the project's change order
// tier does not use the resource asked for.
func IsWrongChangeOrderTier(err error) bool { return errors.Is(err, ErrWrongChangeOrderTier) }

// StatusWriter reads one change order fresh from Procore and sets the status
// of change orders and payment applications. Reads return CodeNotFound when
// the item does not exist in the project (or cannot be seen), and an error
// wrapping ErrWrongChangeOrderTier (CodeBadUserInput) when the project's tier
// does not serve the resource. Writes send only the status (Procore's
// spelling) in the operation's published body and return the item as
// Procore answers it; Procore's 422 is CodeBadUserInput with Fields.
type StatusWriter interface {
	// PrimeChangeOrder reads one prime change order (1- and 2-tier projects).
	PrimeChangeOrder(ctx context.Context, projectID, id int64) (PrimeChangeOrder, error)
	// ChangeOrderPackage reads one change order package. Procore's package
	// list does not refuse 1- and 2-tier projects: there a package is
	// simply not found.
	ChangeOrderPackage(ctx context.Context, projectID, id int64) (ChangeOrderPackage, error)
	// CommitmentChangeOrder reads one commitment change order (1- and
	// 2-tier projects).
	CommitmentChangeOrder(ctx context.Context, projectID, id int64) (ChangeOrder, error)

	UpdatePrimeChangeOrderStatus(ctx context.Context, projectID, id int64, status ChangeOrderStatus) (PrimeChangeOrder, error)
	UpdateChangeOrderPackageStatus(ctx context.Context, projectID, id int64, status ChangeOrderStatus) (ChangeOrderPackage, error)
	UpdateCommitmentChangeOrderStatus(ctx context.Context, projectID, id int64, status ChangeOrderStatus) (ChangeOrder, error)
	UpdatePaymentApplicationStatus(ctx context.Context, projectID, primeContractID, id int64, status PaymentApplicationStatus) (PaymentApplication, error)
}
