package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
	"procoregraph/sandbox/webhooks"
)

// Mutation is a direct change to one item, made as another Procore user would
// make it in the web app: no permission or transition rules, updated_at
// bumped, webhooks fired. It is the body of POST /_sandbox/mutate.
//
// Kinds and their settable fields (Set):
//   - "rfi": status ("open"|"closed"|"draft"), ball_in_court_ids, ball_in_court_role,
//     assignee_ids, rfi_manager_id, subject, due_date; or "recycled": true alone,
//     which sends the RFI to the recycle bin (a "delete" webhook fires)
//   - "submittal": status_id, ball_in_court_ids, title, due_date, and
//     "respond": {"approver_id", "response_id", "comment"}
//   - "invoice": status, invoice_number
//   - "commitment": status, title
//   - "change_order": status, title (a commitment change order)
//   - "change_event": status (open|pending|closed|void), title
//   - "potential_change_order", "change_order_package", "prime_change_order":
//     status (the change order statuses), title
//   - "payment_application": status (draft|under_review|revise_and_resubmit|approved),
//     invoice_number (an owner invoice of any of the project's prime contracts)
//   - "punch_item": status (open|closed|pending|overdue), ball_in_court_ids
//   - "observation": status, assignee_id
//
// Op "create" (kind "rfi" only; ID ignored) adds an open RFI with
// set.subject, managed by the acting user; op "delete" (kind "rfi" only)
// moves the RFI to the recycle bin, out of every list. Both fire the
// webhook ("create", "delete") and answer like an update.
type Mutation struct {
	Kind string `json:"kind"`
	// Op is "" (update), "create" or "delete".
	Op        string `json:"op,omitempty"`
	ProjectID int64  `json:"project_id"`
	ID        int64  `json:"id"`
	// UserID is who makes the change (webhook user_id). Default: a project
	// member other than the demo user and the service account.
	UserID int64                      `json:"user_id"`
	Set    map[string]json.RawMessage `json:"set"`
}

// MutateError is a refused Mutation; Status is the HTTP status the admin
// endpoint answers.
type MutateError struct {
	Status  int
	Message string
}

func (e *MutateError) Error() string { return e.Message }

func (s *Server) handleMutate(w http.ResponseWriter, r *http.Request) {
	var m Mutation
	if err := decodeAdmin(r, &m); err != nil {
		badRequest(w, err.Error())
		return
	}
	body, err := s.Mutate(m)
	if err != nil {
		me, ok := err.(*MutateError)
		if !ok {
			me = &MutateError{Status: http.StatusInternalServerError, Message: err.Error()}
		}
		e := enc{}
		e.open()
		e.str("errors", me.Message)
		e.b = append(e.b, '}')
		writeJSONBytes(w, me.Status, e.b)
		return
	}
	writeJSONBytes(w, http.StatusOK, body)
}

// Mutate applies m and returns the item's JSON as GET would render it (without
// drift). Errors are *MutateError.
func (s *Server) Mutate(m Mutation) ([]byte, error) {
	var c call
	body, err := s.mutate(m, &c)
	for _, ev := range c.events {
		s.hooks.Emit(ev)
	}
	return body, err
}

func bad(format string, args ...any) error {
	return &MutateError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf(format, args...)}
}

func (s *Server) mutate(m Mutation, c *call) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.ds.Project(m.ProjectID)
	if p == nil {
		return nil, notFoundError("project_id")
	}
	co := s.ds.Company(p.CompanyID)
	actor := m.UserID
	if actor == 0 {
		for _, id := range p.UserIDs {
			if id != s.ds.DemoUserID && id != s.ds.ServiceUserID {
				actor = id
				break
			}
		}
	} else if s.ds.User(actor) == nil {
		return nil, bad("unknown user_id %d", actor)
	}
	c.p = auth.Principal{UserID: actor}
	c.company = co
	c.admin = true
	var set fieldSetter
	set.m = m.Set
	switch {
	case m.Op == "":
	case m.Kind != "rfi" || (m.Op != "create" && m.Op != "delete"):
		return nil, bad("op %q is not supported for kind %q", m.Op, m.Kind)
	case m.Op == "create":
		return s.mutateCreateRFI(p, c, &set)
	default:
		return s.mutateDeleteRFI(p, c, m.ID)
	}
	var done mutated
	switch m.Kind {
	case "rfi":
		x := p.RFI(m.ID)
		if x == nil {
			return nil, notFoundError("rfi")
		}
		var recycled bool
		if set.get("recycled", &recycled) && recycled {
			if len(m.Set) != 1 {
				return nil, bad("set.recycled goes alone")
			}
			s.recycle(p, x, c)
			e := &enc{}
			renderRFI(e, s.ds, p, x)
			return e.b, nil
		}
		if v, ok := set.str("status"); ok {
			switch v {
			case data.RFIOpen:
				x.Status, x.Draft, x.Accepted, x.TimeResolved = v, false, false, time.Time{}
				if x.Number == 0 {
					x.Number = nextRFINumber(p)
				}
				openBallInCourt(x)
			case data.RFIClosed:
				x.Status, x.Draft, x.Accepted, x.TimeResolved = v, false, true, s.stamp(x.UpdatedAt)
				x.BallInCourtRole, x.BallInCourtIDs = "", nil
			case data.RFIDraft:
				x.Status, x.Draft = v, true
			default:
				return nil, bad("rfi status must be open, closed or draft")
			}
		}
		if v, ok := set.ids("assignee_ids"); ok {
			x.AssigneeIDs = v
		}
		if v, ok := set.id("rfi_manager_id"); ok {
			x.ManagerID = v
		}
		if v, ok := set.ids("ball_in_court_ids"); ok {
			x.BallInCourtIDs = v
			x.BallInCourtRole = data.RoleAssignees
			if len(v) == 1 && v[0] == x.ManagerID {
				x.BallInCourtRole = data.RoleManager
			}
		}
		if v, ok := set.str("ball_in_court_role"); ok {
			x.BallInCourtRole = v
		}
		if v, ok := set.str("subject"); ok {
			x.Subject = v
		}
		if v, ok := set.date("due_date"); ok {
			x.DueDate = v
		}
		done = mutated{&x.UpdatedAt, resRFIs, x.ID, func(e *enc) { renderRFI(e, s.ds, p, x) }}
	case "submittal":
		x := p.Submittal(m.ID)
		if x == nil {
			return nil, notFoundError("submittal")
		}
		if v, ok := set.id("status_id"); ok {
			if co.Status(v) == nil {
				return nil, bad("unknown status_id %d", v)
			}
			x.StatusID = v
			x.BallInCourtIDs = data.WorkflowBallInCourt(co, x)
		}
		if raw, ok := m.Set["respond"]; ok {
			var resp struct {
				ApproverID int64  `json:"approver_id"`
				ResponseID int64  `json:"response_id"`
				Comment    string `json:"comment"`
			}
			if err := json.Unmarshal(raw, &resp); err != nil {
				return nil, bad("respond: %v", err)
			}
			i := slices.IndexFunc(x.Approvers, func(a *data.Approver) bool { return a.ID == resp.ApproverID })
			if i < 0 || co.Response(resp.ResponseID) == nil {
				return nil, bad("respond: unknown approver_id or response_id")
			}
			a := x.Approvers[i]
			a.ResponseID, a.Comment, a.ReturnedDate = resp.ResponseID, resp.Comment, s.today()
			x.BallInCourtIDs = data.WorkflowBallInCourt(co, x)
		}
		if v, ok := set.ids("ball_in_court_ids"); ok {
			x.BallInCourtIDs = v
		}
		if v, ok := set.str("title"); ok {
			x.Title = v
		}
		if v, ok := set.date("due_date"); ok {
			x.DueDate = v
		}
		done = mutated{&x.UpdatedAt, resSubmittals, x.ID, func(e *enc) { renderSubmittal(e, s.ds, co, p, x) }}
	case "invoice":
		x := p.Invoice(m.ID)
		if x == nil {
			return nil, notFoundError("invoice")
		}
		if v, ok := set.str("status"); ok {
			if !slices.Contains(data.InvoiceStatuses, v) {
				return nil, bad("unknown invoice status %q", v)
			}
			x.Status = v
		}
		if v, ok := set.str("invoice_number"); ok {
			x.InvoiceNumber = v
		}
		done = mutated{&x.UpdatedAt, resRequisitions, x.ID, func(e *enc) { renderInvoice(e, s.ds, p, x, true) }}
	case "commitment":
		x := p.Commitment(m.ID)
		if x == nil {
			return nil, notFoundError("commitment")
		}
		if v, ok := set.str("status"); ok {
			if !slices.Contains(commitmentStatuses(x.Kind), v) {
				return nil, bad("unknown %s status %q", x.Kind, v)
			}
			x.Status = v
			x.Executed = x.Executed || x.Locked()
		}
		if v, ok := set.str("title"); ok {
			x.Title = v
		}
		res, _ := commitmentResource(x.Kind)
		done = mutated{&x.UpdatedAt, res, x.ID, func(e *enc) { renderCommitment(e, s.ds, p, x, true) }}
	case "change_order":
		x := p.ChangeOrder(m.ID)
		if x == nil {
			return nil, notFoundError("change_order")
		}
		if v, ok := set.str("status"); ok {
			if !slices.Contains(data.ChangeOrderStatuses, v) {
				return nil, bad("unknown change order status %q", v)
			}
			x.Status = v
		}
		if v, ok := set.str("title"); ok {
			x.Title = v
		}
		done = mutated{&x.UpdatedAt, resChangeOrders, x.ID, func(e *enc) { renderChangeOrder(e, s.ds, x) }}
	case "change_event", "potential_change_order", "change_order_package", "prime_change_order", "payment_application":
		var err error
		if done, err = s.mutateChangeMgmt(p, m, &set); err != nil {
			return nil, err
		}
	case "punch_item":
		x := p.PunchItem(m.ID)
		if x == nil {
			return nil, notFoundError("punch_item")
		}
		if v, ok := set.str("status"); ok {
			if !slices.Contains([]string{"open", "closed", "pending", "overdue"}, v) {
				return nil, bad("punch item status must be open, closed, pending or overdue")
			}
			x.Status = v
			if v == "closed" {
				x.ClosedAt, x.BallInCourtIDs, x.WorkflowStatus = s.stamp(x.UpdatedAt), nil, "closed"
			}
		}
		if v, ok := set.ids("ball_in_court_ids"); ok {
			x.BallInCourtIDs = v
		}
		done = mutated{&x.UpdatedAt, resPunchItems, x.ID, func(e *enc) { renderPunchItem(e, s.ds, x) }}
	case "observation":
		x := p.Observation(m.ID)
		if x == nil {
			return nil, notFoundError("observation")
		}
		if v, ok := set.str("status"); ok {
			if !slices.Contains(data.ObservationStatuses, v) {
				return nil, bad("unknown observation status %q", v)
			}
			x.Status = v
		}
		if v, ok := set.id("assignee_id"); ok {
			x.AssigneeID = v
		}
		done = mutated{&x.UpdatedAt, resObservations, x.ID, func(e *enc) { renderObservation(e, s.ds, co, x) }}
	default:
		return nil, bad("unknown kind %q (rfi, submittal, invoice, commitment, change_order, change_event, potential_change_order, "+
			"change_order_package, prime_change_order, payment_application, punch_item, observation)", m.Kind)
	}
	if set.err != nil {
		return nil, set.err
	}
	*done.updatedAt = s.stamp(*done.updatedAt)
	c.event(p.ID, done.resource, done.id, "update")
	e := &enc{}
	done.render(e)
	return e.b, nil
}

// adminChangeEventStatuses are the statuses the admin hook can give a change event.
var adminChangeEventStatuses = []string{"open", "pending", "closed", "void"}

// paymentApplicationStatuses are the statuses an owner invoice can have.
var paymentApplicationStatuses = []string{"draft", "under_review", "revise_and_resubmit", "approved"}

// mutateChangeMgmt changes a change event, a PCO, a package, a prime change
// order or an owner invoice (status and title or invoice number); the
// webhook fires under the resource name Procore's catalog gives the kind
// (webhooks.Resource*: prime change orders and packages are "Change Order
// Packages", like commitment change orders).
func (s *Server) mutateChangeMgmt(p *data.Project, m Mutation, set *fieldSetter) (mutated, error) {
	status := func(allowed []string, what string, dst *string) error {
		if v, ok := set.str("status"); ok {
			if !slices.Contains(allowed, v) {
				return bad("unknown %s status %q", what, v)
			}
			*dst = v
		}
		return nil
	}
	title := func(dst *string) {
		if v, ok := set.str("title"); ok {
			*dst = v
		}
	}
	cm := &p.ChangeMgmt
	switch m.Kind {
	case "change_event":
		i := slices.IndexFunc(cm.Events, func(x *data.ChangeEvent) bool { return x.ID == m.ID })
		if i < 0 {
			return mutated{}, notFoundError("change_event")
		}
		x := cm.Events[i]
		if err := status(adminChangeEventStatuses, "change event", &x.Status); err != nil {
			return mutated{}, err
		}
		title(&x.Title)
		return mutated{&x.UpdatedAt, webhooks.ResourceChangeEvents, x.ID, func(e *enc) { renderChangeEvent(e, p, x) }}, nil
	case "potential_change_order":
		i := slices.IndexFunc(cm.PCOs, func(x *data.PotentialChangeOrder) bool { return x.ID == m.ID })
		if i < 0 {
			return mutated{}, notFoundError("potential_change_order")
		}
		x := cm.PCOs[i]
		if err := status(data.ChangeOrderStatuses, "change order", &x.Status); err != nil {
			return mutated{}, err
		}
		title(&x.Title)
		return mutated{&x.UpdatedAt, webhooks.ResourcePotentialChangeOrders, x.ID, func(e *enc) { renderPCO(e, p, x) }}, nil
	case "change_order_package":
		i := slices.IndexFunc(cm.Packages, func(x *data.ChangeOrderPackage) bool { return x.ID == m.ID })
		if i < 0 {
			return mutated{}, notFoundError("change_order_package")
		}
		x := cm.Packages[i]
		if err := status(data.ChangeOrderStatuses, "change order", &x.Status); err != nil {
			return mutated{}, err
		}
		title(&x.Title)
		return mutated{&x.UpdatedAt, webhooks.ResourceChangeOrderPackages, x.ID,
			func(e *enc) { renderChangeOrderHead(e, x.ID, x.Number, x.Title, x.Status, x.UpdatedAt) }}, nil
	case "prime_change_order":
		i := slices.IndexFunc(cm.PrimeChangeOrders, func(x *data.PrimeChangeOrder) bool { return x.ID == m.ID })
		if i < 0 {
			return mutated{}, notFoundError("prime_change_order")
		}
		x := cm.PrimeChangeOrders[i]
		if err := status(data.ChangeOrderStatuses, "change order", &x.Status); err != nil {
			return mutated{}, err
		}
		title(&x.Title)
		return mutated{&x.UpdatedAt, webhooks.ResourceChangeOrderPackages, x.ID,
			func(e *enc) { renderChangeOrderHead(e, x.ID, x.Number, x.Title, x.Status, x.UpdatedAt) }}, nil
	default: // payment_application
		for _, pc := range p.PrimeContracts {
			for i, x := range pc.PaymentApplications {
				if x.ID != m.ID {
					continue
				}
				if err := status(paymentApplicationStatuses, "payment application", &x.Status); err != nil {
					return mutated{}, err
				}
				if v, ok := set.str("invoice_number"); ok {
					x.InvoiceNumber = v
				}
				return mutated{&x.UpdatedAt, webhooks.ResourcePaymentApplications, x.ID, func(e *enc) { renderPaymentApplication(e, pc, i) }}, nil
			}
		}
		return mutated{}, notFoundError("payment_application")
	}
}

// renderChangeOrderHead renders the fields a Mutation of a package or a prime
// change order changes (the lists render the rest).
func renderChangeOrderHead(e *enc, id int64, number, title, status string, updatedAt time.Time) {
	e.open()
	e.int("id", id)
	e.str("number", number)
	e.str("title", title)
	e.str("status", status)
	e.time("updated_at", updatedAt)
	e.close()
}

// mutateCreateRFI adds an open RFI (Mutation op "create").
func (s *Server) mutateCreateRFI(p *data.Project, c *call, set *fieldSetter) ([]byte, error) {
	subject, ok := set.str("subject")
	if set.err != nil {
		return nil, set.err
	}
	if !ok || subject == "" {
		return nil, bad("set.subject is required to create an rfi")
	}
	now := s.stamp(time.Time{})
	x := &data.RFI{ID: s.ds.NextID(data.KindRFI), ProjectID: p.ID, Subject: subject, ManagerID: c.p.UserID,
		CreatedByID: c.p.UserID, ReceivedFromID: c.p.UserID, CreatedAt: now, UpdatedAt: now,
		Status: data.RFIOpen, Number: nextRFINumber(p), InitiatedAt: now}
	openBallInCourt(x)
	x.Questions = []*data.Question{{ID: s.ds.NextID(data.KindQuestion), Body: subject, CreatedByID: c.p.UserID, Date: now}}
	p.RFIs = append(p.RFIs, x) // ids grow: the list stays sorted by id
	c.event(p.ID, resRFIs, x.ID, "create")
	e := &enc{}
	renderRFI(e, s.ds, p, x)
	return e.b, nil
}

// mutateDeleteRFI moves an RFI to the recycle bin (Mutation op "delete").
func (s *Server) mutateDeleteRFI(p *data.Project, c *call, id int64) ([]byte, error) {
	i := slices.IndexFunc(p.RFIs, func(x *data.RFI) bool { return x.ID == id })
	if i < 0 {
		return nil, notFoundError("rfi")
	}
	x := p.RFIs[i]
	p.RFIs = slices.Delete(p.RFIs, i, i+1)
	x.Status, x.UpdatedAt = "recycled", s.stamp(x.UpdatedAt)
	c.event(p.ID, resRFIs, x.ID, "delete")
	e := &enc{}
	renderRFI(e, s.ds, p, x)
	return e.b, nil
}

// mutated is what every Mutation kind hands back for the shared ending: the
// item's updated_at to bump, its webhook resource and id, and its rendering.
type mutated struct {
	updatedAt *time.Time
	resource  string
	id        int64
	render    func(e *enc)
}

// notFoundError is the 404 refusal of a Mutation naming what is missing.
func notFoundError(what string) error {
	return &MutateError{Status: http.StatusNotFound, Message: "unknown " + what}
}

// fieldSetter reads typed values from a Mutation's Set, keeping the first error.
type fieldSetter struct {
	m   map[string]json.RawMessage
	err error
}

func (f *fieldSetter) get(k string, v any) bool {
	raw, ok := f.m[k]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil && f.err == nil {
		f.err = bad("set.%s: %v", k, err)
		return false
	}
	return true
}

func (f *fieldSetter) str(k string) (string, bool) {
	var v string
	ok := f.get(k, &v)
	return v, ok
}

func (f *fieldSetter) id(k string) (int64, bool) {
	var v idIn
	ok := f.get(k, &v)
	return int64(v), ok
}

func (f *fieldSetter) ids(k string) ([]int64, bool) {
	var v []idIn
	ok := f.get(k, &v)
	return ids(v), ok
}

func (f *fieldSetter) date(k string) (time.Time, bool) {
	v, ok := f.str(k)
	if !ok {
		return time.Time{}, false
	}
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil && f.err == nil {
		f.err = bad("set.%s: not a date", k)
	}
	return t, ok
}
