package rest

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"procoregraph/adapter"
)

// Prime contracts (RestV10PrimeContractsGet) and their payment applications
// (RestV10PrimeContractsPrimeContractIdPaymentApplicationsGet).

type wirePrimeContract struct {
	ID                   flexID      `json:"id"`
	Number               flexString  `json:"number"`
	Title                flexString  `json:"title"`
	Status               flexString  `json:"status"`
	GrandTotal           flexDecimal `json:"grand_total"`
	ApprovedChangeOrders flexDecimal `json:"approved_change_orders"`
	RetainagePercent     flexDecimal `json:"retainage_percent"`
	CreatedAt            flexTime    `json:"created_at"`
	UpdatedAt            flexTime    `json:"updated_at"`
}

func strPtr(s flexString) *string {
	if s == "" {
		return nil
	}
	v := string(s)
	return &v
}

func (w wirePrimeContract) primeContract(projectID int64) adapter.PrimeContract {
	return adapter.PrimeContract{
		ID: int64(w.ID), ProjectID: projectID,
		Number: strPtr(w.Number), Title: strPtr(w.Title),
		Status:               enumOf(string(w.Status), adapter.PrimeContractUnknown, adapter.PrimeContractStatuses...),
		OriginalValue:        w.GrandTotal.V,
		ApprovedChangeOrders: w.ApprovedChangeOrders.V,
		RetainagePercent:     w.RetainagePercent.ptr(),
		CreatedAt:            w.CreatedAt.V,
		UpdatedAt:            w.UpdatedAt.V,
	}
}

type wirePaymentApplication struct {
	ID            flexID     `json:"id"`
	Number        flexInt    `json:"number"`
	InvoiceNumber flexString `json:"invoice_number"`
	Status        flexString `json:"status"`
	BillingDate   flexDate   `json:"billing_date"`
	PeriodStart   flexDate   `json:"period_start"`
	PeriodEnd     flexDate   `json:"period_end"`
	G702          struct {
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
		CurrentPaymentDue                 flexDecimal `json:"current_payment_due"`
		BalanceToFinishIncludingRetainage flexDecimal `json:"balance_to_finish_including_retainage"`
	} `json:"g702"`
	CreatedAt flexTime `json:"created_at"`
	UpdatedAt flexTime `json:"updated_at"`
}

func (w wirePaymentApplication) paymentApplication(projectID, contractID int64) adapter.PaymentApplication {
	g := w.G702
	return adapter.PaymentApplication{
		ID: int64(w.ID), ProjectID: projectID, PrimeContractID: contractID,
		Number:        int(w.Number),
		InvoiceNumber: strPtr(w.InvoiceNumber),
		Status:        enumOf(string(w.Status), adapter.PaymentApplicationUnknown, adapter.PaymentApplicationStatuses...),
		BillingDate:   w.BillingDate.ptr(), PeriodStart: w.PeriodStart.ptr(), PeriodEnd: w.PeriodEnd.ptr(),
		G702: adapter.OwnerG702{
			OriginalContractSum:               g.OriginalContractSum.V,
			NetChangeByChangeOrders:           g.NetChangeByChangeOrders.V,
			ContractSumToDate:                 g.ContractSumToDate.V,
			TotalCompletedAndStoredToDate:     g.TotalCompletedAndStoredToDate.V,
			CompletedWorkRetainagePercent:     g.CompletedWorkRetainagePercent.V,
			CompletedWorkRetainageAmount:      g.CompletedWorkRetainageAmount.V,
			StoredMaterialsRetainagePercent:   g.StoredMaterialsRetainagePercent.V,
			StoredMaterialsRetainageAmount:    g.StoredMaterialsRetainageAmount.V,
			TotalRetainage:                    g.TotalRetainage.V,
			TotalEarnedLessRetainage:          g.TotalEarnedLessRetainage.V,
			LessPreviousCertificates:          g.LessPreviousCertificates.V,
			CurrentPaymentDue:                 g.CurrentPaymentDue.V,
			BalanceToFinishIncludingRetainage: g.BalanceToFinishIncludingRetainage.V,
		},
		CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V,
	}
}

// PrimeContracts lists a project's prime contracts, every page.
func (c *Client) PrimeContracts(ctx context.Context, projectID int64) ([]adapter.PrimeContract, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, _, err := fetchList(ctx, c, listSpec{what: "list prime contracts", path: "/rest/v1.0/prime_contracts",
		query: projectQuery(projectID), perPage: 100}, 0, func(w wirePrimeContract) int64 { return int64(w.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]adapter.PrimeContract, 0, len(items))
	for _, w := range items {
		out = append(out, w.primeContract(projectID))
	}
	return out, nil
}

// PaymentApplications lists a prime contract's payment applications (owner
// invoices), every page. Procore offers no updated_at filter on this list.
func (c *Client) PaymentApplications(ctx context.Context, projectID, primeContractID int64) ([]adapter.PaymentApplication, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	if err := validID("prime contract id", primeContractID); err != nil {
		return nil, err
	}
	items, _, err := fetchList(ctx, c, listSpec{what: "list payment applications",
		path:  "/rest/v1.0/prime_contracts/" + strconv.FormatInt(primeContractID, 10) + "/payment_applications",
		query: projectQuery(projectID), perPage: 100}, 0, func(w wirePaymentApplication) int64 { return int64(w.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]adapter.PaymentApplication, 0, len(items))
	for _, w := range items {
		out = append(out, w.paymentApplication(projectID, primeContractID))
	}
	return out, nil
}

// wirePrimeContractShow is the show's body: the list row's fields (read
// only for drift inspection) and the pending change orders total.
type wirePrimeContractShow struct {
	ID                        flexID      `json:"id"`
	Number                    flexString  `json:"number"`
	Title                     flexString  `json:"title"`
	Status                    flexString  `json:"status"`
	GrandTotal                flexDecimal `json:"grand_total"`
	ApprovedChangeOrders      flexDecimal `json:"approved_change_orders"`
	RetainagePercent          flexDecimal `json:"retainage_percent"`
	PendingChangeOrdersAmount flexDecimal `json:"pending_change_orders_amount"`
	RevisedContractAmount     flexDecimal `json:"revised_contract_amount"`
	CreatedAt                 flexTime    `json:"created_at"`
	UpdatedAt                 flexTime    `json:"updated_at"`
}

type wirePrimeContractLine struct {
	ID          flexID      `json:"id"`
	Description flexString  `json:"description"`
	Amount      flexDecimal `json:"amount"`
	CostCode    *struct {
		ID       flexID     `json:"id"`
		Name     flexString `json:"name"`
		Code     flexString `json:"code"`
		FullCode flexString `json:"full_code"`
	} `json:"cost_code"`
}

func (w wirePrimeContractLine) line() adapter.PrimeContractLine {
	l := adapter.PrimeContractLine{ID: int64(w.ID), Description: strPtr(w.Description), ScheduledValue: w.Amount.V}
	if w.CostCode != nil {
		if l.CostCode = strPtr(w.CostCode.FullCode); l.CostCode == nil {
			l.CostCode = strPtr(w.CostCode.Code)
		}
	}
	return l
}

// PrimeContractPending reads a prime contract's show
// (GET /rest/v1.0/prime_contract/{id}) for pending_change_orders_amount.
func (c *Client) PrimeContractPending(ctx context.Context, projectID, primeContractID int64) (*adapter.Decimal, error) {
	if err := firstErr(validID("project id", projectID), validID("prime contract id", primeContractID)); err != nil {
		return nil, err
	}
	var w wirePrimeContractShow
	k := call{what: "get prime contract", method: http.MethodGet,
		path: "/rest/v1.0/prime_contract/" + strconv.FormatInt(primeContractID, 10), query: projectQuery(projectID)}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return nil, err
	}
	return w.PendingChangeOrdersAmount.ptr(), nil
}

// PrimeContractLines lists a prime contract's schedule of values, every page.
func (c *Client) PrimeContractLines(ctx context.Context, projectID, primeContractID int64) ([]adapter.PrimeContractLine, error) {
	if err := firstErr(validID("project id", projectID), validID("prime contract id", primeContractID)); err != nil {
		return nil, err
	}
	items, _, err := fetchList(ctx, c, listSpec{what: "list prime contract line items",
		path:  "/rest/v1.0/prime_contracts/" + strconv.FormatInt(primeContractID, 10) + "/line_items",
		query: projectQuery(projectID), perPage: 100}, 0, func(w wirePrimeContractLine) int64 { return int64(w.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]adapter.PrimeContractLine, 0, len(items))
	for _, w := range items {
		out = append(out, w.line())
	}
	return out, nil
}

// init registers the drift schemas of the two reads (see driftRoots).
func init() {
	driftRoots["list prime contracts"] = driftList[wirePrimeContract]()
	driftRoots["list payment applications"] = driftList[wirePaymentApplication]()
	driftRoots["get prime contract"] = driftOne[wirePrimeContractShow]()
	driftRoots["list prime contract line items"] = driftList[wirePrimeContractLine]()
	driftExpected[reflect.TypeFor[wirePrimeContractShow]()] = []string{"id", "status", "created_at", "updated_at"}
	driftIgnored[reflect.TypeFor[wirePrimeContractShow]()] = "executed private"
	driftExpected[reflect.TypeFor[wirePrimeContractLine]()] = []string{"id", "amount"}
	driftIgnored[reflect.TypeFor[wirePrimeContractLine]()] = "total_amount"
	driftExpected[reflect.TypeFor[wirePrimeContract]()] = []string{"id", "status", "grand_total", "created_at", "updated_at"}
	driftExpected[reflect.TypeFor[wirePaymentApplication]()] = []string{"id", "number", "status", "g702", "created_at", "updated_at"}
	driftIgnored[reflect.TypeFor[wirePrimeContract]()] = "executed private"
	driftIgnored[reflect.TypeFor[wirePaymentApplication]()] = "contract total_amount_accrued_this_period"
	driftEnums[reflect.TypeFor[wirePrimeContract]()] = map[string]func(string) bool{"status": func(s string) bool {
		return wirePrimeContract{Status: flexString(s)}.primeContract(1).Status != adapter.PrimeContractUnknown
	}}
	driftEnums[reflect.TypeFor[wirePaymentApplication]()] = map[string]func(string) bool{"status": func(s string) bool {
		return wirePaymentApplication{Status: flexString(s)}.paymentApplication(1, 1).Status != adapter.PaymentApplicationUnknown
	}}
}
