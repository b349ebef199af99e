package sandbox

import (
	"net/http"
	"time"

	"procoregraph/sandbox/data"
)

// Cost routes (issue 16): budget modifications and direct costs, both paged
// (per_page 100 at most). Direct costs honour filters[id] and
// filters[updated_at]; Procore publishes no filter on budget modifications.

func (s *Server) listBudgetModifications(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	writeList(s, w, r, p.BudgetModifications, pageStandard, renderBudgetModification)
}

func (s *Server) listDirectCosts(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	items, ok := filterCommon(w, paramsOf(r), p.DirectCosts, func(x *data.DirectCost) int64 { return x.ID },
		func(x *data.DirectCost) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	writeList(s, w, r, items, pageStandard, func(e *enc, x *data.DirectCost) { renderDirectCost(e, s.ds, x) })
}

func renderBudgetModification(e *enc, m *data.BudgetModification) {
	e.open()
	e.int("id", m.ID)
	if m.FromLineID != 0 {
		e.int("from_budget_line_item_id", m.FromLineID)
	} else {
		e.null("from_budget_line_item_id")
	}
	if m.ToLineID != 0 {
		e.int("to_budget_line_item_id", m.ToLineID)
	} else {
		e.null("to_budget_line_item_id")
	}
	e.money("transfer_amount", m.TransferAmount)
	e.str("notes", m.Notes)
	e.null("origin_id")
	e.null("origin_data")
	e.time("created_at", m.CreatedAt)
	e.time("updated_at", m.UpdatedAt)
	e.close()
}

// renderDirectCost writes a direct cost item. Drift: resource
// "direct_costs"; Faults.UnknownEnum renders status "on_hold" and type
// "subcontract" for ids divisible by 4.
func renderDirectCost(e *enc, ds *data.Dataset, x *data.DirectCost) {
	defer e.drifted("direct_costs", len(e.b))
	e.open()
	e.int("id", x.ID)
	typ, status := x.Type, x.Status
	if e.unknownEnum(x.ID) {
		typ, status = "subcontract", "on_hold"
	}
	e.str("direct_cost_type", typ)
	e.str("status", status)
	e.str("description", x.Description)
	e.strOrNull("invoice_number", x.InvoiceNumber)
	e.date("direct_cost_date", x.Date)
	e.money("grand_total", x.GrandTotal)
	e.money("amount", x.GrandTotal)
	if v := ds.Vendor(x.VendorID); v != nil {
		e.int("vendor_id", v.ID)
		e.str("vendor_name", v.Name)
		e.str("vendor", v.Name)
	} else {
		e.null("vendor_id")
		e.null("vendor_name")
	}
	e.null("deleted_at")
	e.time("created_at", x.CreatedAt)
	e.time("updated_at", x.UpdatedAt)
	e.close()
}
