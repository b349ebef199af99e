package rest

import (
	"context"

	"procoregraph/adapter"
)

// Change management wire types and reads: change events (v1.0, line items
// embedded), potential change orders and their line items, change order
// requests, change order packages (v1.0, project_id in the query) and prime
// change orders (v1.0, not paginated, 1- and 2-tier projects only).

type wireChangeEvent struct {
	ID       flexID     `json:"id"`
	Number   flexString `json:"number"`
	AlphaNum flexString `json:"alphanumeric_number"`
	Title    flexString `json:"title"`
	Desc     flexString `json:"description"`
	Status   flexString `json:"status"`
	Scope    flexString `json:"event_scope"`
	RFI      *wireNamed `json:"rfi"`
	Lines    []struct {
		ID            flexID      `json:"id"`
		Description   flexString  `json:"description"`
		CostCodeID    flexID      `json:"cost_code_id"`
		EstimatedCost flexDecimal `json:"estimated_cost_amount"`
	} `json:"change_event_line_items"`
	CreatedAt flexTime `json:"created_at"`
	UpdatedAt flexTime `json:"updated_at"`
}

// wireChangeOrderish is a PCO, COR, package or prime change order.
type wireChangeOrderish struct {
	ID         flexID      `json:"id"`
	Number     flexString  `json:"number"`
	Title      flexString  `json:"title"`
	Status     flexString  `json:"status"`
	Executed   bool        `json:"executed"`
	CORID      flexID      `json:"change_order_request_id"`
	PackageID  flexID      `json:"change_order_package_id"`
	PCOIDs     flexIDs     `json:"potential_change_order_ids"`
	GrandTotal flexDecimal `json:"grand_total"`
	ContractID flexID      `json:"contract_id"` // packages: the prime contract or commitment
	DueDate    flexDate    `json:"due_date"`
	CreatedAt  flexTime    `json:"created_at"`
	UpdatedAt  flexTime    `json:"updated_at"`
}

type wirePCOLine struct {
	ID          flexID      `json:"id"`
	Description flexString  `json:"description"`
	Amount      flexDecimal `json:"amount"`
	CELine      *struct {
		ID            flexID `json:"id"`
		ChangeEventID flexID `json:"change_event_id"`
	} `json:"change_event_line_item"`
}

var (
	changeEventStatuses = []adapter.ChangeEventStatus{adapter.ChangeEventOpen, adapter.ChangeEventPending,
		adapter.ChangeEventClosed, adapter.ChangeEventVoid}
	changeEventScopes = []adapter.ChangeEventScope{adapter.ScopeTBD, adapter.ScopeInScope, adapter.ScopeOutOfScope}
)

// optID is id as a pointer, nil for 0.
func optID(id flexID) *int64 {
	if id == 0 {
		return nil
	}
	v := int64(id)
	return &v
}

func (w wireChangeEvent) changeEvent(projectID int64) adapter.ChangeEvent {
	num := string(w.AlphaNum)
	if num == "" {
		num = string(w.Number)
	}
	ev := adapter.ChangeEvent{ID: int64(w.ID), ProjectID: projectID, Number: num, Title: string(w.Title), Description: string(w.Desc),
		Status:    enumOf(string(w.Status), adapter.ChangeEventUnknown, changeEventStatuses...),
		Scope:     enumOf(string(w.Scope), adapter.ScopeUnknown, changeEventScopes...),
		RFIID:     w.RFI.id(),
		LineItems: []adapter.ChangeEventLineItem{},
		CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V}
	for _, l := range w.Lines {
		ev.LineItems = append(ev.LineItems, adapter.ChangeEventLineItem{ID: int64(l.ID), Description: string(l.Description),
			CostCodeID: optID(l.CostCodeID), EstimatedCost: l.EstimatedCost.V})
	}
	return ev
}

func (w wireChangeOrderish) status() adapter.ChangeOrderStatus {
	return enumOf(string(w.Status), adapter.ChangeOrderUnknown, changeOrderStatuses...)
}

// ChangeEvents lists a project's change events with their line items.
func (c *Client) ChangeEvents(ctx context.Context, projectID int64) ([]adapter.ChangeEvent, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, _, err := fetchList(ctx, c, listSpec{what: "list change events", path: "/rest/v1.0/change_events",
		query: projectQuery(projectID), perPage: perPageDefault}, 0, func(w wireChangeEvent) int64 { return int64(w.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]adapter.ChangeEvent, 0, len(items))
	for _, w := range items {
		out = append(out, w.changeEvent(projectID))
	}
	return out, nil
}

// PotentialChangeOrders lists a project's PCOs.
func (c *Client) PotentialChangeOrders(ctx context.Context, projectID int64) ([]adapter.PotentialChangeOrder, error) {
	items, err := c.changeOrderish(ctx, projectID, "list potential change orders", "/rest/v1.0/potential_change_orders")
	if err != nil {
		return nil, err
	}
	out := make([]adapter.PotentialChangeOrder, 0, len(items))
	for _, w := range items {
		out = append(out, adapter.PotentialChangeOrder{ID: int64(w.ID), ProjectID: projectID, Number: string(w.Number),
			Title: string(w.Title), Status: w.status(), ChangeOrderRequestID: optID(w.CORID), GrandTotal: w.GrandTotal.V,
			CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V})
	}
	return out, nil
}

// ChangeOrderRequests lists a project's CORs.
func (c *Client) ChangeOrderRequests(ctx context.Context, projectID int64) ([]adapter.ChangeOrderRequest, error) {
	items, err := c.changeOrderish(ctx, projectID, "list change order requests", "/rest/v1.0/change_order_requests")
	if err != nil {
		return nil, err
	}
	out := make([]adapter.ChangeOrderRequest, 0, len(items))
	for _, w := range items {
		out = append(out, adapter.ChangeOrderRequest{ID: int64(w.ID), ProjectID: projectID, Number: string(w.Number),
			Title: string(w.Title), Status: w.status(), PackageID: optID(w.PackageID), GrandTotal: w.GrandTotal.V,
			CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V})
	}
	return out, nil
}

// ChangeOrderPackages lists a project's change order packages.
func (c *Client) ChangeOrderPackages(ctx context.Context, projectID int64) ([]adapter.ChangeOrderPackage, error) {
	items, err := c.changeOrderish(ctx, projectID, "list change order packages", "/rest/v1.0/change_order_packages")
	if err != nil {
		return nil, err
	}
	return packagesOf(projectID, items), nil
}

// PrimeChangeOrders lists a project's prime change orders (one unpaginated
// call). Procore's list serves 1- and 2-tier projects only; its refusal on a
// 3-tier project is an empty list.
func (c *Client) PrimeChangeOrders(ctx context.Context, projectID int64) ([]adapter.PrimeChangeOrder, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireChangeOrderish](ctx, c, listSpec{what: "list prime change orders",
		path: pathf("/rest/v1.0/projects/%d/prime_change_orders", projectID)})
	if threeTierRefusal(err) {
		return []adapter.PrimeChangeOrder{}, nil
	}
	if err != nil {
		return nil, err
	}
	return packagesOf(projectID, items), nil
}

// PCOLineItems lists one PCO's line items.
func (c *Client) PCOLineItems(ctx context.Context, projectID, pcoID int64) ([]adapter.PCOLineItem, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	if err := validID("potential change order id", pcoID); err != nil {
		return nil, err
	}
	items, _, err := fetchList(ctx, c, listSpec{what: "list potential change order line items",
		path: pathf("/rest/v1.0/potential_change_orders/%d/line_items", pcoID), query: projectQuery(projectID),
		perPage: perPageDefault}, 0, func(w wirePCOLine) int64 { return int64(w.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]adapter.PCOLineItem, 0, len(items))
	for _, w := range items {
		l := adapter.PCOLineItem{ID: int64(w.ID), Description: string(w.Description), Amount: w.Amount.V}
		if w.CELine != nil {
			l.ChangeEventLineID, l.ChangeEventID = optID(w.CELine.ID), optID(w.CELine.ChangeEventID)
		}
		out = append(out, l)
	}
	return out, nil
}

func (c *Client) changeOrderish(ctx context.Context, projectID int64, what, path string) ([]wireChangeOrderish, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, _, err := fetchList(ctx, c, listSpec{what: what, path: path, query: projectQuery(projectID), perPage: perPageDefault},
		0, func(w wireChangeOrderish) int64 { return int64(w.ID) })
	return items, err
}

func packagesOf(projectID int64, items []wireChangeOrderish) []adapter.ChangeOrderPackage {
	out := make([]adapter.ChangeOrderPackage, 0, len(items))
	for _, w := range items {
		out = append(out, adapter.ChangeOrderPackage{ID: int64(w.ID), ProjectID: projectID, Number: string(w.Number),
			Title: string(w.Title), Status: w.status(), Executed: w.Executed, GrandTotal: w.GrandTotal.V,
			PCOIDs: append([]int64{}, w.PCOIDs...), ContractID: w.ContractID.ptr(), DueDate: w.DueDate.ptr(), CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V})
	}
	return out
}
