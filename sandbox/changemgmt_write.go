package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"procoregraph/sandbox/data"
)

// Change management writes: the change event statuses a create names, the
// v1.0 change event create (its line items nested as
// change_event_line_items_attributes), and the v1.0 PCO create, its line
// item create and delete, and the PCO update (status). They store into the
// same ChangeMgmt the reads of changemgmt.go serve. Procore publishes no
// delete of a PCO and no key linking a PCO line item to a change event line
// item: the sandbox takes neither. A project with 1-tier change management
// has no PCOs: the PCO create is refused there.

const (
	resChangeEvents = "Change Events"
	resPCOs         = "Potential Change Orders"
	resPCOLines     = "Potential Change Order Line Items"
)

// oneTierPCOMessage is the PCO create's refusal on a 1-tier project
// (Procore's exact answer is not published).
const oneTierPCOMessage = "Potential Change Orders are not available on projects configured for 1 tier change management"

// changeEventStatus is one of a project's change event statuses: every
// project has the same three (Open, Pending, Closed), with fixed ids.
type changeEventStatus struct {
	id     int64
	name   string
	mapped string
}

var changeEventStatuses = []changeEventStatus{{1, "Open", "open"}, {2, "Pending", "pending"}, {3, "Closed", "closed"}}

// changeEventLineKeys are the keys Procore publishes for one element of
// change_event_line_items_attributes (the contract table checks keys two
// levels deep only, so the handler checks these).
var changeEventLineKeys = []string{"id", "budget_code", "created_at", "description", "uom", "estimated_cost_amount",
	"estimated_cost_quantity", "estimated_cost_unit_cost", "estimated_cost_calculation_strategy", "line_item_type_id",
	"cost_code_id", "proposed_vendor_id", "proposed_contract_id", "updated_at", "commitment_contract_line_item_id"}

func (s *Server) listChangeEventStatuses(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.projectFor(w, r, c, 0) == nil {
		return
	}
	writeList(s, w, r, changeEventStatuses, pageStandard, func(e *enc, st changeEventStatus) {
		e.open()
		e.int("id", st.id)
		e.str("name", st.name)
		e.str("mapped_to_status", st.mapped)
		e.bool("default_status", st.id == 1)
		e.bool("show_in_select", true)
		e.close()
	})
}

type changeEventIn struct {
	Title               *string `json:"title"`
	ChangeEventStatusID *idIn   `json:"change_event_status_id"`
	EventScope          *string `json:"event_scope"`
	EventType           *string `json:"event_type"`
	RFIID               *idIn   `json:"rfi_id"`
	Lines               []struct {
		Description *string `json:"description"`
		CostCodeID  idIn    `json:"cost_code_id"`
		Amount      decIn   `json:"estimated_cost_amount"`
	} `json:"change_event_line_items_attributes"`
}

// createChangeEvent is POST /rest/v1.0/change_events?project_id=: the event
// and its lines, validated whole before anything is stored.
func (s *Server) createChangeEvent(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeWrapped[changeEventIn](w, r, "change_event", func(keys map[string]jsonRaw) bool {
		var lines []map[string]jsonRaw
		if raw, ok := keys["change_event_line_items_attributes"]; ok && raw.decode(&lines) == nil {
			for i, l := range lines {
				for k := range l {
					if !slices.Contains(changeEventLineKeys, k) {
						badRequest(w, "found unpermitted parameter: change_event_line_items_attributes."+strconv.Itoa(i)+"."+k)
						return true
					}
				}
			}
		}
		return false
	})
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
	x := &data.ChangeEvent{Title: "", Type: "tbd"}
	setIfSent(&x.Title, in.Title)
	switch {
	case in.ChangeEventStatusID == nil || *in.ChangeEventStatusID == 0:
		f.add("change_event_status_id", "can't be blank")
	default:
		i := slices.IndexFunc(changeEventStatuses, func(st changeEventStatus) bool { return st.id == int64(*in.ChangeEventStatusID) })
		if i < 0 {
			f.add("change_event_status_id", "is invalid")
		} else {
			x.Status = changeEventStatuses[i].mapped
		}
	}
	if in.EventScope == nil {
		f.add("event_scope", "can't be blank")
	} else {
		f.oneOf("event_scope", &x.Scope, in.EventScope, []string{"tbd", "in_scope", "out_of_scope"})
	}
	f.oneOf("event_type", &x.Type, in.EventType, []string{"tbd", "allowance", "contingency", "owner_change", "transfer"})
	x.RFIID = optionalRef(&f, "rfi_id", in.RFIID, p.RFI)
	for i, l := range in.Lines {
		field := "change_event_line_items_attributes." + strconv.Itoa(i)
		line := data.ChangeEventLine{}
		setIfSent(&line.Description, l.Description)
		if l.CostCodeID != 0 {
			if p.CostCode(int64(l.CostCodeID)) == nil {
				f.add(field+".cost_code_id", "is invalid")
			}
			line.CostCodeID = int64(l.CostCodeID)
		}
		line.Amount = f.fixed(field+".estimated_cost_amount", l.Amount)
		x.Lines = append(x.Lines, line)
	}
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID, x.CreatedAt, x.UpdatedAt = s.ds.NextID(data.KindChangeEvent), now, now
	for _, o := range p.ChangeMgmt.Events {
		x.Number = max(x.Number, o.Number)
	}
	x.Number++
	for i := range x.Lines {
		x.Lines[i].ID = s.ds.NextID(data.KindChangeEventLine)
	}
	p.ChangeMgmt.Events = append(p.ChangeMgmt.Events, x)
	c.event(p.ID, resChangeEvents, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderChangeEvent(e, p, x) })
}

type pcoIn struct {
	Title  *string `json:"title"`
	Status *string `json:"status"`
}

// pcoProject resolves a PCO write's project and prime contract from the
// body's project_id and contract_id (both required), refusing a 1-tier
// project. The caller holds s.mu.
func (s *Server) pcoProject(w http.ResponseWriter, c *call, body map[string]jsonRaw) *data.Project {
	p := s.bodyProject(w, c, bodyProjectID(body))
	if p == nil {
		return nil
	}
	var contract idIn
	if v, ok := body["contract_id"]; ok {
		_ = v.decode(&contract)
	}
	if contract == 0 {
		badRequest(w, "param is missing or the value is empty: contract_id")
		return nil
	}
	if !slices.ContainsFunc(p.PrimeContracts, func(pc *data.PrimeContract) bool { return pc.ID == int64(contract) }) {
		invalid(w, "contract_id", "is invalid")
		return nil
	}
	if p.ChangeOrderTiers <= 1 {
		refuse(w, oneTierPCOMessage)
		return nil
	}
	return p
}

// decodePCO reads {"project_id", "contract_id", "change_order": {...}}.
func decodePCO(w http.ResponseWriter, r *http.Request) (map[string]jsonRaw, *pcoIn, bool) {
	var body map[string]jsonRaw
	if !decodeBody(w, r, &body) {
		return nil, nil, false
	}
	var in pcoIn
	raw, ok := body["change_order"]
	if !ok || raw.decode(&in) != nil {
		badRequest(w, "param is missing or the value is empty: change_order")
		return nil, nil, false
	}
	return body, &in, true
}

// createPCO is POST /rest/v1.0/potential_change_orders: a PCO without lines.
func (s *Server) createPCO(w http.ResponseWriter, r *http.Request, c *call) {
	body, in, ok := decodePCO(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pcoProject(w, c, body)
	if p == nil {
		return
	}
	x := &data.PotentialChangeOrder{Status: "draft"}
	var f fieldErrors
	f.oneOf("status", &x.Status, in.Status, pcoStatuses)
	setIfSent(&x.Title, in.Title)
	if f.failed(w) {
		return
	}
	now := s.stamp(time.Time{})
	x.ID, x.Number, x.CreatedAt, x.UpdatedAt = s.ds.NextID(data.KindPCO), strconv.Itoa(len(p.ChangeMgmt.PCOs)+1), now, now
	p.ChangeMgmt.PCOs = append(p.ChangeMgmt.PCOs, x)
	c.event(p.ID, resPCOs, x.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderPCO(e, p, x) })
}

var pcoStatuses = []string{"draft", "not_pricing", "pricing", "pending", "revised", "proceeding", "not_proceeding", "no_charge", "approved", "rejected", "void"}

// updatePCO is PATCH /rest/v1.0/potential_change_orders/{id}: title and status.
func (s *Server) updatePCO(w http.ResponseWriter, r *http.Request, c *call) {
	body, in, ok := decodePCO(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pcoProject(w, c, body)
	if p == nil {
		return
	}
	x := findPCO(p, pathID(r, "id"))
	if x == nil {
		notFound(w)
		return
	}
	status := x.Status
	var f fieldErrors
	f.oneOf("status", &status, in.Status, pcoStatuses)
	if f.failed(w) {
		return
	}
	x.Status = status
	setIfSent(&x.Title, in.Title)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resPCOs, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderPCO(e, p, x) })
}

func findPCO(p *data.Project, id int64) *data.PotentialChangeOrder {
	for _, x := range p.ChangeMgmt.PCOs {
		if x.ID == id {
			return x
		}
	}
	return nil
}

type pcoLineIn struct {
	Description *string `json:"description"`
	Amount      decIn   `json:"amount"`
	CostCodeID  idIn    `json:"cost_code_id"`
}

// createPCOLine is POST /rest/v1.0/potential_change_orders/{id}/line_items
// (project_id in the body).
func (s *Server) createPCOLine(w http.ResponseWriter, r *http.Request, c *call) {
	var body map[string]jsonRaw
	if !decodeBody(w, r, &body) {
		return
	}
	var in pcoLineIn
	raw, ok := body["line_item"]
	if !ok || raw.decode(&in) != nil {
		badRequest(w, "param is missing or the value is empty: line_item")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.bodyProject(w, c, bodyProjectID(body))
	if p == nil {
		return
	}
	x := findPCO(p, pathID(r, "potential_change_order_id"))
	if x == nil {
		notFound(w)
		return
	}
	var f fieldErrors
	l := data.PCOLine{}
	setIfSent(&l.Description, in.Description)
	if !in.Amount.set {
		f.add("amount", "can't be blank")
	}
	l.Amount = f.fixed("amount", in.Amount)
	if in.CostCodeID != 0 {
		if p.CostCode(int64(in.CostCodeID)) == nil {
			f.add("cost_code_id", "is invalid")
		}
		l.CostCodeID = int64(in.CostCodeID)
	}
	if f.failed(w) {
		return
	}
	l.ID = s.ds.NextID(data.KindPCOLine)
	x.Lines = append(x.Lines, l)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resPCOLines, l.ID, "create")
	s.writeOne(w, http.StatusCreated, func(e *enc) { renderPCOLine(e, l) })
}

// deletePCOLine is DELETE /rest/v1.0/potential_change_orders/{pco}/line_items/{id}?project_id=.
func (s *Server) deletePCOLine(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	x := findPCO(p, pathID(r, "potential_change_order_id"))
	if x == nil {
		notFound(w)
		return
	}
	id := pathID(r, "id")
	i := slices.IndexFunc(x.Lines, func(l data.PCOLine) bool { return l.ID == id })
	if i < 0 {
		notFound(w)
		return
	}
	l := x.Lines[i]
	x.Lines = slices.Delete(x.Lines, i, i+1)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resPCOLines, l.ID, "delete")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderPCOLine(e, l) })
}

func renderPCOLine(e *enc, l data.PCOLine) {
	e.open()
	e.int("id", l.ID)
	e.str("description", l.Description)
	e.money("amount", l.Amount)
	e.money("total_amount", l.Amount)
	e.obj("cost_code")
	e.int("id", l.CostCodeID)
	e.close()
	if l.ChangeEventLineID != 0 {
		e.obj("change_event_line_item")
		e.int("id", l.ChangeEventLineID)
		e.int("change_event_id", l.ChangeEventID)
		e.close()
	} else {
		e.null("change_event_line_item")
	}
	e.close()
}

// changeEventV11In is the part of a v1.1 change event update the sandbox
// applies (title and description; the v1.1 status, scope and line item
// shapes are not modelled).
type changeEventV11In struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

// updateChangeEventV11 is PATCH /rest/v1.1/change_events/{id}?project_id=.
func (s *Server) updateChangeEventV11(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decodeWrapped[changeEventV11In](w, r, "change_event", func(map[string]jsonRaw) bool { return false })
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := projectItem(s, w, r, c, changeEventOf)
	if x == nil {
		return
	}
	setIfSent(&x.Title, in.Title)
	setIfSent(&x.Description, in.Description)
	x.UpdatedAt = s.stamp(x.UpdatedAt)
	c.event(p.ID, resChangeEvents, x.ID, "update")
	s.writeOne(w, http.StatusOK, func(e *enc) { renderChangeEvent(e, p, x) })
}

// changeEventOf is the project's change event id, or nil (projectItem's
// finder).
func changeEventOf(p *data.Project, id int64) *data.ChangeEvent {
	if i := slices.IndexFunc(p.ChangeMgmt.Events, func(x *data.ChangeEvent) bool { return x.ID == id }); i >= 0 {
		return p.ChangeMgmt.Events[i]
	}
	return nil
}

// deleteChangeEventV11 is DELETE /rest/v1.1/change_events/{id}?project_id=:
// the event goes with its line items (204, no body).
func (s *Server) deleteChangeEventV11(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, x := projectItem(s, w, r, c, changeEventOf)
	if x == nil {
		return
	}
	p.ChangeMgmt.Events = slices.DeleteFunc(p.ChangeMgmt.Events, func(e *data.ChangeEvent) bool { return e == x })
	c.event(p.ID, resChangeEvents, x.ID, "delete")
	w.WriteHeader(http.StatusNoContent)
}
