package rest

// Commitment change orders against the sandbox: the v1.0 create carries the
// contract's keys only (no line_items, which Procore's v1.0 change_order does
// not take), the amount travels as a v2.0 change order line item and the
// change order's grand total reads back from it; a step failing after the
// create still returns the change order; 3-tier projects have none.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/contract"
	"procoregraph/sandbox/data"
)

// recordingTransport is a base transport that records every /rest request
// the adapter sends (method, path, query, JSON body) and lets a test answer
// chosen ones instead of the sandbox.
type recordingTransport struct {
	next   http.RoundTripper
	answer func(r sentRequest) *http.Response // nil: the sandbox answers

	mu   sync.Mutex
	reqs []sentRequest
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/rest/") {
		return rt.next.RoundTrip(r)
	}
	s := sentRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			_ = json.Unmarshal(b, &s.Body)
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, s)
	rt.mu.Unlock()
	if rt.answer != nil {
		if resp := rt.answer(s); resp != nil {
			resp.Request = r
			return resp, nil
		}
	}
	return rt.next.RoundTrip(r)
}

// sent returns the recorded requests of method whose path ends with suffix.
func (rt *recordingTransport) sent(method, suffix string) []sentRequest {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []sentRequest
	for _, r := range rt.reqs {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func jsonResponse(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// startChangeOrderE2E starts a sandbox (Config.Contract mode) of five
// projects, the fifth with 3-tier change management, and a Client whose
// requests rt records.
func startChangeOrderE2E(t *testing.T, mode string) (*e2e, *recordingTransport) {
	t.Helper()
	rt := &recordingTransport{next: baseTransport()}
	e := startE2E(t, sandbox.Config{Contract: mode, HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 2}},
		func(c *Config) { c.HTTPClient = &http.Client{Transport: rt} })
	return e, rt
}

// costCodedCommitment is a commitment of the e2e project whose first line
// has a cost code, with that line's WBS code.
func costCodedCommitment(t *testing.T, e *e2e) (commitment, wbs int64) {
	t.Helper()
	e.read(func(_ *data.Dataset, p *data.Project) {
		for _, c := range p.Commitments {
			if len(c.LineItems) > 0 && c.LineItems[0].CostCodeID != 0 {
				commitment, wbs = c.ID, data.WBSCodeOf(c.LineItems[0].CostCodeID)
				return
			}
		}
	})
	if commitment == 0 {
		t.Fatal("no commitment with a cost-coded first line")
	}
	return commitment, wbs
}

func changeOrderInData(e *e2e, projectID, id int64) (co data.ChangeOrder, found bool) {
	e.run.ReadDataset(func(ds *data.Dataset) {
		if x := ds.Project(projectID).ChangeOrder(id); x != nil {
			co, found = *x, true
			co.Lines = slices.Clone(x.Lines)
		}
	})
	return co, found
}

func TestChangeOrderAmountIsAV2LineItemAndTheGrandTotalReadsBack(t *testing.T) {
	// Enforcing: a request outside Procore's contract would be refused.
	e, rt := startChangeOrderE2E(t, sandbox.ContractEnforce)
	ctx, pid := context.Background(), e.projectID
	commitment, wbs := costCodedCommitment(t, e)
	amount := decimal.RequireFromString("-250.75")
	due := adapter.Date{Year: 2031, Month: 5, Day: 17}

	co, err := e.client.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: commitment, Number: "CO-77", Title: "Credit for deleted work",
		Status: adapter.ChangeOrderApproved, Description: "Deleted grid C bracing", DueDate: &due, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	if co.ID == 0 || co.CommitmentID != commitment || co.Status != adapter.ChangeOrderApproved || !co.GrandTotal.Equal(amount) {
		t.Fatalf("created %+v, want an approved change order of commitment %d with grand total %s", co, commitment, amount)
	}

	t.Run("TheV1CreateSendsOnlyTheContractsKeysAndNoLineItems", func(t *testing.T) {
		creates := rt.sent(http.MethodPost, "/commitment_change_orders")
		if len(creates) != 1 {
			t.Fatalf("%d v1.0 creates, want 1", len(creates))
		}
		body := creates[0].Body
		inner, _ := body["change_order"].(map[string]any)
		if len(body) != 1 || inner == nil {
			t.Fatalf("v1.0 create body %v, want {change_order: {...}} only", body)
		}
		if _, ok := inner["line_items"]; ok {
			t.Fatalf("the v1.0 create sent line_items: %v", inner)
		}
		op, _ := opByName(contract.Must(), "RestV10ProjectsProjectIdCommitmentChangeOrdersPost")
		allowed := op.Body.Wrappers["change_order"].Allowed
		for k := range inner {
			if !slices.Contains(allowed, k) {
				t.Errorf("change_order.%s is not a key of Procore's v1.0 create", k)
			}
		}
		// Created in draft: Procore locks an approved change order's amounts.
		if inner["status"] != "draft" || inner["contract_id"] != float64(commitment) || inner["number"] != "CO-77" || inner["due_date"] != "2031-05-17" {
			t.Errorf("v1.0 create %v", inner)
		}
	})
	t.Run("TheV2LineItemCarriesTheAmountOnTheCommitmentsWBSCode", func(t *testing.T) {
		lines := rt.sent(http.MethodPost, "/commitment_change_orders/"+strconv.FormatInt(co.ID, 10)+"/line_items")
		if len(lines) != 1 {
			t.Fatalf("%d v2.0 line items, want 1", len(lines))
		}
		want := "/rest/v2.0/companies/" + strconv.FormatInt(e.companyID, 10) + "/projects/" + strconv.FormatInt(pid, 10) + "/commitment_change_orders/" + strconv.FormatInt(co.ID, 10) + "/line_items"
		body := lines[0].Body
		if lines[0].Path != want || body["amount"] != "-250.75" || body["wbs_code_id"] != strconv.FormatInt(wbs, 10) || body["description"] != "Credit for deleted work" || len(body) != 3 {
			t.Fatalf("v2.0 line item %s, want %s {amount: \"-250.75\", wbs_code_id: \"%d\", description}", lines[0], want, wbs)
		}
		stored, ok := changeOrderInData(e, pid, co.ID)
		if !ok || len(stored.Lines) != 1 || stored.Lines[0].Amount.String() != "-250.75" || data.WBSCodeOf(stored.Lines[0].CostCodeID) != wbs {
			t.Fatalf("the sandbox holds %+v, want one line of -250.75 on WBS code %d", stored, wbs)
		}
		// The status is set last, after the amount.
		if n := len(rt.sent(http.MethodPatch, "/commitment_change_orders/"+strconv.FormatInt(co.ID, 10))); n != 1 {
			t.Fatalf("%d status updates, want 1", n)
		}
	})
	t.Run("TheGrandTotalReadsBack", func(t *testing.T) {
		list, err := e.client.ChangeOrders(ctx, pid, &commitment)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(x adapter.ChangeOrder) bool { return x.ID == co.ID })
		if i < 0 || list[i].Status != adapter.ChangeOrderApproved || !list[i].GrandTotal.Equal(amount) || list[i].Title != "Credit for deleted work" {
			t.Fatalf("read back %+v, want approved with grand total %s", list, amount)
		}
	})
	t.Run("ADraftSkipsTheStatusUpdate", func(t *testing.T) {
		d, err := e.client.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: commitment, Amount: decimal.RequireFromString("10.10")})
		if err != nil || d.Status != adapter.ChangeOrderDraft || !d.GrandTotal.Equal(decimal.RequireFromString("10.10")) {
			t.Fatalf("%+v %v", d, err)
		}
		if n := len(rt.sent(http.MethodPatch, "/commitment_change_orders/"+strconv.FormatInt(d.ID, 10))); n != 0 {
			t.Fatalf("%d status updates of a draft, want 0", n)
		}
	})
	if v := e.run.Stats().ContractViolations; len(v) > 0 {
		t.Fatalf("contract violations: %v", v)
	}
}

// TestTheOldV1LineItemsRequestIsRefused: the request the adapter used to
// send (line_items inside the v1.0 change_order) is refused, enforcing or
// not, and creates nothing: the amount was silently dropped before.
func TestTheOldV1LineItemsRequestIsRefused(t *testing.T) {
	for _, mode := range []string{sandbox.ContractEnforce, sandbox.ContractRecord} {
		t.Run("mode="+mode, func(t *testing.T) {
			e, _ := startChangeOrderE2E(t, mode)
			commitment, _ := costCodedCommitment(t, e)
			var before int
			e.read(func(_ *data.Dataset, p *data.Project) { before = len(p.ChangeOrders) })
			old := map[string]any{"change_order": map[string]any{"contract_id": commitment, "title": "Added bracing", "status": "pending",
				"line_items": []map[string]string{{"amount": "2500.25", "description": "Added bracing"}}}}
			_, err := e.client.do(context.Background(), call{what: "create change order", method: http.MethodPost,
				path: "/rest/v1.0/projects/" + strconv.FormatInt(e.projectID, 10) + "/commitment_change_orders", body: old})
			var ae *adapter.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || ae.Code != adapter.CodeBadUserInput ||
				len(ae.Fields) != 1 || strings.Join(ae.Fields[0].Field, ".") != "change_order.line_items" {
				t.Fatalf("the old request: %#v, want 422 BAD_USER_INPUT on change_order.line_items", err)
			}
			var after int
			e.read(func(_ *data.Dataset, p *data.Project) { after = len(p.ChangeOrders) })
			if after != before {
				t.Fatalf("%d change orders after the refused request, want %d", after, before)
			}
		})
	}
}

// TestChangeOrderIsDeletedAgainWhenALaterStepFails: the change order is
// created first, so when its line item or its status fails Procore holds a
// draft nobody asked for; the adapter deletes it again and reports the
// failure, leaving nothing half-written.
func TestChangeOrderIsDeletedAgainWhenALaterStepFails(t *testing.T) {
	for _, c := range []struct {
		name, failing, body string
		status              int
		code                adapter.Code
		fields              []string
	}{
		{"LineItemProcoreUnavailable", "/line_items", `{"error":{"code":"INTERNAL_SERVER_ERROR","message":"boom"}}`, 500, adapter.CodeUpstreamUnavailable, nil},
		{"LineItemRefused", "/line_items", `{"error":{"code":"BAD_REQUEST","message":"Invalid line item","details":[{"reason_code":"INVALID","message":"is invalid","source":"wbs_code_id"}]}}`,
			400, adapter.CodeBadUserInput, []string{"amount"}},
		{"StatusRefused", "PATCH", `{"errors":{"status":["is not included in the list"]}}`, 422, adapter.CodeBadUserInput, []string{"status"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, rt := startChangeOrderE2E(t, sandbox.ContractEnforce)
			rt.answer = func(r sentRequest) *http.Response {
				if (c.failing == "PATCH" && r.Method == http.MethodPatch) || (r.Method == http.MethodPost && strings.HasSuffix(r.Path, c.failing)) {
					return jsonResponse(c.status, c.body)
				}
				return nil
			}
			commitment, _ := costCodedCommitment(t, e)
			co, err := e.client.CreateChangeOrder(context.Background(), e.projectID, adapter.ChangeOrderCreate{CommitmentID: commitment,
				Title: "Added bracing", Status: adapter.ChangeOrderApproved, Amount: decimal.RequireFromString("2500.25")})
			var ae *adapter.Error
			if co.ID != 0 || !errors.As(err, &ae) || ae.Code != c.code || !strings.Contains(ae.Message, "not created") {
				t.Fatalf("got %+v, %v; want no change order and a %s error saying none was created", co, err, c.code)
			}
			var fields []string
			for _, f := range ae.Fields {
				fields = append(fields, strings.Join(f.Field, "."))
			}
			if !slices.Equal(fields, c.fields) {
				t.Fatalf("error fields %v, want %v", fields, c.fields)
			}
			created := rt.sent(http.MethodPost, "/commitment_change_orders")
			deleted := rt.sent(http.MethodDelete, "")
			if len(created) != 1 || len(deleted) != 1 {
				t.Fatalf("%d creates and %d deletes, want 1 and 1", len(created), len(deleted))
			}
			var left int
			e.read(func(_ *data.Dataset, p *data.Project) {
				for _, x := range p.ChangeOrders {
					if x.ContractID == commitment && x.Title == "Added bracing" {
						left++
					}
				}
			})
			if left != 0 {
				t.Fatalf("%d change orders left in the sandbox after the rollback, want 0", left)
			}
		})
	}
}

// TestChangeOrderIsReturnedWhenItCannotBeDeletedAgain: when the delete
// fails too, the change order stays in Procore; the error says so and the
// returned change order carries its id, so the caller can find it.
func TestChangeOrderIsReturnedWhenItCannotBeDeletedAgain(t *testing.T) {
	e, rt := startChangeOrderE2E(t, sandbox.ContractEnforce)
	rt.answer = func(r sentRequest) *http.Response {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/line_items"):
			return jsonResponse(400, `{"error":{"code":"BAD_REQUEST","message":"Invalid line item","details":[{"reason_code":"INVALID","message":"is invalid","source":"wbs_code_id"}]}}`)
		case r.Method == http.MethodDelete:
			return jsonResponse(403, `{"errors":"You do not have permission to delete this change order"}`)
		}
		return nil
	}
	commitment, _ := costCodedCommitment(t, e)
	co, err := e.client.CreateChangeOrder(context.Background(), e.projectID, adapter.ChangeOrderCreate{CommitmentID: commitment,
		Title: "Added bracing", Status: adapter.ChangeOrderApproved, Amount: decimal.RequireFromString("2500.25")})
	var ae *adapter.Error
	if co.ID == 0 || !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput || !strings.Contains(ae.Message, "was created") {
		t.Fatalf("got %+v, %v; want the created change order and BAD_USER_INPUT saying it was created", co, err)
	}
	if len(ae.Fields) != 1 || !slices.Equal(ae.Fields[0].Field, []string{"amount"}) {
		t.Fatalf("error fields %+v, want amount", ae.Fields)
	}
	stored, ok := changeOrderInData(e, e.projectID, co.ID)
	if !ok || stored.Status != "draft" || len(stored.Lines) != 0 || co.Status != adapter.ChangeOrderDraft || !co.GrandTotal.IsZero() {
		t.Fatalf("returned %+v, sandbox holds %+v (found %v): want the draft change order without lines in both", co, stored, ok)
	}
	if n := len(rt.sent(http.MethodPatch, "/commitment_change_orders/"+strconv.FormatInt(co.ID, 10))); n != 0 {
		t.Fatalf("the status was set after the amount failed (%d updates)", n)
	}
}

func TestChangeOrderNeedsACommitmentLineWithAWBSCode(t *testing.T) {
	e, rt := startChangeOrderE2E(t, sandbox.ContractEnforce)
	ctx := context.Background()
	bare, err := e.client.CreateCommitment(ctx, e.projectID, adapter.CommitmentCreate{Kind: adapter.CommitmentPurchaseOrder, Title: "Bolts",
		LineItems: []adapter.CommitmentLineItemInput{{Description: "Bolts", Amount: decimal.NewFromInt(100)}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CreateChangeOrder(ctx, e.projectID, adapter.ChangeOrderCreate{CommitmentID: bare.ID, Amount: decimal.NewFromInt(5)})
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) != 1 || ae.Fields[0].Field[0] != "commitmentId" {
		t.Fatalf("%v, want BAD_USER_INPUT on commitmentId", err)
	}
	if n := len(rt.sent(http.MethodPost, "/commitment_change_orders")); n != 0 {
		t.Fatalf("%d change orders created for a commitment without a WBS-coded line, want 0", n)
	}
}

func TestThreeTierProjectChangeOrdersArePackages(t *testing.T) {
	e, rt := startChangeOrderE2E(t, sandbox.ContractEnforce)
	ctx := context.Background()
	var pid, commitment int64
	var before int
	e.run.ReadDataset(func(ds *data.Dataset) {
		for _, p := range ds.Projects {
			if !p.ThreeTierChangeOrders() {
				continue
			}
			for _, c := range p.Commitments {
				if len(c.LineItems) > 0 && c.LineItems[0].CostCodeID != 0 {
					pid, commitment, before = p.ID, c.ID, len(p.ChangeOrders)
					return
				}
			}
		}
	})
	if pid == 0 || before == 0 {
		t.Fatal("no 3-tier project with a cost-coded commitment and change orders in the dataset")
	}

	t.Run("TheListIsTheCommitmentsPackages", func(t *testing.T) {
		// Procore refuses the commitment change order list; the change
		// orders are the packages naming a commitment as contract_id (the
		// dataset's change orders), without the prime contract's packages.
		want := map[int64]int64{} // change order id -> commitment id
		e.run.ReadDataset(func(ds *data.Dataset) {
			for _, co := range ds.Project(pid).ChangeOrders {
				want[co.ID] = co.ContractID
			}
		})
		for _, only := range []*int64{nil, &commitment} {
			list, err := e.client.ChangeOrders(ctx, pid, only)
			n := 0
			for _, c := range want {
				if only == nil || c == *only {
					n++
				}
			}
			if err != nil || len(list) != n || n == 0 {
				t.Fatalf("ChangeOrders(%v) = %+v, %v; want %d change orders", only, list, err, n)
			}
			for _, co := range list {
				if c, ok := want[co.ID]; !ok || c != co.CommitmentID || (only != nil && co.CommitmentID != *only) {
					t.Errorf("ChangeOrders(%v): %+v, want commitment %d (known: %v)", only, co, c, ok)
				}
			}
		}
		if n := e.calls.status(http.StatusUnprocessableEntity); n != 2 {
			t.Fatalf("%d 422 answers, want Procore's refusal of both lists", n)
		}
	})
	t.Run("ACreateIsABadUserInputSayingWhy", func(t *testing.T) {
		_, err := e.client.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: commitment, Amount: decimal.NewFromInt(5)})
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput || ae.Message != ThreeTierChangeOrdersMessage || len(ae.Fields) != 0 {
			t.Fatalf("%#v, want BAD_USER_INPUT %q", err, ThreeTierChangeOrdersMessage)
		}
		var after int
		e.run.ReadDataset(func(ds *data.Dataset) { after = len(ds.Project(pid).ChangeOrders) })
		if after != before || len(rt.sent(http.MethodPost, "/line_items")) != 0 {
			t.Fatalf("a change order or line item was created on the 3-tier project")
		}
	})
	t.Run("OtherProjectsStillList", func(t *testing.T) {
		list, err := e.client.ChangeOrders(ctx, e.projectID, nil)
		var want int
		e.read(func(_ *data.Dataset, p *data.Project) { want = len(p.ChangeOrders) })
		if err != nil || len(list) != want {
			t.Fatalf("%d change orders, %v; want %d", len(list), err, want)
		}
	})
}
