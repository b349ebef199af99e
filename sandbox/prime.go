package sandbox

import (
	"net/http"
	"strconv"
	"time"

	"procoregraph/sandbox/data"
)

// Prime contracts and their payment applications (owner invoices): Procore's
// v1.0 reads RestV10PrimeContractsGet and
// RestV10PrimeContractsPrimeContractIdPaymentApplicationsGet, served from
// data.Project.PrimeContracts, with the show (RestV10PrimeContractIdGet)
// and the schedule of values (RestV10PrimeContractsPrimeContractIdLineItemsGet).
// Drift rules reach them as "prime_contracts" (list and show),
// "payment_applications" and "prime_contract_line_items".

// listPrimeContracts serves GET /rest/v1.0/prime_contracts?project_id=.
func (s *Server) listPrimeContracts(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	items, ok := filterCommon(w, paramsOf(r), p.PrimeContracts, func(x *data.PrimeContract) int64 { return x.ID },
		func(x *data.PrimeContract) time.Time { return x.UpdatedAt })
	if !ok {
		return
	}
	writeList(s, w, r, items, pageStandard, renderPrimeContract)
}

// listPaymentApplications serves
// GET /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications?project_id=.
func (s *Server) listPaymentApplications(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("prime_contract_id"), 10, 64)
	var pc *data.PrimeContract
	for _, x := range p.PrimeContracts {
		if err == nil && x.ID == id {
			pc = x
		}
	}
	if pc == nil {
		notFound(w)
		return
	}
	idx := make([]int, len(pc.PaymentApplications))
	for i := range idx {
		idx[i] = i
	}
	idx, ok := filterOnly(w, paramsOf(r), idx, func(i int) int64 { return pc.PaymentApplications[i].ID }, nil)
	if !ok {
		return
	}
	if last := paramsOf(r).v.Get("filters[is_last]"); last != "" && len(pc.PaymentApplications) > 0 {
		n := len(pc.PaymentApplications) - 1
		idx = filterItems(idx, func(i int) bool { return (i == n) == (last == "true") })
	}
	writeList(s, w, r, idx, pageStandard, func(e *enc, i int) { renderPaymentApplication(e, pc, i) })
}

// primeContractOf finds the project's prime contract named by the path
// value name, answering 404 when there is none.
func primeContractOf(w http.ResponseWriter, r *http.Request, p *data.Project, name string) *data.PrimeContract {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	for _, x := range p.PrimeContracts {
		if err == nil && x.ID == id {
			return x
		}
	}
	notFound(w)
	return nil
}

// showPrimeContract serves GET /rest/v1.0/prime_contract/{id}?project_id=:
// the list row plus the show's change order totals.
func (s *Server) showPrimeContract(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	pc := primeContractOf(w, r, p, "id")
	if pc == nil {
		return
	}
	s.writeOne(w, http.StatusOK, func(e *enc) {
		renderPrimeContractWith(e, pc, func(e *enc) {
			e.money("pending_change_orders_amount", pc.PendingChangeOrders)
			e.money("revised_contract_amount", pc.OriginalValue+pc.ApprovedChangeOrders)
		})
	})
}

// listPrimeContractLines serves
// GET /rest/v1.0/prime_contracts/{prime_contract_id}/line_items?project_id=.
func (s *Server) listPrimeContractLines(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.projectFor(w, r, c, 0)
	if p == nil {
		return
	}
	pc := primeContractOf(w, r, p, "prime_contract_id")
	if pc == nil {
		return
	}
	items, ok := filterOnly(w, paramsOf(r), pc.Lines, func(x *data.PrimeContractLine) int64 { return x.ID }, nil)
	if !ok {
		return
	}
	writeList(s, w, r, items, pageStandard, func(e *enc, l *data.PrimeContractLine) {
		defer e.drifted("prime_contract_line_items", len(e.b))
		e.open()
		e.int("id", l.ID)
		e.str("description", l.Description)
		e.money("amount", l.Amount)
		e.money("total_amount", l.Amount)
		costCodeRef(e, p, "cost_code", l.CostCodeID)
		e.time("created_at", pc.CreatedAt)
		e.time("updated_at", pc.UpdatedAt)
		e.close()
	})
}

func renderPrimeContract(e *enc, pc *data.PrimeContract) { renderPrimeContractWith(e, pc, nil) }

func renderPrimeContractWith(e *enc, pc *data.PrimeContract, more func(*enc)) {
	defer e.drifted("prime_contracts", len(e.b))
	e.open()
	e.int("id", pc.ID)
	e.str("number", pc.Number)
	e.str("title", pc.Title)
	e.str("status", pc.Status)
	e.money("grand_total", pc.OriginalValue)
	e.money("approved_change_orders", pc.ApprovedChangeOrders)
	e.money("retainage_percent", pc.RetainagePercent)
	e.bool("executed", pc.Status == "Approved" || pc.Status == "Complete")
	e.bool("private", false)
	e.null("deleted_at")
	e.time("created_at", pc.CreatedAt)
	e.time("updated_at", pc.UpdatedAt)
	if more != nil {
		more(e)
	}
	e.close()
}

func renderPaymentApplication(e *enc, pc *data.PrimeContract, i int) {
	defer e.drifted("payment_applications", len(e.b))
	a := pc.PaymentApplications[i]
	g := pc.OwnerG702(i)
	e.open()
	e.int("id", a.ID)
	e.int("number", int64(a.Number))
	e.str("invoice_number", a.InvoiceNumber)
	e.str("status", a.Status)
	e.date("billing_date", a.BillingDate)
	e.date("period_start", a.PeriodStart)
	e.date("period_end", a.PeriodEnd)
	e.money("total_amount_accrued_this_period", g.CurrentPaymentDue+g.TotalRetainage-(pcPrevRetainage(pc, i)))
	e.obj("g702")
	e.money("original_contract_sum", g.OriginalContractSum)
	e.money("net_change_by_change_orders", g.NetChangeByChangeOrders)
	e.money("contract_sum_to_date", g.ContractSumToDate)
	e.money("total_completed_and_stored_to_date", g.TotalCompletedAndStoredToDate)
	e.money("completed_work_retainage_percent", a.WorkRetainagePercent)
	e.money("completed_work_retainage_amount", g.CompletedWorkRetainage)
	e.money("stored_materials_retainage_percent", a.StoredRetainagePct)
	e.money("stored_materials_retainage_amount", g.StoredMaterialsRetainage)
	e.money("total_retainage", g.TotalRetainage)
	e.money("total_earned_less_retainage", g.TotalEarnedLessRetainage)
	e.money("less_previous_certificates_for_payment", g.LessPreviousCertificates)
	e.money("current_payment_due", g.CurrentPaymentDue)
	e.money("balance_to_finish_including_retainage", g.BalanceToFinishIncludingRetainage)
	e.close()
	e.obj("contract")
	e.int("id", pc.ID)
	e.str("type", "PrimeContract")
	e.str("title", pc.Title)
	e.close()
	e.time("created_at", a.CreatedAt)
	e.time("updated_at", a.UpdatedAt)
	e.close()
}

// pcPrevRetainage is the total retainage of the application before i (0 for the first).
func pcPrevRetainage(pc *data.PrimeContract, i int) data.Fixed {
	if i == 0 {
		return 0
	}
	return pc.OwnerG702(i - 1).TotalRetainage
}
