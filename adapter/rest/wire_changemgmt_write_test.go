package rest

// Change management writes: the exact requests (Procore's published keys,
// no more) against a recording fake, and the sandbox refusing keys Procore
// does not publish.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// Contract: POST /rest/v1.0/change_events takes project_id in the query
// (required) and {"change_event": {change_event_status_id (required),
// event_scope (required), title, rfi_id, change_event_line_items_attributes
// [{description, cost_code_id, estimated_cost_amount}]}}; the status id comes
// from GET /rest/v1.0/change_event/statuses?project_id=. The description
// (no v1.0 key) is PATCH /rest/v1.1/change_events/{id}?project_id= with
// {"change_event": {"description"}}.
func TestCreateChangeEventSendsThePublishedKeys(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		switch r.Method + " " + r.Path {
		case "GET /rest/v1.0/change_event/statuses":
			return []map[string]any{{"id": 70, "name": "Open", "mapped_to_status": "open", "default_status": true},
				{"id": 71, "name": "Pending", "mapped_to_status": "pending"}}
		case "POST /rest/v1.0/change_events":
			return map[string]any{"id": 501, "alphanumeric_number": "7", "title": "Footing", "status": "pending", "event_scope": "in_scope",
				"change_event_line_items": []map[string]any{{"id": 601, "description": "Dig", "cost_code_id": 33, "estimated_cost_amount": "1250.10"}}}
		case "PATCH /rest/v1.1/change_events/501":
			return map[string]any{"id": 501}
		}
		return nil
	})
	c := newTestClient(t, l.URL, nil)
	cc, rfi := int64(33), int64(44)
	ev, err := c.CreateChangeEvent(context.Background(), 9, adapter.ChangeEventCreate{Title: "Footing", Description: "At grid C4", Status: adapter.ChangeEventPending,
		Scope: adapter.ScopeInScope, RFIID: &rfi, LineItems: []adapter.ChangeEventLineCreate{
			{Description: "Dig", CostCodeID: &cc, EstimatedCost: decimal.RequireFromString("1250.10")},
			{Description: "Credit", EstimatedCost: decimal.RequireFromString("-300")}}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != 501 || ev.Status != adapter.ChangeEventPending || len(ev.LineItems) != 1 {
		t.Fatalf("change event %+v", ev)
	}
	expectQuery(t, l.only(t, "GET", "/rest/v1.0/change_event/statuses"), map[string]string{"project_id": "9"})
	r := l.only(t, "POST", "/rest/v1.0/change_events")
	expectQuery(t, r, map[string]string{"project_id": "9"})
	expectBody(t, r, `{"change_event": {"title": "Footing", "change_event_status_id": 71, "event_scope": "in_scope", "rfi_id": 44,
		"change_event_line_items_attributes": [{"description": "Dig", "cost_code_id": 33, "estimated_cost_amount": "1250.1"},
			{"description": "Credit", "estimated_cost_amount": "-300"}]}}`)
	r = l.only(t, "PATCH", "/rest/v1.1/change_events/501")
	expectQuery(t, r, map[string]string{"project_id": "9"})
	expectBody(t, r, `{"change_event": {"description": "At grid C4"}}`)
	if n := len(l.all()); n != 3 || ev.Description != "At grid C4" {
		t.Fatalf("%d requests (want 3: %v), description %q", n, l.all(), ev.Description)
	}
}

// Contract: POST /rest/v1.0/potential_change_orders takes project_id,
// contract_id and change_order in the body; each line is POST
// /rest/v1.0/potential_change_orders/{id}/line_items with project_id and
// line_item {description, amount, cost_code_id} (no key names the change
// event line).
func TestCreatePotentialChangeOrderSendsThePublishedKeys(t *testing.T) {
	next := 900
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		switch r.Method + " " + r.Path {
		case "POST /rest/v1.0/potential_change_orders":
			return map[string]any{"id": 800, "number": "3", "title": "PCO", "status": "draft", "grand_total": "0.00"}
		case "POST /rest/v1.0/potential_change_orders/800/line_items":
			next++
			li, _ := r.Body["line_item"].(map[string]any)
			return map[string]any{"id": next, "amount": li["amount"]}
		}
		return nil
	})
	c := newTestClient(t, l.URL, nil)
	cc := int64(33)
	pco, err := c.CreatePotentialChangeOrder(context.Background(), 9, adapter.PotentialChangeOrderCreate{ContractID: 12, Title: "PCO",
		LineItems: []adapter.PCOLineCreate{{ChangeEventLineID: 601, Description: "Dig", CostCodeID: &cc, Amount: decimal.RequireFromString("1250.10")},
			{ChangeEventLineID: 602, Description: "Credit", Amount: decimal.RequireFromString("-250.25")}}})
	if err != nil {
		t.Fatal(err)
	}
	if pco.ID != 800 || pco.GrandTotal.String() != "999.85" {
		t.Fatalf("PCO %+v, want id 800 and grand total 999.85", pco)
	}
	r := l.only(t, "POST", "/rest/v1.0/potential_change_orders")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"project_id": 9, "contract_id": 12, "change_order": {"title": "PCO"}}`)
	lines := l.sent("POST", "/rest/v1.0/potential_change_orders/800/line_items")
	if len(lines) != 2 {
		t.Fatalf("%d line item requests, want 2", len(lines))
	}
	expectQuery(t, lines[0], map[string]string{})
	expectBody(t, lines[0], `{"project_id": 9, "line_item": {"description": "Dig", "amount": "1250.1", "cost_code_id": 33}}`)
	expectBody(t, lines[1], `{"project_id": 9, "line_item": {"description": "Credit", "amount": "-250.25"}}`)
}

// The sandbox refuses keys Procore does not publish: a change event line item
// key outside change_event_line_items_attributes' published ones, and a
// change_event_line_item_id on a PCO line item (the contract has none);
// nothing is stored.
func TestSandboxRefusesChangeManagementKeysProcoreDoesNotPublish(t *testing.T) {
	e := startE2E(t, sandbox.Config{Contract: sandbox.ContractEnforce, HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 2}}, nil)
	var twoTier, pco, events int64
	var lines int
	e.run.ReadDataset(func(ds *data.Dataset) {
		for _, p := range ds.Projects {
			if p.ChangeOrderTiers == 2 && len(p.ChangeMgmt.PCOs) > 0 {
				twoTier, pco, lines, events = p.ID, p.ChangeMgmt.PCOs[0].ID, len(p.ChangeMgmt.PCOs[0].Lines), int64(len(p.ChangeMgmt.Events))
			}
		}
	})
	if twoTier == 0 {
		t.Fatal("no 2-tier project with PCOs")
	}
	ctx := context.Background()
	refused := func(t *testing.T, err error) {
		t.Helper()
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput {
			t.Fatalf("%#v, want BAD_USER_INPUT", err)
		}
	}
	t.Run("ChangeEventLineKey", func(t *testing.T) {
		_, err := e.client.do(ctx, call{what: "create change event", method: http.MethodPost, path: "/rest/v1.0/change_events",
			query: projectQuery(twoTier), body: map[string]any{"change_event": map[string]any{"change_event_status_id": 1, "event_scope": "tbd",
				"change_event_line_items_attributes": []map[string]any{{"description": "x", "estimated_cost_amount": "1", "amount": "1"}}}}})
		refused(t, err)
	})
	t.Run("PCOLineNamingAChangeEventLine", func(t *testing.T) {
		_, err := e.client.do(ctx, call{what: "create potential change order line item", method: http.MethodPost,
			path: "/rest/v1.0/potential_change_orders/" + strconv.FormatInt(pco, 10) + "/line_items",
			body: map[string]any{"project_id": twoTier, "line_item": map[string]any{"amount": "1", "change_event_line_item_id": 5}}})
		refused(t, err)
		if n := e.run.Stats().ContractViolations["RestV10PotentialChangeOrdersPotentialChangeOrderIdLineItemsPost unknown-body-key line_item.change_event_line_item_id"]; n != 1 {
			t.Fatalf("contract violations %v, want the change_event_line_item_id key once", e.run.Stats().ContractViolations)
		}
	})
	t.Run("NothingWasStored", func(t *testing.T) {
		e.run.ReadDataset(func(ds *data.Dataset) {
			p := ds.Project(twoTier)
			if len(p.ChangeMgmt.Events) != int(events) || len(p.ChangeMgmt.PCOs[0].Lines) != lines {
				t.Fatalf("%d change events (want %d), %d PCO lines (want %d)", len(p.ChangeMgmt.Events), events, len(p.ChangeMgmt.PCOs[0].Lines), lines)
			}
		})
	})
}

// TestPCOLineFailureDeletesTheCreatedLinesAndVoidsThePCO: the second line
// fails after the first was created; the adapter deletes the first and voids
// the PCO (Procore publishes no PCO delete), returning no PCO.
func TestPCOLineFailureDeletesTheCreatedLinesAndVoidsThePCO(t *testing.T) {
	var lineCalls int
	var mu sync.Mutex
	rt := &recordingTransport{next: baseTransport(), answer: func(r sentRequest) *http.Response {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/line_items") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		lineCalls++
		if lineCalls == 2 {
			return jsonResponse(http.StatusInternalServerError, `{"errors":"boom"}`)
		}
		return nil
	}}
	e := startE2E(t, sandbox.Config{Contract: sandbox.ContractEnforce, HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 2}},
		func(c *Config) { c.HTTPClient = &http.Client{Transport: rt} })
	var project, contract int64
	var pcos int
	e.run.ReadDataset(func(ds *data.Dataset) {
		for _, p := range ds.Projects {
			if p.ChangeOrderTiers == 2 && len(p.PrimeContracts) > 0 {
				project, contract, pcos = p.ID, p.PrimeContracts[0].ID, len(p.ChangeMgmt.PCOs)
			}
		}
	})
	if project == 0 {
		t.Fatal("no 2-tier project with a prime contract")
	}
	got, err := e.client.CreatePotentialChangeOrder(context.Background(), project, adapter.PotentialChangeOrderCreate{ContractID: contract, Title: "Half",
		LineItems: []adapter.PCOLineCreate{{Description: "a", Amount: decimal.RequireFromString("10")}, {Description: "b", Amount: decimal.RequireFromString("20")}}})
	if err == nil || got.ID != 0 {
		t.Fatalf("PCO %+v, error %v; want no PCO and an error", got, err)
	}
	if n := len(rt.sent(http.MethodDelete, "")); n != 1 {
		t.Fatalf("%d deletes, want the first line's", n)
	}
	if n := len(rt.sent(http.MethodPatch, "")); n != 1 {
		t.Fatalf("%d updates, want the void", n)
	}
	e.run.ReadDataset(func(ds *data.Dataset) {
		p := ds.Project(project)
		if len(p.ChangeMgmt.PCOs) != pcos+1 {
			t.Fatalf("%d PCOs, want %d", len(p.ChangeMgmt.PCOs), pcos+1)
		}
		last := p.ChangeMgmt.PCOs[len(p.ChangeMgmt.PCOs)-1]
		if last.Title != "Half" || last.Status != "void" || len(last.Lines) != 0 {
			t.Fatalf("left-over PCO %+v, want void without lines", last)
		}
	})
}
