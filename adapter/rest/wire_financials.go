package rest

import (
	"bytes"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// Financial resources: commitments (work order and purchase order
// contracts), their SOV line items, commitment change orders, requisitions
// (subcontractor invoices), billing periods and budget views.

var commitmentStatuses = []adapter.CommitmentStatus{adapter.CommitmentDraft, adapter.CommitmentOutForBid,
	adapter.CommitmentOutForSignature, adapter.CommitmentApproved, adapter.CommitmentComplete,
	adapter.CommitmentTerminated, adapter.CommitmentVoid, adapter.CommitmentProcessing, adapter.CommitmentSubmitted,
	adapter.CommitmentPartiallyReceived, adapter.CommitmentReceived, adapter.CommitmentClosed}

//easyjson:json
type wireCommitment struct {
	ID                   flexID         `json:"id"`
	ProjectID            flexID         `json:"project_id"`
	Project              *wireNamed     `json:"project"`
	Number               flexString     `json:"number"`
	Title                flexString     `json:"title"`
	Status               flexString     `json:"status"`
	Executed             flexBool       `json:"executed"`
	Vendor               *wireNamed     `json:"vendor"`
	VendorID             flexID         `json:"vendor_id"`
	RetainagePercent     flexDecimal    `json:"retainage_percent"`
	GrandTotal           flexDecimal    `json:"grand_total"`
	RevisedContract      flexDecimal    `json:"revised_contract"`
	ApprovedChangeOrders flexDecimal    `json:"approved_change_orders"`
	PendingChangeOrders  flexDecimal    `json:"pending_change_orders"`
	TotalPayments        flexDecimal    `json:"total_payments"`
	RemainingBalance     flexDecimal    `json:"remaining_balance_outstanding"`
	ContractDate         flexDate       `json:"contract_date"`
	LineItems            []wireLineItem `json:"line_items"`
	CreatedAt            flexTime       `json:"created_at"`
	UpdatedAt            flexTime       `json:"updated_at"`
}

func (w wireCommitment) commitment(projectID int64, kind adapter.CommitmentKind) adapter.Commitment {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	} else if p := w.Project.id(); p != nil {
		projectID = *p
	}
	vendorID := w.VendorID.ptr()
	if vendorID == nil {
		vendorID = w.Vendor.id()
	}
	out := adapter.Commitment{
		ID:                   int64(w.ID),
		ProjectID:            projectID,
		Kind:                 kind,
		Number:               string(w.Number),
		Title:                string(w.Title),
		Status:               enumOf(string(w.Status), adapter.CommitmentUnknown, commitmentStatuses...),
		Executed:             w.Executed.V,
		VendorID:             vendorID,
		VendorName:           w.Vendor.name(),
		RetainagePercent:     w.RetainagePercent.ptr(),
		GrandTotal:           w.GrandTotal.V,
		RevisedContract:      w.RevisedContract.V,
		ApprovedChangeOrders: w.ApprovedChangeOrders.V,
		PendingChangeOrders:  w.PendingChangeOrders.V,
		TotalPayments:        w.TotalPayments.V,
		RemainingBalance:     w.RemainingBalance.V,
		ContractDate:         w.ContractDate.ptr(),
		CreatedAt:            w.CreatedAt.V,
		UpdatedAt:            w.UpdatedAt.V,
	}
	for _, li := range w.LineItems {
		out.LineItems = append(out.LineItems, li.lineItem())
	}
	return out
}

type wireLineItem struct {
	ID          flexID        `json:"id"`
	Description flexString    `json:"description"`
	Amount      flexDecimal   `json:"amount"`
	TotalAmount flexDecimal   `json:"total_amount"`
	Quantity    flexDecimal   `json:"quantity"`
	UnitCost    flexDecimal   `json:"unit_cost"`
	UOM         flexString    `json:"uom"`
	CostCode    *wireCostCode `json:"cost_code"`
	CostCodeID  flexID        `json:"cost_code_id"`
	Position    flexInt       `json:"position"`
}

func (w wireLineItem) lineItem() adapter.CommitmentLineItem {
	amount := w.Amount
	if !amount.Set {
		amount = w.TotalAmount
	}
	cc := costCodePtr(w.CostCode)
	if cc == nil && w.CostCodeID != 0 {
		cc = &adapter.CostCode{ID: int64(w.CostCodeID)}
	}
	return adapter.CommitmentLineItem{
		ID:          int64(w.ID),
		Description: string(w.Description),
		Amount:      amount.V,
		Quantity:    w.Quantity.ptr(),
		UnitCost:    w.UnitCost.ptr(),
		UOM:         string(w.UOM),
		CostCode:    cc,
		Position:    int(w.Position),
	}
}

type wireChangeOrder struct {
	ID         flexID      `json:"id"`
	ProjectID  flexID      `json:"project_id"`
	ContractID flexID      `json:"contract_id"`
	Contract   *wireNamed  `json:"contract"`
	Number     flexString  `json:"number"`
	Title      flexString  `json:"title"`
	Status     flexString  `json:"status"`
	GrandTotal flexDecimal `json:"grand_total"`
	DueDate    flexDate    `json:"due_date"`
	CreatedAt  flexTime    `json:"created_at"`
	UpdatedAt  flexTime    `json:"updated_at"`
}

// wireV2LineItem is a v2.0 schedule of values row (commitment contract and
// commitment change order line items): ids and money as strings, the row's
// budget code as wbs_code_id and wbs_code{id, flat_code, description}.
type wireV2LineItem struct {
	ID        flexID      `json:"id"`
	Amount    flexDecimal `json:"amount"`
	WBSCodeID flexID      `json:"wbs_code_id"`
	WBSCode   *struct {
		ID flexID `json:"id"`
	} `json:"wbs_code"`
}

// wbsCode is the row's WBS code id, 0 when it has none.
func (w wireV2LineItem) wbsCode() int64 {
	if w.WBSCodeID != 0 {
		return int64(w.WBSCodeID)
	}
	if w.WBSCode != nil {
		return int64(w.WBSCode.ID)
	}
	return 0
}

var changeOrderStatuses = []adapter.ChangeOrderStatus{adapter.ChangeOrderDraft, adapter.ChangeOrderPricing,
	adapter.ChangeOrderNotPricing, adapter.ChangeOrderPending, adapter.ChangeOrderRevised, adapter.ChangeOrderProceeding,
	adapter.ChangeOrderNotProceeding, adapter.ChangeOrderPendingBillable, adapter.ChangeOrderNoCharge,
	adapter.ChangeOrderApproved, adapter.ChangeOrderRejected, adapter.ChangeOrderVoid}

func (w wireChangeOrder) changeOrder(projectID int64) adapter.ChangeOrder {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	}
	contract := int64(w.ContractID)
	if contract == 0 {
		if c := w.Contract.id(); c != nil {
			contract = *c
		}
	}
	return adapter.ChangeOrder{
		ID:           int64(w.ID),
		ProjectID:    projectID,
		CommitmentID: contract,
		Number:       string(w.Number),
		Title:        string(w.Title),
		Status:       enumOf(string(w.Status), adapter.ChangeOrderUnknown, changeOrderStatuses...),
		GrandTotal:   w.GrandTotal.V,
		DueDate:      w.DueDate.ptr(),
		CreatedAt:    w.CreatedAt.V,
		UpdatedAt:    w.UpdatedAt.V,
	}
}

var invoiceStatuses = []adapter.InvoiceStatus{adapter.InvoiceDraft, adapter.InvoiceUnderReview,
	adapter.InvoiceReviseAndResubmit, adapter.InvoiceApproved, adapter.InvoiceApprovedAsNoted,
	adapter.InvoicePendingOwnerApproval}

//easyjson:json
type wireRequisition struct {
	ID               flexID         `json:"id"`
	ProjectID        flexID         `json:"project_id"`
	CommitmentID     flexID         `json:"commitment_id"`
	Number           flexInt        `json:"number"`
	InvoiceNumber    flexString     `json:"invoice_number"`
	Status           flexString     `json:"status"`
	PeriodID         flexID         `json:"period_id"`
	RequisitionStart flexDate       `json:"requisition_start"`
	RequisitionEnd   flexDate       `json:"requisition_end"`
	BillingDate      flexDate       `json:"billing_date"`
	VendorName       flexString     `json:"vendor_name"`
	Final            flexBool       `json:"final"`
	Summary          *wireG702      `json:"summary"`
	G702             *wireG702      `json:"g702"`
	Items            []wireG703Item `json:"items"`
	CreatedAt        flexTime       `json:"created_at"`
	UpdatedAt        flexTime       `json:"updated_at"`
}

// wireG702 is the requisition summary (AIA G702).
type wireG702 struct {
	OriginalContractSum               flexDecimal `json:"original_contract_sum"`
	NetChangeByChangeOrders           flexDecimal `json:"net_change_by_change_orders"`
	ContractSumToDate                 flexDecimal `json:"contract_sum_to_date"`
	TotalCompletedAndStoredToDate     flexDecimal `json:"total_completed_and_stored_to_date"`
	CompletedWorkRetainagePercent     flexDecimal `json:"completed_work_retainage_percent"`
	CompletedWorkRetainageAmount      flexDecimal `json:"completed_work_retainage_amount"`
	StoredMaterialsRetainagePercent   flexDecimal `json:"stored_materials_retainage_percent"`
	StoredMaterialsRetainageAmount    flexDecimal `json:"stored_materials_retainage_amount"`
	TotalRetainage                    flexDecimal `json:"total_retainage"`
	TotalEarnedLessRetainage          flexDecimal `json:"total_earned_less_retainage"`
	LessPreviousCertificates          flexDecimal `json:"less_previous_certificates_for_payment"`
	LessPreviousCertificatesShort     flexDecimal `json:"less_previous_certificates"`
	CurrentPaymentDue                 flexDecimal `json:"current_payment_due"`
	BalanceToFinishIncludingRetainage flexDecimal `json:"balance_to_finish_including_retainage"`
}

// wireG703Item is one requisition contract item (AIA G703 row).
type wireG703Item struct {
	ID                               flexID      `json:"id"`
	LineItemID                       flexID      `json:"line_item_id"`
	CostCodeID                       flexID      `json:"cost_code_id"`
	DescriptionOfWork                flexString  `json:"description_of_work"`
	Description                      flexString  `json:"description"`
	ScheduledValue                   flexDecimal `json:"scheduled_value"`
	WorkCompletedFromPrevious        flexDecimal `json:"work_completed_from_previous_application"`
	WorkCompletedThisPeriod          flexDecimal `json:"work_completed_this_period"`
	MaterialsPresentlyStored         flexDecimal `json:"materials_presently_stored"`
	TotalCompletedAndStoredToDate    flexDecimal `json:"total_completed_and_stored_to_date"`
	PercentComplete                  flexDecimal `json:"total_completed_and_stored_to_date_percent"`
	WorkCompletedRetainageRetained   flexDecimal `json:"work_completed_retainage_retained_this_period"`
	WorkCompletedRetainagePercent    flexDecimal `json:"work_completed_retainage_percent_this_period"`
	WorkCompletedRetainageReleased   flexDecimal `json:"work_completed_retainage_released_this_period"`
	MaterialsStoredRetainageRetained flexDecimal `json:"materials_stored_retainage_currently_retained"`
	MaterialsStoredRetainagePercent  flexDecimal `json:"materials_stored_retainage_percent_this_period"`
}

func (w wireRequisition) invoice(projectID int64) adapter.Invoice {
	if id := int64(w.ProjectID); id != 0 {
		projectID = id
	}
	s := w.Summary
	if s == nil {
		s = w.G702
	}
	out := adapter.Invoice{
		ID:            int64(w.ID),
		ProjectID:     projectID,
		CommitmentID:  int64(w.CommitmentID),
		Number:        int(w.Number),
		InvoiceNumber: string(w.InvoiceNumber),
		Status:        enumOf(string(w.Status), adapter.InvoiceUnknown, invoiceStatuses...),
		PeriodID:      w.PeriodID.ptr(),
		PeriodStart:   w.RequisitionStart.ptr(),
		PeriodEnd:     w.RequisitionEnd.ptr(),
		BillingDate:   w.BillingDate.ptr(),
		VendorName:    string(w.VendorName),
		Final:         w.Final.V,
		CreatedAt:     w.CreatedAt.V,
		UpdatedAt:     w.UpdatedAt.V,
	}
	if s != nil {
		prev := s.LessPreviousCertificates
		if !prev.Set {
			prev = s.LessPreviousCertificatesShort
		}
		out.Summary = adapter.InvoiceSummary{
			OriginalContractSum:               s.OriginalContractSum.V,
			NetChangeByChangeOrders:           s.NetChangeByChangeOrders.V,
			ContractSumToDate:                 s.ContractSumToDate.V,
			TotalCompletedAndStoredToDate:     s.TotalCompletedAndStoredToDate.V,
			CompletedWorkRetainagePercent:     s.CompletedWorkRetainagePercent.V,
			CompletedWorkRetainageAmount:      s.CompletedWorkRetainageAmount.V,
			StoredMaterialsRetainagePercent:   s.StoredMaterialsRetainagePercent.V,
			StoredMaterialsRetainageAmount:    s.StoredMaterialsRetainageAmount.V,
			TotalRetainage:                    s.TotalRetainage.V,
			TotalEarnedLessRetainage:          s.TotalEarnedLessRetainage.V,
			LessPreviousCertificates:          prev.V,
			CurrentPaymentDue:                 s.CurrentPaymentDue.V,
			BalanceToFinishIncludingRetainage: s.BalanceToFinishIncludingRetainage.V,
		}
	}
	for _, it := range w.Items {
		out.Items = append(out.Items, adapter.InvoiceItem{
			ID:                               int64(it.ID),
			LineItemID:                       it.LineItemID.ptr(),
			CostCodeID:                       it.CostCodeID.ptr(),
			Description:                      firstNonEmpty(string(it.DescriptionOfWork), string(it.Description)),
			ScheduledValue:                   it.ScheduledValue.V,
			WorkCompletedFromPrevious:        it.WorkCompletedFromPrevious.V,
			WorkCompletedThisPeriod:          it.WorkCompletedThisPeriod.V,
			MaterialsPresentlyStored:         it.MaterialsPresentlyStored.V,
			TotalCompletedAndStoredToDate:    it.TotalCompletedAndStoredToDate.V,
			PercentComplete:                  it.PercentComplete.V,
			WorkCompletedRetainageRetained:   it.WorkCompletedRetainageRetained.V,
			WorkCompletedRetainagePercent:    it.WorkCompletedRetainagePercent.V,
			WorkCompletedRetainageReleased:   it.WorkCompletedRetainageReleased.V,
			MaterialsStoredRetainageRetained: it.MaterialsStoredRetainageRetained.V,
			MaterialsStoredRetainagePercent:  it.MaterialsStoredRetainagePercent.V,
		})
	}
	return out
}

type wireBillingPeriod struct {
	ID        flexID     `json:"id"`
	StartDate flexDate   `json:"start_date"`
	EndDate   flexDate   `json:"end_date"`
	DueDate   flexDate   `json:"due_date"`
	Position  flexInt    `json:"position"`
	Status    flexString `json:"status"`
}

func (w wireBillingPeriod) period() adapter.BillingPeriod {
	return adapter.BillingPeriod{
		ID:        int64(w.ID),
		StartDate: w.StartDate.V,
		EndDate:   w.EndDate.V,
		DueDate:   w.DueDate.ptr(),
		Position:  int(w.Position),
		Status:    strings.ToLower(string(w.Status)),
	}
}

type wireBudgetView struct {
	ID          flexID     `json:"id"`
	Name        flexString `json:"name"`
	Description flexString `json:"description"`
}

func (w wireBudgetView) view(projectID int64) adapter.BudgetView {
	return adapter.BudgetView{ID: int64(w.ID), ProjectID: projectID, Name: string(w.Name), Description: string(w.Description)}
}

// wireBudgetRow is a budget detail row: fixed keys plus one dynamic key per
// visible source or formula column of the view, gathered into Columns.
type wireBudgetRow struct {
	row adapter.BudgetRow
}

// budgetRowFixed are detail-row keys that are not view columns.
var budgetRowFixed = map[string]bool{
	"id": true, "deletable": true, "company_id": true, "project_id": true, "wbs_code_id": true, "wbs_code": true,
	"biller_id": true, "biller": true, "biller_type": true, "root_cost_code_id": true, "root_cost_code": true,
	"cost_code_id": true, "cost_code": true, "cost_code_origin_id": true, "category_id": true, "category": true,
	"original_budget_amount": true, "budget_modifications": true, "budget_forecast": true,
	"unbudgeted_reason": true, "position": true, "origin_id": true, "origin_data": true,
	"created_at": true, "updated_at": true,
}

func (w *wireBudgetRow) UnmarshalJSON(b []byte) error {
	var fixed struct {
		ID                   flexID        `json:"id"`
		CostCodeID           flexID        `json:"cost_code_id"`
		CostCode             *wireCostCode `json:"cost_code"`
		Category             *wireNamed    `json:"category"`
		OriginalBudgetAmount flexDecimal   `json:"original_budget_amount"`
		BudgetModifications  flexDecimal   `json:"budget_modifications"`
	}
	if err := unmarshal(b, &fixed); err != nil {
		return err
	}
	var all map[string]jsontext.Value
	if err := unmarshal(b, &all); err != nil {
		return err
	}
	ccID := fixed.CostCodeID.ptr()
	ccText := ""
	if fixed.CostCode != nil {
		ccText = firstNonEmpty(string(fixed.CostCode.FullCode), string(fixed.CostCode.Code), string(fixed.CostCode.Name))
		if ccID == nil {
			ccID = fixed.CostCode.ID.ptr()
		}
	}
	row := adapter.BudgetRow{
		ID:                   int64(fixed.ID),
		CostCodeID:           ccID,
		CostCode:             ccText,
		Category:             fixed.Category.name(),
		OriginalBudgetAmount: fixed.OriginalBudgetAmount.V,
		BudgetModifications:  fixed.BudgetModifications.V,
		Columns:              map[string]decimal.Decimal{},
	}
	for k, raw := range all {
		if budgetRowFixed[k] || strings.HasSuffix(k, "_id") {
			continue
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] == '{' || raw[0] == '[' {
			continue
		}
		var d flexDecimal
		if err := d.UnmarshalJSON(raw); err == nil && d.Set {
			row.Columns[k] = d.V
		}
	}
	w.row = row
	return nil
}

type wireManpowerLog struct {
	ID         flexID      `json:"id"`
	Date       flexDate    `json:"date"`
	Datetime   flexDate    `json:"datetime"`
	NumWorkers flexInt     `json:"num_workers"`
	NumHours   flexDecimal `json:"num_hours"`
	ManHours   flexDecimal `json:"man_hours"`
	Notes      flexString  `json:"notes"`
	Vendor     *wireVendor `json:"vendor"`
	Status     flexString  `json:"status"`
	CreatedAt  flexTime    `json:"created_at"`
	UpdatedAt  flexTime    `json:"updated_at"`
}

func (w wireManpowerLog) log() adapter.ManpowerLog {
	d := w.Date
	if !d.Set {
		d = w.Datetime
	}
	man := w.ManHours.V
	if !w.ManHours.Set {
		man = w.NumHours.V.Mul(decimal.NewFromInt(int64(w.NumWorkers)))
	}
	return adapter.ManpowerLog{
		ID:         int64(w.ID),
		Date:       d.V,
		NumWorkers: int(w.NumWorkers),
		NumHours:   w.NumHours.V,
		ManHours:   man,
		Notes:      string(w.Notes),
		Vendor:     vendorPtr(w.Vendor),
		Status:     strings.ToLower(string(w.Status)),
		CreatedAt:  w.CreatedAt.V,
		UpdatedAt:  w.UpdatedAt.V,
	}
}

type wireNotesLog struct {
	ID        flexID      `json:"id"`
	Date      flexDate    `json:"date"`
	Datetime  flexDate    `json:"datetime"`
	Comment   flexString  `json:"comment"`
	CreatedBy *wirePerson `json:"created_by"`
	CreatedAt flexTime    `json:"created_at"`
	UpdatedAt flexTime    `json:"updated_at"`
}

func (w wireNotesLog) log() adapter.NotesLog {
	d := w.Date
	if !d.Set {
		d = w.Datetime
	}
	return adapter.NotesLog{
		ID:        int64(w.ID),
		Date:      d.V,
		Comment:   string(w.Comment),
		CreatedBy: personPtr(w.CreatedBy),
		CreatedAt: w.CreatedAt.V,
		UpdatedAt: w.UpdatedAt.V,
	}
}
