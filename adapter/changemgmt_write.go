package adapter

import "context"

// ChangeMgmtWriter creates change management items (issue 16). It is part
// of Writer. Every method returns an *Error as the Reader's do; a Procore
// 422 is CodeBadUserInput with Fields named as the input types below name
// them ("lineItems.0.estimatedCost").
type ChangeMgmtWriter interface {
	// CreateChangeEvent creates a change event with its line items. Procore
	// takes the event and its lines in one call; a description is a second
	// call (the create has no key for it), and when that fails the change
	// event is deleted again: the returned ChangeEvent is zero and the error
	// says what failed. Only when that delete fails too is the change event
	// returned with the error. The status must be OPEN, PENDING or CLOSED
	// and map to one of the project's change event statuses
	// (CodeBadUserInput on "status" when none does).
	CreateChangeEvent(ctx context.Context, projectID int64, in ChangeEventCreate) (ChangeEvent, error)
	// CreatePotentialChangeOrder creates a PCO on a prime contract, then
	// its line items one by one (Procore has no transaction). When a line
	// fails, the lines already created are deleted and the PCO is voided
	// (Procore publishes no delete of a PCO): the returned PCO is zero and
	// the error says what failed. Only when that clean-up fails too is the
	// PCO returned with the error.
	CreatePotentialChangeOrder(ctx context.Context, projectID int64, in PotentialChangeOrderCreate) (PotentialChangeOrder, error)
	// ChangeOrderTiers reports how many change order tiers the project's
	// change management uses (1, 2 or 3) as far as Procore's answers tell,
	// from reads only; 0 when they do not tell.
	ChangeOrderTiers(ctx context.Context, projectID int64) (int, error)
}

// ChangeEventLineCreate is one line item of a new change event.
type ChangeEventLineCreate struct {
	Description   string
	CostCodeID    *int64
	EstimatedCost Decimal
}

// ChangeEventCreate is the input of CreateChangeEvent.
type ChangeEventCreate struct {
	Title       string
	Description string
	Status      ChangeEventStatus // default OPEN
	Scope       ChangeEventScope  // default TBD
	RFIID       *int64
	LineItems   []ChangeEventLineCreate
}

// PCOLineCreate is one line of a new PCO: a change event line item and the
// amount it carries onto the PCO, with the description and cost code copied
// from that line.
type PCOLineCreate struct {
	ChangeEventLineID int64
	Description       string
	CostCodeID        *int64
	Amount            Decimal
}

// PotentialChangeOrderCreate is the input of CreatePotentialChangeOrder.
type PotentialChangeOrderCreate struct {
	// ContractID is the prime contract the PCO changes (required).
	ContractID int64
	Title      string
	LineItems  []PCOLineCreate
}
