package adapter

import "time"

// Change management items (change events, potential change orders, change
// order requests, change order packages, prime change orders). Which kinds a
// project has depends on its change order tier setting: see the Reader
// methods at the end of the Reader interface.

// ChangeEventStatus is a change event's (internal) status.
type ChangeEventStatus string

// The change event statuses.
const (
	ChangeEventOpen    ChangeEventStatus = "OPEN"
	ChangeEventPending ChangeEventStatus = "PENDING"
	ChangeEventClosed  ChangeEventStatus = "CLOSED"
	ChangeEventVoid    ChangeEventStatus = "VOID"
	ChangeEventUnknown ChangeEventStatus = "UNKNOWN"
)

// ChangeEventScope is a change event's scope.
type ChangeEventScope string

// The change event scopes.
const (
	ScopeTBD        ChangeEventScope = "TBD"
	ScopeInScope    ChangeEventScope = "IN_SCOPE"
	ScopeOutOfScope ChangeEventScope = "OUT_OF_SCOPE"
	ScopeUnknown    ChangeEventScope = "UNKNOWN"
)

// ChangeEvent is a change event with its line items.
type ChangeEvent struct {
	ID        int64
	ProjectID int64
	Number    string
	Title     string
	// Description is the change event's description ("" when none).
	Description string
	Status      ChangeEventStatus
	Scope       ChangeEventScope
	// RFIID is the RFI the event came from, nil when none.
	RFIID     *int64
	LineItems []ChangeEventLineItem
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ChangeEventLineItem is a change event line item.
type ChangeEventLineItem struct {
	ID          int64
	Description string
	CostCodeID  *int64
	// EstimatedCost is Procore's estimated_cost_amount.
	EstimatedCost Decimal
}

// PotentialChangeOrder is a PCO (2- and 3-tier projects).
type PotentialChangeOrder struct {
	ID        int64
	ProjectID int64
	Number    string
	Title     string
	Status    ChangeOrderStatus
	// ChangeOrderRequestID is the COR the PCO belongs to (3-tier), nil when none.
	ChangeOrderRequestID *int64
	GrandTotal           Decimal
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// PCOLineItem is a PCO line item, naming the change event line it came from.
type PCOLineItem struct {
	ID                int64
	Description       string
	Amount            Decimal
	ChangeEventID     *int64
	ChangeEventLineID *int64
}

// ChangeOrderRequest is a COR (3-tier projects).
type ChangeOrderRequest struct {
	ID         int64
	ProjectID  int64
	Number     string
	Title      string
	Status     ChangeOrderStatus
	PackageID  *int64
	GrandTotal Decimal
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ChangeOrderPackage is a change order package (3-tier projects), and
// PrimeChangeOrder a prime change order (1- and 2-tier projects); they share
// a shape.
type ChangeOrderPackage struct {
	ID         int64
	ProjectID  int64
	Number     string
	Title      string
	Status     ChangeOrderStatus
	Executed   bool
	GrandTotal Decimal
	// PCOIDs are the PCOs a prime change order executes (2-tier); empty for packages.
	PCOIDs []int64
	// ContractID is a package's contract (Procore's contract_id): the
	// prime contract, or on a 3-tier project a commitment, whose change
	// order the package is; nil when Procore names none (prime change orders).
	ContractID *int64
	// DueDate is a package's due date, nil when none.
	DueDate   *Date
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PrimeChangeOrder is a prime contract change order.
type PrimeChangeOrder = ChangeOrderPackage
