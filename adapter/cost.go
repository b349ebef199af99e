package adapter

import "time"

// BudgetModification is a budget transfer (Procore's budget modification):
// TransferAmount moves from the budget line item FromBudgetLineItemID to ToBudgetLineItemID;
// either side is nil when it is outside the project's budget lines.
type BudgetModification struct {
	ID                   int64
	ProjectID            int64
	FromBudgetLineItemID *int64
	ToBudgetLineItemID   *int64
	TransferAmount       Decimal
	Notes                string
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Net is the modification's effect on the project's total budget:
// +transfer_amount when only the target is a budget line item,
// −transfer_amount when only the source is, 0 between two line items.
func (m BudgetModification) Net() Decimal {
	n := Decimal{}
	if m.ToBudgetLineItemID != nil {
		n = n.Add(m.TransferAmount)
	}
	if m.FromBudgetLineItemID != nil {
		n = n.Sub(m.TransferAmount)
	}
	return n
}

// DirectCostType is Procore's direct_cost_type, upper-cased; values this
// gateway does not know are kept as they come and shown as UNKNOWN.
type DirectCostType string

// DirectCostStatus is Procore's direct cost status, upper-cased.
type DirectCostStatus string

// DirectCostApproved is the only status the budget counts.
const DirectCostApproved DirectCostStatus = "APPROVED"

// DirectCost is a direct cost item (invoice, expense or payroll), without
// its line items.
type DirectCost struct {
	ID            int64
	ProjectID     int64
	Type          DirectCostType
	Status        DirectCostStatus
	Description   string
	InvoiceNumber string
	VendorID      *int64
	VendorName    string
	Date          *Date
	GrandTotal    Decimal
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// FinancialSummary is a project's financial position, computed by the
// gateway with exact decimals (see the schema's FinancialSummary for each
// figure's formula). ProjectID lets further figures (prime contract, change
// events) be resolved from it.
type FinancialSummary struct {
	ProjectID             int64
	OriginalBudget        Decimal
	ApprovedBudgetChanges Decimal
	RevisedBudget         Decimal
	CommittedCosts        Decimal
	DirectCosts           Decimal
	ProjectedCosts        Decimal
	ProjectedOverUnder    Decimal
}
