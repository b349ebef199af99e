package adapter

import "time"

// PrimeContractStatus is a prime contract's status.
type PrimeContractStatus string

// Prime contract statuses (Procore's enum, upper snake case).
const (
	PrimeContractDraft           PrimeContractStatus = "DRAFT"
	PrimeContractOutForBid       PrimeContractStatus = "OUT_FOR_BID"
	PrimeContractOutForSignature PrimeContractStatus = "OUT_FOR_SIGNATURE"
	PrimeContractApproved        PrimeContractStatus = "APPROVED"
	PrimeContractComplete        PrimeContractStatus = "COMPLETE"
	PrimeContractTerminated      PrimeContractStatus = "TERMINATED"
	PrimeContractUnknown         PrimeContractStatus = "UNKNOWN"
)

// PrimeContractStatuses are the known prime contract statuses (UNKNOWN excluded).
var PrimeContractStatuses = []PrimeContractStatus{PrimeContractDraft, PrimeContractOutForBid,
	PrimeContractOutForSignature, PrimeContractApproved, PrimeContractComplete, PrimeContractTerminated}

// PrimeContract is a contract with the owner (Procore's v1.0 prime contract
// list row).
type PrimeContract struct {
	ID        int64
	ProjectID int64
	Number    *string
	Title     *string
	Status    PrimeContractStatus
	// OriginalValue is Procore's grand_total.
	OriginalValue Decimal
	// ApprovedChangeOrders is Procore's approved_change_orders.
	ApprovedChangeOrders Decimal
	RetainagePercent     *Decimal
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// RevisedValue is OriginalValue + ApprovedChangeOrders.
func (p PrimeContract) RevisedValue() Decimal { return p.OriginalValue.Add(p.ApprovedChangeOrders) }

// PaymentApplicationStatus is an owner invoice's status.
type PaymentApplicationStatus string

// Payment application statuses (Procore's enum, upper snake case).
const (
	PaymentApplicationDraft             PaymentApplicationStatus = "DRAFT"
	PaymentApplicationUnderReview       PaymentApplicationStatus = "UNDER_REVIEW"
	PaymentApplicationReviseAndResubmit PaymentApplicationStatus = "REVISE_AND_RESUBMIT"
	PaymentApplicationApproved          PaymentApplicationStatus = "APPROVED"
	PaymentApplicationUnknown           PaymentApplicationStatus = "UNKNOWN"
)

// PaymentApplicationStatuses are the known statuses (UNKNOWN excluded).
var PaymentApplicationStatuses = []PaymentApplicationStatus{PaymentApplicationDraft, PaymentApplicationUnderReview,
	PaymentApplicationReviseAndResubmit, PaymentApplicationApproved}

// PaymentApplication is an owner invoice on a prime contract.
type PaymentApplication struct {
	ID              int64
	ProjectID       int64
	PrimeContractID int64
	Number          int
	InvoiceNumber   *string
	Status          PaymentApplicationStatus
	PeriodStart     *Date
	PeriodEnd       *Date
	BillingDate     *Date
	G702            OwnerG702
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// OwnerG702 is the owner-side AIA G702 summary, Procore's g702 object.
type OwnerG702 struct {
	OriginalContractSum               Decimal
	NetChangeByChangeOrders           Decimal
	ContractSumToDate                 Decimal
	TotalCompletedAndStoredToDate     Decimal
	CompletedWorkRetainagePercent     Decimal
	CompletedWorkRetainageAmount      Decimal
	StoredMaterialsRetainagePercent   Decimal
	StoredMaterialsRetainageAmount    Decimal
	TotalRetainage                    Decimal
	TotalEarnedLessRetainage          Decimal
	LessPreviousCertificates          Decimal
	CurrentPaymentDue                 Decimal
	BalanceToFinishIncludingRetainage Decimal
}

// PrimeContractLine is one schedule of values line of a prime contract.
type PrimeContractLine struct {
	ID             int64
	Description    *string
	CostCode       *string
	ScheduledValue Decimal
}
