package sandbox

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"procoregraph/sandbox/data"
)

// Change management reads: change events (v1.0, with their line items),
// potential change orders and their line items, change order requests,
// change order packages (all v1.0, project_id in the query) and prime change
// orders (v1.0, project in the path). What each tier serves is described in
// data/changemgmt.go; lists of a kind the project's tier does not use are
// empty, except prime change orders on a 3-tier project, which Procore's list
// does not serve ("only supports projects using 1 and 2 tier change order
// configurations"): refused as the commitment change order routes are.
// Drift rules reach the lists as "change_events", "potential_change_orders",
// "change_order_requests", "change_order_packages" and "prime_change_orders".

// primeThreeTierMessage is the refusal of the prime change order list on a
// 3-tier project (Procore's exact answer is not published).
const primeThreeTierMessage = "Prime Change Orders are only available on projects configured for 1 or 2 tier change management; " +
	"this project uses 3 tiers, where change orders are Change Order Packages"

func (s *Server) listChangeEvents(w http.ResponseWriter, r *http.Request, c *call) {
	listProjectRows(s, w, r, c, pageStandard, func(p *data.Project) []*data.ChangeEvent { return p.ChangeMgmt.Events },
		func(x *data.ChangeEvent) int64 { return x.ID }, func(x *data.ChangeEvent) time.Time { return x.UpdatedAt },
		func(e *enc, p *data.Project, x *data.ChangeEvent) { renderChangeEvent(e, p, x) })
}

func (s *Server) listPCOs(w http.ResponseWriter, r *http.Request, c *call) {
	listProjectRows(s, w, r, c, pageStandard, func(p *data.Project) []*data.PotentialChangeOrder { return p.ChangeMgmt.PCOs },
		func(x *data.PotentialChangeOrder) int64 { return x.ID }, func(x *data.PotentialChangeOrder) time.Time { return x.UpdatedAt },
		func(e *enc, p *data.Project, x *data.PotentialChangeOrder) { renderPCO(e, p, x) })
}

func (s *Server) listPCOLineItems(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("potential_change_order_id"), 10, 64)
	var pco *data.PotentialChangeOrder
	for _, x := range p.ChangeMgmt.PCOs {
		if err == nil && x.ID == id {
			pco = x
		}
	}
	if pco == nil {
		notFound(w)
		return
	}
	writeList(s, w, r, pco.Lines, pageStandard, func(e *enc, l data.PCOLine) {
		e.open()
		e.int("id", l.ID)
		e.str("description", l.Description)
		e.money("amount", l.Amount)
		e.money("total_amount", l.Amount)
		e.obj("cost_code")
		e.int("id", l.CostCodeID)
		e.close()
		e.obj("change_event_line_item")
		e.int("id", l.ChangeEventLineID)
		e.int("change_event_id", l.ChangeEventID)
		e.close()
		e.close()
	})
}

func (s *Server) listCORs(w http.ResponseWriter, r *http.Request, c *call) {
	listProjectRows(s, w, r, c, pageStandard, func(p *data.Project) []*data.ChangeOrderRequest { return p.ChangeMgmt.CORs },
		func(x *data.ChangeOrderRequest) int64 { return x.ID }, func(x *data.ChangeOrderRequest) time.Time { return x.UpdatedAt },
		func(e *enc, p *data.Project, x *data.ChangeOrderRequest) {
			defer e.drifted("change_order_requests", len(e.b))
			e.open()
			e.int("id", x.ID)
			e.str("number", x.Number)
			e.str("title", x.Title)
			e.str("status", x.Status)
			e.int("change_order_package_id", x.PackageID)
			e.money("grand_total", x.GrandTotal)
			e.time("created_at", x.CreatedAt)
			e.time("updated_at", x.UpdatedAt)
			e.close()
		})
}

// listCOPackages serves GET /rest/v1.0/change_order_packages?project_id=
// (optionally contract_id=): the packages of every contract of the project,
// each naming its contract_id. On a 3-tier project they are the prime
// contract's packages (data.ChangeMgmt.Packages, contract_id the project's
// prime contract) and the commitments' change orders, which Procore's
// commitment change order list refuses there (data.Project.ChangeOrders,
// contract_id the commitment); on 1- and 2-tier projects there are none.
func (s *Server) listCOPackages(w http.ResponseWriter, r *http.Request, c *call) {
	var contractID int64
	if v := paramsOf(r).v.Get("contract_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			badRequest(w, "contract_id must be a positive integer")
			return
		}
		contractID = id
	}
	listProjectRows(s, w, r, c, pageStandard, func(p *data.Project) []*servedPackage { return packagesServed(p, contractID) },
		func(x *servedPackage) int64 { return x.ID }, func(x *servedPackage) time.Time { return x.UpdatedAt },
		func(e *enc, p *data.Project, x *servedPackage) {
			defer e.drifted("change_order_packages", len(e.b))
			e.open()
			e.int("id", x.ID)
			if x.ContractID != 0 {
				e.int("contract_id", x.ContractID)
			} else {
				e.null("contract_id")
			}
			e.str("number", x.Number)
			e.str("title", x.Title)
			e.str("status", x.Status)
			e.bool("executed", x.Status == "approved")
			e.money("grand_total", x.GrandTotal)
			if !x.DueDate.IsZero() {
				e.date("due_date", x.DueDate)
			} else {
				e.null("due_date")
			}
			e.time("created_at", x.CreatedAt)
			e.time("updated_at", x.UpdatedAt)
			e.close()
		})
}

// servedPackage is a change order package as the list serves it.
type servedPackage struct {
	data.ChangeOrderPackage
	ContractID int64 // 0: none
	DueDate    time.Time
}

// packagesServed are the project's packages in id order (see
// listCOPackages), of contract contractID only when it is not 0.
func packagesServed(p *data.Project, contractID int64) []*servedPackage {
	if !p.ThreeTierChangeOrders() {
		return nil
	}
	var prime int64
	if len(p.PrimeContracts) > 0 {
		prime = p.PrimeContracts[0].ID
	}
	out := make([]*servedPackage, 0, len(p.ChangeMgmt.Packages)+len(p.ChangeOrders))
	for _, pk := range p.ChangeMgmt.Packages {
		out = append(out, &servedPackage{ChangeOrderPackage: *pk, ContractID: prime})
	}
	for _, co := range p.ChangeOrders {
		var total data.Fixed
		for _, l := range co.Lines {
			total += l.Amount
		}
		out = append(out, &servedPackage{ChangeOrderPackage: data.ChangeOrderPackage{ID: co.ID, Number: co.Number, Title: co.Title,
			Status: co.Status, GrandTotal: total, CreatedAt: co.CreatedAt, UpdatedAt: co.UpdatedAt}, ContractID: co.ContractID, DueDate: co.DueDate})
	}
	if contractID != 0 {
		out = slices.DeleteFunc(out, func(x *servedPackage) bool { return x.ContractID != contractID })
	}
	slices.SortFunc(out, func(a, b *servedPackage) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (s *Server) listPrimeChangeOrders(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	if p.ThreeTierChangeOrders() {
		refuse(w, primeThreeTierMessage)
		return
	}
	// The published list has filters[id] and filters[updated_at], no paging.
	items, ok := filterOnly(w, paramsOf(r), p.ChangeMgmt.PrimeChangeOrders, func(x *data.PrimeChangeOrder) int64 { return x.ID }, func(x *data.PrimeChangeOrder) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	writeList(s, w, r, items, pageWhole, func(e *enc, x *data.PrimeChangeOrder) {
		defer e.drifted("prime_change_orders", len(e.b))
		renderPrimeChangeOrder(e, x)
	})
}

// renderPrimeChangeOrder writes a prime change order as the list and the
// PATCH answer it.
func renderPrimeChangeOrder(e *enc, x *data.PrimeChangeOrder) {
	e.open()
	e.int("id", x.ID)
	e.str("number", x.Number)
	e.str("title", x.Title)
	e.str("status", x.Status)
	e.bool("executed", x.Status == "approved")
	e.money("grand_total", x.GrandTotal)
	e.ints("potential_change_order_ids", x.PCOIDs)
	e.time("created_at", x.CreatedAt)
	e.time("updated_at", x.UpdatedAt)
	e.close()
}

func renderChangeEvent(e *enc, p *data.Project, x *data.ChangeEvent) {
	defer e.drifted("change_events", len(e.b))
	e.open()
	e.int("id", x.ID)
	e.int("number", int64(x.Number))
	e.str("alphanumeric_number", strconv.Itoa(x.Number))
	e.str("title", x.Title)
	e.str("description", x.Description)
	e.str("status", x.Status)
	e.str("event_scope", x.Scope)
	e.str("event_type", x.Type)
	e.int("project_id", p.ID)
	if x.RFIID != 0 {
		e.obj("rfi")
		e.int("id", x.RFIID)
		e.close()
	} else {
		e.null("rfi")
	}
	e.arr("change_event_line_items")
	for _, l := range x.Lines {
		e.open()
		e.int("id", l.ID)
		e.int("event_id", x.ID)
		e.str("description", l.Description)
		e.int("cost_code_id", l.CostCodeID)
		e.money("estimated_cost_amount", l.Amount)
		e.close()
	}
	e.closeArr()
	e.time("created_at", x.CreatedAt)
	e.time("updated_at", x.UpdatedAt)
	e.close()
}

func renderPCO(e *enc, p *data.Project, x *data.PotentialChangeOrder) {
	defer e.drifted("potential_change_orders", len(e.b))
	e.open()
	e.int("id", x.ID)
	e.str("number", x.Number)
	e.str("title", x.Title)
	e.str("status", x.Status)
	if x.CORID != 0 {
		e.int("change_order_request_id", x.CORID)
	} else {
		e.null("change_order_request_id")
	}
	e.int("change_order_tiers", int64(p.ChangeOrderTiers))
	e.money("grand_total", x.GrandTotal())
	e.time("created_at", x.CreatedAt)
	e.time("updated_at", x.UpdatedAt)
	e.close()
}

// listProjectRows serves one project's rows: the read lock, the project (or
// its refusal), filters[id] and filters[updated_at], then a page by spec.
func listProjectRows[T any](s *Server, w http.ResponseWriter, r *http.Request, c *call, spec pageSpec,
	rows func(*data.Project) []*T, id func(*T) int64, updated func(*T) time.Time, render func(*enc, *data.Project, *T)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	items, ok := filterOnly(w, paramsOf(r), rows(p), id, updated)
	if !ok {
		return
	}
	writeList(s, w, r, items, spec, func(e *enc, x *T) { render(e, p, x) })
}
