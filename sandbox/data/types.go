package data

import (
	"slices"
	"time"
)

// Kind numbers the id sequences. Every kind has its own sequence starting above
// 2^32 (Procore's ids no longer fit in 32 bits), so an id also tells its kind.
type Kind int

// The id sequences.
const (
	KindCompany Kind = iota
	KindUser
	KindVendor
	KindProject
	KindCostCode
	KindRFI
	KindQuestion
	KindAnswer
	KindSubmittal
	KindApprover
	KindSubmittalStatus
	KindSubmittalResponse
	KindSpecSection
	KindCommitment
	KindLineItem
	KindChangeOrder
	KindChangeOrderLine
	KindBillingPeriod
	KindInvoice
	KindInvoiceItem
	KindBudgetView
	KindBudgetLine
	KindManpowerLog
	KindNotesLog
	KindObservation
	KindObservationType
	KindPunchItem
	KindAttachment
	KindOffice
	KindWBSCode // derived from cost codes (WBSCodeOf), never drawn from NextID
	KindBudgetModification
	KindDirectCost
	// Change management (changemgmt.go), after every older kind so that no
	// older id moves.
	KindChangeEvent
	KindChangeEventLine
	KindPCO
	KindPCOLine
	KindCOR
	KindCOPackage
	KindPrimeChangeOrder
	KindPrimeContract
	KindPaymentApplication
	KindPrimeContractLine
	numKinds
)

// idBase is the first id of kind k: 4.3e9 + k·1e9, all above 2^32 and below 2^53.
func idBase(k Kind) int64 { return 4_300_000_000 + int64(k)*1_000_000_000 }

// KindOf returns the kind whose sequence id belongs to, or -1.
func KindOf(id int64) Kind {
	if id < idBase(0) {
		return -1
	}
	k := Kind((id - idBase(0)) / 1_000_000_000)
	if k >= numKinds {
		return -1
	}
	return k
}

// Dataset is the whole simulated Procore: every company and everything in it.
// It is not safe for concurrent use; the sandbox server guards it with a lock.
// Slices of items are kept sorted by id (new items get higher ids and are
// appended), so lookups are binary searches.
type Dataset struct {
	Seed int64
	// Base is the generation instant: every generated timestamp is at or before
	// it. It is derived from the seed, never from the wall clock.
	Base time.Time

	Companies []*Company
	Users     []*User // every person, across companies (Procore user ids are global)
	Projects  []*Project

	// ServiceUserID is the DMSA service account used by client_credentials tokens;
	// DemoUserID is the demo web user. Both belong to every company and project.
	ServiceUserID int64
	DemoUserID    int64

	next [numKinds]int64
}

// NextID allocates the next id of kind k.
func (d *Dataset) NextID(k Kind) int64 {
	d.next[k]++
	return idBase(k) + d.next[k]
}

// Company returns the company with id, or nil.
func (d *Dataset) Company(id int64) *Company { return find(d.Companies, id) }

// User returns the person with id, or nil.
func (d *Dataset) User(id int64) *User { return find(d.Users, id) }

// Project returns the project with id, or nil.
func (d *Dataset) Project(id int64) *Project { return find(d.Projects, id) }

// Vendor returns the vendor with id in any company, or nil.
func (d *Dataset) Vendor(id int64) *Vendor {
	for _, c := range d.Companies {
		if v := find(c.Vendors, id); v != nil {
			return v
		}
	}
	return nil
}

type keyed interface{ key() int64 }

// find binary-searches a slice sorted by id.
func find[T keyed](s []T, id int64) T {
	i, ok := slices.BinarySearchFunc(s, id, func(x T, id int64) int {
		switch k := x.key(); {
		case k < id:
			return -1
		case k > id:
			return 1
		}
		return 0
	})
	if ok {
		return s[i]
	}
	var zero T
	return zero
}

// Company is a Procore company (a general contractor's account).
type Company struct {
	ID        int64
	Name      string
	IsActive  bool
	LogoURL   string
	UserIDs   []int64 // company directory, sorted
	Vendors   []*Vendor
	Offices   []Office
	Statuses  []SubmittalStatus   // company submittal statuses
	Responses []SubmittalResponse // submittal approver responses
	Specs     []SpecSection       // specification sections
	ObsTypes  []ObservationType
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (c *Company) key() int64 { return c.ID }

// HasUser reports whether the person is in the company directory.
func (c *Company) HasUser(id int64) bool { _, ok := slices.BinarySearch(c.UserIDs, id); return ok }

// Vendor returns the company vendor with id, or nil.
func (c *Company) Vendor(id int64) *Vendor { return find(c.Vendors, id) }

// Status returns the company submittal status with id, or nil.
func (c *Company) Status(id int64) *SubmittalStatus {
	for i := range c.Statuses {
		if c.Statuses[i].ID == id {
			return &c.Statuses[i]
		}
	}
	return nil
}

// Response returns the submittal response with id, or nil.
func (c *Company) Response(id int64) *SubmittalResponse {
	for i := range c.Responses {
		if c.Responses[i].ID == id {
			return &c.Responses[i]
		}
	}
	return nil
}

// Spec returns the specification section with id, or nil.
func (c *Company) Spec(id int64) *SpecSection {
	for i := range c.Specs {
		if c.Specs[i].ID == id {
			return &c.Specs[i]
		}
	}
	return nil
}

// ObsType returns the observation type with id, or nil.
func (c *Company) ObsType(id int64) *ObservationType {
	for i := range c.ObsTypes {
		if c.ObsTypes[i].ID == id {
			return &c.ObsTypes[i]
		}
	}
	return nil
}

// Office is a company office.
type Office struct {
	ID   int64
	Name string
}

// User is a person. Login is the email address.
type User struct {
	ID         int64
	FirstName  string
	LastName   string
	Email      string
	JobTitle   string
	Phone      string
	VendorID   int64 // 0 when the person is an employee of the company itself
	IsActive   bool
	IsEmployee bool
	// Admin grants company-admin rights (e.g. any invoice status). The service
	// account is always treated as admin by the server.
	Admin     bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (u *User) key() int64 { return u.ID }

// Name is "First Last".
func (u *User) Name() string { return u.FirstName + " " + u.LastName }

// Vendor is a company directory vendor (subcontractor or supplier).
type Vendor struct {
	ID           int64
	CompanyID    int64
	Name         string
	Abbrev       string
	TradeName    string
	LegalName    string
	Address      string
	City         string
	StateCode    string
	Zip          string
	Phone        string
	Email        string
	IsActive     bool
	Prequalified bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (v *Vendor) key() int64 { return v.ID }

// SubmittalStatus is a company-configured submittal status.
type SubmittalStatus struct {
	ID     int64
	Name   string
	Status string // Draft|Open|Closed
}

// SubmittalResponse is a response an approver can give.
type SubmittalResponse struct {
	ID         int64
	Name       string
	Considered string // pending|approved|rejected|for_record
}

// SpecSection is a specification section (CSI MasterFormat).
type SpecSection struct {
	ID          int64
	Number      string
	Description string
}

// ObservationType is a company observation type.
type ObservationType struct {
	ID       int64
	Name     string
	Category string // Quality|Safety|Commissioning|Warranty|Work to Complete
}

// Attachment is a file attached to an item.
type Attachment struct {
	ID          int64
	Name        string
	Filename    string
	URL         string
	ContentType string
}

// Project is a Procore project and everything in it.
type Project struct {
	ID             int64
	CompanyID      int64
	Name           string
	ProjectNumber  string
	Address        string
	City           string
	StateCode      string
	CountryCode    string
	Zip            string
	County         string
	TimeZone       string
	Latitude       string // decimal text, rendered as a JSON number
	Longitude      string
	Description    string
	SquareFeet     int64
	StartDate      time.Time
	CompletionDate time.Time
	TotalValue     Fixed
	Active         bool
	Flag           string // Red|Yellow|Green|""
	Phone          string
	Stage          string
	StageID        int64
	ProjectType    string
	OfficeID       int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// ChangeOrderTiers is the project's change order tier setting, 1, 2 or 3
	// (see changeOrderTiers in generate.go and ThreeTierChangeOrders).
	ChangeOrderTiers int
	// Change management by tier (changemgmt.go).
	ChangeMgmt ChangeMgmt

	UserIDs   []int64 // project directory, sorted
	VendorIDs []int64 // project vendors, sorted

	CostCodes []*CostCode
	RFIs      []*RFI
	// RecycledRFIs are RFIs sent to the recycle bin, in the order they were
	// recycled: gone from RFIs (lists, reads), listed by the recycle bin.
	RecycledRFIs   []*RFI
	Submittals     []*Submittal
	Commitments    []*Commitment // work order and purchase order contracts
	ChangeOrders   []*ChangeOrder
	BillingPeriods []*BillingPeriod
	Invoices       []*Invoice
	BudgetViews    []*BudgetView
	BudgetLines    []*BudgetLine
	// BudgetModifications and DirectCosts: see cost.go.
	BudgetModifications []*BudgetModification
	DirectCosts         []*DirectCost
	Manpower            []*ManpowerLog
	Notes               []*NotesLog
	Observations        []*Observation
	PunchItems          []*PunchItem
	// PrimeContracts are the owner contracts (see prime.go).
	PrimeContracts []*PrimeContract
}

func (p *Project) key() int64 { return p.ID }

// HasUser reports whether the person is in the project directory.
func (p *Project) HasUser(id int64) bool { _, ok := slices.BinarySearch(p.UserIDs, id); return ok }

// HasVendor reports whether the vendor is on the project.
func (p *Project) HasVendor(id int64) bool { _, ok := slices.BinarySearch(p.VendorIDs, id); return ok }

// CostCode returns the project cost code with id, or nil.
func (p *Project) CostCode(id int64) *CostCode { return find(p.CostCodes, id) }

// RFI returns the RFI with id, or nil.
func (p *Project) RFI(id int64) *RFI { return find(p.RFIs, id) }

// Submittal returns the submittal with id, or nil.
func (p *Project) Submittal(id int64) *Submittal { return find(p.Submittals, id) }

// Commitment returns the commitment with id, or nil.
func (p *Project) Commitment(id int64) *Commitment { return find(p.Commitments, id) }

// ChangeOrder returns the commitment change order with id, or nil.
func (p *Project) ChangeOrder(id int64) *ChangeOrder { return find(p.ChangeOrders, id) }

// BillingPeriod returns the billing period with id, or nil.
func (p *Project) BillingPeriod(id int64) *BillingPeriod { return find(p.BillingPeriods, id) }

// Invoice returns the requisition with id, or nil.
func (p *Project) Invoice(id int64) *Invoice { return find(p.Invoices, id) }

// BudgetView returns the budget view with id, or nil.
func (p *Project) BudgetView(id int64) *BudgetView { return find(p.BudgetViews, id) }

// Observation returns the observation with id, or nil.
func (p *Project) Observation(id int64) *Observation { return find(p.Observations, id) }

// PunchItem returns the punch item with id, or nil.
func (p *Project) PunchItem(id int64) *PunchItem { return find(p.PunchItems, id) }

// Approver finds a submittal approver by id across the project's submittals.
func (p *Project) Approver(id int64) (*Submittal, *Approver) {
	for _, s := range p.Submittals {
		for _, a := range s.Approvers {
			if a.ID == id {
				return s, a
			}
		}
	}
	return nil, nil
}

// CostCode is a project cost code; divisions have ParentID 0.
type CostCode struct {
	ID        int64
	ParentID  int64
	Code      string
	FullCode  string
	Name      string
	Position  int
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (c *CostCode) key() int64 { return c.ID }

// Impact is a cost or schedule impact; Value is money (cost) or days (schedule).
type Impact struct {
	Status   string // yes_known|yes_unknown|no_impact|tbd|n_a; "" = not set
	Value    Fixed
	HasValue bool
}

// RFI statuses and ball-in-court roles, in Procore's spelling.
const (
	RFIOpen       = "open"
	RFIClosed     = "closed"
	RFIDraft      = "draft"
	RoleAssignees = "Assignees"
	RoleManager   = "RFI Manager"
	RoleCreator   = "Creator"
)

// RFI is a request for information.
type RFI struct {
	ID                      int64
	ProjectID               int64
	Number                  int // 0 = not numbered yet (drafts)
	Subject                 string
	Status                  string
	Draft                   bool
	Private                 bool
	Accepted                bool
	DueDate                 time.Time
	InitiatedAt             time.Time
	TimeResolved            time.Time
	ManagerID               int64
	CreatedByID             int64
	ReceivedFromID          int64
	ResponsibleContractorID int64 // vendor
	CostCodeID              int64
	AssigneeIDs             []int64
	BallInCourtIDs          []int64
	BallInCourtRole         string
	CostImpact              Impact
	ScheduleImpact          Impact
	Reference               string
	Questions               []*Question
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

func (r *RFI) key() int64 { return r.ID }

// Question is an RFI question with its answers (replies).
type Question struct {
	ID          int64
	Body        string
	CreatedByID int64
	Date        time.Time
	Attachments []Attachment
	Answers     []*Answer
}

// Answer is a reply to an RFI question.
type Answer struct {
	ID          int64
	Body        string
	Official    bool
	CreatedByID int64
	Date        time.Time
	Attachments []Attachment
}

// Submittal is a project submittal with its approval workflow.
type Submittal struct {
	ID                      int64
	ProjectID               int64
	Number                  string
	Revision                int
	Title                   string
	Description             string
	Type                    string
	StatusID                int64
	SpecSectionID           int64
	DueDate                 time.Time
	IssueDate               time.Time
	ReceivedDate            time.Time
	SubmitBy                time.Time
	DistributedAt           time.Time
	ManagerID               int64
	ReceivedFromID          int64
	ResponsibleContractorID int64
	CreatedByID             int64
	Private                 bool
	Approvers               []*Approver
	DistributionIDs         []int64
	BallInCourtIDs          []int64
	Attachments             []Attachment
	CreatedAt               time.Time
	UpdatedAt               time.Time
}

func (s *Submittal) key() int64 { return s.ID }

// Approver is one person in one workflow step of a submittal.
type Approver struct {
	ID               int64
	UserID           int64
	Step             int // workflow_group_number, 1-based
	ApproverType     string
	ResponseID       int64 // the company's "Pending" response until answered
	ResponseRequired bool
	DaysToRespond    int
	SentDate         time.Time
	DueDate          time.Time
	ReturnedDate     time.Time
	Comment          string
}

// Commitment kinds.
const (
	WorkOrder     = "WorkOrderContract"
	PurchaseOrder = "PurchaseOrderContract"
)

// WorkOrderStatuses and PurchaseOrderStatuses are Procore's enums, verbatim.
var (
	WorkOrderStatuses     = []string{"Draft", "Out For Bid", "Out For Signature", "Approved", "Complete", "Terminated", "Void"}
	PurchaseOrderStatuses = []string{"Draft", "Processing", "Submitted", "Partially Received", "Received", "Approved", "Closed"}
)

// Commitment is a work order contract (subcontract) or purchase order contract.
type Commitment struct {
	ID               int64
	ProjectID        int64
	Kind             string // WorkOrder|PurchaseOrder
	Number           string
	Title            string
	Status           string
	Executed         bool
	Private          bool
	VendorID         int64
	RetainagePercent Fixed
	Description      string
	ContractDate     time.Time
	DeliveryDate     time.Time // purchase orders
	ShipTo           string    // purchase orders
	PaymentTerms     string    // purchase orders
	CreatedByID      int64
	LineItems        []*LineItem
	Attachments      []Attachment
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (c *Commitment) key() int64 { return c.ID }

// Locked reports whether the schedule of values is locked (Approved and
// Complete work orders; Approved and Closed purchase orders).
func (c *Commitment) Locked() bool {
	switch c.Status {
	case "Approved", "Complete", "Closed":
		return true
	}
	return false
}

// Invoiceable reports whether subcontractor invoices may be created against it.
func (c *Commitment) Invoiceable() bool {
	switch c.Status {
	case "Approved", "Complete", "Received", "Partially Received":
		return true
	}
	return false
}

// GrandTotal is the sum of the SOV line amounts.
func (c *Commitment) GrandTotal() Fixed {
	var t Fixed
	for _, li := range c.LineItems {
		t += li.Amount
	}
	return t
}

// LineItem returns the SOV line with id, or nil.
func (c *Commitment) LineItem(id int64) *LineItem {
	for _, li := range c.LineItems {
		if li.ID == id {
			return li
		}
	}
	return nil
}

// LineItem is one schedule-of-values line.
type LineItem struct {
	ID          int64
	Description string
	Amount      Fixed
	Quantity    Fixed
	UnitCost    Fixed
	UOM         string
	CostCodeID  int64
	Position    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ChangeOrderStatuses is the commitment change order enum, verbatim.
var ChangeOrderStatuses = []string{"draft", "pricing", "not_pricing", "pending", "revised", "proceeding", "not_proceeding", "pending_billable", "no_charge", "approved", "rejected", "void"}

// ChangeOrder is a commitment change order.
type ChangeOrder struct {
	ID          int64
	ProjectID   int64
	ContractID  int64
	Number      string
	Title       string
	Status      string
	Description string
	DueDate     time.Time
	CreatedByID int64
	Lines       []ChangeOrderLine
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (c *ChangeOrder) key() int64 { return c.ID }

// GrandTotal is the sum of the change order's line amounts.
func (c *ChangeOrder) GrandTotal() Fixed {
	var t Fixed
	for _, l := range c.Lines {
		t += l.Amount
	}
	return t
}

// ChangeOrderLine is one line of a change order.
type ChangeOrderLine struct {
	ID          int64
	Amount      Fixed
	Description string
	// CostCodeID is the line's budget code (0: none); its WBS code is
	// WBSCodeOf(CostCodeID).
	CostCodeID int64
}

// BillingPeriod is a project billing period.
type BillingPeriod struct {
	ID       int64
	Start    time.Time
	End      time.Time
	Due      time.Time
	Position int
	Status   string // open|closed
}

func (b *BillingPeriod) key() int64 { return b.ID }

// InvoiceStatuses is the requisition status enum, verbatim.
var InvoiceStatuses = []string{"draft", "under_review", "revise_and_resubmit", "approved", "approved_as_noted", "pending_owner_approval"}

// Invoice is a subcontractor invoice (Procore "requisition"). Items hold only
// this period's inputs; previous-period columns and the G702 summary are
// derived (see Dataset.G703 and Dataset.G702), so they always agree.
type Invoice struct {
	ID            int64
	ProjectID     int64
	CommitmentID  int64
	Number        int // 1-based per commitment
	InvoiceNumber string
	Status        string
	PeriodID      int64
	Start         time.Time
	End           time.Time
	BillingDate   time.Time
	PaymentDate   time.Time
	SubmittedAt   time.Time
	Final         bool
	CreatedByID   int64
	Items         []InvoiceItem
	Attachments   []Attachment
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (i *Invoice) key() int64 { return i.ID }

// InvoiceItem is this period's input for one SOV line (one G703 row).
type InvoiceItem struct {
	ID                 int64
	LineItemID         int64
	WorkThisPeriod     Fixed
	MaterialsStored    Fixed // materials presently stored (balance, not cumulative)
	WorkRetainagePct   Fixed
	WorkReleased       Fixed // work retainage released this period
	MaterialsRetainPct Fixed
}

// BudgetView is a project budget view; Columns are its dynamic column keys.
type BudgetView struct {
	ID          int64
	Name        string
	Description string
	Columns     []string
	CreatedByID int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (b *BudgetView) key() int64 { return b.ID }

// BudgetLine is a budget line item (one detail row per view).
type BudgetLine struct {
	ID             int64
	CostCodeID     int64
	Category       string
	OriginalBudget Fixed
	Modifications  Fixed
	DirectCosts    Fixed
	PendingChanges Fixed
	ForecastToGo   Fixed
}

// ManpowerLog is a daily-log manpower entry.
type ManpowerLog struct {
	ID          int64
	Date        time.Time
	NumWorkers  int
	NumHours    Fixed
	Notes       string
	Status      string // pending|approved
	VendorID    int64
	CostCodeID  int64
	CreatedByID int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NotesLog is a daily-log note.
type NotesLog struct {
	ID          int64
	Date        time.Time
	Comment     string
	IsIssue     bool
	CreatedByID int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ObservationStatuses is the observation enum in filter order (0..3).
var ObservationStatuses = []string{"initiated", "ready_for_review", "not_accepted", "closed"}

// Observation is a quality or safety observation item.
type Observation struct {
	ID          int64
	ProjectID   int64
	Number      int
	Name        string
	Description string
	Status      string
	Priority    string // Low|Medium|High|Urgent
	TypeID      int64
	DueDate     time.Time
	AssigneeID  int64
	CreatedByID int64
	TradeName   string
	Location    string
	Attachments []Attachment
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (o *Observation) key() int64 { return o.ID }

// PunchItem is a punch list item. Status is stored lowercase
// (open|closed|pending|overdue) and rendered title case as Procore responds.
type PunchItem struct {
	ID              int64
	ProjectID       int64
	Position        int
	Name            string
	Description     string
	Status          string
	WorkflowStatus  string
	Priority        string // low|medium|high
	DueDate         time.Time
	ManagerID       int64
	FinalApproverID int64
	VendorID        int64
	Location        string
	AssigneeIDs     []int64
	BallInCourtIDs  []int64
	ClosedAt        time.Time
	CreatedByID     int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (p *PunchItem) key() int64 { return p.ID }
