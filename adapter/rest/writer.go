package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// Writes. Each is one upstream create or update (plus, where Procore's answer
// is not the whole object, one read back). Writes are never retried by the
// stack unless Procore refused them before processing (429/503). Inputs are
// checked for what Procore would certainly refuse before any call; Procore's
// own 422s come back as BAD_USER_INPUT with Fields.

// badInput returns a BAD_USER_INPUT error about one field.
func badInput(field []string, format string, args ...any) *adapter.Error {
	msg := fmt.Sprintf(format, args...)
	return &adapter.Error{Code: adapter.CodeBadUserInput, Message: msg,
		Fields: []adapter.FieldError{{Field: field, Message: msg, Code: adapter.CodeBadUserInput}}}
}

// wireEnum turns an adapter enum constant into Procore's snake_case spelling.
func wireEnum[T ~string](v T) string { return strings.ToLower(string(v)) }

func invoiceStatusWire(s adapter.InvoiceStatus) (string, error) {
	for _, k := range invoiceStatuses {
		if k == s {
			return wireEnum(s), nil
		}
	}
	return "", badInput([]string{"status"}, "unknown invoice status %q", s)
}

func changeOrderStatusWire(s adapter.ChangeOrderStatus) (string, error) {
	if s == "" {
		return "draft", nil
	}
	for _, k := range changeOrderStatuses {
		if k == s {
			return wireEnum(s), nil
		}
	}
	return "", badInput([]string{"status"}, "unknown change order status %q", s)
}

// Procore spells commitment statuses in title case with spaces, and each kind
// has its own set.
var (
	workOrderStatuses = map[adapter.CommitmentStatus]string{
		adapter.CommitmentDraft: "Draft", adapter.CommitmentOutForBid: "Out For Bid",
		adapter.CommitmentOutForSignature: "Out For Signature", adapter.CommitmentApproved: "Approved",
		adapter.CommitmentComplete: "Complete", adapter.CommitmentTerminated: "Terminated", adapter.CommitmentVoid: "Void",
	}
	purchaseOrderStatuses = map[adapter.CommitmentStatus]string{
		adapter.CommitmentDraft: "Draft", adapter.CommitmentProcessing: "Processing",
		adapter.CommitmentSubmitted: "Submitted", adapter.CommitmentPartiallyReceived: "Partially Received",
		adapter.CommitmentReceived: "Received", adapter.CommitmentApproved: "Approved", adapter.CommitmentClosed: "Closed",
	}
)

func commitmentStatusWire(kind adapter.CommitmentKind, s adapter.CommitmentStatus) (string, error) {
	if s == "" {
		s = adapter.CommitmentDraft
	}
	set := workOrderStatuses
	if kind == adapter.CommitmentPurchaseOrder {
		set = purchaseOrderStatuses
	}
	if w, ok := set[s]; ok {
		return w, nil
	}
	return "", badInput([]string{"status"}, "status %s does not apply to a %s", s, strings.ToLower(strings.ReplaceAll(string(kind), "_", " ")))
}

// money renders an exact decimal as Procore's string form.
func money(d decimal.Decimal) string { return d.String() }

func moneyPtr(d *decimal.Decimal) *string {
	if d == nil {
		return nil
	}
	s := d.String()
	return &s
}

func datePtr(d *adapter.Date) *string {
	if d == nil || d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

type impactBody struct {
	Status string `json:"status"`
	Value  any    `json:"value,omitempty"`
}

func impactWire(in *adapter.Impact, days bool) *impactBody {
	if in == nil {
		return nil
	}
	b := &impactBody{Status: wireEnum(in.Status)}
	if in.Value != nil {
		if days {
			b.Value = json.Number(in.Value.String()) // schedule impact: a number of days
		} else {
			b.Value = in.Value.String() // cost impact: money string
		}
	}
	return b
}

// CreateRFI creates an RFI (subject, question and manager are required).
func (c *Client) CreateRFI(ctx context.Context, projectID int64, in adapter.RFICreate) (adapter.RFI, error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.RFI{}, err
	}
	var fields []adapter.FieldError
	if strings.TrimSpace(in.Subject) == "" {
		fields = append(fields, adapter.FieldError{Field: []string{"subject"}, Message: "can't be blank", Code: adapter.CodeBadUserInput})
	}
	if strings.TrimSpace(in.Question) == "" {
		fields = append(fields, adapter.FieldError{Field: []string{"question"}, Message: "can't be blank", Code: adapter.CodeBadUserInput})
	}
	if in.ManagerID <= 0 {
		fields = append(fields, adapter.FieldError{Field: []string{"managerId"}, Message: "can't be blank", Code: adapter.CodeBadUserInput})
	}
	if len(fields) > 0 {
		return adapter.RFI{}, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "create RFI: invalid input", Fields: fields}
	}
	type question struct {
		Body      string   `json:"body"`
		UploadIDs []string `json:"upload_ids,omitempty"`
	}
	type rfi struct {
		Subject        string      `json:"subject"`
		RFIManagerID   int64       `json:"rfi_manager_id"`
		Question       question    `json:"question"`
		AssigneeIDs    []int64     `json:"assignee_ids,omitempty"`
		DueDate        *string     `json:"due_date,omitempty"`
		Draft          bool        `json:"draft"`
		CostImpact     *impactBody `json:"cost_impact,omitempty"`
		ScheduleImpact *impactBody `json:"schedule_impact,omitempty"`
	}
	body := map[string]any{"rfi": rfi{
		Subject: in.Subject, RFIManagerID: in.ManagerID,
		Question:    question{Body: in.Question, UploadIDs: in.UploadIDs},
		AssigneeIDs: in.AssigneeIDs, DueDate: datePtr(in.DueDate), Draft: in.Draft,
		CostImpact: impactWire(in.CostImpact, false), ScheduleImpact: impactWire(in.ScheduleImpact, true),
	}}
	var w wireRFI
	k := call{what: "create RFI", method: http.MethodPost, path: pathf("/rest/v1.0/projects/%d/rfis", projectID), body: body}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.RFI{}, err
	}
	return w.rfi(projectID), nil
}

// ReplyToRFI posts a reply (official or not) and returns the RFI as it is now.
func (c *Client) ReplyToRFI(ctx context.Context, projectID, rfiID int64, in adapter.RFIReply) (adapter.RFI, error) {
	if err := firstErr(validID("project id", projectID), validID("RFI id", rfiID)); err != nil {
		return adapter.RFI{}, err
	}
	if strings.TrimSpace(in.Body) == "" {
		return adapter.RFI{}, badInput([]string{"body"}, "can't be blank")
	}
	type reply struct {
		Body      string   `json:"body"`
		Official  bool     `json:"official"`
		UploadIDs []string `json:"upload_ids,omitempty"`
	}
	k := call{what: "reply to RFI", method: http.MethodPost, path: pathf("/rest/v1.0/projects/%d/rfis/%d/replies", projectID, rfiID),
		body: map[string]any{"reply": reply{Body: in.Body, Official: in.Official, UploadIDs: in.UploadIDs}}}
	if _, err := c.do(ctx, k); err != nil {
		return adapter.RFI{}, err
	}
	return c.RFI(ctx, projectID, rfiID)
}

// SetRFIAccepted closes (true) or reopens (false) an RFI.
func (c *Client) SetRFIAccepted(ctx context.Context, projectID, rfiID int64, accepted bool) (adapter.RFI, error) {
	if err := firstErr(validID("project id", projectID), validID("RFI id", rfiID)); err != nil {
		return adapter.RFI{}, err
	}
	what := "reopen RFI"
	if accepted {
		what = "close RFI"
	}
	return c.writeRFI(ctx, projectID, rfiID, call{what: what, method: http.MethodPatch,
		path: pathf("/rest/v1.0/projects/%d/rfis/%d", projectID, rfiID),
		body: map[string]any{"rfi": map[string]bool{"accepted": accepted}}})
}

// ForwardRFI forwards an RFI to one reviewer.
func (c *Client) ForwardRFI(ctx context.Context, projectID, rfiID, forwardeeID int64) (adapter.RFI, error) {
	if err := firstErr(validID("project id", projectID), validID("RFI id", rfiID), validID("forwardee id", forwardeeID)); err != nil {
		return adapter.RFI{}, err
	}
	return c.writeRFI(ctx, projectID, rfiID, call{what: "forward RFI", method: http.MethodPatch,
		path: pathf("/rest/v1.0/projects/%d/rfis/%d/forward_for_review", projectID, rfiID),
		body: map[string]any{"rfi": map[string][]int64{"forwardee_ids": {forwardeeID}}}})
}

// AdvanceRFIBallInCourt moves the ball in court between manager and assignees.
func (c *Client) AdvanceRFIBallInCourt(ctx context.Context, projectID, rfiID int64) (adapter.RFI, error) {
	if err := firstErr(validID("project id", projectID), validID("RFI id", rfiID)); err != nil {
		return adapter.RFI{}, err
	}
	return c.writeRFI(ctx, projectID, rfiID, call{what: "advance RFI ball in court", method: http.MethodPatch,
		path: pathf("/rest/v1.0/projects/%d/rfis/%d/advance_ball_in_court", projectID, rfiID), body: map[string]any{}})
}

// writeRFI sends an RFI update and returns the RFI, reading it back when
// Procore's answer is not the RFI itself.
func (c *Client) writeRFI(ctx context.Context, projectID, rfiID int64, k call) (adapter.RFI, error) {
	resp, err := c.do(ctx, k)
	if err != nil {
		return adapter.RFI{}, err
	}
	var w wireRFI
	if err := decodeBody(resp.body, &w); err == nil && int64(w.ID) == rfiID {
		return w.rfi(projectID), nil
	}
	return c.RFI(ctx, projectID, rfiID)
}

// CreateSubmittal creates a submittal with its approver workflow.
func (c *Client) CreateSubmittal(ctx context.Context, projectID int64, in adapter.SubmittalCreate) (adapter.Submittal, error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Submittal{}, err
	}
	if strings.TrimSpace(in.Number) == "" {
		return adapter.Submittal{}, badInput([]string{"number"}, "can't be blank")
	}
	type approver struct {
		LoginInformationID int64  `json:"login_information_id"`
		ApproverType       string `json:"approver_type"`
		DaysToRespond      int    `json:"days_to_respond,omitempty"`
	}
	type submittal struct {
		Number                 string       `json:"number"`
		Title                  string       `json:"title,omitempty"`
		Type                   string       `json:"type,omitempty"`
		SpecificationSectionID *int64       `json:"specification_section_id,omitempty"`
		Description            string       `json:"description,omitempty"`
		DueDate                *string      `json:"due_date,omitempty"`
		DistributionMemberIDs  []int64      `json:"distribution_member_ids,omitempty"`
		WorkflowData           [][]approver `json:"workflow_data,omitempty"`
		// Procore's submittal create takes no upload_ids: uploaded files
		// go in prostore_file_ids.
		ProstoreFileIDs []string `json:"prostore_file_ids,omitempty"`
	}
	s := submittal{Number: in.Number, Title: in.Title, Type: in.Type, Description: in.Description,
		DueDate: datePtr(in.DueDate), DistributionMemberIDs: in.DistributionIDs, ProstoreFileIDs: in.UploadIDs}
	if spec := strings.TrimSpace(in.SpecSection); spec != "" {
		id, err := strconv.ParseInt(spec, 10, 64)
		if err != nil || id <= 0 {
			return adapter.Submittal{}, badInput([]string{"specSection"}, "must be a Procore specification section id")
		}
		s.SpecificationSectionID = &id
	}
	for i, step := range in.Steps {
		if len(step.ApproverIDs) == 0 {
			return adapter.Submittal{}, badInput([]string{"steps", strconv.Itoa(i), "approverIds"}, "a workflow step needs at least one approver")
		}
		var st []approver
		for _, id := range step.ApproverIDs {
			st = append(st, approver{LoginInformationID: id, ApproverType: "Approver", DaysToRespond: step.DaysToRespond})
		}
		s.WorkflowData = append(s.WorkflowData, st)
	}
	var w wireSubmittal
	k := call{what: "create submittal", method: http.MethodPost, path: pathf("/rest/v1.1/projects/%d/submittals", projectID),
		body: map[string]any{"submittal": s}}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.Submittal{}, err
	}
	return w.submittal(projectID), nil
}

// RespondToSubmittal records an approver's response and returns the submittal.
func (c *Client) RespondToSubmittal(ctx context.Context, projectID, submittalID, approverID, responseID int64, comment string) (adapter.Submittal, error) {
	if err := firstErr(validID("project id", projectID), validID("submittal id", submittalID),
		validID("approver id", approverID), validID("response id", responseID)); err != nil {
		return adapter.Submittal{}, err
	}
	type approver struct {
		SubmittalResponseID int64  `json:"submittal_response_id"`
		Comment             string `json:"comment,omitempty"`
	}
	// project_id and submittal_id are required query parameters.
	q := projectQuery(projectID)
	q.Set("submittal_id", strconv.FormatInt(submittalID, 10))
	k := call{what: "respond to submittal", method: http.MethodPatch, path: pathf("/rest/v1.0/submittal_approvers/%d", approverID),
		query: q, body: map[string]any{"submittal_approver": approver{SubmittalResponseID: responseID, Comment: comment}}}
	if _, err := c.do(ctx, k); err != nil {
		return adapter.Submittal{}, err
	}
	return c.Submittal(ctx, projectID, submittalID)
}

// UpdateSubmittalStatus sets a submittal's (company-configured) status.
// Procore's published update requires submittal.number, as the create does,
// so the submittal is read first and its number sent unchanged.
func (c *Client) UpdateSubmittalStatus(ctx context.Context, projectID, submittalID, statusID int64) (adapter.Submittal, error) {
	if err := firstErr(validID("project id", projectID), validID("submittal id", submittalID), validID("status id", statusID)); err != nil {
		return adapter.Submittal{}, err
	}
	var cur wireSubmittal
	if err := c.getJSON(ctx, call{what: "get submittal", method: http.MethodGet,
		path: pathf("/rest/v1.1/projects/%d/submittals/%d", projectID, submittalID)}, &cur); err != nil {
		return adapter.Submittal{}, err
	}
	type update struct {
		Number   string `json:"number"`
		StatusID int64  `json:"status_id"`
	}
	k := call{what: "update submittal status", method: http.MethodPatch,
		path: pathf("/rest/v1.1/projects/%d/submittals/%d", projectID, submittalID),
		body: map[string]any{"submittal": update{Number: string(cur.Number), StatusID: statusID}}}
	resp, err := c.do(ctx, k)
	if err != nil {
		return adapter.Submittal{}, err
	}
	var w wireSubmittal
	if err := decodeBody(resp.body, &w); err == nil && int64(w.ID) == submittalID {
		return w.submittal(projectID), nil
	}
	return c.Submittal(ctx, projectID, submittalID)
}

// SubmittalStatuses lists a company's submittal statuses.
func (c *Client) SubmittalStatuses(ctx context.Context, companyID int64) ([]adapter.SubmittalStatus, error) {
	if err := validID("company id", companyID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireSubmittalStatus](ctx, c, listSpec{what: "list submittal statuses",
		path: pathf("/rest/v1.0/companies/%d/submittal_statuses", companyID), company: companyID})
	if err != nil {
		return nil, err
	}
	out := []adapter.SubmittalStatus{}
	for _, w := range items {
		out = append(out, w.status())
	}
	return out, nil
}

// SubmittalResponses lists the responses a project's submittal approvers can
// give.
func (c *Client) SubmittalResponses(ctx context.Context, projectID int64) ([]adapter.SubmittalResponse, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireSubmittalResponse](ctx, c, listSpec{what: "list submittal responses",
		path: pathf("/rest/v1.0/projects/%d/submittal_responses", projectID)})
	if err != nil {
		return nil, err
	}
	out := []adapter.SubmittalResponse{}
	for _, w := range items {
		out = append(out, adapter.SubmittalResponse{ID: int64(w.ID), Name: string(w.Name), Considered: string(w.Considered)})
	}
	return out, nil
}

type lineItemBody struct {
	Description string  `json:"description,omitempty"`
	Amount      string  `json:"amount"`
	CostCodeID  *int64  `json:"cost_code_id,omitempty"`
	Quantity    *string `json:"quantity,omitempty"`
	UnitCost    *string `json:"unit_cost,omitempty"`
	UOM         string  `json:"uom,omitempty"`
}

// CreateCommitment creates a subcontract or purchase order, then its SOV
// line items one by one (Procore has no transaction), then sets the target
// status if it is not Draft (approved commitments lock their SOV, so the lines
// go in first), and returns the commitment as Procore shows it.
//
// When a step after the create fails, the commitment exists in Procore: the
// error says which line item (or the status change) failed and how many lines
// were created, and the returned Commitment carries the created id.
func (c *Client) CreateCommitment(ctx context.Context, projectID int64, in adapter.CommitmentCreate) (adapter.Commitment, error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.Commitment{}, err
	}
	path, key, err := commitmentPath(in.Kind)
	if err != nil {
		return adapter.Commitment{}, err
	}
	target, err := commitmentStatusWire(in.Kind, in.Status)
	if err != nil {
		return adapter.Commitment{}, err
	}
	if in.RetainagePercent != nil && (in.RetainagePercent.IsNegative() || in.RetainagePercent.GreaterThan(decimal.NewFromInt(100))) {
		return adapter.Commitment{}, badInput([]string{"retainagePercent"}, "must be between 0 and 100")
	}
	initial := target
	if len(in.LineItems) > 0 {
		initial = "Draft"
	}
	type contract struct {
		Title            string   `json:"title,omitempty"`
		Number           string   `json:"number,omitempty"`
		Status           string   `json:"status"`
		VendorID         *int64   `json:"vendor_id,omitempty"`
		RetainagePercent *string  `json:"retainage_percent,omitempty"`
		Description      string   `json:"description,omitempty"`
		UploadIDs        []string `json:"upload_ids,omitempty"`
	}
	body := map[string]any{"project_id": projectID, key: contract{Title: in.Title, Number: in.Number, Status: initial,
		VendorID: in.VendorID, RetainagePercent: moneyPtr(in.RetainagePercent), Description: in.Description, UploadIDs: in.UploadIDs}}
	var w wireCommitment
	what := "create " + strings.ReplaceAll(key, "_", " ")
	// project_id goes in the body (Procore lists no project_id query parameter
	// on creates, updates and line item creates; lists and shows take it in
	// the query).
	if err := c.getJSON(ctx, call{what: what, method: http.MethodPost, path: path, body: body}, &w); err != nil {
		return adapter.Commitment{}, err
	}
	created := w.commitment(projectID, in.Kind)
	if created.ID == 0 {
		return adapter.Commitment{}, &adapter.Error{Code: adapter.CodeInternal, Message: what + ": Procore's answer carried no id"}
	}

	for i, li := range in.LineItems {
		b := lineItemBody{Description: li.Description, Amount: money(li.Amount), CostCodeID: li.CostCodeID,
			Quantity: moneyPtr(li.Quantity), UnitCost: moneyPtr(li.UnitCost), UOM: li.UOM}
		k := call{what: "create line item", method: http.MethodPost, path: pathf("%s/%d/line_items", path, created.ID),
			body: map[string]any{"project_id": projectID, "line_item": b}}
		if _, err := c.do(ctx, k); err != nil {
			return created, partialError(err, fmt.Sprintf("%s %d was created, but line item %d of %d failed (%d created; Procore has no transactions)",
				strings.ReplaceAll(key, "_", " "), created.ID, i+1, len(in.LineItems), i), []string{"lineItems", strconv.Itoa(i)})
		}
	}
	if initial != target {
		k := call{what: "set commitment status", method: http.MethodPatch, path: pathf("%s/%d", path, created.ID),
			body: map[string]any{"project_id": projectID, key: map[string]string{"status": target}}}
		if _, err := c.do(ctx, k); err != nil {
			return created, partialError(err, fmt.Sprintf("%s %d and its %d line items were created, but setting status %q failed",
				strings.ReplaceAll(key, "_", " "), created.ID, len(in.LineItems), target), []string{"status"})
		}
	}
	if len(in.LineItems) == 0 && initial == target {
		return created, nil
	}
	got, err := c.Commitment(ctx, projectID, in.Kind, created.ID)
	if err != nil {
		return created, err
	}
	return got, nil
}

// partialError prefixes an upstream error with what did happen, and moves
// its field paths under prefix.
func partialError(err error, happened string, prefix []string) error {
	ae, ok := err.(*adapter.Error)
	if !ok {
		return &adapter.Error{Code: adapter.CodeInternal, Message: happened, Err: err}
	}
	out := *ae
	out.Message = happened + ": " + ae.Message
	out.Fields = nil
	for _, f := range ae.Fields {
		out.Fields = append(out.Fields, adapter.FieldError{Field: append(append([]string{}, prefix...), f.Field...), Message: f.Message, Code: f.Code})
	}
	return &out
}

// UpdateCommitmentStatus sets a commitment's status (Procore's spelling of
// the kind's statuses).
func (c *Client) UpdateCommitmentStatus(ctx context.Context, projectID int64, kind adapter.CommitmentKind, commitmentID int64, status adapter.CommitmentStatus) (adapter.Commitment, error) {
	if err := firstErr(validID("project id", projectID), validID("commitment id", commitmentID)); err != nil {
		return adapter.Commitment{}, err
	}
	path, key, err := commitmentPath(kind)
	if err != nil {
		return adapter.Commitment{}, err
	}
	st, err := commitmentStatusWire(kind, status)
	if err != nil {
		return adapter.Commitment{}, err
	}
	k := call{what: "update commitment status", method: http.MethodPatch, path: pathf("%s/%d", path, commitmentID),
		body: map[string]any{"project_id": projectID, key: map[string]string{"status": st}}}
	resp, err := c.do(ctx, k)
	if err != nil {
		return adapter.Commitment{}, err
	}
	var w wireCommitment
	if err := decodeBody(resp.body, &w); err == nil && int64(w.ID) == commitmentID {
		return w.commitment(projectID, kind), nil
	}
	return c.Commitment(ctx, projectID, kind, commitmentID)
}

// CreateChangeOrder creates a commitment change order whose grand total is
// Amount. Procore's v1.0 create takes no line items (its change_order has no
// line_items key): the amount is a v2.0 change order line item, which needs
// a WBS (budget) code. So:
//
//  1. the commitment's schedule of values (v2.0 commitment contract line
//     items, either kind) gives the WBS code of its first line that has one;
//     a commitment without one is refused before anything is created;
//  2. the change order is created (v1.0) with the contract's keys only, in
//     draft: Procore does not let an approved change order's amounts change;
//  3. the amount is added as one v2.0 line item on that WBS code;
//  4. the status is set (v1.0 PATCH) when it is not draft.
//
// When a step after 2 fails, the change order is deleted again (v1.0
// DELETE, with its line): nothing is left half-written in Procore, the
// returned ChangeOrder is zero and the error says what failed
// (BAD_USER_INPUT on "amount" or "status" when Procore refused it). Only
// when that delete fails too does the change order stay: the error says so
// and the returned ChangeOrder carries its id, as CreateCommitment does. On
// a project with 3-tier change management Procore serves no commitment
// change orders: BAD_USER_INPUT saying so, nothing created.
func (c *Client) CreateChangeOrder(ctx context.Context, projectID int64, in adapter.ChangeOrderCreate) (adapter.ChangeOrder, error) {
	if err := firstErr(validID("project id", projectID), validID("commitment id", in.CommitmentID)); err != nil {
		return adapter.ChangeOrder{}, err
	}
	target, err := changeOrderStatusWire(in.Status)
	if err != nil {
		return adapter.ChangeOrder{}, err
	}
	companyID, err := c.CompanyID(ctx)
	if err != nil {
		return adapter.ChangeOrder{}, err
	}
	wbs, err := c.commitmentWBSCode(ctx, companyID, projectID, in.CommitmentID)
	if err != nil {
		return adapter.ChangeOrder{}, err
	}

	type changeOrder struct {
		ContractID  int64   `json:"contract_id"`
		Number      string  `json:"number,omitempty"`
		Title       string  `json:"title,omitempty"`
		Status      string  `json:"status"`
		Description string  `json:"description,omitempty"`
		DueDate     *string `json:"due_date,omitempty"`
	}
	co := changeOrder{ContractID: in.CommitmentID, Number: in.Number, Title: in.Title, Status: "draft",
		Description: in.Description, DueDate: datePtr(in.DueDate)}
	var w wireChangeOrder
	k := call{what: "create change order", method: http.MethodPost, path: pathf("/rest/v1.0/projects/%d/commitment_change_orders", projectID),
		body: map[string]any{"change_order": co}}
	if err := c.getJSON(ctx, k, &w); err != nil {
		if threeTierRefusal(err) {
			return adapter.ChangeOrder{}, &adapter.Error{Code: adapter.CodeBadUserInput, Status: statusOf(err), Message: ThreeTierChangeOrdersMessage, Err: err}
		}
		return adapter.ChangeOrder{}, err
	}
	created := w.changeOrder(projectID)
	if created.ID == 0 {
		return adapter.ChangeOrder{}, &adapter.Error{Code: adapter.CodeInternal, Message: "create change order: Procore's answer carried no id"}
	}
	if created.CommitmentID == 0 {
		created.CommitmentID = in.CommitmentID
	}

	// The line's body is flat and, as Procore's v2.0 spec types them, its ids
	// and money are strings.
	line := map[string]string{"wbs_code_id": strconv.FormatInt(wbs, 10), "amount": money(in.Amount),
		"description": firstNonEmpty(in.Title, in.Description, "Change order amount")}
	var lw wireV2LineItem
	k = call{what: "create change order line item", method: http.MethodPost,
		path: pathf("/rest/v2.0/companies/%d/projects/%d/commitment_change_orders/%d/line_items", companyID, projectID, created.ID),
		body: line, company: companyID}
	if err := c.getJSON(ctx, k, &lw); err != nil {
		return c.rollBackChangeOrder(ctx, projectID, created, err, "adding its amount as a line item failed", "in draft, without its amount", "amount")
	}
	amount := lw.Amount.V
	if amount.IsZero() {
		amount = in.Amount
	}
	// The change order had no lines: its grand total is now the line's amount.
	created.GrandTotal = created.GrandTotal.Add(amount)
	if target == "draft" {
		return created, nil
	}

	k = call{what: "set change order status", method: http.MethodPatch,
		path: pathf("/rest/v1.0/projects/%d/commitment_change_orders/%d", projectID, created.ID),
		body: map[string]any{"change_order": map[string]string{"status": target}}}
	resp, err := c.do(ctx, k)
	if err != nil {
		return c.rollBackChangeOrder(ctx, projectID, created, err, fmt.Sprintf("setting status %q failed", target), "in draft, with its amount", "status")
	}
	var u wireChangeOrder
	if err := decodeBody(resp.body, &u); err == nil && int64(u.ID) == created.ID {
		out := u.changeOrder(projectID)
		if out.CommitmentID == 0 {
			out.CommitmentID = in.CommitmentID
		}
		return out, nil
	}
	created.Status = enumOf(target, adapter.ChangeOrderUnknown, changeOrderStatuses...)
	return created, nil
}

// changeOrderRollbackTimeout bounds the compensating delete, which runs even
// when the request's own context has ended (its deadline is often why the
// step failed).
const changeOrderRollbackTimeout = 10 * time.Second

// rollBackChangeOrder deletes a change order whose later step failed with
// cause. Deleted, it returns a zero ChangeOrder and cause reported as
// "nothing was created" on field; when the delete fails too, the created
// change order (state describes it) and an error saying it was left.
func (c *Client) rollBackChangeOrder(ctx context.Context, projectID int64, created adapter.ChangeOrder, cause error, failed, state, field string) (adapter.ChangeOrder, error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeOrderRollbackTimeout)
	defer cancel()
	_, derr := c.do(dctx, call{what: "delete change order", method: http.MethodDelete,
		path: pathf("/rest/v1.0/projects/%d/commitment_change_orders/%d", projectID, created.ID)})
	if derr == nil {
		return adapter.ChangeOrder{}, partialAt(cause, "the commitment change order was not created: "+failed+", so the change order made for it was deleted again", field)
	}
	c.logger.Warn("procore: a commitment change order whose later step failed could not be deleted", "project_id", projectID,
		"change_order_id", created.ID, "step", failed, "delete_error", derr)
	return created, partialAt(cause, fmt.Sprintf("commitment change order %d was created (%s), but %s and deleting it again failed too", created.ID, state, failed), field)
}

// commitmentWBSCode returns the WBS code of the commitment's first schedule
// of values line that has one (read from the v2.0 commitment contract line
// items, which serve either commitment kind): a change order line item needs
// one, and the commitment's own budget code is where its change belongs.
func (c *Client) commitmentWBSCode(ctx context.Context, companyID, projectID, commitmentID int64) (int64, error) {
	var lines []wireV2LineItem
	k := call{what: "list commitment line items", method: http.MethodGet,
		path:  pathf("/rest/v2.0/companies/%d/projects/%d/commitment_contracts/%d/line_items", companyID, projectID, commitmentID),
		query: url.Values{"per_page": {"100"}}, company: companyID}
	if err := c.getJSON(ctx, k, &lines); err != nil {
		return 0, err
	}
	for _, l := range lines {
		if id := l.wbsCode(); id != 0 {
			return id, nil
		}
	}
	return 0, badInput([]string{"commitmentId"}, "commitment %d has no schedule of values line with a budget (WBS) code, which Procore needs for the change order's line item", commitmentID)
}

// partialAt is partialError for a step of a create that names one input
// field: a refusal by Procore (BAD_USER_INPUT) is reported on field, with
// the message saying what was created; other errors keep their code.
func partialAt(err error, happened, field string) error {
	out := partialError(err, happened, nil)
	if ae, ok := out.(*adapter.Error); ok && ae.Code == adapter.CodeBadUserInput {
		ae.Fields = []adapter.FieldError{{Field: []string{field}, Message: ae.Message, Code: adapter.CodeBadUserInput}}
	}
	return out
}

// CreateInvoice creates a subcontractor invoice (requisition) against a
// commitment for a billing period, with its G703 items.
func (c *Client) CreateInvoice(ctx context.Context, projectID int64, in adapter.InvoiceCreate) (adapter.Invoice, error) {
	if err := firstErr(validID("project id", projectID), validID("commitment id", in.CommitmentID), validID("period id", in.PeriodID)); err != nil {
		return adapter.Invoice{}, err
	}
	hundred := decimal.NewFromInt(100)
	type item struct {
		ItemType                        string `json:"item_type"`
		LineItemID                      int64  `json:"line_item_id"`
		WorkCompletedThisPeriod         string `json:"work_completed_this_period"`
		MaterialsPresentlyStored        string `json:"materials_presently_stored"`
		WorkCompletedRetainagePercent   string `json:"work_completed_retainage_percent_this_period"`
		WorkCompletedRetainageReleased  string `json:"work_completed_retainage_released_this_period"`
		MaterialsStoredRetainagePercent string `json:"materials_stored_retainage_percent_this_period"`
	}
	type requisition struct {
		PeriodID      int64    `json:"period_id"`
		InvoiceNumber string   `json:"invoice_number,omitempty"`
		BillingDate   *string  `json:"billing_date,omitempty"`
		Items         []item   `json:"items,omitempty"`
		UploadIDs     []string `json:"upload_ids,omitempty"`
	}
	r := requisition{PeriodID: in.PeriodID, InvoiceNumber: in.InvoiceNumber, BillingDate: datePtr(in.BillingDate), UploadIDs: in.UploadIDs}
	for i, it := range in.Items {
		if it.LineItemID <= 0 {
			return adapter.Invoice{}, badInput([]string{"items", strconv.Itoa(i), "lineItemId"}, "must be a positive id")
		}
		for name, p := range map[string]decimal.Decimal{"workCompletedRetainagePercent": it.WorkCompletedRetainagePercent,
			"materialsStoredRetainagePercent": it.MaterialsStoredRetainagePercent} {
			if p.IsNegative() || p.GreaterThan(hundred) {
				return adapter.Invoice{}, badInput([]string{"items", strconv.Itoa(i), name}, "must be between 0 and 100")
			}
		}
		r.Items = append(r.Items, item{ItemType: "contract_item", LineItemID: it.LineItemID,
			WorkCompletedThisPeriod: money(it.WorkCompletedThisPeriod), MaterialsPresentlyStored: money(it.MaterialsPresentlyStored),
			WorkCompletedRetainagePercent:   money(it.WorkCompletedRetainagePercent),
			WorkCompletedRetainageReleased:  money(it.WorkCompletedRetainageReleased),
			MaterialsStoredRetainagePercent: money(it.MaterialsStoredRetainagePercent)})
	}
	body := map[string]any{"project_id": projectID, "commitment_id": in.CommitmentID, "requisition": r}
	var w wireRequisition
	// project_id and commitment_id go in the body: Procore lists no query
	// parameter for them on the create.
	k := call{what: "create invoice", method: http.MethodPost, path: "/rest/v1.1/requisitions", body: body}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.Invoice{}, err
	}
	inv := w.invoice(projectID)
	if inv.ID != 0 && len(inv.Items) == 0 && len(in.Items) > 0 {
		return c.Invoice(ctx, projectID, inv.ID)
	}
	return inv, nil
}

// UpdateInvoiceStatus changes an invoice's status (Procore allows it only on
// the latest open invoice of its commitment, and by role). Procore's update
// requires project_id and commitment_id in the body, so the invoice is read
// first for its commitment.
func (c *Client) UpdateInvoiceStatus(ctx context.Context, projectID, invoiceID int64, status adapter.InvoiceStatus) (adapter.Invoice, error) {
	if err := firstErr(validID("project id", projectID), validID("invoice id", invoiceID)); err != nil {
		return adapter.Invoice{}, err
	}
	st, err := invoiceStatusWire(status)
	if err != nil {
		return adapter.Invoice{}, err
	}
	var cur wireRequisition
	if err := c.getJSON(ctx, call{what: "get invoice", method: http.MethodGet, path: pathf("/rest/v1.1/requisitions/%d", invoiceID),
		query: projectQuery(projectID)}, &cur); err != nil {
		return adapter.Invoice{}, err
	}
	if cur.CommitmentID == 0 {
		return adapter.Invoice{}, &adapter.Error{Code: adapter.CodeInternal, Message: "update invoice status: Procore's invoice carried no commitment_id"}
	}
	k := call{what: "update invoice status", method: http.MethodPatch, path: pathf("/rest/v1.1/requisitions/%d", invoiceID),
		body: map[string]any{"project_id": projectID, "commitment_id": int64(cur.CommitmentID), "requisition": map[string]string{"status": st}}}
	resp, err := c.do(ctx, k)
	if err != nil {
		return adapter.Invoice{}, err
	}
	var w wireRequisition
	if err := decodeBody(resp.body, &w); err == nil && int64(w.ID) == invoiceID {
		return w.invoice(projectID), nil
	}
	return c.Invoice(ctx, projectID, invoiceID)
}
