// Package adapter is the Procore port: normalized domain types and the interface
// the rest of procoregraph calls. Only adapter subpackages (rest, portal) know
// Procore's URLs, JSON shapes and quirks; everything above sees these types.
//
// Conventions:
//   - Ids are Procore's int64 ids.
//   - Money and percentages are exact decimals (shopspring/decimal), never float64.
//   - Enums are normalized to SCREAMING_SNAKE strings; a value Procore sends that
//     we do not know becomes the enum's UNKNOWN value, never an error.
//   - Timestamps are UTC time.Time; calendar dates are Date.
package adapter

import (
	"time"

	"github.com/shopspring/decimal"
)

// Decimal is an exact decimal number (money, percentages, quantities).
type Decimal = decimal.Decimal

// Person is Procore's people object {id, login, name}: a User of which only
// ID, Login and Name are known.
type Person = User

// Company is a Procore company the credential can see.
type Company struct {
	ID       int64
	Name     string
	IsActive bool
}

// Project is a Procore project.
type Project struct {
	ID             int64
	CompanyID      int64
	Name           string
	DisplayName    string
	ProjectNumber  string
	Address        string
	City           string
	StateCode      string
	CountryCode    string
	Zip            string
	TimeZone       string
	Active         bool
	Stage          string
	StartDate      *Date
	CompletionDate *Date
	TotalValue     *Decimal
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ProjectStatus filters projects by their active flag.
type ProjectStatus string

const (
	ProjectStatusActive   ProjectStatus = "ACTIVE"
	ProjectStatusInactive ProjectStatus = "INACTIVE"
	ProjectStatusAll      ProjectStatus = "ALL"
)

// User is a company or project directory user.
type User struct {
	ID        int64
	Login     string // email address
	Name      string
	FirstName string
	LastName  string
	JobTitle  string
	IsActive  bool
	VendorID  *int64
	UpdatedAt time.Time
}

// Vendor is a company or project directory vendor (subcontractor, supplier).
type Vendor struct {
	ID              int64
	Name            string
	AbbreviatedName string
	TradeName       string
	City            string
	StateCode       string
	EmailAddress    string
	BusinessPhone   string
	IsActive        bool
	UpdatedAt       time.Time
}

// CostCode is a project cost code.
type CostCode struct {
	ID        int64
	Code      string
	FullCode  string
	Name      string
	ParentID  *int64
	UpdatedAt time.Time
}

// Attachment is a file attached to an item.
type Attachment struct {
	ID          int64
	Name        string
	URL         string
	ContentType string
}

// ImpactStatus is Procore's cost/schedule impact enum (yes_known|yes_unknown|no_impact|tbd|n_a).
type ImpactStatus string

const (
	ImpactYesKnown   ImpactStatus = "YES_KNOWN"
	ImpactYesUnknown ImpactStatus = "YES_UNKNOWN"
	ImpactNoImpact   ImpactStatus = "NO_IMPACT"
	ImpactTBD        ImpactStatus = "TBD"
	ImpactNA         ImpactStatus = "N_A"
	ImpactUnknown    ImpactStatus = "UNKNOWN"
)

// Impact is a cost (money) or schedule (days) impact.
type Impact struct {
	Status ImpactStatus
	Value  *Decimal
}

// RFIStatus is an RFI's status (Procore: open|closed|draft|recycled).
type RFIStatus string

const (
	RFIStatusOpen     RFIStatus = "OPEN"
	RFIStatusClosed   RFIStatus = "CLOSED"
	RFIStatusDraft    RFIStatus = "DRAFT"
	RFIStatusRecycled RFIStatus = "RECYCLED"
	RFIStatusUnknown  RFIStatus = "UNKNOWN"
)

// RFIBallInCourtRole is who holds an RFI's ball in court (Procore's
// ball_in_court_role: "Assignees" | "Creator" | "RFI Manager").
type RFIBallInCourtRole string

const (
	BallInCourtAssignees  RFIBallInCourtRole = "ASSIGNEES"
	BallInCourtCreator    RFIBallInCourtRole = "CREATOR"
	BallInCourtRFIManager RFIBallInCourtRole = "RFI_MANAGER"
	BallInCourtUnknown    RFIBallInCourtRole = "UNKNOWN"
)

// RFI is a request for information.
type RFI struct {
	ID                    int64
	ProjectID             int64
	Number                string
	FullNumber            string
	Subject               string
	Status                RFIStatus
	Draft                 bool
	Private               bool
	DueDate               *Date
	InitiatedAt           *time.Time
	TimeResolved          *time.Time
	BallInCourtRole       *RFIBallInCourtRole // nil when Procore names none
	BallInCourt           []Person
	Assignees             []Person
	RFIManager            *Person
	ReceivedFrom          *Person
	ResponsibleContractor *Vendor
	CostCode              *CostCode
	CostImpact            *Impact
	ScheduleImpact        *Impact
	Questions             []RFIQuestion
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// RFIQuestion is one question of an RFI with its answers (replies).
type RFIQuestion struct {
	ID           int64
	Body         string
	CreatedBy    string
	QuestionDate *time.Time
	Attachments  []Attachment
	Answers      []RFIAnswer
}

// RFIAnswer is a reply to an RFI question; Official marks the official response.
type RFIAnswer struct {
	ID          int64
	Body        string
	Official    bool
	CreatedBy   string
	CreatedByID *int64
	AnswerDate  *time.Time
	Attachments []Attachment
}

// SubmittalStatus is a company-configured submittal status {id, name, status}.
type SubmittalStatus struct {
	ID     int64
	Name   string
	Status string // Procore's underlying state, e.g. "Open", "Closed", "Draft"
}

// SubmittalApprover is one approver in a submittal workflow step.
type SubmittalApprover struct {
	ID               int64
	Step             int // workflow_group_number
	ApproverType     string
	User             *Person
	Response         *SubmittalResponse
	ResponseRequired bool
	SentDate         *Date
	DueDate          *Date
	ReturnedDate     *Date
	Comment          string
}

// SubmittalResponse is an approver's response {id, name, considered}.
type SubmittalResponse struct {
	ID         int64
	Name       string
	Considered string
}

// Submittal is a project submittal.
type Submittal struct {
	ID               int64
	ProjectID        int64
	Number           string
	FormattedNumber  string
	Revision         string
	Title            string
	Description      string
	Type             string
	Status           *SubmittalStatus
	SpecSection      string
	DueDate          *Date
	IssueDate        *Date
	SubmitBy         *Date
	BallInCourt      []Person
	SubmittalManager *Person
	ReceivedFrom     *Person
	Approvers        []SubmittalApprover
	Distribution     []Person
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// CommitmentKind tells a subcontract (work order contract) from a purchase order.
type CommitmentKind string

const (
	CommitmentSubcontract   CommitmentKind = "SUBCONTRACT"
	CommitmentPurchaseOrder CommitmentKind = "PURCHASE_ORDER"
)

// CommitmentStatus spans both kinds' statuses. Work orders: Draft, Out For Bid,
// Out For Signature, Approved, Complete, Terminated, Void. Purchase orders: Draft,
// Processing, Submitted, Partially Received, Received, Approved, Closed.
type CommitmentStatus string

const (
	CommitmentDraft             CommitmentStatus = "DRAFT"
	CommitmentOutForBid         CommitmentStatus = "OUT_FOR_BID"
	CommitmentOutForSignature   CommitmentStatus = "OUT_FOR_SIGNATURE"
	CommitmentApproved          CommitmentStatus = "APPROVED"
	CommitmentComplete          CommitmentStatus = "COMPLETE"
	CommitmentTerminated        CommitmentStatus = "TERMINATED"
	CommitmentVoid              CommitmentStatus = "VOID"
	CommitmentProcessing        CommitmentStatus = "PROCESSING"
	CommitmentSubmitted         CommitmentStatus = "SUBMITTED"
	CommitmentPartiallyReceived CommitmentStatus = "PARTIALLY_RECEIVED"
	CommitmentReceived          CommitmentStatus = "RECEIVED"
	CommitmentClosed            CommitmentStatus = "CLOSED"
	CommitmentUnknown           CommitmentStatus = "UNKNOWN"
)

// Commitment is a subcontract or purchase order with its money totals.
type Commitment struct {
	ID                   int64
	ProjectID            int64
	Kind                 CommitmentKind
	Number               string
	Title                string
	Status               CommitmentStatus
	Executed             bool
	VendorID             *int64
	VendorName           string
	RetainagePercent     *Decimal
	GrandTotal           Decimal
	RevisedContract      Decimal
	ApprovedChangeOrders Decimal
	PendingChangeOrders  Decimal
	TotalPayments        Decimal
	RemainingBalance     Decimal
	ContractDate         *Date
	LineItems            []CommitmentLineItem // filled only by a show (detail) call
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Vendor is the commitment's vendor as the commitment names it (its id and
// name), or nil when it names none. The GraphQL field vendor is bound to it:
// a method without a context, which gqlgen runs in line rather than as a
// resolver on a goroutine of its own for each commitment.
func (c *Commitment) Vendor() *Vendor {
	if c.VendorID == nil {
		return nil
	}
	return &Vendor{ID: *c.VendorID, Name: c.VendorName}
}

// CommitmentLineItem is one schedule-of-values line.
type CommitmentLineItem struct {
	ID          int64
	Description string
	Amount      Decimal
	Quantity    *Decimal
	UnitCost    *Decimal
	UOM         string
	CostCode    *CostCode
	Position    int
}

// ChangeOrderStatus is the commitment change order status (draft ... void).
type ChangeOrderStatus string

const (
	ChangeOrderDraft           ChangeOrderStatus = "DRAFT"
	ChangeOrderPricing         ChangeOrderStatus = "PRICING"
	ChangeOrderNotPricing      ChangeOrderStatus = "NOT_PRICING"
	ChangeOrderPending         ChangeOrderStatus = "PENDING"
	ChangeOrderRevised         ChangeOrderStatus = "REVISED"
	ChangeOrderProceeding      ChangeOrderStatus = "PROCEEDING"
	ChangeOrderNotProceeding   ChangeOrderStatus = "NOT_PROCEEDING"
	ChangeOrderPendingBillable ChangeOrderStatus = "PENDING_BILLABLE"
	ChangeOrderNoCharge        ChangeOrderStatus = "NO_CHARGE"
	ChangeOrderApproved        ChangeOrderStatus = "APPROVED"
	ChangeOrderRejected        ChangeOrderStatus = "REJECTED"
	ChangeOrderVoid            ChangeOrderStatus = "VOID"
	ChangeOrderUnknown         ChangeOrderStatus = "UNKNOWN"
)

// ChangeOrder is a commitment change order.
type ChangeOrder struct {
	ID           int64
	ProjectID    int64
	CommitmentID int64
	Number       string
	Title        string
	Status       ChangeOrderStatus
	GrandTotal   Decimal
	DueDate      *Date
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// InvoiceStatus is a subcontractor invoice (requisition) status.
type InvoiceStatus string

const (
	InvoiceDraft                InvoiceStatus = "DRAFT"
	InvoiceUnderReview          InvoiceStatus = "UNDER_REVIEW"
	InvoiceReviseAndResubmit    InvoiceStatus = "REVISE_AND_RESUBMIT"
	InvoiceApproved             InvoiceStatus = "APPROVED"
	InvoiceApprovedAsNoted      InvoiceStatus = "APPROVED_AS_NOTED"
	InvoicePendingOwnerApproval InvoiceStatus = "PENDING_OWNER_APPROVAL"
	InvoiceUnknown              InvoiceStatus = "UNKNOWN"
)

// Invoice is a subcontractor invoice (Procore "requisition").
type Invoice struct {
	ID            int64
	ProjectID     int64
	CommitmentID  int64
	Number        int
	InvoiceNumber string
	Status        InvoiceStatus
	PeriodID      *int64
	PeriodStart   *Date
	PeriodEnd     *Date
	BillingDate   *Date
	VendorName    string
	Final         bool
	Summary       InvoiceSummary
	Items         []InvoiceItem // filled only when fetched with items (detail)
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// InvoiceSummary is the AIA G702 block.
type InvoiceSummary struct {
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

// InvoiceItem is one G703 continuation-sheet row.
type InvoiceItem struct {
	ID                               int64
	LineItemID                       *int64
	CostCodeID                       *int64
	Description                      string
	ScheduledValue                   Decimal
	WorkCompletedFromPrevious        Decimal
	WorkCompletedThisPeriod          Decimal
	MaterialsPresentlyStored         Decimal
	TotalCompletedAndStoredToDate    Decimal
	PercentComplete                  Decimal
	WorkCompletedRetainageRetained   Decimal
	WorkCompletedRetainagePercent    Decimal
	WorkCompletedRetainageReleased   Decimal
	MaterialsStoredRetainageRetained Decimal
	MaterialsStoredRetainagePercent  Decimal
}

// BillingPeriod is a project billing period.
type BillingPeriod struct {
	ID        int64
	StartDate Date
	EndDate   Date
	DueDate   *Date
	Position  int
	Status    string // open|closed
}

// BudgetView is a project budget view.
type BudgetView struct {
	ID          int64
	ProjectID   int64
	Name        string
	Description string
}

// BudgetRow is one budget view detail row. Columns holds the view's dynamic
// columns (source and formula columns) by name; values are decimals.
type BudgetRow struct {
	ID                   int64
	CostCodeID           *int64
	CostCode             string
	Category             string
	OriginalBudgetAmount Decimal
	BudgetModifications  Decimal
	Columns              map[string]Decimal
}

// ManpowerLog is a daily-log manpower entry.
type ManpowerLog struct {
	ID         int64
	Date       Date
	NumWorkers int
	NumHours   Decimal
	ManHours   Decimal
	Notes      string
	Vendor     *Vendor
	Status     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// NotesLog is a daily-log note.
type NotesLog struct {
	ID        int64
	Date      Date
	Comment   string
	CreatedBy *Person
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DailyLog groups one day's logs for a project.
type DailyLog struct {
	Date     Date
	Manpower []ManpowerLog
	Notes    []NotesLog
}

// ObservationStatus is initiated|ready_for_review|not_accepted|closed.
type ObservationStatus string

const (
	ObservationInitiated      ObservationStatus = "INITIATED"
	ObservationReadyForReview ObservationStatus = "READY_FOR_REVIEW"
	ObservationNotAccepted    ObservationStatus = "NOT_ACCEPTED"
	ObservationClosed         ObservationStatus = "CLOSED"
	ObservationUnknown        ObservationStatus = "UNKNOWN"
)

// Observation is a quality or safety observation item.
type Observation struct {
	ID          int64
	ProjectID   int64
	Number      string
	Name        string
	Description string
	Status      ObservationStatus
	Priority    string
	TypeName    string
	DueDate     *Date
	Assignee    *Person
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PunchStatus is a punch item's status (Procore responds Open|Closed|Overdue|Pending).
type PunchStatus string

const (
	PunchOpen    PunchStatus = "OPEN"
	PunchClosed  PunchStatus = "CLOSED"
	PunchOverdue PunchStatus = "OVERDUE"
	PunchPending PunchStatus = "PENDING"
	PunchUnknown PunchStatus = "UNKNOWN"
)

// PunchItem is a punch list item.
type PunchItem struct {
	ID               int64
	ProjectID        int64
	Number           string
	Name             string
	Description      string
	Status           PunchStatus
	WorkflowStatus   string
	Priority         string
	DueDate          *Date
	BallInCourt      []Person
	PunchItemManager *Person
	ClosedAt         *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}
