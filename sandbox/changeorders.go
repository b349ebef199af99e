package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/sandbox/data"
)

// Commitment change orders: the v1.0 list, create and update, and the v2.0
// change order line items that carry their amounts (with the v2.0 commitment
// contract line items a client reads a WBS code from). Procore serves these
// on projects with 1- or 2-tier change management only (data/changeorders.go).

// threeTierMessage is the refusal of a commitment change order route on a
// 3-tier project. Procore's exact answer is not published; the sandbox
// assumes a 422 business-rule refusal (400 on the v2.0 routes, whose
// published answers have no 422) that names the tier setting.
const threeTierMessage = "Commitment Change Orders are only available on projects configured for 1 or 2 tier change management; " +
	"this project uses 3 tiers, where change orders are created through Change Order Packages"

// changeOrderIn is a {"change_order": {...}} create or update.
type changeOrderIn struct {
	ContractID  *idIn   `json:"contract_id"`
	Number      *strIn  `json:"number"`
	Title       *string `json:"title"`
	Status      *string `json:"status"`
	Description *string `json:"description"`
	DueDate     *string `json:"due_date"`
}

// decodeChangeOrder reads {"change_order": {...}}. A line_items key is
// refused as Procore's contract refuses it (change_order has no line_items
// in v1.0: line items are the v2.0 resource), with the answer the sandbox
// gives when it enforces the contract, whatever Config.Contract says: taking
// the key silently would drop the amount the caller meant.
func decodeChangeOrder(w http.ResponseWriter, r *http.Request) (*changeOrderIn, bool) {
	return decodeWrapped[changeOrderIn](w, r, "change_order", func(keys map[string]jsonRaw) bool {
		if _, ok := keys["line_items"]; !ok {
			return false
		}
		var f fieldErrors
		f.add("change_order.line_items", "is not a permitted parameter")
		f.write(w)
		return true
	})
}

func (s *Server) listChangeOrders(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.changeOrderProject(w, r, c)
	if p == nil {
		return
	}
	q := paramsOf(r)
	items, ok := filterCommon(w, q, p.ChangeOrders, func(x *data.ChangeOrder) int64 { return x.ID }, func(x *data.ChangeOrder) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	if ct, on, err := q.ids("filters[contract_id]"); err == nil && on {
		items = filterItems(items, func(x *data.ChangeOrder) bool { return containsID(ct, x.ContractID) })
	}
	sortItems(items, q, sorter[*data.ChangeOrder]{
		"number":     func(a, b *data.ChangeOrder) int { return strings.Compare(a.Number, b.Number) },
		"created_at": func(a, b *data.ChangeOrder) int { return a.CreatedAt.Compare(b.CreatedAt) },
		"updated_at": func(a, b *data.ChangeOrder) int { return a.UpdatedAt.Compare(b.UpdatedAt) },
	}, func(x *data.ChangeOrder) int64 { return x.ID })
	writeList(s, w, r, items, pageWhole, func(e *enc, x *data.ChangeOrder) { renderChangeOrder(e, s.ds, x) })
}

// createChangeOrder creates a change order without lines (grand total 0):
// its amounts are v2.0 line items.
func (s *Server) createChangeOrder(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeChangeOrder(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.changeOrderProject(w, r, c)
	if p == nil {
		return
	}
	var f fieldErrors
	var contract *data.Commitment
	if in.ContractID == nil || *in.ContractID == 0 {
		f.add("contract_id", "can't be blank")
	} else if contract = p.Commitment(int64(*in.ContractID)); contract == nil {
		f.add("contract_id", "is invalid")
	}
	x := &data.ChangeOrder{ProjectID: p.ID, Status: "draft", CreatedByID: c.p.UserID}
	f.oneOf("status", &x.Status, in.Status, data.ChangeOrderStatuses)
	x.DueDate = f.date("due_date", in.DueDate)
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID, x.ContractID = s.ds.NextID(data.KindChangeOrder), contract.ID
	if in.Number != nil && strings.TrimSpace(string(*in.Number)) != "" {
		x.Number = strings.TrimSpace(string(*in.Number))
	} else {
		n := 0
		for _, o := range p.ChangeOrders {
			if o.ContractID == contract.ID {
				n++
			}
		}
		x.Number = contract.Number + "-CO-" + strconv.Itoa(n+1)
	}
	setIfSent(&x.Title, in.Title)
	setIfSent(&x.Description, in.Description)
	x.CreatedAt, x.UpdatedAt = now, now
	p.ChangeOrders = append(p.ChangeOrders, x)
	c.event(p.ID, resChangeOrders, x.ID, "create")
	s.touchCommitment(c, contract)
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderChangeOrder(e, s.ds, x) })
}

// updateChangeOrder is PATCH .../commitment_change_orders/{id}: number,
// title, status, description, due date (the commitment cannot change).
func (s *Server) updateChangeOrder(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeChangeOrder(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.changeOrderProject(w, r, c)
	if p == nil {
		return
	}
	x := p.ChangeOrder(pathID(r, "id"))
	if x == nil {
		notFound(w)
		return
	}
	var f fieldErrors
	if in.ContractID != nil && *in.ContractID != 0 && int64(*in.ContractID) != x.ContractID {
		f.add("contract_id", "cannot be changed")
	}
	status := x.Status
	f.oneOf("status", &status, in.Status, data.ChangeOrderStatuses)
	due := x.DueDate
	if in.DueDate != nil {
		due = f.date("due_date", in.DueDate)
	}
	if f.failed(w) {
		return
	}
	x.Status, x.DueDate = status, due
	if in.Number != nil && strings.TrimSpace(string(*in.Number)) != "" {
		x.Number = strings.TrimSpace(string(*in.Number))
	}
	setIfSent(&x.Title, in.Title)
	setIfSent(&x.Description, in.Description)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resChangeOrders, x.ID, "update")
	s.touchCommitment(c, p.Commitment(x.ContractID))
	s.writeOne(w, http.StatusOK, func(e *enc) { renderChangeOrder(e, s.ds, x) })
}

// deleteChangeOrder is DELETE .../commitment_change_orders/{id}: the change
// order goes with its line items (204, no body).
func (s *Server) deleteChangeOrder(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.changeOrderProject(w, r, c)
	if p == nil {
		return
	}
	id := pathID(r, "id")
	i := slices.IndexFunc(p.ChangeOrders, func(x *data.ChangeOrder) bool { return x.ID == id })
	if i < 0 {
		notFound(w)
		return
	}
	x := p.ChangeOrders[i]
	p.ChangeOrders = slices.Delete(p.ChangeOrders, i, i+1)
	c.event(p.ID, resChangeOrders, x.ID, "delete")
	s.touchCommitment(c, p.Commitment(x.ContractID))
	w.WriteHeader(http.StatusNoContent)
}

// changeOrderProject is the request's project when Procore serves its
// commitment change orders (1- or 2-tier change management); otherwise it
// answers (404, 403, or 422 on a 3-tier project) and returns nil. The
// caller holds s.mu.
func (s *Server) changeOrderProject(w http.ResponseWriter, r *http.Request, c *call) *data.Project {
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return nil
	}
	if p.ThreeTierChangeOrders() {
		refuse(w, threeTierMessage)
		return nil
	}
	return p
}

// touchCommitment records that a change to one of its change orders changed
// the commitment (nil: none): updated_at and its webhook event. The caller
// holds s.mu.
func (s *Server) touchCommitment(c *call, contract *data.Commitment) {
	if contract == nil {
		return
	}
	contract.UpdatedAt = s.stamp(contract.UpdatedAt)
	res, _ := commitmentResource(contract.Kind)
	c.event(contract.ProjectID, res, contract.ID, "update")
}

// --- v2.0 ---

// v2Company checks the company_id of a v2.0 path against the
// Procore-Company-Id the middleware resolved; another company is 404.
func v2Company(w http.ResponseWriter, r *http.Request, c *call) bool {
	if c.company == nil || pathID(r, "company_id") != c.company.ID {
		writeV2Error(w, http.StatusNotFound, "Company not found")
		return false
	}
	return true
}

// v2Detail is one entry of a v2.0 error's details: the body key and what is
// wrong with it.
type v2Detail struct{ source, message string }

// writeV2Error writes Procore's v2.0 error object:
// {"error":{"code":"BAD_REQUEST","message":"...","details":[{"reason_code","message","source"}]}}.
func writeV2Error(w http.ResponseWriter, status int, msg string, details ...v2Detail) {
	e := enc{}
	e.open()
	e.obj("error")
	e.str("code", strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")))
	e.str("message", msg)
	if len(details) > 0 {
		e.arr("details")
		for _, d := range details {
			e.open()
			e.str("reason_code", "INVALID_PARAMETER")
			e.str("message", d.message)
			e.str("source", d.source)
			e.close()
		}
		e.closeArr()
	}
	e.close()
	e.close()
	writeJSONBytes(w, status, e.b)
}

// createChangeOrderLineItem is POST /rest/v2.0/companies/{company_id}/
// projects/{project_id}/commitment_change_orders/{id}/line_items: a flat
// body (no wrapper) whose wbs_code_id is required, and amount too (the
// sandbox's schedules of values are amount-based); ids and money may be
// strings. The change order's grand total is the sum of its lines. An
// approved change order is locked (400). Answers 200 {"data": line}, string
// ids, as Procore's spec publishes.
func (s *Server) createChangeOrderLineItem(w http.ResponseWriter, r *http.Request, c *call) {
	var in struct {
		Amount      decIn   `json:"amount"`
		Description *string `json:"description"`
		WBSCodeID   idIn    `json:"wbs_code_id"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !v2Company(w, r, c) {
		return
	}
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	if p.ThreeTierChangeOrders() {
		writeV2Error(w, http.StatusBadRequest, threeTierMessage)
		return
	}
	x := p.ChangeOrder(pathID(r, "commitment_change_order_id"))
	if x == nil {
		writeV2Error(w, http.StatusNotFound, "Commitment Change Order not found")
		return
	}
	var details []v2Detail
	var cc *data.CostCode
	switch {
	case in.WBSCodeID == 0:
		details = append(details, v2Detail{"wbs_code_id", "can't be blank"})
	default:
		if cc = p.WBSCostCode(int64(in.WBSCodeID)); cc == nil {
			details = append(details, v2Detail{"wbs_code_id", "is invalid"})
		}
	}
	var amount data.Fixed
	if !in.Amount.set {
		details = append(details, v2Detail{"amount", "can't be blank"})
	} else if v, err := data.ParseFixed(in.Amount.raw); err != nil {
		details = append(details, v2Detail{"amount", "is not a number with at most two decimal places"})
	} else {
		amount = v
	}
	if len(details) > 0 {
		writeV2Error(w, http.StatusBadRequest, "Invalid line item", details...)
		return
	}
	if x.Locked() {
		writeV2Error(w, http.StatusBadRequest, "The schedule of values of a change order in status "+x.Status+" is locked; line items cannot be added")
		return
	}
	line := data.ChangeOrderLine{ID: s.ds.NextID(data.KindChangeOrderLine), Amount: amount, CostCodeID: cc.ID}
	if in.Description != nil {
		line.Description = *in.Description
	}
	x.Lines = append(x.Lines, line)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resChangeOrders, x.ID, "update")
	s.touchCommitment(c, p.Commitment(x.ContractID))
	s.writeOne(w, http.StatusOK, func(e *enc) {
		e.open()
		e.key("data")
		renderLineV2(e, p, line.ID, line.Description, line.Amount, nil, nil, "", line.CostCodeID, len(x.Lines))
		e.close()
	})
}

// listCommitmentContractLineItems is GET /rest/v2.0/companies/{company_id}/
// projects/{project_id}/commitment_contracts/{id}/line_items: a work order's
// or purchase order's schedule of values (either kind), page/per_page
// (default 10), {"data": [...]} with string ids and each line's wbs_code_id.
func (s *Server) listCommitmentContractLineItems(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !v2Company(w, r, c) {
		return
	}
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	x := p.Commitment(pathID(r, "commitment_contract_id"))
	if x == nil {
		writeV2Error(w, http.StatusNotFound, "Commitment Contract not found")
		return
	}
	lo, hi := page(w, r, len(x.LineItems), pageSpec{10, 100})
	e := s.newEnc()
	e.open()
	e.arr("data")
	for _, li := range x.LineItems[lo:hi] {
		q, u := li.Quantity, li.UnitCost
		renderLineV2(e, p, li.ID, li.Description, li.Amount, &q, &u, li.UOM, li.CostCodeID, li.Position)
	}
	e.closeArr()
	e.close()
	writeJSONBytes(w, http.StatusOK, e.b)
	s.putEnc(e)
}

// renderLineV2 writes a v2.0 schedule of values row: string ids, money as
// strings, quantity as a number, the WBS code of the line's cost code (null
// without one).
func renderLineV2(e *enc, p *data.Project, id int64, description string, amount data.Fixed, quantity, unitCost *data.Fixed, uom string, costCodeID int64, position int) {
	e.open()
	e.str("id", strconv.FormatInt(id, 10))
	e.str("description", description)
	if quantity != nil {
		e.raw("quantity", quantity.String())
	} else {
		e.null("quantity")
	}
	if unitCost != nil {
		e.money("unit_cost", *unitCost)
	} else {
		e.null("unit_cost")
	}
	e.strOrNull("uom", uom)
	e.money("amount", amount)
	e.str("extended_type", "manual")
	if cc := p.CostCode(costCodeID); cc != nil {
		wbs := strconv.FormatInt(data.WBSCodeOf(cc.ID), 10)
		e.str("wbs_code_id", wbs)
		e.obj("wbs_code")
		e.str("id", wbs)
		e.str("flat_code", cc.FullCode+".COM")
		e.str("description", cc.Name+" - Commitment")
		e.close()
	} else {
		e.null("wbs_code_id")
		e.null("wbs_code")
	}
	e.null("tax_code_id")
	e.null("prime_line_item_id")
	e.int("position", int64(position))
	e.close()
}
