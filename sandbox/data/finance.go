package data

// G703Row is one continuation-sheet row with every derived column filled.
type G703Row struct {
	Item                      InvoiceItem
	LineItem                  *LineItem
	ScheduledValue            Fixed
	WorkFromPrevious          Fixed
	WorkThisPeriod            Fixed
	MaterialsStored           Fixed
	TotalCompletedAndStored   Fixed
	PercentComplete           Fixed
	WorkRetainageFromPrevious Fixed // retained minus released in earlier invoices
	WorkRetainageRetained     Fixed // this period
	WorkRetainagePct          Fixed
	WorkRetainageReleased     Fixed // this period
	MaterialsRetainage        Fixed // currently retained on stored materials
	MaterialsRetainagePct     Fixed
	BalanceToFinish           Fixed
}

// G702 is the AIA G702 application summary of an invoice.
type G702 struct {
	OriginalContractSum           Fixed
	NetChangeByChangeOrders       Fixed
	ContractSumToDate             Fixed
	TotalCompletedAndStoredToDate Fixed
	CompletedWorkRetainagePct     Fixed
	CompletedWorkRetainage        Fixed
	StoredMaterialsRetainagePct   Fixed
	StoredMaterialsRetainage      Fixed
	TotalRetainage                Fixed
	TotalEarnedLessRetainage      Fixed
	LessPreviousCertificates      Fixed
	CurrentPaymentDue             Fixed
	BalanceToFinishInclRetainage  Fixed
}

// previousInvoices returns the invoices of the same commitment numbered below inv.
func (p *Project) previousInvoices(inv *Invoice) []*Invoice {
	var prev []*Invoice
	for _, o := range p.Invoices {
		if o.CommitmentID == inv.CommitmentID && o.Number < inv.Number {
			prev = append(prev, o)
		}
	}
	return prev
}

// CommitmentInvoices returns the commitment's invoices in number order.
func (p *Project) CommitmentInvoices(commitmentID int64) []*Invoice {
	var out []*Invoice
	for _, o := range p.Invoices {
		if o.CommitmentID == commitmentID {
			out = append(out, o)
		}
	}
	return out
}

// LatestInvoice returns the commitment's highest-numbered invoice, or nil.
func (p *Project) LatestInvoice(commitmentID int64) *Invoice {
	var latest *Invoice
	for _, o := range p.Invoices {
		if o.CommitmentID == commitmentID && (latest == nil || o.Number > latest.Number) {
			latest = o
		}
	}
	return latest
}

// G703 returns the invoice's continuation sheet: one row per SOV line of its
// commitment, in SOV order, previous-period columns summed from the earlier
// invoices of the same commitment.
func (p *Project) G703(inv *Invoice) []G703Row {
	c := p.Commitment(inv.CommitmentID)
	if c == nil {
		return nil
	}
	prev := p.previousInvoices(inv)
	rows := make([]G703Row, 0, len(c.LineItems))
	for _, li := range c.LineItems {
		row := G703Row{LineItem: li, ScheduledValue: li.Amount, WorkRetainagePct: c.RetainagePercent, MaterialsRetainagePct: c.RetainagePercent}
		for _, o := range prev {
			for _, it := range o.Items {
				if it.LineItemID == li.ID {
					row.WorkFromPrevious += it.WorkThisPeriod
					row.WorkRetainageFromPrevious += it.WorkThisPeriod.PercentOf(it.WorkRetainagePct) - it.WorkReleased
				}
			}
		}
		for _, it := range inv.Items {
			if it.LineItemID == li.ID {
				row.Item = it
				row.WorkThisPeriod = it.WorkThisPeriod
				row.MaterialsStored = it.MaterialsStored
				row.WorkRetainagePct = it.WorkRetainagePct
				row.WorkRetainageRetained = it.WorkThisPeriod.PercentOf(it.WorkRetainagePct)
				row.WorkRetainageReleased = it.WorkReleased
				row.MaterialsRetainagePct = it.MaterialsRetainPct
				row.MaterialsRetainage = it.MaterialsStored.PercentOf(it.MaterialsRetainPct)
			}
		}
		row.TotalCompletedAndStored = row.WorkFromPrevious + row.WorkThisPeriod + row.MaterialsStored
		row.PercentComplete = Ratio(row.TotalCompletedAndStored, row.ScheduledValue)
		row.BalanceToFinish = row.ScheduledValue - row.TotalCompletedAndStored
		rows = append(rows, row)
	}
	return rows
}

// G702 computes the invoice's summary exactly, to the cent:
//
//	contract sum to date      = original contract sum + approved change orders
//	completed work retainage  = Σ (retainage from previous + retained this period − released this period)
//	stored materials retainage= Σ retainage on materials presently stored
//	total earned less retainage = total completed and stored to date − total retainage
//	less previous certificates = Σ current payment due of the earlier invoices
//	                          (= the previous invoice's total earned less retainage)
//	current payment due       = total earned less retainage − less previous certificates
//	balance to finish incl. retainage = contract sum to date − total earned less retainage
func (p *Project) G702(inv *Invoice) G702 {
	var s G702
	c := p.Commitment(inv.CommitmentID)
	if c == nil {
		return s
	}
	s.OriginalContractSum = c.GrandTotal()
	s.NetChangeByChangeOrders = p.ApprovedChangeOrders(c.ID)
	s.ContractSumToDate = s.OriginalContractSum + s.NetChangeByChangeOrders
	s.CompletedWorkRetainagePct = c.RetainagePercent
	s.StoredMaterialsRetainagePct = c.RetainagePercent
	for _, row := range p.G703(inv) {
		s.TotalCompletedAndStoredToDate += row.TotalCompletedAndStored
		s.CompletedWorkRetainage += row.WorkRetainageFromPrevious + row.WorkRetainageRetained - row.WorkRetainageReleased
		s.StoredMaterialsRetainage += row.MaterialsRetainage
		if row.Item.ID != 0 {
			s.CompletedWorkRetainagePct = row.WorkRetainagePct
			s.StoredMaterialsRetainagePct = row.MaterialsRetainagePct
		}
	}
	s.TotalRetainage = s.CompletedWorkRetainage + s.StoredMaterialsRetainage
	s.TotalEarnedLessRetainage = s.TotalCompletedAndStoredToDate - s.TotalRetainage
	if prev := p.previousInvoices(inv); len(prev) > 0 {
		last := prev[0]
		for _, o := range prev {
			if o.Number > last.Number {
				last = o
			}
		}
		s.LessPreviousCertificates = p.G702(last).TotalEarnedLessRetainage
	}
	s.CurrentPaymentDue = s.TotalEarnedLessRetainage - s.LessPreviousCertificates
	s.BalanceToFinishInclRetainage = s.ContractSumToDate - s.TotalEarnedLessRetainage
	return s
}

// ChangeOrderTotals sums a commitment's change orders by state.
type ChangeOrderTotals struct {
	Approved Fixed
	Pending  Fixed
	Draft    Fixed
}

// ApprovedChangeOrders sums the approved change orders of a commitment.
func (p *Project) ApprovedChangeOrders(commitmentID int64) Fixed {
	return p.ChangeOrderTotals(commitmentID).Approved
}

// ChangeOrderTotals sums the commitment's change orders: approved; pending
// (pending, pricing, proceeding, revised, pending_billable); draft.
func (p *Project) ChangeOrderTotals(commitmentID int64) ChangeOrderTotals {
	var t ChangeOrderTotals
	for _, co := range p.ChangeOrders {
		if co.ContractID != commitmentID {
			continue
		}
		switch co.Status {
		case "approved":
			t.Approved += co.GrandTotal()
		case "pending", "pricing", "proceeding", "revised", "pending_billable":
			t.Pending += co.GrandTotal()
		case "draft":
			t.Draft += co.GrandTotal()
		}
	}
	return t
}

// Payments is what has been paid on a commitment: the current payment due of
// every approved invoice that has a payment date.
func (p *Project) Payments(commitmentID int64) Fixed {
	var t Fixed
	for _, inv := range p.Invoices {
		if inv.CommitmentID == commitmentID && !inv.PaymentDate.IsZero() && (inv.Status == "approved" || inv.Status == "approved_as_noted") {
			t += p.G702(inv).CurrentPaymentDue
		}
	}
	return t
}

// Requisitioned is the sum of the commitment's invoices' work and materials
// claimed (total completed and stored to date on its latest invoice).
func (p *Project) Requisitioned(commitmentID int64) Fixed {
	if inv := p.LatestInvoice(commitmentID); inv != nil {
		return p.G702(inv).TotalCompletedAndStoredToDate
	}
	return 0
}
