package adapter

import (
	"context"
	"time"
)

// ListOptions selects a window of a list. The adapter fetches pages with the
// largest per_page the endpoint allows, following Link rel="next", until it has
// Limit items or the list ends.
type ListOptions struct {
	// Limit is the most items to return; 0 means all of them.
	Limit int
	// UpdatedSince keeps items updated at or after this instant
	// (filters[updated_at]=since...now). Nil means no filter.
	UpdatedSince *time.Time
	// UpdatedBefore keeps items updated at or before this instant
	// (filters[updated_at]=since...before, since defaulting to the Unix
	// epoch). Procore compares whole seconds. Nil means no filter.
	UpdatedBefore *time.Time
	// Order asks Procore to sort the list; the zero value is Procore's own
	// order (by id). Only lists whose method documents it accept another
	// order; the others answer CodeBadUserInput.
	Order ListSort
	// IDs keeps only these ids (filters[id][]). Nil means no filter.
	IDs []int64
}

// ListSort is a sort order a list can ask Procore for.
type ListSort string

const (
	// OrderDefault is Procore's own order: by id, ascending.
	OrderDefault ListSort = ""
	// OrderIDDesc is by id, descending.
	OrderIDDesc ListSort = "-id"
	// OrderUpdatedAsc is by updated_at, ascending (ties in any order).
	OrderUpdatedAsc ListSort = "updated_at"
	// OrderUpdatedDesc is by updated_at, descending (ties in any order).
	OrderUpdatedDesc ListSort = "-updated_at"
)

// Page is a window of a list plus the upstream Total header (the size of the
// whole filtered list, not of Items).
type Page[T any] struct {
	Items []T
	Total int
}

// ProjectFilter narrows a project list. Nil fields do not filter.
type ProjectFilter struct {
	Status *ProjectStatus // default ACTIVE, as Procore
	Search *string        // name contains
	// UpdatedSince keeps projects updated at or after this instant; when set it
	// takes precedence over ListOptions.UpdatedSince.
	UpdatedSince *time.Time
	// UpdatedBefore keeps projects updated at or before this instant; when set
	// it takes precedence over ListOptions.UpdatedBefore.
	UpdatedBefore *time.Time
}

// InvoiceFilter narrows a requisition list within a project.
type InvoiceFilter struct {
	CommitmentID *int64
	Status       *InvoiceStatus
}

// DateRange is an inclusive range of calendar dates.
type DateRange struct {
	From Date
	To   Date
}

// Reader is the read side of Procore for one Connection (one credential and
// its company). Every method returns an *Error: CodeNotFound when the item does
// not exist or the caller cannot see it (Procore answers 404 for both),
// CodeForbidden when a tool is not permitted, CodeUnauthenticated when the
// credential no longer works, CodeRateLimited and CodeUpstreamUnavailable when
// Procore keeps refusing after the adapter's own retries.
type Reader interface {
	// Me returns the Procore user (or service account) behind the credential.
	Me(ctx context.Context) (Person, error)
	// Companies lists the companies the credential can see.
	Companies(ctx context.Context) ([]Company, error)

	Projects(ctx context.Context, companyID int64, f ProjectFilter, opt ListOptions) (Page[Project], error)
	Project(ctx context.Context, companyID, projectID int64) (Project, error)

	CompanyUsers(ctx context.Context, companyID int64, opt ListOptions) (Page[User], error)
	ProjectUsers(ctx context.Context, projectID int64, opt ListOptions) (Page[User], error)
	CompanyVendors(ctx context.Context, companyID int64, opt ListOptions) (Page[Vendor], error)
	ProjectVendors(ctx context.Context, projectID int64, opt ListOptions) (Page[Vendor], error)
	CostCodes(ctx context.Context, projectID int64, opt ListOptions) (Page[CostCode], error)

	// RFIs lists a project's RFIs; it accepts every ListSort
	// (sort[attribute] and sort[direction]).
	RFIs(ctx context.Context, projectID int64, opt ListOptions) (Page[RFI], error)
	RFI(ctx context.Context, projectID, rfiID int64) (RFI, error)

	Submittals(ctx context.Context, projectID int64, opt ListOptions) (Page[Submittal], error)
	Submittal(ctx context.Context, projectID, submittalID int64) (Submittal, error)

	// Commitments lists subcontracts and purchase orders of a project, merged and
	// ordered by id; Total is the sum of both lists' totals.
	Commitments(ctx context.Context, projectID int64, opt ListOptions) (Page[Commitment], error)
	// Commitment returns one commitment with its line items.
	Commitment(ctx context.Context, projectID int64, kind CommitmentKind, commitmentID int64) (Commitment, error)
	ChangeOrders(ctx context.Context, projectID int64, commitmentID *int64) ([]ChangeOrder, error)

	// Invoices lists a project's subcontractor invoices (requisitions), without items.
	Invoices(ctx context.Context, projectID int64, f InvoiceFilter, opt ListOptions) (Page[Invoice], error)
	// Invoice returns one invoice with its G703 items.
	Invoice(ctx context.Context, projectID, invoiceID int64) (Invoice, error)
	BillingPeriods(ctx context.Context, projectID int64) ([]BillingPeriod, error)

	BudgetViews(ctx context.Context, projectID int64) ([]BudgetView, error)
	BudgetRows(ctx context.Context, projectID, viewID int64) ([]BudgetRow, error)

	// DailyLogs returns manpower and notes logs grouped by day within r
	// (Procore returns only today's logs when no range is sent; we always send one).
	DailyLogs(ctx context.Context, projectID int64, r DateRange) ([]DailyLog, error)
	Observations(ctx context.Context, projectID int64, opt ListOptions) (Page[Observation], error)
	PunchItems(ctx context.Context, projectID int64, opt ListOptions) (Page[PunchItem], error)

	// Cost (issue 16). BudgetModifications lists a project's budget
	// modifications whole (Procore filters them by nothing). DirectCosts
	// lists a project's direct cost items whole (v1.1, without line items).
	BudgetModifications(ctx context.Context, projectID int64) ([]BudgetModification, error)
	DirectCosts(ctx context.Context, projectID int64) ([]DirectCost, error)
	// Change management (changemgmt.go): whole lists of one project, each one
	// call per page. A kind the project's tier does not use is an empty
	// list; PrimeChangeOrders of a 3-tier project (which Procore's list
	// refuses) is empty too. PCOLineItems is one PCO's line items.
	ChangeEvents(ctx context.Context, projectID int64) ([]ChangeEvent, error)
	PotentialChangeOrders(ctx context.Context, projectID int64) ([]PotentialChangeOrder, error)
	PCOLineItems(ctx context.Context, projectID, pcoID int64) ([]PCOLineItem, error)
	ChangeOrderRequests(ctx context.Context, projectID int64) ([]ChangeOrderRequest, error)
	ChangeOrderPackages(ctx context.Context, projectID int64) ([]ChangeOrderPackage, error)
	PrimeChangeOrders(ctx context.Context, projectID int64) ([]PrimeChangeOrder, error)
	// Prime contracts and owner invoices (issue 16).
	// PrimeContracts lists a project's prime contracts (whole list).
	PrimeContracts(ctx context.Context, projectID int64) ([]PrimeContract, error)
	// PaymentApplications lists a prime contract's payment applications
	// (owner invoices) with their G702 summaries (whole list).
	PaymentApplications(ctx context.Context, projectID, primeContractID int64) ([]PaymentApplication, error)
	// PrimeContractPending reads a prime contract's show for its pending
	// change orders total (nil when Procore sends none).
	PrimeContractPending(ctx context.Context, projectID, primeContractID int64) (*Decimal, error)
	// PrimeContractLines lists a prime contract's schedule of values (whole list).
	PrimeContractLines(ctx context.Context, projectID, primeContractID int64) ([]PrimeContractLine, error)
}

// Writer is the write side. Writes are never retried by the adapter unless
// Procore proves they did not happen (429/503 before processing). A Procore 422
// becomes CodeBadUserInput with Fields.
type Writer interface {
	ChangeMgmtWriter // changemgmt_write.go
	CreateRFI(ctx context.Context, projectID int64, in RFICreate) (RFI, error)
	ReplyToRFI(ctx context.Context, projectID, rfiID int64, in RFIReply) (RFI, error)
	// SetRFIAccepted closes (true) or reopens (false) an RFI (Procore's accepted flag).
	SetRFIAccepted(ctx context.Context, projectID, rfiID int64, accepted bool) (RFI, error)
	ForwardRFI(ctx context.Context, projectID, rfiID, forwardeeID int64) (RFI, error)
	AdvanceRFIBallInCourt(ctx context.Context, projectID, rfiID int64) (RFI, error)

	CreateSubmittal(ctx context.Context, projectID int64, in SubmittalCreate) (Submittal, error)
	RespondToSubmittal(ctx context.Context, projectID, submittalID, approverID, responseID int64, comment string) (Submittal, error)
	UpdateSubmittalStatus(ctx context.Context, projectID, submittalID, statusID int64) (Submittal, error)
	SubmittalStatuses(ctx context.Context, companyID int64) ([]SubmittalStatus, error)
	// SubmittalResponses lists the responses a project's approvers can give
	// (RespondToSubmittal's responseID).
	SubmittalResponses(ctx context.Context, projectID int64) ([]SubmittalResponse, error)

	CreateCommitment(ctx context.Context, projectID int64, in CommitmentCreate) (Commitment, error)
	UpdateCommitmentStatus(ctx context.Context, projectID int64, kind CommitmentKind, commitmentID int64, status CommitmentStatus) (Commitment, error)
	CreateChangeOrder(ctx context.Context, projectID int64, in ChangeOrderCreate) (ChangeOrder, error)

	CreateInvoice(ctx context.Context, projectID int64, in InvoiceCreate) (Invoice, error)
	UpdateInvoiceStatus(ctx context.Context, projectID, invoiceID int64, status InvoiceStatus) (Invoice, error)

	// StatusWriter sets change order and payment application statuses (status_write.go).
	StatusWriter

	// Upload runs Procore's presigned upload flow (create, send bytes, complete,
	// checked against sha256) and returns the upload id to attach to items.
	Upload(ctx context.Context, projectID int64, in UploadInput) (string, error)
}

// RateLimitStatus is a connection's Procore rate-limit window as the client
// last learned it from Procore's X-Rate-Limit-* headers (shared by every
// replica when the budget lives in Redis).
type RateLimitStatus struct {
	// Limit is the window's size (X-Rate-Limit-Limit).
	Limit int
	// Remaining is the calls left in the window (the lowest seen in it); it
	// does not subtract calls in flight.
	Remaining int
	// ResetAt is when the window resets; zero when it has reset since the
	// last response (Remaining then being Limit).
	ResetAt time.Time
}

// RateLimiter is implemented by adapters that know Procore's rate-limit
// window.
type RateLimiter interface {
	// RateLimit returns the window; false before the first response.
	RateLimit(ctx context.Context) (RateLimitStatus, bool)
}

// Procore is everything the gateway needs from one Connection.
type Procore interface {
	Reader
	Writer
}

// RFICreate is the input of CreateRFI. Required: Subject, Question, ManagerID.
type RFICreate struct {
	Subject        string
	Question       string
	ManagerID      int64
	AssigneeIDs    []int64
	DueDate        *Date
	CostImpact     *Impact
	ScheduleImpact *Impact
	UploadIDs      []string
	Draft          bool
}

// RFIReply is the input of ReplyToRFI.
type RFIReply struct {
	Body      string
	Official  bool
	UploadIDs []string
}

// SubmittalStep is one workflow step: its approvers and days to respond.
type SubmittalStep struct {
	ApproverIDs   []int64
	DaysToRespond int
}

// SubmittalCreate is the input of CreateSubmittal. Required: Number.
type SubmittalCreate struct {
	Number          string
	Title           string
	Type            string
	SpecSection     string
	Description     string
	DueDate         *Date
	Steps           []SubmittalStep
	DistributionIDs []int64
	UploadIDs       []string
}

// CommitmentLineItemInput is one SOV line of a new commitment.
type CommitmentLineItemInput struct {
	Description string
	Amount      Decimal
	CostCodeID  *int64
	Quantity    *Decimal
	UnitCost    *Decimal
	UOM         string
}

// CommitmentCreate is the input of CreateCommitment.
type CommitmentCreate struct {
	Kind             CommitmentKind
	Number           string
	Title            string
	VendorID         *int64
	Status           CommitmentStatus // default DRAFT
	RetainagePercent *Decimal
	Description      string
	LineItems        []CommitmentLineItemInput
	UploadIDs        []string
}

// ChangeOrderCreate is the input of CreateChangeOrder.
type ChangeOrderCreate struct {
	CommitmentID int64
	Number       string
	Title        string
	Status       ChangeOrderStatus
	Description  string
	DueDate      *Date
	Amount       Decimal
}

// InvoiceItemInput is one G703 row of a new invoice, keyed by SOV line item.
type InvoiceItemInput struct {
	LineItemID                      int64
	WorkCompletedThisPeriod         Decimal
	MaterialsPresentlyStored        Decimal
	WorkCompletedRetainagePercent   Decimal
	WorkCompletedRetainageReleased  Decimal
	MaterialsStoredRetainagePercent Decimal
}

// InvoiceCreate is the input of CreateInvoice.
type InvoiceCreate struct {
	CommitmentID  int64
	PeriodID      int64
	InvoiceNumber string
	BillingDate   *Date
	Items         []InvoiceItemInput
	UploadIDs     []string
}

// UploadInput is a file to upload.
type UploadInput struct {
	Filename    string
	ContentType string
	Data        []byte
	// SHA256 is the hex digest the client declared; empty means compute it.
	SHA256 string
}

// RecycleBin is the optional part of a Procore client that lists deleted
// items: Procore's recycle bins, which the poller reads for the DELETED
// tombstones of the change feed. Only tools whose recycle bin the published
// contract lists are here.
type RecycleBin interface {
	// RecycledRFIs lists a project's RFIs in the recycle bin, with
	// opt.UpdatedSince as its filters[updated_at] window (recycling an item
	// updates it). Returns NOT_FOUND when the project is missing or not
	// visible, FORBIDDEN when the credential may not read the recycle bin.
	RecycledRFIs(ctx context.Context, projectID int64, opt ListOptions) (Page[RFI], error)
}
