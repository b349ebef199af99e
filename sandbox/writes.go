package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/sandbox/data"
	"procoregraph/sandbox/webhooks"
)

// Webhook resource names, as Procore's resources catalog spells them
// (webhooks.Resource*): subcontractor invoices are Requisitions ("Payment
// Applications" is the owner side: owner invoices).
const (
	resRFIs         = webhooks.ResourceRFIs
	resRFIReplies   = webhooks.ResourceRFIReplies
	resSubmittals   = webhooks.ResourceSubmittals
	resWorkOrders   = webhooks.ResourceWorkOrderContracts
	resWOLines      = "Work Order Contract Line Items"
	resPurchase     = webhooks.ResourcePurchaseOrderContracts
	resPOLines      = "Purchase Order Contract Line Items"
	resChangeOrders = webhooks.ResourceChangeOrderPackages
	resRequisitions = webhooks.ResourceRequisitions
	resObservations = webhooks.ResourceObservationItems
	resPunchItems   = webhooks.ResourcePunchItems
)

func commitmentResource(kind string) (contract, lines string) {
	if kind == data.PurchaseOrder {
		return resPurchase, resPOLines
	}
	return resWorkOrders, resWOLines
}

// stamp returns the instant a write happens: the clock, truncated to the
// second, but always after prev so updated_at strictly increases.
func (s *Server) stamp(prev time.Time) time.Time {
	now := s.now().UTC().Truncate(time.Second)
	if !now.After(prev) {
		now = prev.Add(time.Second)
	}
	return now
}

func (s *Server) today() time.Time {
	n := s.now().UTC()
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

// decodeEnvelope reads a Rails-style {"<key>": {...}} body into body and
// returns the envelope, which envelope points at inside body. Malformed JSON
// and a missing (or null) envelope are written as 400s and return false.
func decodeEnvelope[T any](w http.ResponseWriter, r *http.Request, body any, envelope **T, key string) (*T, bool) {
	if !decodeBody(w, r, body) {
		return nil, false
	}
	if *envelope == nil {
		badRequest(w, "param is missing or the value is empty: "+key)
		return nil, false
	}
	return *envelope, true
}

// failed writes the collected errors as a 422 and reports whether there
// were any; a handler returns when it does.
func (f *fieldErrors) failed(w http.ResponseWriter) bool {
	if !f.any() {
		return false
	}
	f.write(w)
	return true
}

// optionalRef validates an optional reference: a sent, non-zero id that find
// does not know is "is invalid" under field. It returns the id, 0 when absent.
func optionalRef[T any](f *fieldErrors, field string, id *idIn, find func(int64) *T) int64 {
	if id == nil || *id == 0 {
		return 0
	}
	if find(int64(*id)) == nil {
		f.add(field, "is invalid")
	}
	return int64(*id)
}

// oneOf validates an optional enum: a sent value not in valid is "is not
// included in the list" under field. A sent value is copied onto dst either way.
func (f *fieldErrors) oneOf(field string, dst, sent *string, valid []string) {
	if sent == nil {
		return
	}
	if !slices.Contains(valid, *sent) {
		f.add(field, "is not included in the list")
	}
	*dst = *sent
}

// setIfSent copies an optional field onto dst when the request sent it.
func setIfSent[T any](dst *T, sent *T) {
	if sent != nil {
		*dst = *sent
	}
}

// bodyProject resolves the project a write names in its JSON body's
// project_id, where Procore's contract puts it for the writes of flat routes
// (commitments, their line items, requisitions); a project_id in the query is
// none of Procore's parameters there and is ignored. A missing project_id is
// 400, an unknown or invisible project 404. Call with s.mu held.
func (s *Server) bodyProject(w http.ResponseWriter, c *call, id idIn) *data.Project {
	if id == 0 {
		badRequest(w, "param is missing or the value is empty: project_id")
		return nil
	}
	p := s.ds.Project(int64(id))
	if p == nil || c.company == nil || p.CompanyID != c.company.ID || !s.canSeeProject(c.p, p) {
		notFound(w)
		return nil
	}
	return p
}

// refuseUnpermitted writes a 400 naming the first of keys the request sent
// (keys of a body object that Procore does not take: Rails' strong
// parameters would drop them silently, losing what the caller meant, so they
// are refused) and reports whether it did.
func refuseUnpermitted(w http.ResponseWriter, sent map[string]jsonRaw, keys ...string) bool {
	for _, k := range keys {
		if _, ok := sent[k]; ok {
			badRequest(w, "found unpermitted parameter: "+k)
			return true
		}
	}
	return false
}

// withProstoreFiles is upload ids followed by prostore file ids: both name
// uploads to attach.
func withProstoreFiles(uploadIDs []string, prostore []strIn) []string {
	out := slices.Clone(uploadIDs)
	for _, id := range prostore {
		out = append(out, string(id))
	}
	return out
}

// resolveUploads turns upload ids into attachments; an error is a field error.
func (s *Server) resolveUploads(f *fieldErrors, field string, projectID int64, idsIn []string) []data.Attachment {
	if len(idsIn) == 0 {
		return nil
	}
	atts, err := s.uploads.Resolve(projectID, idsIn)
	if err != nil {
		f.add(field, "is invalid: "+err.Error())
		return nil
	}
	out := make([]data.Attachment, 0, len(atts))
	for _, a := range atts {
		out = append(out, data.Attachment{ID: a.ID, Name: a.Name, Filename: a.Filename, URL: a.URL, ContentType: a.ContentType})
	}
	return out
}

// projectUser validates an optional person id against the project directory.
func projectUser(f *fieldErrors, p *data.Project, field string, id idIn) int64 {
	if id != 0 && !p.HasUser(int64(id)) {
		f.add(field, "is invalid")
	}
	return int64(id)
}

func projectUsers(f *fieldErrors, p *data.Project, field string, in []idIn) []int64 {
	out := ids(in)
	for _, id := range out {
		if !p.HasUser(id) {
			f.add(field, "is invalid")
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var impactStatuses = []string{"yes_known", "yes_unknown", "no_impact", "tbd", "n_a"}

type impactIn struct {
	Status *string `json:"status"`
	Value  decIn   `json:"value"`
}

func (f *fieldErrors) impact(field string, in *impactIn, money bool) data.Impact {
	if in == nil {
		return data.Impact{}
	}
	var im data.Impact
	f.oneOf(field+".status", &im.Status, in.Status, impactStatuses)
	if in.Value.set {
		im.Value, im.HasValue = f.fixed(field+".value", in.Value), true
		if !money {
			im.Value = data.FixedFromInt(int64(im.Value / 100))
		}
	}
	return im
}

// --- RFIs ---

type rfiIn struct {
	Subject                 *string   `json:"subject"`
	RFIManagerID            *idIn     `json:"rfi_manager_id"`
	AssigneeIDs             *[]idIn   `json:"assignee_ids"`
	DueDate                 *string   `json:"due_date"`
	Draft                   *bool     `json:"draft"`
	Private                 *bool     `json:"private"`
	Accepted                *bool     `json:"accepted"`
	CostImpact              *impactIn `json:"cost_impact"`
	ScheduleImpact          *impactIn `json:"schedule_impact"`
	ReceivedFromID          *idIn     `json:"received_from_login_information_id"`
	ResponsibleContractorID *idIn     `json:"responsible_contractor_id"`
	CostCodeID              *idIn     `json:"cost_code_id"`
	Reference               *string   `json:"reference"`
	Question                *struct {
		Body      *string  `json:"body"`
		UploadIDs []string `json:"upload_ids"`
	} `json:"question"`
	ForwardeeIDs []idIn `json:"forwardee_ids"`
}

// rfiFor finds the {id} RFI of the request's project; an RFI the caller may
// not see is not found.
func (s *Server) rfiFor(w http.ResponseWriter, r *http.Request, c *call) (*data.Project, *data.RFI) {
	return projectItem(s, w, r, c, func(p *data.Project, id int64) *data.RFI {
		if x := p.RFI(id); x != nil && s.canSeeRFI(c, x) {
			return x
		}
		return nil
	})
}

// openBallInCourt is where an RFI's ball goes when it (re)opens: its
// assignees, or its manager when it has none.
func openBallInCourt(x *data.RFI) {
	if len(x.AssigneeIDs) > 0 {
		x.BallInCourtRole, x.BallInCourtIDs = data.RoleAssignees, slices.Clone(x.AssigneeIDs)
	} else {
		x.BallInCourtRole, x.BallInCourtIDs = data.RoleManager, []int64{x.ManagerID}
	}
}

func nextRFINumber(p *data.Project) int {
	n := 0
	for _, x := range p.RFIs {
		n = max(n, x.Number)
	}
	return n + 1
}

func (s *Server) createRFI(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		RFI *rfiIn `json:"rfi"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.RFI, "rfi")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	var f fieldErrors
	if blank(in.Subject) {
		f.add("subject", "can't be blank")
	}
	var manager int64
	if in.RFIManagerID == nil || *in.RFIManagerID == 0 {
		f.add("rfi_manager_id", "can't be blank")
	} else {
		manager = projectUser(&f, p, "rfi_manager_id", *in.RFIManagerID)
	}
	if in.Question == nil || blank(in.Question.Body) {
		f.add("question.body", "can't be blank")
	}
	x := &data.RFI{ProjectID: p.ID, ManagerID: manager, CreatedByID: c.p.UserID, ReceivedFromID: c.p.UserID}
	if in.AssigneeIDs != nil {
		x.AssigneeIDs = projectUsers(&f, p, "assignee_ids", *in.AssigneeIDs)
	}
	x.DueDate = f.date("due_date", in.DueDate)
	x.CostImpact = f.impact("cost_impact", in.CostImpact, true)
	x.ScheduleImpact = f.impact("schedule_impact", in.ScheduleImpact, false)
	if in.ReceivedFromID != nil && *in.ReceivedFromID != 0 {
		x.ReceivedFromID = projectUser(&f, p, "received_from_login_information_id", *in.ReceivedFromID)
	}
	x.ResponsibleContractorID = optionalRef(&f, "responsible_contractor_id", in.ResponsibleContractorID, c.company.Vendor)
	x.CostCodeID = optionalRef(&f, "cost_code_id", in.CostCodeID, p.CostCode)
	var atts []data.Attachment
	if in.Question != nil {
		atts = s.resolveUploads(&f, "question.upload_ids", p.ID, in.Question.UploadIDs)
	}
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID = s.ds.NextID(data.KindRFI)
	x.Subject = strings.TrimSpace(*in.Subject)
	setIfSent(&x.Private, in.Private)
	setIfSent(&x.Reference, in.Reference)
	x.CreatedAt, x.UpdatedAt = now, now
	if in.Draft != nil && *in.Draft {
		x.Status, x.Draft = data.RFIDraft, true
		x.BallInCourtRole, x.BallInCourtIDs = data.RoleCreator, []int64{x.CreatedByID}
	} else {
		x.Status, x.Number, x.InitiatedAt = data.RFIOpen, nextRFINumber(p), now
		openBallInCourt(x)
	}
	x.Questions = []*data.Question{{ID: s.ds.NextID(data.KindQuestion), Body: strings.TrimSpace(*in.Question.Body), CreatedByID: c.p.UserID, Date: now, Attachments: atts}}
	p.RFIs = append(p.RFIs, x)
	c.event(p.ID, resRFIs, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderRFI(e, s.ds, p, x) })
}

func (s *Server) updateRFI(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		RFI *rfiIn `json:"rfi"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.RFI, "rfi")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := s.rfiFor(w, r, c)
	if x == nil {
		return
	}
	var f fieldErrors
	if in.Subject != nil && blank(in.Subject) {
		f.add("subject", "can't be blank")
	}
	var manager int64
	if in.RFIManagerID != nil {
		if *in.RFIManagerID == 0 {
			f.add("rfi_manager_id", "can't be blank")
		}
		manager = projectUser(&f, p, "rfi_manager_id", *in.RFIManagerID)
	}
	var assignees []int64
	if in.AssigneeIDs != nil {
		assignees = projectUsers(&f, p, "assignee_ids", *in.AssigneeIDs)
	}
	due := f.date("due_date", in.DueDate)
	cost := f.impact("cost_impact", in.CostImpact, true)
	sched := f.impact("schedule_impact", in.ScheduleImpact, false)
	if f.failed(w) {
		return
	}
	switch {
	case in.Accepted != nil && *in.Accepted && x.Draft:
		refuse(w, "A draft RFI cannot be closed; open it first")
		return
	case in.Draft != nil && *in.Draft && !x.Draft:
		refuse(w, "Only a draft RFI can be saved as a draft")
		return
	}
	now := s.stamp(x.UpdatedAt)
	if in.Subject != nil {
		x.Subject = strings.TrimSpace(*in.Subject)
	}
	if in.RFIManagerID != nil {
		x.ManagerID = manager
		if x.BallInCourtRole == data.RoleManager {
			x.BallInCourtIDs = []int64{manager}
		}
	}
	if in.AssigneeIDs != nil {
		x.AssigneeIDs = assignees
		if x.BallInCourtRole == data.RoleAssignees && x.Status == data.RFIOpen {
			openBallInCourt(x)
		}
	}
	if in.DueDate != nil {
		x.DueDate = due
	}
	if in.CostImpact != nil {
		x.CostImpact = cost
	}
	if in.ScheduleImpact != nil {
		x.ScheduleImpact = sched
	}
	setIfSent(&x.Private, in.Private)
	setIfSent(&x.Reference, in.Reference)
	if in.Draft != nil && !*in.Draft && x.Draft {
		x.Draft, x.Status, x.Number, x.InitiatedAt = false, data.RFIOpen, nextRFINumber(p), now
		openBallInCourt(x)
	}
	if in.Accepted != nil {
		switch {
		case *in.Accepted && x.Status != data.RFIClosed:
			x.Status, x.Accepted, x.TimeResolved = data.RFIClosed, true, now
			x.BallInCourtRole, x.BallInCourtIDs = "", nil
		case !*in.Accepted && x.Status == data.RFIClosed:
			x.Status, x.Accepted, x.TimeResolved = data.RFIOpen, false, time.Time{}
			openBallInCourt(x)
		}
	}
	x.UpdatedAt = now
	c.event(p.ID, resRFIs, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderRFI(e, s.ds, p, x) })
}

func (s *Server) replyRFI(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		Reply *struct {
			Body      *string  `json:"body"`
			Official  bool     `json:"official"`
			UploadIDs []string `json:"upload_ids"`
		} `json:"reply"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.Reply, "reply")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := s.rfiFor(w, r, c)
	if x == nil {
		return
	}
	var f fieldErrors
	if blank(in.Body) {
		f.add("body", "can't be blank")
	}
	atts := s.resolveUploads(&f, "upload_ids", p.ID, in.UploadIDs)
	if f.failed(w) {
		return
	}
	if x.Draft {
		refuse(w, "A draft RFI cannot be answered")
		return
	}
	now := s.stamp(x.UpdatedAt)
	if len(x.Questions) == 0 {
		x.Questions = append(x.Questions, &data.Question{ID: s.ds.NextID(data.KindQuestion), CreatedByID: x.CreatedByID, Date: x.CreatedAt})
	}
	q := x.Questions[len(x.Questions)-1]
	a := &data.Answer{ID: s.ds.NextID(data.KindAnswer), Body: strings.TrimSpace(*in.Body), Official: in.Official,
		CreatedByID: c.p.UserID, Date: now, Attachments: atts}
	q.Answers = append(q.Answers, a)
	// An assignee who responds hands the ball back; once every assignee holding
	// it has responded, it goes to the RFI manager.
	if x.Status == data.RFIOpen && x.BallInCourtRole == data.RoleAssignees && slices.Contains(x.BallInCourtIDs, c.p.UserID) {
		x.BallInCourtIDs = slices.DeleteFunc(x.BallInCourtIDs, func(id int64) bool { return id == c.p.UserID })
		if len(x.BallInCourtIDs) == 0 {
			x.BallInCourtRole, x.BallInCourtIDs = data.RoleManager, []int64{x.ManagerID}
		}
	}
	x.UpdatedAt = now
	c.event(p.ID, resRFIReplies, a.ID, "create")
	c.event(p.ID, resRFIs, x.ID, "update")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderAnswer(e, s.ds, a) })
}

func (s *Server) advanceRFI(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := s.rfiFor(w, r, c)
	if x == nil {
		return
	}
	if x.Status != data.RFIOpen {
		refuse(w, "The ball in court can only be advanced on an open RFI")
		return
	}
	if x.BallInCourtRole == data.RoleAssignees {
		x.BallInCourtRole, x.BallInCourtIDs = data.RoleManager, []int64{x.ManagerID}
	} else {
		if len(x.AssigneeIDs) == 0 {
			refuse(w, "The RFI has no assignees to advance the ball in court to")
			return
		}
		x.BallInCourtRole, x.BallInCourtIDs = data.RoleAssignees, slices.Clone(x.AssigneeIDs)
	}
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resRFIs, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderRFI(e, s.ds, p, x) })
}

func (s *Server) forwardRFI(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		RFI *rfiIn `json:"rfi"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.RFI, "rfi")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := s.rfiFor(w, r, c)
	if x == nil {
		return
	}
	var f fieldErrors
	switch len(in.ForwardeeIDs) {
	case 0:
		f.add("forwardee_ids", "can't be blank")
	case 1:
		projectUser(&f, p, "forwardee_ids", in.ForwardeeIDs[0])
	default:
		f.add("forwardee_ids", "must name exactly one person")
	}
	if f.failed(w) {
		return
	}
	if x.Status != data.RFIOpen {
		refuse(w, "Only an open RFI can be forwarded for review")
		return
	}
	x.BallInCourtRole, x.BallInCourtIDs = data.RoleAssignees, []int64{int64(in.ForwardeeIDs[0])}
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resRFIs, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderRFI(e, s.ds, p, x) })
}

// --- submittals ---

// submittalIn is a submittal create or update body. Procore takes uploaded
// files as prostore_file_ids here (resolved like upload ids); upload_ids is
// not a submittal parameter and is refused (see decodeSubmittal).
type submittalIn struct {
	Number                  *strIn  `json:"number"`
	Title                   *string `json:"title"`
	Type                    *string `json:"type"`
	Description             *string `json:"description"`
	SpecificationSectionID  *idIn   `json:"specification_section_id"`
	StatusID                *idIn   `json:"status_id"`
	DueDate                 *string `json:"due_date"`
	SubmittalManagerID      *idIn   `json:"submittal_manager_id"`
	ReceivedFromID          *idIn   `json:"received_from_id"`
	ResponsibleContractorID *idIn   `json:"responsible_contractor_id"`
	DistributionMemberIDs   []idIn  `json:"distribution_member_ids"`
	Private                 *bool   `json:"private"`
	WorkflowData            [][]struct {
		LoginInformationID idIn    `json:"login_information_id"`
		ApproverType       string  `json:"approver_type"`
		DaysToRespond      *int    `json:"days_to_respond"`
		DueDate            *string `json:"due_date"`
		ResponseRequired   *bool   `json:"response_required"`
	} `json:"workflow_data"`
	ProstoreFileIDs []strIn `json:"prostore_file_ids"`
}

// decodeSubmittal reads {"submittal": {...}}, refusing keys Procore's
// submittal writes do not take (upload_ids).
func decodeSubmittal(w http.ResponseWriter, r *http.Request) (*submittalIn, bool) {
	return decodeWrapped[submittalIn](w, r, "submittal", func(keys map[string]jsonRaw) bool {
		return refuseUnpermitted(w, keys, "upload_ids")
	})
}

// decodeWrapped reads a {"<wrapper>": {...}} body into a T: 400 when the
// wrapper is missing or empty, or the JSON malformed. refused, given the
// wrapper's keys, answers and reports true for keys the write does not take.
func decodeWrapped[T any](w http.ResponseWriter, r *http.Request, wrapper string, refused func(keys map[string]jsonRaw) bool) (*T, bool) {
	var body map[string]jsonRaw
	if !decodeBody(w, r, &body) {
		return nil, false
	}
	raw := body[wrapper]
	var keys map[string]jsonRaw
	if len(raw) == 0 || raw.decode(&keys) != nil || keys == nil {
		badRequest(w, "param is missing or the value is empty: "+wrapper)
		return nil, false
	}
	if refused(keys) {
		return nil, false
	}
	var in T
	if err := raw.decode(&in); err != nil {
		badRequest(w, "malformed JSON body: "+err.Error())
		return nil, false
	}
	return &in, true
}

func (s *Server) statusNamed(c *data.Company, name string) int64 {
	for _, st := range c.Statuses {
		if st.Name == name {
			return st.ID
		}
	}
	return 0
}

func (s *Server) createSubmittal(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeSubmittal(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	co := c.company
	var f fieldErrors
	number := ""
	if in.Number != nil {
		number = strings.TrimSpace(string(*in.Number))
	}
	x := &data.Submittal{ProjectID: p.ID, Number: number, CreatedByID: c.p.UserID, ManagerID: c.p.UserID, ReceivedFromID: c.p.UserID}
	if number == "" {
		f.add("number", "can't be blank")
	}
	x.SpecSectionID = optionalRef(&f, "specification_section_id", in.SpecificationSectionID, co.Spec)
	if number != "" {
		for _, o := range p.Submittals {
			if o.Number == number && o.SpecSectionID == x.SpecSectionID {
				f.add("number", "has already been taken")
				break
			}
		}
	}
	x.StatusID = optionalRef(&f, "status_id", in.StatusID, co.Status)
	if in.SubmittalManagerID != nil && *in.SubmittalManagerID != 0 {
		x.ManagerID = projectUser(&f, p, "submittal_manager_id", *in.SubmittalManagerID)
	}
	if in.ReceivedFromID != nil && *in.ReceivedFromID != 0 {
		x.ReceivedFromID = projectUser(&f, p, "received_from_id", *in.ReceivedFromID)
	}
	x.ResponsibleContractorID = optionalRef(&f, "responsible_contractor_id", in.ResponsibleContractorID, co.Vendor)
	x.DistributionIDs = projectUsers(&f, p, "distribution_member_ids", in.DistributionMemberIDs)
	x.DueDate = f.date("due_date", in.DueDate)
	today := s.today()
	pending := co.Responses[0].ID
	for i, step := range in.WorkflowData {
		for j, a := range step {
			field := fmt.Sprintf("workflow_data[%d][%d]", i, j)
			if a.LoginInformationID == 0 || !p.HasUser(int64(a.LoginInformationID)) {
				f.add(field+".login_information_id", "is invalid")
			}
			typ := a.ApproverType
			switch typ {
			case "":
				typ = "Approver"
			case "Approver", "Submitter":
			default:
				f.add(field+".approver_type", "is not included in the list")
			}
			ap := &data.Approver{UserID: int64(a.LoginInformationID), Step: i + 1, ApproverType: typ, ResponseID: pending, ResponseRequired: true, DaysToRespond: 7}
			if a.ResponseRequired != nil {
				ap.ResponseRequired = *a.ResponseRequired
			}
			if a.DaysToRespond != nil {
				if *a.DaysToRespond < 0 {
					f.add(field+".days_to_respond", "must be greater than or equal to 0")
				}
				ap.DaysToRespond = *a.DaysToRespond
			}
			ap.DueDate = f.date(field+".due_date", a.DueDate)
			x.Approvers = append(x.Approvers, ap)
		}
	}
	x.Attachments = s.resolveUploads(&f, "prostore_file_ids", p.ID, withProstoreFiles(nil, in.ProstoreFileIDs))
	if f.failed(w) {
		return
	}
	if x.StatusID == 0 {
		if len(x.Approvers) > 0 {
			x.StatusID = s.statusNamed(co, "Open")
		} else {
			x.StatusID = s.statusNamed(co, "Draft")
		}
	}
	now := s.stamp(time.Time{})
	x.ID = s.ds.NextID(data.KindSubmittal)
	for _, ap := range x.Approvers {
		ap.ID = s.ds.NextID(data.KindApprover)
		if st := co.Status(x.StatusID); st != nil && st.Status == "Open" {
			ap.SentDate = today
			if ap.DueDate.IsZero() {
				ap.DueDate = today.AddDate(0, 0, ap.DaysToRespond)
			}
		}
	}
	setIfSent(&x.Title, in.Title)
	setIfSent(&x.Type, in.Type)
	setIfSent(&x.Description, in.Description)
	setIfSent(&x.Private, in.Private)
	x.IssueDate = today
	x.CreatedAt, x.UpdatedAt = now, now
	x.BallInCourtIDs = data.WorkflowBallInCourt(co, x)
	p.Submittals = append(p.Submittals, x)
	c.event(p.ID, resSubmittals, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderSubmittal(e, s.ds, co, p, x) })
}

func (s *Server) updateSubmittal(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeSubmittal(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := projectItem(s, w, r, c, (*data.Project).Submittal)
	if x == nil {
		return
	}
	co := c.company
	var f fieldErrors
	if in.StatusID != nil && co.Status(int64(*in.StatusID)) == nil {
		f.add("status_id", "is invalid")
	}
	if in.Number != nil && strings.TrimSpace(string(*in.Number)) == "" {
		f.add("number", "can't be blank")
	}
	due := f.date("due_date", in.DueDate)
	if f.failed(w) {
		return
	}
	if in.StatusID != nil {
		x.StatusID = int64(*in.StatusID)
		if st := co.Status(x.StatusID); st != nil && st.Status == "Closed" && x.DistributedAt.IsZero() {
			x.DistributedAt = s.stamp(x.UpdatedAt)
		}
		x.BallInCourtIDs = data.WorkflowBallInCourt(co, x)
	}
	if in.Number != nil {
		x.Number = strings.TrimSpace(string(*in.Number))
	}
	setIfSent(&x.Title, in.Title)
	setIfSent(&x.Description, in.Description)
	if in.DueDate != nil {
		x.DueDate = due
	}
	setIfSent(&x.Private, in.Private)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resSubmittals, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderSubmittal(e, s.ds, co, p, x) })
}

// respondSubmittal is PATCH /rest/v1.0/submittal_approvers/{id}: the query
// parameters project_id and submittal_id and the body's
// submittal_approver.submittal_response_id are required (400 when missing);
// an approver of another submittal is 404.
func (s *Server) respondSubmittal(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		Approver *struct {
			SubmittalResponseID *idIn   `json:"submittal_response_id"`
			Comment             *string `json:"comment"`
		} `json:"submittal_approver"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.Approver, "submittal_approver")
	if !ok {
		return
	}
	if in.SubmittalResponseID == nil {
		badRequest(w, "param is missing or the value is empty: submittal_approver.submittal_response_id")
		return
	}
	submittalID, on, err := paramsOf(r).intParam("submittal_id")
	if !on {
		badRequest(w, "param is missing or the value is empty: submittal_id")
		return
	}
	if err != nil {
		notFound(w)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	x, a := p.Approver(pathID(r, "id"))
	if a == nil || x.ID != submittalID {
		notFound(w)
		return
	}
	co := c.company
	var f fieldErrors
	if *in.SubmittalResponseID == 0 {
		f.add("submittal_response_id", "can't be blank")
	} else if co.Response(int64(*in.SubmittalResponseID)) == nil {
		f.add("submittal_response_id", "is invalid")
	}
	if f.failed(w) {
		return
	}
	if st := co.Status(x.StatusID); st != nil && st.Status != "Open" {
		refuse(w, "Responses can only be given while the submittal is open")
		return
	}
	a.ResponseID = int64(*in.SubmittalResponseID)
	setIfSent(&a.Comment, in.Comment)
	if resp := co.Response(a.ResponseID); resp.Considered == "pending" {
		a.ReturnedDate = time.Time{}
	} else {
		a.ReturnedDate = s.today()
	}
	x.BallInCourtIDs = data.WorkflowBallInCourt(co, x)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resSubmittals, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderApprover(e, s.ds, co, x, a) })
}

// --- commitments ---

type lineItemIn struct {
	ID          idIn    `json:"id"`
	Amount      decIn   `json:"amount"`
	Description *string `json:"description"`
	CostCodeID  idIn    `json:"cost_code_id"`
	Quantity    decIn   `json:"quantity"`
	UnitCost    decIn   `json:"unit_cost"`
	UOM         *string `json:"uom"`
}

type commitmentIn struct {
	Title            *string      `json:"title"`
	Number           *strIn       `json:"number"`
	Status           *string      `json:"status"`
	VendorID         *idIn        `json:"vendor_id"`
	RetainagePercent decIn        `json:"retainage_percent"`
	Description      *string      `json:"description"`
	Executed         *bool        `json:"executed"`
	Private          *bool        `json:"private"`
	ContractDate     *string      `json:"contract_date"`
	DeliveryDate     *string      `json:"delivery_date"`
	ShipToAddress    *string      `json:"ship_to_address"`
	PaymentTerms     *string      `json:"payment_terms"`
	LineItems        []lineItemIn `json:"line_items"`
	UploadIDs        []string     `json:"upload_ids"`
}

func envelope(kind string) string {
	if kind == data.PurchaseOrder {
		return "purchase_order_contract"
	}
	return "work_order_contract"
}

// commitmentStatuses are the statuses a commitment of kind may have.
func commitmentStatuses(kind string) []string {
	if kind == data.PurchaseOrder {
		return data.PurchaseOrderStatuses
	}
	return data.WorkOrderStatuses
}

// bodyProjectID is a decoded body's top-level project_id, 0 when absent or
// not an id.
func bodyProjectID(body map[string]jsonRaw) idIn {
	var id idIn
	if v, ok := body["project_id"]; ok {
		_ = v.decode(&id)
	}
	return id
}

// decodeCommitment reads a commitment body: its kind's envelope (see
// envelope) and the raw top-level fields beside it. Malformed JSON and a
// missing envelope are written as 400s and return false.
func decodeCommitment(w http.ResponseWriter, r *http.Request, kind string) (map[string]jsonRaw, *commitmentIn, bool) {
	var body map[string]jsonRaw
	if !decodeBody(w, r, &body) {
		return nil, nil, false
	}
	var in commitmentIn
	raw, ok := body[envelope(kind)]
	if !ok {
		badRequest(w, "param is missing or the value is empty: "+envelope(kind))
		return nil, nil, false
	}
	if err := raw.decode(&in); err != nil {
		badRequest(w, "malformed JSON body: "+err.Error())
		return nil, nil, false
	}
	return body, &in, true
}

// lineItem validates one SOV line; amount defaults to quantity × unit cost.
func lineItem(f *fieldErrors, p *data.Project, field string, in lineItemIn) *data.LineItem {
	li := &data.LineItem{UOM: "ls", Quantity: data.FixedFromInt(1)}
	if in.Description != nil {
		li.Description = *in.Description
	}
	if in.UOM != nil {
		li.UOM = *in.UOM
	}
	if in.CostCodeID != 0 {
		if p.CostCode(int64(in.CostCodeID)) == nil {
			f.add(field+".cost_code_id", "is invalid")
		}
		li.CostCodeID = int64(in.CostCodeID)
	}
	if in.Quantity.set {
		li.Quantity = f.fixed(field+".quantity", in.Quantity)
	}
	if in.UnitCost.set {
		li.UnitCost = f.fixed(field+".unit_cost", in.UnitCost)
	}
	switch {
	case in.Amount.set:
		li.Amount = f.fixed(field+".amount", in.Amount)
		if !in.UnitCost.set {
			li.UnitCost = li.Amount
		}
	case in.Quantity.set && in.UnitCost.set:
		li.Amount = data.Fixed(li.Quantity.Decimal().Mul(li.UnitCost.Decimal()).Shift(2).Round(0).IntPart())
	default:
		f.add(field+".amount", "can't be blank")
	}
	return li
}

// createCommitment is POST /rest/v1.0/{work,purchase}_order_contracts:
// project_id is required in the body (not the query).
func (s *Server) createCommitment(w http.ResponseWriter, r *http.Request, c *call, kind string) {
	body, in, ok := decodeCommitment(w, r, kind)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, bodyProjectID(body))
	if p == nil {
		return
	}
	var f fieldErrors
	statuses := commitmentStatuses(kind)
	prefix := "SC-"
	if kind == data.PurchaseOrder {
		prefix = "PO-"
	}
	x := &data.Commitment{ProjectID: p.ID, Kind: kind, Status: "Draft", CreatedByID: c.p.UserID}
	f.oneOf("status", &x.Status, in.Status, statuses)
	x.VendorID = optionalRef(&f, "vendor_id", in.VendorID, c.company.Vendor)
	x.RetainagePercent = f.percent("retainage_percent", in.RetainagePercent)
	n := 0
	for _, o := range p.Commitments {
		if o.Kind == kind {
			n++
		}
	}
	if in.Number != nil && strings.TrimSpace(string(*in.Number)) != "" {
		x.Number = strings.TrimSpace(string(*in.Number))
		for _, o := range p.Commitments {
			if o.Kind == kind && o.Number == x.Number {
				f.add("number", "has already been taken")
			}
		}
	} else {
		for {
			n++
			x.Number = fmt.Sprintf("%s%03d", prefix, n)
			taken := false
			for _, o := range p.Commitments {
				taken = taken || (o.Kind == kind && o.Number == x.Number)
			}
			if !taken {
				break
			}
		}
	}
	x.ContractDate = f.date("contract_date", in.ContractDate)
	x.DeliveryDate = f.date("delivery_date", in.DeliveryDate)
	for i, li := range in.LineItems {
		x.LineItems = append(x.LineItems, lineItem(&f, p, fmt.Sprintf("line_items[%d]", i), li))
	}
	x.Attachments = s.resolveUploads(&f, "upload_ids", p.ID, in.UploadIDs)
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID = s.ds.NextID(data.KindCommitment)
	for i, li := range x.LineItems {
		li.ID, li.Position, li.CreatedAt, li.UpdatedAt = s.ds.NextID(data.KindLineItem), i+1, now, now
	}
	setIfSent(&x.Title, in.Title)
	setIfSent(&x.Description, in.Description)
	x.Executed = x.Locked()
	setIfSent(&x.Executed, in.Executed)
	setIfSent(&x.Private, in.Private)
	setIfSent(&x.ShipTo, in.ShipToAddress)
	setIfSent(&x.PaymentTerms, in.PaymentTerms)
	x.CreatedAt, x.UpdatedAt = now, now
	p.Commitments = append(p.Commitments, x)
	res, _ := commitmentResource(kind)
	c.event(p.ID, res, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderCommitment(e, s.ds, p, x, true) })
}

// updateCommitment is PATCH /rest/v1.0/{work,purchase}_order_contracts/{id}:
// project_id is required in the body (not the query).
func (s *Server) updateCommitment(w http.ResponseWriter, r *http.Request, c *call, kind string) {
	body, in, ok := decodeCommitment(w, r, kind)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, bodyProjectID(body))
	if p == nil {
		return
	}
	x := p.Commitment(pathID(r, "id"))
	if x == nil || x.Kind != kind {
		notFound(w)
		return
	}
	statuses := commitmentStatuses(kind)
	var f fieldErrors
	if in.Status != nil && !slices.Contains(statuses, *in.Status) {
		f.add("status", "is not included in the list")
	}
	if in.VendorID != nil && *in.VendorID != 0 && c.company.Vendor(int64(*in.VendorID)) == nil {
		f.add("vendor_id", "is invalid")
	}
	var retainage data.Fixed
	if in.RetainagePercent.set {
		retainage = f.percent("retainage_percent", in.RetainagePercent)
	}
	if in.Number != nil && strings.TrimSpace(string(*in.Number)) == "" {
		f.add("number", "can't be blank")
	}
	contractDate := f.date("contract_date", in.ContractDate)
	var newLines []*data.LineItem
	for i, li := range in.LineItems {
		if li.ID != 0 && x.LineItem(int64(li.ID)) == nil {
			f.add(fmt.Sprintf("line_items[%d].id", i), "is invalid")
		}
		newLines = append(newLines, lineItem(&f, p, fmt.Sprintf("line_items[%d]", i), li))
	}
	if f.failed(w) {
		return
	}
	if len(in.LineItems) > 0 && x.Locked() {
		refuse(w, fmt.Sprintf("The schedule of values of a commitment in status %s is locked; line items cannot be changed", x.Status))
		return
	}
	now := s.stamp(x.UpdatedAt)
	_, lineRes := commitmentResource(kind)
	for i, li := range in.LineItems {
		nl := newLines[i]
		if li.ID != 0 {
			old := x.LineItem(int64(li.ID))
			old.Amount, old.Quantity, old.UnitCost, old.UpdatedAt = nl.Amount, nl.Quantity, nl.UnitCost, now
			if li.Description != nil {
				old.Description = nl.Description
			}
			if li.CostCodeID != 0 {
				old.CostCodeID = nl.CostCodeID
			}
			c.event(p.ID, lineRes, old.ID, "update")
			continue
		}
		nl.ID, nl.Position, nl.CreatedAt, nl.UpdatedAt = s.ds.NextID(data.KindLineItem), len(x.LineItems)+1, now, now
		x.LineItems = append(x.LineItems, nl)
		c.event(p.ID, lineRes, nl.ID, "create")
	}
	if in.Status != nil {
		x.Status = *in.Status
		if in.Executed == nil && x.Locked() {
			x.Executed = true
		}
	}
	setIfSent(&x.Title, in.Title)
	if in.Number != nil {
		x.Number = strings.TrimSpace(string(*in.Number))
	}
	setIfSent(&x.Description, in.Description)
	if in.VendorID != nil {
		x.VendorID = int64(*in.VendorID)
	}
	if in.RetainagePercent.set {
		x.RetainagePercent = retainage
	}
	setIfSent(&x.Executed, in.Executed)
	setIfSent(&x.Private, in.Private)
	if in.ContractDate != nil {
		x.ContractDate = contractDate
	}
	x.UpdatedAt = now
	res, _ := commitmentResource(kind)
	c.event(p.ID, res, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderCommitment(e, s.ds, p, x, true) })
}

// createLineItem is POST .../{id}/line_items: project_id is required in the
// body (not the query).
func (s *Server) createLineItem(w http.ResponseWriter, r *http.Request, c *call, kind string) {
	var body struct {
		ProjectID idIn        `json:"project_id"`
		LineItem  *lineItemIn `json:"line_item"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.LineItem, "line_item")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, body.ProjectID)
	if p == nil {
		return
	}
	x := p.Commitment(pathID(r, "id"))
	if x == nil || x.Kind != kind {
		notFound(w)
		return
	}
	var f fieldErrors
	li := lineItem(&f, p, "line_item", *in)
	if f.failed(w) {
		return
	}
	if x.Locked() {
		refuse(w, fmt.Sprintf("The schedule of values of a commitment in status %s is locked; line items cannot be added", x.Status))
		return
	}
	now := s.stamp(x.UpdatedAt)
	li.ID, li.Position, li.CreatedAt, li.UpdatedAt = s.ds.NextID(data.KindLineItem), len(x.LineItems)+1, now, now
	x.LineItems = append(x.LineItems, li)
	x.UpdatedAt = now
	res, lineRes := commitmentResource(kind)
	c.event(p.ID, lineRes, li.ID, "create")
	c.event(p.ID, res, x.ID, "update")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderLineItem(e, p, li) })
}

// --- requisitions (subcontractor invoices) ---

// invoiceTransitions lists the statuses each status may move to. Approved
// invoices are final.
var invoiceTransitions = map[string][]string{
	"draft":                  {"under_review", "revise_and_resubmit", "approved", "approved_as_noted", "pending_owner_approval"},
	"under_review":           {"draft", "revise_and_resubmit", "approved", "approved_as_noted", "pending_owner_approval"},
	"revise_and_resubmit":    {"draft", "under_review"},
	"pending_owner_approval": {"under_review", "revise_and_resubmit", "approved", "approved_as_noted"},
	"approved":               {},
	"approved_as_noted":      {},
}

// standardInvoiceStatuses are what a standard user (not an admin) may set.
var standardInvoiceStatuses = []string{"draft", "under_review"}

type invoiceItemIn struct {
	ItemType                                   string `json:"item_type"`
	LineItemID                                 idIn   `json:"line_item_id"`
	WorkCompletedThisPeriod                    decIn  `json:"work_completed_this_period"`
	MaterialsPresentlyStored                   decIn  `json:"materials_presently_stored"`
	WorkCompletedRetainagePercentThisPeriod    decIn  `json:"work_completed_retainage_percent_this_period"`
	WorkCompletedRetainageReleasedThisPeriod   decIn  `json:"work_completed_retainage_released_this_period"`
	MaterialsStoredRetainagePercentThisPeriod  decIn  `json:"materials_stored_retainage_percent_this_period"`
	MaterialsStoredRetainageReleasedThisPeriod decIn  `json:"materials_stored_retainage_released_this_period"`
}

type invoiceIn struct {
	PeriodID         *idIn           `json:"period_id"`
	InvoiceNumber    *strIn          `json:"invoice_number"`
	BillingDate      *string         `json:"billing_date"`
	RequisitionStart *string         `json:"requisition_start"`
	RequisitionEnd   *string         `json:"requisition_end"`
	Status           *string         `json:"status"`
	Final            *bool           `json:"final"`
	Items            []invoiceItemIn `json:"items"`
	UploadIDs        []string        `json:"upload_ids"`
	ProstoreFileIDs  []strIn         `json:"prostore_file_ids"`
}

// invoiceStatusAllowed checks a status change's role and transition; it writes
// the refusal and returns false when not allowed.
func invoiceStatusAllowed(w http.ResponseWriter, c *call, from, to string) bool {
	if !c.admin && !slices.Contains(standardInvoiceStatuses, to) {
		forbidden(w, fmt.Sprintf("You do not have permission to set an invoice to %s: only admins may; standard users may only save (draft) or submit (under_review)", to))
		return false
	}
	if from != "" && from != to && !slices.Contains(invoiceTransitions[from], to) {
		refuse(w, fmt.Sprintf("Invalid status transition from %s to %s", from, to))
		return false
	}
	return true
}

// requisitionBody is the body of a requisition create or update: project_id
// and commitment_id are required top-level keys (Procore lists neither as a
// query parameter of these writes).
type requisitionBody struct {
	ProjectID    idIn       `json:"project_id"`
	CommitmentID idIn       `json:"commitment_id"`
	Requisition  *invoiceIn `json:"requisition"`
}

// decodeRequisition reads a requisitionBody; a missing project_id or
// commitment_id is 400, as is a missing requisition object.
func decodeRequisition(w http.ResponseWriter, r *http.Request) (*requisitionBody, bool) {
	var body requisitionBody
	if !decodeBody(w, r, &body) {
		return nil, false
	}
	for _, k := range []struct {
		name string
		id   idIn
	}{{"project_id", body.ProjectID}, {"commitment_id", body.CommitmentID}} {
		if k.id == 0 {
			badRequest(w, "param is missing or the value is empty: "+k.name)
			return nil, false
		}
	}
	if body.Requisition == nil {
		badRequest(w, "param is missing or the value is empty: requisition")
		return nil, false
	}
	return &body, true
}

func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := decodeRequisition(w, r)
	if !ok {
		return
	}
	in := body.Requisition
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, body.ProjectID)
	if p == nil {
		return
	}
	var f fieldErrors
	cm := p.Commitment(int64(body.CommitmentID))
	if cm == nil {
		f.add("commitment_id", "is invalid")
	}
	var period *data.BillingPeriod
	if in.PeriodID != nil && *in.PeriodID != 0 {
		if period = p.BillingPeriod(int64(*in.PeriodID)); period == nil {
			f.add("period_id", "is invalid")
		}
	} else {
		for _, bp := range p.BillingPeriods {
			if bp.Status == "open" {
				period = bp
			}
		}
		if period == nil {
			f.add("period_id", "can't be blank")
		}
	}
	status := "draft"
	f.oneOf("status", &status, in.Status, data.InvoiceStatuses)
	billing := f.date("billing_date", in.BillingDate)
	start := f.date("requisition_start", in.RequisitionStart)
	end := f.date("requisition_end", in.RequisitionEnd)
	x := &data.Invoice{ProjectID: p.ID, Status: status, CreatedByID: c.p.UserID}
	if cm != nil {
		x.CommitmentID = cm.ID
		seen := map[int64]bool{}
		for i, it := range in.Items {
			field := fmt.Sprintf("items[%d]", i)
			if it.ItemType != "" && it.ItemType != "contract_item" {
				f.add(field+".item_type", "is not supported (only contract_item)")
			}
			if it.LineItemID == 0 {
				f.add(field+".line_item_id", "can't be blank")
				continue
			}
			if cm.LineItem(int64(it.LineItemID)) == nil {
				f.add(field+".line_item_id", "is invalid")
				continue
			}
			if seen[int64(it.LineItemID)] {
				f.add(field+".line_item_id", "has already been taken")
			}
			seen[int64(it.LineItemID)] = true
			item := data.InvoiceItem{LineItemID: int64(it.LineItemID), WorkRetainagePct: cm.RetainagePercent, MaterialsRetainPct: cm.RetainagePercent}
			item.WorkThisPeriod = f.fixed(field+".work_completed_this_period", it.WorkCompletedThisPeriod)
			item.MaterialsStored = f.fixed(field+".materials_presently_stored", it.MaterialsPresentlyStored)
			if item.MaterialsStored < 0 {
				f.add(field+".materials_presently_stored", "must be greater than or equal to 0")
			}
			if it.WorkCompletedRetainagePercentThisPeriod.set {
				item.WorkRetainagePct = f.percent(field+".work_completed_retainage_percent_this_period", it.WorkCompletedRetainagePercentThisPeriod)
			}
			if it.MaterialsStoredRetainagePercentThisPeriod.set {
				item.MaterialsRetainPct = f.percent(field+".materials_stored_retainage_percent_this_period", it.MaterialsStoredRetainagePercentThisPeriod)
			}
			item.WorkReleased = f.fixed(field+".work_completed_retainage_released_this_period", it.WorkCompletedRetainageReleasedThisPeriod)
			if item.WorkReleased < 0 {
				f.add(field+".work_completed_retainage_released_this_period", "must be greater than or equal to 0")
			}
			if rel := f.fixed(field+".materials_stored_retainage_released_this_period", it.MaterialsStoredRetainageReleasedThisPeriod); rel != 0 {
				f.add(field+".materials_stored_retainage_released_this_period", "is not supported: stored-materials retainage is released by billing the work")
			}
			x.Items = append(x.Items, item)
		}
	}
	x.Attachments = s.resolveUploads(&f, "upload_ids", p.ID, withProstoreFiles(in.UploadIDs, in.ProstoreFileIDs))
	if f.failed(w) {
		return
	}
	if !cm.Invoiceable() {
		refuse(w, fmt.Sprintf("Invoices can only be created for approved commitments; %s is %s", cm.Number, cm.Status))
		return
	}
	if !invoiceStatusAllowed(w, c, "", status) {
		return
	}
	// Every SOV line gets a row; rows not sent bill nothing this period.
	for _, li := range cm.LineItems {
		found := false
		for _, it := range x.Items {
			found = found || it.LineItemID == li.ID
		}
		if !found {
			x.Items = append(x.Items, data.InvoiceItem{LineItemID: li.ID, WorkRetainagePct: cm.RetainagePercent, MaterialsRetainPct: cm.RetainagePercent})
		}
	}
	slices.SortStableFunc(x.Items, func(a, b data.InvoiceItem) int {
		return cm.LineItem(a.LineItemID).Position - cm.LineItem(b.LineItemID).Position
	})
	x.Number = len(p.CommitmentInvoices(cm.ID)) + 1
	// Retainage released may not exceed what is held on the line.
	for i, row := range p.G703(x) {
		if held := row.WorkRetainageFromPrevious + row.WorkRetainageRetained; row.WorkRetainageReleased > held {
			f.add(fmt.Sprintf("items[%d].work_completed_retainage_released_this_period", i), fmt.Sprintf("exceeds the retainage held on the line (%s)", held))
		}
	}
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID = s.ds.NextID(data.KindInvoice)
	for i := range x.Items {
		x.Items[i].ID = s.ds.NextID(data.KindInvoiceItem)
	}
	x.PeriodID = period.ID
	x.Start, x.End, x.BillingDate = period.Start, period.End, period.End
	if !start.IsZero() {
		x.Start = start
	}
	if !end.IsZero() {
		x.End = end
	}
	if !billing.IsZero() {
		x.BillingDate = billing
	}
	x.InvoiceNumber = strconv.Itoa(x.Number)
	if in.InvoiceNumber != nil && strings.TrimSpace(string(*in.InvoiceNumber)) != "" {
		x.InvoiceNumber = strings.TrimSpace(string(*in.InvoiceNumber))
	}
	setIfSent(&x.Final, in.Final)
	if status != "draft" {
		x.SubmittedAt = now
	}
	x.CreatedAt, x.UpdatedAt = now, now
	p.Invoices = append(p.Invoices, x)
	c.event(p.ID, resRequisitions, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderInvoice(e, s.ds, p, x, true) })
}

// updateInvoice is PATCH /rest/v1.1/requisitions/{id}: project_id and
// commitment_id are required in the body; an invoice of another commitment
// is 404.
func (s *Server) updateInvoice(w http.ResponseWriter, r *http.Request, c *call) {
	body, ok := decodeRequisition(w, r)
	if !ok {
		return
	}
	in := body.Requisition
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, body.ProjectID)
	if p == nil {
		return
	}
	x := p.Invoice(pathID(r, "id"))
	if x == nil || x.CommitmentID != int64(body.CommitmentID) {
		notFound(w)
		return
	}
	var f fieldErrors
	if in.Status != nil && !slices.Contains(data.InvoiceStatuses, *in.Status) {
		f.add("status", "is not included in the list")
	}
	billing := f.date("billing_date", in.BillingDate)
	if len(in.Items) > 0 {
		f.add("items", "cannot be changed through this endpoint")
	}
	if f.failed(w) {
		return
	}
	if latest := p.LatestInvoice(x.CommitmentID); latest != x {
		refuse(w, "Only the latest invoice of a commitment can be edited")
		return
	}
	if in.Status != nil && !invoiceStatusAllowed(w, c, x.Status, *in.Status) {
		return
	}
	if in.Status == nil && (x.Status == "approved" || x.Status == "approved_as_noted") {
		refuse(w, "An approved invoice cannot be edited")
		return
	}
	now := s.stamp(x.UpdatedAt)
	if in.Status != nil && *in.Status != x.Status {
		x.Status = *in.Status
		if x.Status == "under_review" && x.SubmittedAt.IsZero() {
			x.SubmittedAt = now
		}
	}
	if in.InvoiceNumber != nil {
		x.InvoiceNumber = string(*in.InvoiceNumber)
	}
	if in.BillingDate != nil {
		x.BillingDate = billing
	}
	setIfSent(&x.Final, in.Final)
	x.UpdatedAt = now
	c.event(p.ID, resRequisitions, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderInvoice(e, s.ds, p, x, true) })
}

// --- observations ---

var observationPriorities = []string{"Low", "Medium", "High", "Urgent"}

func (s *Server) createObservation(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		ProjectID   idIn `json:"project_id"`
		Observation *struct {
			Name        *string  `json:"name"`
			TypeID      *idIn    `json:"type_id"`
			Status      *string  `json:"status"`
			Priority    *string  `json:"priority"`
			Description *string  `json:"description"`
			DueDate     *string  `json:"due_date"`
			AssigneeID  *idIn    `json:"assignee_id"`
			UploadIDs   []string `json:"upload_ids"`
		} `json:"observation"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.Observation, "observation")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectFor(w, r, c, int64(body.ProjectID))
	if p == nil {
		return
	}
	var f fieldErrors
	if blank(in.Name) {
		f.add("name", "can't be blank")
	}
	x := &data.Observation{ProjectID: p.ID, Status: "initiated", Priority: "Medium", CreatedByID: c.p.UserID}
	if in.TypeID == nil || *in.TypeID == 0 {
		f.add("type_id", "can't be blank")
	} else if c.company.ObsType(int64(*in.TypeID)) == nil {
		f.add("type_id", "is invalid")
	} else {
		x.TypeID = int64(*in.TypeID)
	}
	f.oneOf("status", &x.Status, in.Status, data.ObservationStatuses)
	f.oneOf("priority", &x.Priority, in.Priority, observationPriorities)
	if in.AssigneeID != nil {
		x.AssigneeID = projectUser(&f, p, "assignee_id", *in.AssigneeID)
	}
	x.DueDate = f.date("due_date", in.DueDate)
	x.Attachments = s.resolveUploads(&f, "upload_ids", p.ID, in.UploadIDs)
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID = s.ds.NextID(data.KindObservation)
	x.Name = strings.TrimSpace(*in.Name)
	setIfSent(&x.Description, in.Description)
	for _, o := range p.Observations {
		x.Number = max(x.Number, o.Number)
	}
	x.Number++
	x.CreatedAt, x.UpdatedAt = now, now
	p.Observations = append(p.Observations, x)
	c.event(p.ID, resObservations, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderObservation(e, s.ds, c.company, x) })
}
