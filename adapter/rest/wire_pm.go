package rest

import (
	"bytes"
	"strconv"
	"strings"

	"procoregraph/adapter"
)

// Project-management resources: RFIs, submittals, observations, punch items.

//easyjson:json
type wireRFI struct {
	ID                    flexID         `json:"id"`
	ProjectID             flexID         `json:"project_id"`
	Number                flexString     `json:"number"`
	FullNumber            flexString     `json:"full_number"`
	Subject               flexString     `json:"subject"`
	Status                flexString     `json:"status"`
	Draft                 flexBool       `json:"draft"`
	Private               flexBool       `json:"private"`
	DueDate               flexDate       `json:"due_date"`
	InitiatedAt           flexTime       `json:"initiated_at"`
	TimeResolved          flexTime       `json:"time_resolved"`
	BallInCourtRole       flexString     `json:"ball_in_court_role"`
	BallInCourt           wirePeople     `json:"ball_in_court"`
	BallInCourts          wirePeople     `json:"ball_in_courts"`
	Assignee              *wirePerson    `json:"assignee"`
	Assignees             wirePeople     `json:"assignees"`
	RFIManager            *wirePerson    `json:"rfi_manager"`
	ReceivedFrom          *wirePerson    `json:"received_from"`
	ResponsibleContractor *wireVendor    `json:"responsible_contractor"`
	CostCode              *wireCostCode  `json:"cost_code"`
	CostImpact            *wireImpact    `json:"cost_impact"`
	ScheduleImpact        *wireImpact    `json:"schedule_impact"`
	Questions             []wireQuestion `json:"questions"`
	CreatedAt             flexTime       `json:"created_at"`
	UpdatedAt             flexTime       `json:"updated_at"`
}

type wireQuestion struct {
	ID            flexID           `json:"id"`
	Body          flexString       `json:"body"`
	PlainTextBody flexString       `json:"plain_text_body"`
	RichTextBody  flexString       `json:"rich_text_body"`
	CreatedBy     wireNamed        `json:"created_by"`
	QuestionDate  flexTime         `json:"question_date"`
	Attachments   []wireAttachment `json:"attachments"`
	Answers       []wireAnswer     `json:"answers"`
}

type wireAnswer struct {
	ID            flexID           `json:"id"`
	Body          flexString       `json:"body"`
	PlainTextBody flexString       `json:"plain_text_body"`
	RichTextBody  flexString       `json:"rich_text_body"`
	Official      flexBool         `json:"official"`
	CreatedBy     wireNamed        `json:"created_by"`
	CreatedByID   flexID           `json:"created_by_id"`
	AnswerDate    flexTime         `json:"answer_date"`
	Attachments   []wireAttachment `json:"attachments"`
}

func (w wireRFI) rfi(projectID int64) adapter.RFI {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	}
	bic := w.BallInCourts.people()
	if len(bic) == 0 {
		bic = w.BallInCourt.people()
	}
	assignees := w.Assignees.people()
	if len(assignees) == 0 {
		if p := personPtr(w.Assignee); p != nil {
			assignees = []adapter.Person{*p}
		}
	}
	out := adapter.RFI{
		ID:                    int64(w.ID),
		ProjectID:             projectID,
		Number:                string(w.Number),
		FullNumber:            firstNonEmpty(string(w.FullNumber), string(w.Number)),
		Subject:               string(w.Subject),
		Status:                enumOf(string(w.Status), adapter.RFIStatusUnknown, adapter.RFIStatusOpen, adapter.RFIStatusClosed, adapter.RFIStatusDraft, adapter.RFIStatusRecycled),
		Draft:                 w.Draft.V,
		Private:               w.Private.V,
		DueDate:               w.DueDate.ptr(),
		InitiatedAt:           w.InitiatedAt.ptr(),
		TimeResolved:          w.TimeResolved.ptr(),
		BallInCourtRole:       ballInCourtRole(string(w.BallInCourtRole)),
		BallInCourt:           bic,
		Assignees:             assignees,
		RFIManager:            personPtr(w.RFIManager),
		ReceivedFrom:          personPtr(w.ReceivedFrom),
		ResponsibleContractor: vendorPtr(w.ResponsibleContractor),
		CostCode:              costCodePtr(w.CostCode),
		CostImpact:            impactPtr(w.CostImpact),
		ScheduleImpact:        impactPtr(w.ScheduleImpact),
		CreatedAt:             w.CreatedAt.V,
		UpdatedAt:             w.UpdatedAt.V,
	}
	for _, q := range w.Questions {
		aq := adapter.RFIQuestion{
			ID:           int64(q.ID),
			Body:         firstNonEmpty(string(q.PlainTextBody), string(q.Body), string(q.RichTextBody)),
			CreatedBy:    q.CreatedBy.name(),
			QuestionDate: q.QuestionDate.ptr(),
			Attachments:  attachments(q.Attachments),
		}
		for _, a := range q.Answers {
			createdByID := a.CreatedByID.ptr()
			if createdByID == nil {
				createdByID = a.CreatedBy.id()
			}
			aq.Answers = append(aq.Answers, adapter.RFIAnswer{
				ID:          int64(a.ID),
				Body:        firstNonEmpty(string(a.PlainTextBody), string(a.Body), string(a.RichTextBody)),
				Official:    a.Official.V,
				CreatedBy:   a.CreatedBy.name(),
				CreatedByID: createdByID,
				AnswerDate:  a.AnswerDate.ptr(),
				Attachments: attachments(a.Attachments),
			})
		}
		out.Questions = append(out.Questions, aq)
	}
	return out
}

type wireSubmittalStatus wireSubmittalStatusFields

// wireSubmittalStatusFields are the fields of wireSubmittalStatus when Procore sends an object;
// easyjson generates their decoder (wire_easyjson.go).
//
//easyjson:json
type wireSubmittalStatusFields struct {
	ID     flexID     `json:"id"`
	Name   flexString `json:"name"`
	Status flexString `json:"status"`
}

func (s *wireSubmittalStatus) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var n flexString
		err := n.UnmarshalJSON(b)
		*s = wireSubmittalStatus{Name: n, Status: n}
		return err
	}
	type plain wireSubmittalStatus
	return unmarshal(b, (*plain)(s))
}

func (s wireSubmittalStatus) status() adapter.SubmittalStatus {
	return adapter.SubmittalStatus{ID: int64(s.ID), Name: string(s.Name), Status: string(s.Status)}
}

type wireSpecSection wireSpecSectionFields

// wireSpecSectionFields are the fields of wireSpecSection when Procore sends an object;
// easyjson generates their decoder (wire_easyjson.go).
//
//easyjson:json
type wireSpecSectionFields struct {
	ID          flexID     `json:"id"`
	Number      flexString `json:"number"`
	Description flexString `json:"description"`
	Label       flexString `json:"label"`
}

func (s *wireSpecSection) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var n flexString
		err := n.UnmarshalJSON(b)
		*s = wireSpecSection{Label: n}
		return err
	}
	type plain wireSpecSection
	return unmarshal(b, (*plain)(s))
}

func (s *wireSpecSection) text() string {
	if s == nil {
		return ""
	}
	if s.Label != "" {
		return string(s.Label)
	}
	if s.Number != "" && s.Description != "" {
		return string(s.Number) + " - " + string(s.Description)
	}
	return firstNonEmpty(string(s.Number), string(s.Description))
}

// wireSubmittalResponse is a response an approver can give {id, name, considered}.
type wireSubmittalResponse struct {
	ID         flexID     `json:"id"`
	Name       flexString `json:"name"`
	Considered flexString `json:"considered"`
}

type wireApprover struct {
	ID                  flexID      `json:"id"`
	ApproverType        flexString  `json:"approver_type"`
	WorkflowGroupNumber flexInt     `json:"workflow_group_number"`
	User                *wirePerson `json:"user"`
	Response            *struct {
		ID         flexID     `json:"id"`
		Name       flexString `json:"name"`
		Considered flexString `json:"considered"`
	} `json:"response"`
	ResponseRequired flexBool   `json:"response_required"`
	SentDate         flexDate   `json:"sent_date"`
	DueDate          flexDate   `json:"due_date"`
	ReturnedDate     flexDate   `json:"returned_date"`
	Comment          flexString `json:"comment"`
}

//easyjson:json
type wireSubmittal struct {
	ID                  flexID               `json:"id"`
	ProjectID           flexID               `json:"project_id"`
	Number              flexString           `json:"number"`
	FormattedNumber     flexString           `json:"formatted_number"`
	Revision            flexString           `json:"revision"`
	Title               flexString           `json:"title"`
	Description         flexString           `json:"description"`
	Type                *wireNamed           `json:"type"`
	Status              *wireSubmittalStatus `json:"status"`
	SpecSection         *wireSpecSection     `json:"specification_section"`
	DueDate             flexDate             `json:"due_date"`
	IssueDate           flexDate             `json:"issue_date"`
	SubmitBy            flexDate             `json:"submit_by"`
	BallInCourt         wirePeople           `json:"ball_in_court"`
	SubmittalManager    *wirePerson          `json:"submittal_manager"`
	ReceivedFrom        *wirePerson          `json:"received_from"`
	Approvers           []wireApprover       `json:"approvers"`
	DistributionMembers wirePeople           `json:"distribution_members"`
	CreatedAt           flexTime             `json:"created_at"`
	UpdatedAt           flexTime             `json:"updated_at"`
}

func (w wireSubmittal) submittal(projectID int64) adapter.Submittal {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	}
	out := adapter.Submittal{
		ID:               int64(w.ID),
		ProjectID:        projectID,
		Number:           string(w.Number),
		FormattedNumber:  firstNonEmpty(string(w.FormattedNumber), string(w.Number)),
		Revision:         string(w.Revision),
		Title:            string(w.Title),
		Description:      string(w.Description),
		Type:             w.Type.name(),
		SpecSection:      w.SpecSection.text(),
		DueDate:          w.DueDate.ptr(),
		IssueDate:        w.IssueDate.ptr(),
		SubmitBy:         w.SubmitBy.ptr(),
		BallInCourt:      w.BallInCourt.people(),
		SubmittalManager: personPtr(w.SubmittalManager),
		ReceivedFrom:     personPtr(w.ReceivedFrom),
		Distribution:     w.DistributionMembers.people(),
		CreatedAt:        w.CreatedAt.V,
		UpdatedAt:        w.UpdatedAt.V,
	}
	if w.Status != nil && (w.Status.ID != 0 || w.Status.Name != "") {
		st := w.Status.status()
		out.Status = &st
	}
	for _, a := range w.Approvers {
		ap := adapter.SubmittalApprover{
			ID:               int64(a.ID),
			Step:             int(a.WorkflowGroupNumber),
			ApproverType:     string(a.ApproverType),
			User:             personPtr(a.User),
			ResponseRequired: a.ResponseRequired.V,
			SentDate:         a.SentDate.ptr(),
			DueDate:          a.DueDate.ptr(),
			ReturnedDate:     a.ReturnedDate.ptr(),
			Comment:          string(a.Comment),
		}
		if a.Response != nil && (a.Response.ID != 0 || a.Response.Name != "") {
			ap.Response = &adapter.SubmittalResponse{ID: int64(a.Response.ID), Name: string(a.Response.Name),
				Considered: string(a.Response.Considered)}
		}
		out.Approvers = append(out.Approvers, ap)
	}
	return out
}

// observationStatuses are in the order of Procore's integer filter values 0..3.
var observationStatuses = []adapter.ObservationStatus{adapter.ObservationInitiated,
	adapter.ObservationReadyForReview, adapter.ObservationNotAccepted, adapter.ObservationClosed}

type wireObservation struct {
	ID          flexID      `json:"id"`
	ProjectID   flexID      `json:"project_id"`
	Number      flexString  `json:"number"`
	Name        flexString  `json:"name"`
	Description flexString  `json:"description"`
	Status      flexString  `json:"status"`
	Priority    flexString  `json:"priority"`
	Type        *wireNamed  `json:"type"`
	TypeName    flexString  `json:"type_name"`
	DueDate     flexDate    `json:"due_date"`
	Assignee    *wirePerson `json:"assignee"`
	CreatedAt   flexTime    `json:"created_at"`
	UpdatedAt   flexTime    `json:"updated_at"`
}

func (w wireObservation) observation(projectID int64) adapter.Observation {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	}
	status := enumOf(string(w.Status), adapter.ObservationUnknown, observationStatuses...)
	if n, err := strconv.Atoi(string(w.Status)); err == nil && n >= 0 && n < len(observationStatuses) {
		status = observationStatuses[n]
	}
	return adapter.Observation{
		ID:          int64(w.ID),
		ProjectID:   projectID,
		Number:      string(w.Number),
		Name:        string(w.Name),
		Description: string(w.Description),
		Status:      status,
		Priority:    string(w.Priority),
		TypeName:    firstNonEmpty(w.Type.name(), string(w.TypeName)),
		DueDate:     w.DueDate.ptr(),
		Assignee:    personPtr(w.Assignee),
		CreatedAt:   w.CreatedAt.V,
		UpdatedAt:   w.UpdatedAt.V,
	}
}

type wirePunchItem struct {
	ID               flexID      `json:"id"`
	ProjectID        flexID      `json:"project_id"`
	Number           flexString  `json:"number"`
	Position         flexString  `json:"position"`
	Name             flexString  `json:"name"`
	Description      flexString  `json:"description"`
	Status           flexString  `json:"status"`
	WorkflowStatus   flexString  `json:"workflow_status"`
	Priority         flexString  `json:"priority"`
	DueDate          flexDate    `json:"due_date"`
	BallInCourt      wirePeople  `json:"ball_in_court"`
	PunchItemManager *wirePerson `json:"punch_item_manager"`
	ClosedAt         flexTime    `json:"closed_at"`
	CreatedAt        flexTime    `json:"created_at"`
	UpdatedAt        flexTime    `json:"updated_at"`
}

func (w wirePunchItem) punchItem(projectID int64) adapter.PunchItem {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	}
	return adapter.PunchItem{
		ID:               int64(w.ID),
		ProjectID:        projectID,
		Number:           firstNonEmpty(string(w.Number), string(w.Position)),
		Name:             string(w.Name),
		Description:      string(w.Description),
		Status:           enumOf(string(w.Status), adapter.PunchUnknown, adapter.PunchOpen, adapter.PunchClosed, adapter.PunchOverdue, adapter.PunchPending),
		WorkflowStatus:   string(w.WorkflowStatus),
		Priority:         string(w.Priority),
		DueDate:          w.DueDate.ptr(),
		BallInCourt:      w.BallInCourt.people(),
		PunchItemManager: personPtr(w.PunchItemManager),
		ClosedAt:         w.ClosedAt.ptr(),
		CreatedAt:        w.CreatedAt.V,
		UpdatedAt:        w.UpdatedAt.V,
	}
}

// ballInCourtRole maps Procore's ball_in_court_role ("Assignees", "Creator",
// "RFI Manager") to the enum; a role Procore adds later is UNKNOWN, and none
// (empty or null) is nil.
func ballInCourtRole(s string) *adapter.RFIBallInCourtRole {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	r := enumOf(s, adapter.BallInCourtUnknown, adapter.BallInCourtAssignees, adapter.BallInCourtCreator, adapter.BallInCourtRFIManager)
	return &r
}
