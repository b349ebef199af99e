package sandbox

import (
	"net/http"
	"slices"
	"time"

	"procoregraph/sandbox/data"
)

// Status writes (contract/contract_status_writes.json): PATCH of a prime
// change order (RestV10ProjectsProjectIdPrimeChangeOrdersIdPatch), of a
// change order package (RestV10ChangeOrderPackagesIdPatch, project_id in the
// body) and of a payment application (RestV10PrimeContractsPrimeContract
// IdPaymentApplicationsIdPatch, project_id in the body). They change the rows
// the reads serve (changemgmt.go, prime.go) and answer the row as the list
// renders it. The commitment change order PATCH is updateChangeOrder
// (changeorders.go).
//
// What follows an approval, as in Procore: a prime change order or a package
// that becomes approved adds its grand total to the project's prime contract
// approved_change_orders (so its revised value), and one that stops being
// approved takes it off again; the payment applications of that contract
// that are not approved yet (still open for billing) carry the same change
// in their g702 net_change_by_change_orders, while approved ones are final.
// Every generated project has one prime contract, which its prime change
// orders and packages belong to.
//
// Transitions the sandbox refuses with a 422 (Procore's exact rules are not
// published; these are the gateway's documented ones): a change order out
// of void, or out of approved to anything but void; a payment application
// out of approved, to a status its current one does not lead to, or other
// than its contract's latest.

// packageStatuses are the change order package statuses (the change order
// enum without pending_billable).
var packageStatuses = slices.DeleteFunc(slices.Clone(data.ChangeOrderStatuses), func(s string) bool { return s == "pending_billable" })

// payAppStatuses are the payment application statuses.
var payAppStatuses = []string{"draft", "under_review", "revise_and_resubmit", "approved"}

// payAppNext are the statuses each payment application status may move to.
var payAppNext = map[string][]string{
	"draft":               {"under_review", "revise_and_resubmit", "approved"},
	"under_review":        {"draft", "revise_and_resubmit", "approved"},
	"revise_and_resubmit": {"draft", "under_review"},
	"approved":            {},
}

// statusEdit is the part of a change order or payment application body the
// sandbox applies: the status (and a change order's title).
type statusEdit struct {
	Status *string `json:"status"`
	Title  *string `json:"title"`
}

// changeOrderMoveRefused writes a 422 and reports true when a change order
// may not move from one status to another.
func changeOrderMoveRefused(w http.ResponseWriter, from, to string) bool {
	switch {
	case from == to:
		return false
	case from == "void":
		refuse(w, "A void change order cannot change status")
		return true
	case from == "approved" && to != "void":
		refuse(w, "An approved change order can only be voided; it cannot move to "+to)
		return true
	}
	return false
}

// followApproval moves a change order's grand total into or out of the
// project's prime contract when its status moves into or out of approved.
// The caller holds s.mu.
func (s *Server) followApproval(p *data.Project, from, to string, total data.Fixed) {
	var delta data.Fixed
	switch {
	case from != "approved" && to == "approved":
		delta = total
	case from == "approved" && to != "approved":
		delta = -total
	default:
		return
	}
	if len(p.PrimeContracts) == 0 {
		return
	}
	pc := p.PrimeContracts[0]
	pc.ApprovedChangeOrders += delta
	for _, a := range pc.PaymentApplications {
		if a.Status != "approved" {
			a.NetChangeByCOs += delta
			a.UpdatedAt = s.stamp(a.UpdatedAt)
		}
	}
	pc.UpdatedAt = s.stamp(pc.UpdatedAt)
}

// moveChangeOrder applies a status edit to a prime change order or a
// package (its status, title and updated_at fields): the status must be one
// of statuses (field names it in the 422) and a move Procore allows; an
// approval moves the prime contract's figures. It reports false after
// writing the refusal.
func (s *Server) moveChangeOrder(w http.ResponseWriter, p *data.Project, in *statusEdit, field string, statuses []string,
	status, title *string, updatedAt *time.Time, total data.Fixed) bool {
	var f fieldErrors
	next := *status
	f.oneOf(field, &next, in.Status, statuses)
	if f.failed(w) || changeOrderMoveRefused(w, *status, next) {
		return false
	}
	s.followApproval(p, *status, next, total)
	*status = next
	setIfSent(title, in.Title)
	*updatedAt = s.stamp(*updatedAt)
	return true
}

// updatePrimeChangeOrder serves PATCH
// /rest/v1.0/projects/{project_id}/prime_change_orders/{id}:
// {"change_order": {"status", "title"}}.
func (s *Server) updatePrimeChangeOrder(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeWrapped[statusEdit](w, r, "change_order", func(map[string]jsonRaw) bool { return false })
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	if p.ThreeTierChangeOrders() {
		refuse(w, primeThreeTierMessage)
		return
	}
	id := pathID(r, "id")
	i := slices.IndexFunc(p.ChangeMgmt.PrimeChangeOrders, func(x *data.PrimeChangeOrder) bool { return x.ID == id })
	if i < 0 {
		notFound(w)
		return
	}
	x := p.ChangeMgmt.PrimeChangeOrders[i]
	if !s.moveChangeOrder(w, p, in, "status", data.ChangeOrderStatuses, &x.Status, &x.Title, &x.UpdatedAt, x.GrandTotal) {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) { renderPrimeChangeOrder(e, x) })
}

// updateChangeOrderPackage serves PATCH /rest/v1.0/change_order_packages/{id}:
// {"project_id", "change_order": {"status", "title"}}.
func (s *Server) updateChangeOrderPackage(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		ProjectID   idIn        `json:"project_id"`
		ChangeOrder *statusEdit `json:"change_order"`
	}
	in, ok := decodeEnvelope(w, r, &body, &body.ChangeOrder, "change_order")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, body.ProjectID)
	if p == nil {
		return
	}
	id := pathID(r, "id")
	i := slices.IndexFunc(p.ChangeMgmt.Packages, func(x *data.ChangeOrderPackage) bool { return x.ID == id })
	if i < 0 {
		notFound(w)
		return
	}
	x := p.ChangeMgmt.Packages[i]
	if !s.moveChangeOrder(w, p, in, "change_order.status", packageStatuses, &x.Status, &x.Title, &x.UpdatedAt, x.GrandTotal) {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) {
		e.open()
		e.int("id", x.ID)
		e.str("number", x.Number)
		e.str("title", x.Title)
		e.str("status", x.Status)
		e.bool("executed", x.Status == "approved")
		e.money("grand_total", x.GrandTotal)
		e.time("created_at", x.CreatedAt)
		e.time("updated_at", x.UpdatedAt)
		e.close()
	})
}

// updatePaymentApplication serves PATCH
// /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications/{id}:
// {"project_id", "payment_application": {"status"}}.
func (s *Server) updatePaymentApplication(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		ProjectID idIn        `json:"project_id"`
		App       *statusEdit `json:"payment_application"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	in := body.App
	if in == nil {
		in = &statusEdit{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, body.ProjectID)
	if p == nil {
		return
	}
	pc := primeContractOf(w, r, p, "prime_contract_id")
	if pc == nil {
		return
	}
	id := pathID(r, "id")
	i := slices.IndexFunc(pc.PaymentApplications, func(a *data.PaymentApplication) bool { return a.ID == id })
	if i < 0 {
		notFound(w)
		return
	}
	a := pc.PaymentApplications[i]
	var f fieldErrors
	status := a.Status
	f.oneOf("payment_application.status", &status, in.Status, payAppStatuses)
	if f.failed(w) {
		return
	}
	if status != a.Status {
		switch {
		case a.Status == "approved":
			refuse(w, "An approved payment application cannot be edited")
			return
		case i != len(pc.PaymentApplications)-1:
			refuse(w, "Only the latest payment application of a prime contract can be edited")
			return
		case !slices.Contains(payAppNext[a.Status], status):
			refuse(w, "A payment application cannot move from "+a.Status+" to "+status)
			return
		}
	}
	a.Status = status
	a.UpdatedAt = s.stamp(a.UpdatedAt)
	s.writeOne(w, http.StatusOK, func(e *enc) { renderPaymentApplication(e, pc, i) })
}
