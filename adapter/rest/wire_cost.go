package rest

import (
	"context"
	"strings"

	"procoregraph/adapter"
)

// Cost reads (issue 16): budget modifications and direct costs, each read
// whole (every page) for a project.

type wireBudgetModification struct {
	ID                   flexID      `json:"id"`
	FromBudgetLineItemID flexID      `json:"from_budget_line_item_id"`
	ToBudgetLineItemID   flexID      `json:"to_budget_line_item_id"`
	TransferAmount       flexDecimal `json:"transfer_amount"`
	Notes                flexString  `json:"notes"`
	CreatedAt            flexTime    `json:"created_at"`
	UpdatedAt            flexTime    `json:"updated_at"`
}

func (w wireBudgetModification) modification(projectID int64) adapter.BudgetModification {
	return adapter.BudgetModification{ID: int64(w.ID), ProjectID: projectID, FromBudgetLineItemID: w.FromBudgetLineItemID.ptr(), ToBudgetLineItemID: w.ToBudgetLineItemID.ptr(),
		TransferAmount: w.TransferAmount.V, Notes: string(w.Notes), CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V}
}

type wireDirectCost struct {
	ID            flexID      `json:"id"`
	Type          flexString  `json:"direct_cost_type"`
	Status        flexString  `json:"status"`
	Description   flexString  `json:"description"`
	InvoiceNumber flexString  `json:"invoice_number"`
	VendorID      flexID      `json:"vendor_id"`
	VendorName    flexString  `json:"vendor_name"`
	Date          flexDate    `json:"direct_cost_date"`
	GrandTotal    flexDecimal `json:"grand_total"`
	CreatedAt     flexTime    `json:"created_at"`
	UpdatedAt     flexTime    `json:"updated_at"`
}

func (w wireDirectCost) directCost(projectID int64) adapter.DirectCost {
	return adapter.DirectCost{ID: int64(w.ID), ProjectID: projectID,
		Type:        adapter.DirectCostType(strings.ToUpper(strings.TrimSpace(string(w.Type)))),
		Status:      adapter.DirectCostStatus(strings.ToUpper(strings.TrimSpace(string(w.Status)))),
		Description: string(w.Description), InvoiceNumber: string(w.InvoiceNumber), VendorID: w.VendorID.ptr(),
		VendorName: string(w.VendorName), Date: w.Date.ptr(), GrandTotal: w.GrandTotal.V,
		CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V}
}

// BudgetModifications returns every budget modification of a project.
func (c *Client) BudgetModifications(ctx context.Context, projectID int64) ([]adapter.BudgetModification, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireBudgetModification](ctx, c, listSpec{what: "list budget modifications",
		path: pathf("/rest/v1.0/projects/%d/budget_modifications", projectID)})
	if err != nil {
		return nil, err
	}
	out := make([]adapter.BudgetModification, 0, len(items))
	for _, w := range items {
		out = append(out, w.modification(projectID))
	}
	return out, nil
}

// DirectCosts returns every direct cost item of a project (v1.1 list).
func (c *Client) DirectCosts(ctx context.Context, projectID int64) ([]adapter.DirectCost, error) {
	if err := validID("project id", projectID); err != nil {
		return nil, err
	}
	items, err := fetchAll[wireDirectCost](ctx, c, listSpec{what: "list direct costs",
		path: pathf("/rest/v1.1/projects/%d/direct_costs", projectID)})
	if err != nil {
		return nil, err
	}
	out := make([]adapter.DirectCost, 0, len(items))
	for _, w := range items {
		out = append(out, w.directCost(projectID))
	}
	return out, nil
}
