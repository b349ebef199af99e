package mutate

import (
	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
)

// The types below are the mutations' inputs and payloads. gqlgen binds the
// schema's types of the same names to them (autobind), so validation sees
// exactly what the client sent and field paths in UserErrors use the
// schema's names. Nullable fields are pointers; nil means "not given".

// UserError is a problem with a mutation's input that the client can fix.
// Field is the path to the input field (["input", "items", "0",
// "workCompletedThisPeriod"]), ["input"] when the problem is the input as a
// whole. Code is one of the UserErrorCode constants.
type UserError struct {
	Field   []string
	Message string
	Code    UserErrorCode
}

// ImpactInput is a cost or schedule impact.
type ImpactInput struct {
	Status adapter.ImpactStatus
	Value  *adapter.Decimal
}

// CreateRFIInput is createRFI's input.
type CreateRFIInput struct {
	ProjectID      int64
	Subject        string
	Question       string
	ManagerID      int64
	AssigneeIDs    []int64
	DueDate        *adapter.Date
	CostImpact     *ImpactInput
	ScheduleImpact *ImpactInput
	AttachmentIDs  []string
	Draft          *bool
	IdempotencyKey *string
}

// CreateRFIPayload is createRFI's result.
type CreateRFIPayload struct {
	RFI        *adapter.RFI
	UserErrors []UserError
}

// ReplyToRFIInput is replyToRFI's input.
type ReplyToRFIInput struct {
	ProjectID      int64
	RfiID          int64
	Body           string
	Official       *bool
	AttachmentIDs  []string
	IdempotencyKey *string
}

// ReplyToRFIPayload is replyToRFI's result.
type ReplyToRFIPayload struct {
	RFI        *adapter.RFI
	UserErrors []UserError
}

// CloseRFIInput is closeRFI's input.
type CloseRFIInput struct {
	ProjectID int64
	RfiID     int64
}

// CloseRFIPayload is closeRFI's result.
type CloseRFIPayload struct {
	RFI        *adapter.RFI
	UserErrors []UserError
}

// ReopenRFIInput is reopenRFI's input.
type ReopenRFIInput struct {
	ProjectID int64
	RfiID     int64
}

// ReopenRFIPayload is reopenRFI's result.
type ReopenRFIPayload struct {
	RFI        *adapter.RFI
	UserErrors []UserError
}

// ForwardRFIInput is forwardRFI's input.
type ForwardRFIInput struct {
	ProjectID   int64
	RfiID       int64
	ForwardeeID int64
}

// ForwardRFIPayload is forwardRFI's result.
type ForwardRFIPayload struct {
	RFI        *adapter.RFI
	UserErrors []UserError
}

// AdvanceRFIBallInCourtInput is advanceRFIBallInCourt's input.
type AdvanceRFIBallInCourtInput struct {
	ProjectID int64
	RfiID     int64
}

// AdvanceRFIBallInCourtPayload is advanceRFIBallInCourt's result.
type AdvanceRFIBallInCourtPayload struct {
	RFI        *adapter.RFI
	UserErrors []UserError
}

// SubmittalWorkflowStepInput is one approval step of a new submittal.
type SubmittalWorkflowStepInput struct {
	ApproverIDs   []int64
	DaysToRespond *int
}

// CreateSubmittalInput is createSubmittal's input.
type CreateSubmittalInput struct {
	ProjectID       int64
	Number          string
	Title           *string
	Type            *string
	SpecSectionID   *int64
	Description     *string
	DueDate         *adapter.Date
	Workflow        []SubmittalWorkflowStepInput
	DistributionIDs []int64
	AttachmentIDs   []string
	IdempotencyKey  *string
}

// CreateSubmittalPayload is createSubmittal's result.
type CreateSubmittalPayload struct {
	Submittal  *adapter.Submittal
	UserErrors []UserError
}

// RespondToSubmittalInput is respondToSubmittal's input.
type RespondToSubmittalInput struct {
	ProjectID   int64
	SubmittalID int64
	ApproverID  int64
	ResponseID  int64
	Comment     *string
}

// RespondToSubmittalPayload is respondToSubmittal's result.
type RespondToSubmittalPayload struct {
	Submittal  *adapter.Submittal
	UserErrors []UserError
}

// UpdateSubmittalStatusInput is updateSubmittalStatus's input.
type UpdateSubmittalStatusInput struct {
	ProjectID   int64
	SubmittalID int64
	StatusID    int64
}

// UpdateSubmittalStatusPayload is updateSubmittalStatus's result.
type UpdateSubmittalStatusPayload struct {
	Submittal  *adapter.Submittal
	UserErrors []UserError
}

// CreateCommitmentLineItemInput is one schedule-of-values line of a new commitment.
type CreateCommitmentLineItemInput struct {
	Description string
	Amount      adapter.Decimal
	Quantity    *adapter.Decimal
	UnitCost    *adapter.Decimal
	Uom         *string
	CostCodeID  *int64
}

// CreateCommitmentInput is createCommitment's input.
type CreateCommitmentInput struct {
	ProjectID        int64
	Kind             adapter.CommitmentKind
	Number           *string
	Title            *string
	VendorID         *int64
	Status           *adapter.CommitmentStatus
	RetainagePercent *adapter.Decimal
	Description      *string
	LineItems        []CreateCommitmentLineItemInput
	AttachmentIDs    []string
	IdempotencyKey   *string
}

// CreateCommitmentPayload is createCommitment's result.
type CreateCommitmentPayload struct {
	Commitment *adapter.Commitment
	UserErrors []UserError
}

// UpdateCommitmentStatusInput is updateCommitmentStatus's input.
type UpdateCommitmentStatusInput struct {
	ProjectID    int64
	CommitmentID int64
	Kind         *adapter.CommitmentKind
	Status       adapter.CommitmentStatus
}

// UpdateCommitmentStatusPayload is updateCommitmentStatus's result.
type UpdateCommitmentStatusPayload struct {
	Commitment *adapter.Commitment
	UserErrors []UserError
}

// CreateCommitmentChangeOrderInput is createCommitmentChangeOrder's input.
type CreateCommitmentChangeOrderInput struct {
	ProjectID      int64
	CommitmentID   int64
	Number         *string
	Title          *string
	Status         *adapter.ChangeOrderStatus
	Description    *string
	DueDate        *adapter.Date
	Amount         adapter.Decimal
	IdempotencyKey *string
}

// CreateCommitmentChangeOrderPayload is createCommitmentChangeOrder's result.
type CreateCommitmentChangeOrderPayload struct {
	ChangeOrder *adapter.ChangeOrder
	UserErrors  []UserError
}

// CreateInvoiceItemInput is one G703 row of a new invoice. Nil amounts are
// zero; nil retainage percents are the commitment's retainage percent.
type CreateInvoiceItemInput struct {
	LineItemID                      int64
	WorkCompletedThisPeriod         *adapter.Decimal
	MaterialsPresentlyStored        *adapter.Decimal
	WorkCompletedRetainagePercent   *adapter.Decimal
	WorkCompletedRetainageReleased  *adapter.Decimal
	MaterialsStoredRetainagePercent *adapter.Decimal
}

// CreateInvoiceInput is createInvoice's input.
type CreateInvoiceInput struct {
	ProjectID      int64
	CommitmentID   int64
	PeriodID       *int64
	InvoiceNumber  *string
	BillingDate    *adapter.Date
	Items          []CreateInvoiceItemInput
	AttachmentIDs  []string
	IdempotencyKey *string
}

// CreateInvoicePayload is createInvoice's result.
type CreateInvoicePayload struct {
	Invoice    *adapter.Invoice
	UserErrors []UserError
}

// UpdateInvoiceStatusInput is updateInvoiceStatus's input.
type UpdateInvoiceStatusInput struct {
	ProjectID int64
	InvoiceID int64
	Status    adapter.InvoiceStatus
}

// UpdateInvoiceStatusPayload is updateInvoiceStatus's result.
type UpdateInvoiceStatusPayload struct {
	Invoice    *adapter.Invoice
	UserErrors []UserError
}

// UploadAttachmentInput is uploadAttachment's input. File is the multipart
// request's file part.
type UploadAttachmentInput struct {
	ProjectID      int64
	File           graphql.Upload
	Sha256         *string
	Filename       *string
	ContentType    *string
	IdempotencyKey *string
}

// UploadedFile is a file uploaded to Procore, ready to attach: pass ID in an
// attachmentIds field of another mutation.
type UploadedFile struct {
	ID          string
	Filename    string
	ContentType string
	Size        int
	Sha256      string
}

// UploadAttachmentPayload is uploadAttachment's result.
type UploadAttachmentPayload struct {
	Upload     *UploadedFile
	UserErrors []UserError
}
