package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"procoregraph/adapter"
)

// Status writes (adapter.StatusWriter): one change order read fresh through
// its list's id filter (the lists are Procore's published reads the gateway
// already speaks), and the status PATCHes of RestV10ProjectsProjectIdPrime
// ChangeOrdersIdPatch, RestV10ChangeOrderPackagesIdPatch, RestV10Projects
// ProjectIdCommitmentChangeOrdersIdPatch and RestV10PrimeContractsPrime
// ContractIdPaymentApplicationsIdPatch, each with exactly the published keys
// it needs: {"change_order": {"status"}} (packages and payment applications
// add the required body project_id).

var _ adapter.StatusWriter = (*Client)(nil)

// wrongTier wraps a 3-tier refusal as adapter.ErrWrongChangeOrderTier.
func wrongTier(err error, what string) error {
	return &adapter.Error{Code: adapter.CodeBadUserInput, Status: statusOf(err),
		Message: what + " are served on projects with 1- or 2-tier change management only; this project uses 3 tiers",
		Err:     errors.Join(adapter.ErrWrongChangeOrderTier, err)}
}

func notFoundItem(what string, id int64) error {
	return adapter.Errorf(adapter.CodeNotFound, "%s %d not found", what, id)
}

// PrimeChangeOrder reads one prime change order (the unpaginated list,
// filters[id]: a single integer there).
func (c *Client) PrimeChangeOrder(ctx context.Context, projectID, id int64) (adapter.PrimeChangeOrder, error) {
	if err := firstErr(validID("project id", projectID), validID("prime change order id", id)); err != nil {
		return adapter.PrimeChangeOrder{}, err
	}
	items, err := fetchAll[wireChangeOrderish](ctx, c, listSpec{what: "read prime change order",
		path: pathf("/rest/v1.0/projects/%d/prime_change_orders", projectID), query: url.Values{"filters[id]": {strconv.FormatInt(id, 10)}}})
	if threeTierRefusal(err) {
		return adapter.PrimeChangeOrder{}, wrongTier(err, "prime change orders")
	}
	if err != nil {
		return adapter.PrimeChangeOrder{}, err
	}
	for _, x := range packagesOf(projectID, items) {
		if x.ID == id {
			return x, nil
		}
	}
	return adapter.PrimeChangeOrder{}, notFoundItem("prime change order", id)
}

// ChangeOrderPackage reads one change order package (the list with
// project_id and filters[id][]).
func (c *Client) ChangeOrderPackage(ctx context.Context, projectID, id int64) (adapter.ChangeOrderPackage, error) {
	if err := firstErr(validID("project id", projectID), validID("change order package id", id)); err != nil {
		return adapter.ChangeOrderPackage{}, err
	}
	q := projectQuery(projectID)
	q.Set("filters[id][]", strconv.FormatInt(id, 10))
	items, _, err := fetchList(ctx, c, listSpec{what: "read change order package", path: "/rest/v1.0/change_order_packages",
		query: q, perPage: perPageDefault}, 0, func(w wireChangeOrderish) int64 { return int64(w.ID) })
	if err != nil {
		return adapter.ChangeOrderPackage{}, err
	}
	for _, x := range packagesOf(projectID, items) {
		if x.ID == id {
			return x, nil
		}
	}
	return adapter.ChangeOrderPackage{}, notFoundItem("change order package", id)
}

// CommitmentChangeOrder reads one commitment change order (the unpaginated
// list, filters[id]: a single integer there).
func (c *Client) CommitmentChangeOrder(ctx context.Context, projectID, id int64) (adapter.ChangeOrder, error) {
	if err := firstErr(validID("project id", projectID), validID("commitment change order id", id)); err != nil {
		return adapter.ChangeOrder{}, err
	}
	items, err := fetchAll[wireChangeOrder](ctx, c, listSpec{what: "read commitment change order",
		path: pathf("/rest/v1.0/projects/%d/commitment_change_orders", projectID), query: url.Values{"filters[id]": {strconv.FormatInt(id, 10)}}})
	if threeTierRefusal(err) {
		return adapter.ChangeOrder{}, wrongTier(err, "commitment change orders")
	}
	if err != nil {
		return adapter.ChangeOrder{}, err
	}
	for _, w := range items {
		if co := w.changeOrder(projectID); co.ID == id {
			return co, nil
		}
	}
	return adapter.ChangeOrder{}, notFoundItem("commitment change order", id)
}

// changeOrderStatusBody is {"change_order": {"status": s}}, the published
// wrapper of the three change order PATCHes.
func changeOrderStatusBody(status adapter.ChangeOrderStatus) (map[string]any, error) {
	if status == adapter.ChangeOrderUnknown || status == "" {
		return nil, badInput([]string{"status"}, "status %q cannot be set", status)
	}
	st, err := changeOrderStatusWire(status)
	if err != nil {
		return nil, err
	}
	return map[string]any{"change_order": map[string]string{"status": st}}, nil
}

// UpdatePrimeChangeOrderStatus is PATCH
// /rest/v1.0/projects/{project_id}/prime_change_orders/{id}. Procore
// publishes no answer schema: the answer is read as a list row, and read
// again when it does not carry the item.
func (c *Client) UpdatePrimeChangeOrderStatus(ctx context.Context, projectID, id int64, status adapter.ChangeOrderStatus) (adapter.PrimeChangeOrder, error) {
	if err := firstErr(validID("project id", projectID), validID("prime change order id", id)); err != nil {
		return adapter.PrimeChangeOrder{}, err
	}
	body, err := changeOrderStatusBody(status)
	if err != nil {
		return adapter.PrimeChangeOrder{}, err
	}
	resp, err := c.do(ctx, call{what: "update prime change order status", method: http.MethodPatch,
		path: pathf("/rest/v1.0/projects/%d/prime_change_orders/%d", projectID, id), body: body})
	if threeTierRefusal(err) {
		return adapter.PrimeChangeOrder{}, wrongTier(err, "prime change orders")
	}
	if err != nil {
		return adapter.PrimeChangeOrder{}, err
	}
	var w wireChangeOrderish
	if decodeBody(resp.body, &w) == nil && int64(w.ID) == id {
		return packagesOf(projectID, []wireChangeOrderish{w})[0], nil
	}
	return c.PrimeChangeOrder(ctx, projectID, id)
}

// UpdateChangeOrderPackageStatus is PATCH /rest/v1.0/change_order_packages/{id}
// with the required body project_id.
func (c *Client) UpdateChangeOrderPackageStatus(ctx context.Context, projectID, id int64, status adapter.ChangeOrderStatus) (adapter.ChangeOrderPackage, error) {
	if err := firstErr(validID("project id", projectID), validID("change order package id", id)); err != nil {
		return adapter.ChangeOrderPackage{}, err
	}
	if status == adapter.ChangeOrderPendingBillable {
		// Not in the package's published status enum.
		return adapter.ChangeOrderPackage{}, badInput([]string{"status"}, "a change order package has no status %s", status)
	}
	body, err := changeOrderStatusBody(status)
	if err != nil {
		return adapter.ChangeOrderPackage{}, err
	}
	body["project_id"] = projectID
	resp, err := c.do(ctx, call{what: "update change order package status", method: http.MethodPatch,
		path: pathf("/rest/v1.0/change_order_packages/%d", id), body: body})
	if err != nil {
		return adapter.ChangeOrderPackage{}, err
	}
	var w wireChangeOrderish
	if decodeBody(resp.body, &w) == nil && int64(w.ID) == id {
		return packagesOf(projectID, []wireChangeOrderish{w})[0], nil
	}
	return c.ChangeOrderPackage(ctx, projectID, id)
}

// UpdateCommitmentChangeOrderStatus is PATCH
// /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}.
func (c *Client) UpdateCommitmentChangeOrderStatus(ctx context.Context, projectID, id int64, status adapter.ChangeOrderStatus) (adapter.ChangeOrder, error) {
	if err := firstErr(validID("project id", projectID), validID("commitment change order id", id)); err != nil {
		return adapter.ChangeOrder{}, err
	}
	body, err := changeOrderStatusBody(status)
	if err != nil {
		return adapter.ChangeOrder{}, err
	}
	resp, err := c.do(ctx, call{what: "update commitment change order status", method: http.MethodPatch,
		path: pathf("/rest/v1.0/projects/%d/commitment_change_orders/%d", projectID, id), body: body})
	if threeTierRefusal(err) {
		return adapter.ChangeOrder{}, wrongTier(err, "commitment change orders")
	}
	if err != nil {
		return adapter.ChangeOrder{}, err
	}
	var w wireChangeOrder
	if decodeBody(resp.body, &w) == nil && int64(w.ID) == id {
		return w.changeOrder(projectID), nil
	}
	return c.CommitmentChangeOrder(ctx, projectID, id)
}

// UpdatePaymentApplicationStatus is PATCH
// /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications/{id}
// with the required body project_id and payment_application.status.
func (c *Client) UpdatePaymentApplicationStatus(ctx context.Context, projectID, primeContractID, id int64, status adapter.PaymentApplicationStatus) (adapter.PaymentApplication, error) {
	if err := firstErr(validID("project id", projectID), validID("prime contract id", primeContractID), validID("payment application id", id)); err != nil {
		return adapter.PaymentApplication{}, err
	}
	known := false
	for _, s := range adapter.PaymentApplicationStatuses {
		known = known || s == status
	}
	if !known {
		return adapter.PaymentApplication{}, badInput([]string{"status"}, "payment application status %q cannot be set", status)
	}
	body := map[string]any{"project_id": projectID, "payment_application": map[string]string{"status": wireEnum(status)}}
	resp, err := c.do(ctx, call{what: "update payment application status", method: http.MethodPatch,
		path: pathf("/rest/v1.0/prime_contracts/%d/payment_applications/%d", primeContractID, id), body: body})
	if err != nil {
		return adapter.PaymentApplication{}, err
	}
	var w wirePaymentApplication
	if decodeBody(resp.body, &w) == nil && int64(w.ID) == id {
		return w.paymentApplication(projectID, primeContractID), nil
	}
	apps, err := c.PaymentApplications(ctx, projectID, primeContractID)
	if err != nil {
		return adapter.PaymentApplication{}, err
	}
	for _, a := range apps {
		if a.ID == id {
			return a, nil
		}
	}
	return adapter.PaymentApplication{}, notFoundItem("payment application", id)
}
