package sandbox_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// changeOrderEnv is a sandbox whose fifth project uses 3-tier change
// management, with a commitment of the first project whose first line has
// a cost code.
type changeOrderEnv struct {
	*env
	p, threeTier *data.Project
	contract     *data.Commitment
	wbs          string // the WBS code of the contract's first line
}

func startChangeOrders(t *testing.T, cfg sandbox.Config) *changeOrderEnv {
	t.Helper()
	cfg.Data = data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 2}
	e := &changeOrderEnv{env: start(t, cfg)}
	e.p = e.ds().Projects[0]
	for _, p := range e.ds().Projects {
		if p.ThreeTierChangeOrders() {
			e.threeTier = p
		}
	}
	for _, c := range e.p.Commitments {
		if len(c.LineItems) > 0 && c.LineItems[0].CostCodeID != 0 {
			e.contract = c
			e.wbs = strconv.FormatInt(data.WBSCodeOf(c.LineItems[0].CostCodeID), 10)
			break
		}
	}
	if e.threeTier == nil || e.contract == nil || e.p.ThreeTierChangeOrders() {
		t.Fatal("dataset without a 3-tier project, or without a cost-coded commitment on a 1/2-tier project")
	}
	return e
}

func (e *changeOrderEnv) changeOrders(p *data.Project) string {
	return fmt.Sprintf("/rest/v1.0/projects/%d/commitment_change_orders", p.ID)
}

func (e *changeOrderEnv) lineItems(p *data.Project, changeOrder any) string {
	return fmt.Sprintf("/rest/v2.0/companies/%d/projects/%d/commitment_change_orders/%v/line_items", e.company(), p.ID, changeOrder)
}

func (e *changeOrderEnv) create(t *testing.T, co map[string]any) (id int64, grandTotal string) {
	t.Helper()
	r := e.call("POST", e.changeOrders(e.p), e.company(), map[string]any{"change_order": co})
	expectStatus(t, r, http.StatusCreated)
	var out struct {
		ID         int64  `json:"id"`
		GrandTotal string `json:"grand_total"`
	}
	r.json(t, &out)
	return out.ID, out.GrandTotal
}

func (e *changeOrderEnv) listed(t *testing.T, id int64) (status, grandTotal string) {
	t.Helper()
	r := e.get(e.changeOrders(e.p) + "?filters[id]=" + strconv.FormatInt(id, 10))
	expectStatus(t, r, http.StatusOK)
	var out []struct {
		ID         int64  `json:"id"`
		Status     string `json:"status"`
		GrandTotal string `json:"grand_total"`
	}
	r.json(t, &out)
	for _, x := range out {
		if x.ID == id {
			return x.Status, x.GrandTotal
		}
	}
	t.Fatalf("change order %d is not listed: %s", id, r.body)
	return "", ""
}

func TestChangeOrderGrandTotalIsTheSumOfItsV2LineItems(t *testing.T) {
	// Recording, not enforcing: the handler answers the invalid lines below
	// itself (enforcing, the contract check would answer a missing
	// wbs_code_id first).
	e := startChangeOrders(t, sandbox.Config{Contract: sandbox.ContractRecord})
	id, total := e.create(t, map[string]any{"contract_id": e.contract.ID, "title": "Added bracing", "status": "pending"})
	if total != "0.00" {
		t.Fatalf("a new change order's grand total is %s, want 0.00 (no lines)", total)
	}

	// Ids and money as strings, as Procore's v2.0 spec types them, or as numbers.
	r := e.call("POST", e.lineItems(e.p, id), e.company(), map[string]any{"wbs_code_id": e.wbs, "amount": "1200.50", "description": "Bracing"})
	expectStatus(t, r, http.StatusOK)
	var line struct {
		Data struct {
			ID        string `json:"id"`
			Amount    string `json:"amount"`
			WBSCodeID string `json:"wbs_code_id"`
		} `json:"data"`
	}
	r.json(t, &line)
	if line.Data.ID == "" || line.Data.Amount != "1200.50" || line.Data.WBSCodeID != e.wbs {
		t.Fatalf("line item answer %s: want {data: {id: string, amount 1200.50, wbs_code_id %s}}", r.body, e.wbs)
	}
	wbs, _ := strconv.ParseInt(e.wbs, 10, 64)
	expectStatus(t, e.call("POST", e.lineItems(e.p, id), e.company(), map[string]any{"wbs_code_id": wbs, "amount": -200.25}), http.StatusOK)
	if st, total := e.listed(t, id); st != "pending" || total != "1000.25" {
		t.Fatalf("listed as %s with grand total %s, want pending 1000.25", st, total)
	}
	if got := e.run.Stats().ContractViolations; len(got) > 0 {
		t.Fatalf("contract violations: %v", got)
	}

	t.Run("AnApprovedChangeOrderIsLocked", func(t *testing.T) {
		r := e.call("PATCH", e.changeOrders(e.p)+"/"+strconv.FormatInt(id, 10), e.company(), map[string]any{"change_order": map[string]any{"status": "approved"}})
		expectStatus(t, r, http.StatusOK)
		r = e.call("POST", e.lineItems(e.p, id), e.company(), map[string]any{"wbs_code_id": e.wbs, "amount": "5.00"})
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), `"code":"BAD_REQUEST"`) || !strings.Contains(string(r.body), "locked") {
			t.Fatalf("a line on an approved change order: %s", r.body)
		}
		if st, total := e.listed(t, id); st != "approved" || total != "1000.25" {
			t.Fatalf("listed as %s with grand total %s, want approved 1000.25", st, total)
		}
	})

	t.Run("InvalidLinesAreRefusedNamingTheKey", func(t *testing.T) {
		draft, _ := e.create(t, map[string]any{"contract_id": e.contract.ID})
		for _, c := range []struct {
			name   string
			body   map[string]any
			status int
			want   string
		}{
			{"NoWBSCode", map[string]any{"amount": "5.00"}, 400, `"source":"wbs_code_id"`},
			{"UnknownWBSCode", map[string]any{"wbs_code_id": "1", "amount": "5.00"}, 400, `"message":"is invalid","source":"wbs_code_id"`},
			{"NoAmount", map[string]any{"wbs_code_id": e.wbs}, 400, `"source":"amount"`},
			{"ThreeDecimals", map[string]any{"wbs_code_id": e.wbs, "amount": "1.005"}, 400, `"source":"amount"`},
		} {
			r := e.call("POST", e.lineItems(e.p, draft), e.company(), c.body)
			if r.status != c.status || !strings.Contains(string(r.body), c.want) {
				t.Errorf("%s: %d %s, want %d with %s", c.name, r.status, r.body, c.status, c.want)
			}
		}
		if r := e.call("POST", e.lineItems(e.p, 1), e.company(), map[string]any{"wbs_code_id": e.wbs, "amount": "5"}); r.status != http.StatusNotFound {
			t.Errorf("an unknown change order: %d %s", r.status, r.body)
		}
		other := strings.Replace(e.lineItems(e.p, draft), "/companies/"+strconv.FormatInt(e.company(), 10)+"/", "/companies/1/", 1)
		if r := e.call("POST", other, e.company(), map[string]any{"wbs_code_id": e.wbs, "amount": "5"}); r.status != http.StatusNotFound {
			t.Errorf("another company in the path: %d %s", r.status, r.body)
		}
		if _, total := e.listed(t, draft); total != "0.00" {
			t.Errorf("refused lines changed the grand total to %s", total)
		}
	})
}

func TestV1ChangeOrderLineItemsAreRefusedInEveryContractMode(t *testing.T) {
	for _, mode := range []string{sandbox.ContractRecord, sandbox.ContractEnforce, sandbox.ContractOff} {
		t.Run("mode="+mode, func(t *testing.T) {
			e := startChangeOrders(t, sandbox.Config{Contract: mode})
			before := len(e.p.ChangeOrders)
			r := e.call("POST", e.changeOrders(e.p), e.company(), map[string]any{"change_order": map[string]any{
				"contract_id": e.contract.ID, "title": "t", "line_items": []any{map[string]any{"amount": "5.00"}}}})
			if r.status != http.StatusUnprocessableEntity || string(r.body) != `{"errors":{"change_order.line_items":["is not a permitted parameter"]}}` {
				t.Fatalf("a change order with line_items: %d %s, want the contract's 422", r.status, r.body)
			}
			if n := len(e.ds().Project(e.p.ID).ChangeOrders); n != before {
				t.Fatalf("%d change orders after the refusal, want %d", n, before)
			}
		})
	}
}

func TestThreeTierProjectRefusesCommitmentChangeOrders(t *testing.T) {
	e := startChangeOrders(t, sandbox.Config{Contract: sandbox.ContractEnforce})
	p := e.threeTier
	var contract *data.Commitment
	for _, c := range p.Commitments {
		contract = c
		break
	}
	if contract == nil || len(p.ChangeOrders) == 0 {
		t.Fatal("the 3-tier project has no commitment or no change orders to hide")
	}
	before := len(p.ChangeOrders)
	refusedV1 := func(name string, r reply) {
		t.Helper()
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "this project uses 3 tiers") {
			t.Errorf("%s on a 3-tier project: %d %s, want 422 naming the tiers", name, r.status, r.body)
		}
	}
	refusedV1("the list", e.get(e.changeOrders(p)))
	refusedV1("a create", e.call("POST", e.changeOrders(p), e.company(), map[string]any{"change_order": map[string]any{"contract_id": contract.ID}}))
	refusedV1("an update", e.call("PATCH", e.changeOrders(p)+"/"+strconv.FormatInt(p.ChangeOrders[0].ID, 10), e.company(),
		map[string]any{"change_order": map[string]any{"status": "void"}}))
	r := e.call("POST", e.lineItems(p, p.ChangeOrders[0].ID), e.company(), map[string]any{"wbs_code_id": "1", "amount": "5"})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "this project uses 3 tiers") {
		t.Errorf("a v2.0 line item on a 3-tier project: %d %s, want 400 naming the tiers", r.status, r.body)
	}
	if n := len(e.ds().Project(p.ID).ChangeOrders); n != before || p.ChangeOrders[0].Status == "void" {
		t.Errorf("the refusals changed the project's change orders")
	}
	expectStatus(t, e.get(e.changeOrders(e.p)), http.StatusOK)
	if got := e.run.Stats().ContractViolations; len(got) > 0 {
		t.Fatalf("contract violations: %v", got)
	}
}

func TestV2CommitmentContractLineItemsCarryWBSCodes(t *testing.T) {
	e := startChangeOrders(t, sandbox.Config{Contract: sandbox.ContractEnforce})
	var big *data.Commitment
	for _, c := range e.p.Commitments {
		if len(c.LineItems) > 3 {
			big = c
			break
		}
	}
	if big == nil {
		t.Fatal("no commitment with more than 3 lines")
	}
	path := fmt.Sprintf("/rest/v2.0/companies/%d/projects/%d/commitment_contracts/%d/line_items?per_page=3", e.company(), e.p.ID, big.ID)
	r := e.get(path)
	expectStatus(t, r, http.StatusOK)
	var out struct {
		Data []struct {
			ID        string  `json:"id"`
			Amount    string  `json:"amount"`
			WBSCodeID *string `json:"wbs_code_id"`
		} `json:"data"`
	}
	r.json(t, &out)
	if len(out.Data) != 3 || r.header.Get("Total") != strconv.Itoa(len(big.LineItems)) || links(r.header.Get("Link"))["next"] == "" {
		t.Fatalf("per_page=3 of %d lines: %d rows, Total %s, Link %s", len(big.LineItems), len(out.Data), r.header.Get("Total"), r.header.Get("Link"))
	}
	for i, row := range out.Data {
		li := big.LineItems[i]
		want := strconv.FormatInt(data.WBSCodeOf(li.CostCodeID), 10)
		if row.ID != strconv.FormatInt(li.ID, 10) || row.Amount != li.Amount.String() || li.CostCodeID != 0 && (row.WBSCodeID == nil || *row.WBSCodeID != want) {
			t.Errorf("row %d: %+v, want line %d amount %s WBS %s", i, row, li.ID, li.Amount, want)
		}
	}
	r = e.get(fmt.Sprintf("/rest/v2.0/companies/%d/projects/%d/commitment_contracts/1/line_items", e.company(), e.p.ID))
	if r.status != http.StatusNotFound || !strings.Contains(string(r.body), `"code":"NOT_FOUND"`) {
		t.Errorf("an unknown commitment: %d %s", r.status, r.body)
	}
}
