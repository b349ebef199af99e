package rest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter"
)

// Change management writes: change events (v1.0 create, its line items
// nested as change_event_line_items_attributes, so one call creates all of
// it) and potential change orders (v1.0 create on a prime contract, then one
// v1.0 line item call per line). Procore publishes no key naming the change
// event line a PCO line item came from, so a PCO line carries that line's
// description, cost code and amount; and it publishes no delete of a PCO,
// so a PCO whose lines failed is emptied (line item deletes) and voided.

// pcoRollbackTimeout bounds the clean-up of a PCO whose line failed; it
// runs even when the request's own context has ended.
const pcoRollbackTimeout = 10 * time.Second

type wireChangeEventStatus struct {
	ID      flexID     `json:"id"`
	Name    flexString `json:"name"`
	Mapped  flexString `json:"mapped_to_status"`
	Default flexBool   `json:"default_status"`
}

// changeEventStatusID finds the project's change event status that maps to
// status (Procore's create takes change_event_status_id; its status key is
// deprecated): the default one among several.
func (c *Client) changeEventStatusID(ctx context.Context, projectID int64, status adapter.ChangeEventStatus) (int64, error) {
	items, err := fetchAll[wireChangeEventStatus](ctx, c, listSpec{what: "list change event statuses",
		path: "/rest/v1.0/change_event/statuses", query: projectQuery(projectID)})
	if err != nil {
		return 0, err
	}
	want := wireEnum(status)
	var found int64
	for _, s := range items {
		mapped := strings.ToLower(strings.TrimSpace(string(s.Mapped)))
		if mapped == "" {
			mapped = strings.ToLower(strings.TrimSpace(string(s.Name)))
		}
		if mapped != want || s.ID == 0 {
			continue
		}
		if found == 0 || s.Default.V {
			found = int64(s.ID)
		}
	}
	if found == 0 {
		return 0, badInput([]string{"status"}, "the project has no change event status for %s", status)
	}
	return found, nil
}

// CreateChangeEvent creates a change event with its line items in one call.
func (c *Client) CreateChangeEvent(ctx context.Context, projectID int64, in adapter.ChangeEventCreate) (adapter.ChangeEvent, error) {
	if err := validID("project id", projectID); err != nil {
		return adapter.ChangeEvent{}, err
	}
	status := in.Status
	if status == "" {
		status = adapter.ChangeEventOpen
	}
	scope := in.Scope
	if scope == "" {
		scope = adapter.ScopeTBD
	}
	if !containsEnum(changeEventScopes, scope) {
		return adapter.ChangeEvent{}, badInput([]string{"scope"}, "unknown change event scope %q", scope)
	}
	if !containsEnum(changeEventStatuses, status) {
		return adapter.ChangeEvent{}, badInput([]string{"status"}, "unknown change event status %q", status)
	}
	statusID, err := c.changeEventStatusID(ctx, projectID, status)
	if err != nil {
		return adapter.ChangeEvent{}, err
	}
	type line struct {
		Description         string `json:"description,omitempty"`
		CostCodeID          *int64 `json:"cost_code_id,omitempty"`
		EstimatedCostAmount string `json:"estimated_cost_amount"`
	}
	type changeEvent struct {
		Title               string `json:"title,omitempty"`
		ChangeEventStatusID int64  `json:"change_event_status_id"`
		EventScope          string `json:"event_scope"`
		RFIID               *int64 `json:"rfi_id,omitempty"`
		Lines               []line `json:"change_event_line_items_attributes,omitempty"`
	}
	ev := changeEvent{Title: in.Title, ChangeEventStatusID: statusID, EventScope: wireEnum(scope), RFIID: in.RFIID}
	for _, l := range in.LineItems {
		ev.Lines = append(ev.Lines, line{Description: l.Description, CostCodeID: l.CostCodeID, EstimatedCostAmount: money(l.EstimatedCost)})
	}
	var w wireChangeEvent
	// project_id is a required query parameter of the create (not a body key).
	k := call{what: "create change event", method: http.MethodPost, path: "/rest/v1.0/change_events",
		query: projectQuery(projectID), body: map[string]any{"change_event": ev}}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.ChangeEvent{}, err
	}
	out := w.changeEvent(projectID)
	if out.ID == 0 {
		return adapter.ChangeEvent{}, &adapter.Error{Code: adapter.CodeInternal, Message: "create change event: Procore's answer carried no id"}
	}
	if in.Description == "" {
		return out, nil
	}
	// v1.0 has no description key; v1.1's update has one (and v1.1 has the
	// only published delete, the clean-up when the update fails).
	k = call{what: "set change event description", method: http.MethodPatch, path: pathf("/rest/v1.1/change_events/%d", out.ID),
		query: projectQuery(projectID), body: map[string]any{"change_event": map[string]string{"description": in.Description}}}
	if _, err := c.do(ctx, k); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pcoRollbackTimeout)
		defer cancel()
		_, derr := c.do(dctx, call{what: "delete change event", method: http.MethodDelete,
			path: pathf("/rest/v1.1/change_events/%d", out.ID), query: projectQuery(projectID)})
		if derr == nil {
			return adapter.ChangeEvent{}, partialAt(err, "the change event was not created: setting its description failed, so the change event made for it was deleted again", "description")
		}
		c.logger.Warn("procore: a change event whose description failed could not be deleted", "project_id", projectID,
			"change_event_id", out.ID, "delete_error", derr)
		return out, partialAt(err, fmt.Sprintf("change event %d was created with its line items, but setting its description failed and deleting it again failed too", out.ID), "description")
	}
	out.Description = in.Description
	return out, nil
}

func containsEnum[T comparable](set []T, v T) bool {
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}

// ChangeOrderTiers reads the tiers from the first PCO of the project
// (change_order_tiers); a project without PCOs is told by its prime change
// orders: refused (3 tiers), executing PCOs (2), without PCOs (1), none (0).
func (c *Client) ChangeOrderTiers(ctx context.Context, projectID int64) (int, error) {
	if err := validID("project id", projectID); err != nil {
		return 0, err
	}
	q := projectQuery(projectID)
	q.Set("page", "1")
	q.Set("per_page", "1")
	var pcos []struct {
		Tiers flexInt `json:"change_order_tiers"`
	}
	if err := c.getJSON(ctx, call{what: "list potential change orders", method: http.MethodGet,
		path: "/rest/v1.0/potential_change_orders", query: q}, &pcos); err != nil {
		return 0, err
	}
	if len(pcos) > 0 && pcos[0].Tiers >= 1 && pcos[0].Tiers <= 3 {
		return int(pcos[0].Tiers), nil
	}
	items, err := fetchAll[wireChangeOrderish](ctx, c, listSpec{what: "list prime change orders",
		path: pathf("/rest/v1.0/projects/%d/prime_change_orders", projectID)})
	switch {
	case threeTierRefusal(err):
		return 3, nil
	case err != nil:
		return 0, err
	case len(items) == 0:
		return 0, nil
	}
	for _, it := range items {
		if len(it.PCOIDs) > 0 {
			return 2, nil
		}
	}
	if len(pcos) == 0 {
		return 1, nil
	}
	return 0, nil
}

// CreatePotentialChangeOrder creates a PCO and then its line items.
func (c *Client) CreatePotentialChangeOrder(ctx context.Context, projectID int64, in adapter.PotentialChangeOrderCreate) (adapter.PotentialChangeOrder, error) {
	if err := firstErr(validID("project id", projectID), validID("contract id", in.ContractID)); err != nil {
		return adapter.PotentialChangeOrder{}, err
	}
	type changeOrder struct {
		Title string `json:"title,omitempty"`
	}
	var w wireChangeOrderish
	// project_id and contract_id are required body keys (Procore lists no
	// query parameter for them on the create).
	k := call{what: "create potential change order", method: http.MethodPost, path: "/rest/v1.0/potential_change_orders",
		body: map[string]any{"project_id": projectID, "contract_id": in.ContractID, "change_order": changeOrder{Title: in.Title}}}
	if err := c.getJSON(ctx, k, &w); err != nil {
		return adapter.PotentialChangeOrder{}, err
	}
	pco := adapter.PotentialChangeOrder{ID: int64(w.ID), ProjectID: projectID, Number: string(w.Number), Title: string(w.Title),
		Status: w.status(), ChangeOrderRequestID: optID(w.CORID), CreatedAt: w.CreatedAt.V, UpdatedAt: w.UpdatedAt.V}
	if pco.ID == 0 {
		return adapter.PotentialChangeOrder{}, &adapter.Error{Code: adapter.CodeInternal, Message: "create potential change order: Procore's answer carried no id"}
	}
	type lineItem struct {
		Description string `json:"description,omitempty"`
		Amount      string `json:"amount"`
		CostCodeID  *int64 `json:"cost_code_id,omitempty"`
	}
	var created []int64
	total := adapter.Decimal{}
	for i, l := range in.LineItems {
		var lw wirePCOLine
		k := call{what: "create potential change order line item", method: http.MethodPost,
			path: pathf("/rest/v1.0/potential_change_orders/%d/line_items", pco.ID),
			body: map[string]any{"project_id": projectID, "line_item": lineItem{Description: l.Description, Amount: money(l.Amount), CostCodeID: l.CostCodeID}}}
		if err := c.getJSON(ctx, k, &lw); err != nil {
			return c.rollBackPCO(ctx, projectID, in.ContractID, pco, created, err, i, len(in.LineItems))
		}
		if lw.ID != 0 {
			created = append(created, int64(lw.ID))
		}
		amount := lw.Amount.V
		if lw.ID == 0 || amount.IsZero() && !l.Amount.IsZero() {
			amount = l.Amount
		}
		total = total.Add(amount)
	}
	pco.GrandTotal = total
	return pco, nil
}

// rollBackPCO empties and voids a PCO whose line i failed with cause.
// Cleaned up, it returns a zero PCO and cause reported on line i; when the
// clean-up fails too, the PCO and an error saying it was left.
func (c *Client) rollBackPCO(ctx context.Context, projectID, contractID int64, pco adapter.PotentialChangeOrder, lines []int64, cause error, i, n int) (adapter.PotentialChangeOrder, error) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pcoRollbackTimeout)
	defer cancel()
	var derr error
	for _, id := range lines {
		_, derr = c.do(dctx, call{what: "delete potential change order line item", method: http.MethodDelete,
			path: pathf("/rest/v1.0/potential_change_orders/%d/line_items/%d", pco.ID, id), query: projectQuery(projectID)})
		if derr != nil {
			break
		}
	}
	if derr == nil {
		_, derr = c.do(dctx, call{what: "void potential change order", method: http.MethodPatch,
			path: pathf("/rest/v1.0/potential_change_orders/%d", pco.ID),
			body: map[string]any{"project_id": projectID, "contract_id": contractID, "change_order": map[string]string{"status": "void"}}})
	}
	field := []string{"lineItems", strconv.Itoa(i)}
	if derr == nil {
		return adapter.PotentialChangeOrder{}, partialError(cause, fmt.Sprintf(
			"the potential change order was not created: line item %d of %d failed, so PCO %d made for it was emptied and voided (Procore publishes no delete of a PCO)",
			i+1, n, pco.ID), field)
	}
	c.logger.Warn("procore: a potential change order whose line item failed could not be cleaned up", "project_id", projectID,
		"pco_id", pco.ID, "line", i, "cleanup_error", derr)
	return pco, partialError(cause, fmt.Sprintf("potential change order %d was created, but line item %d of %d failed (%d created) and cleaning it up failed too",
		pco.ID, i+1, n, len(lines)), field)
}
