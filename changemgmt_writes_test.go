package main

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/mutate"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// cmWriteEnv is a sandbox with a 1-tier and a 2-tier project and a gateway
// over it (its API keys add a read-only one).
type cmWriteEnv struct {
	*mutationEnv
	oneTier, twoTier string
	costCode         string // a cost code of the 2-tier project
	rfi              string // an RFI of the 2-tier project
	oneTierLine      string // a change event line item of the 1-tier project
	contract         string // the 2-tier project's prime contract
}

func newCMWriteEnv(t *testing.T) *cmWriteEnv {
	t.Helper()
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 3}})
	env["API_KEYS"] += ";" + apiKeyEntry("bi-reader", "read", "", readKey)
	c := &cmWriteEnv{mutationEnv: &mutationEnv{sb: sb, env: env}}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			switch {
			case p.ChangeOrderTiers == 1 && c.oneTier == "" && len(p.ChangeMgmt.Events) > 0:
				c.oneTier, c.oneTierLine = id64(p.ID), id64(p.ChangeMgmt.Events[0].Lines[0].ID)
			case p.ChangeOrderTiers == 2 && c.twoTier == "" && len(p.CostCodes) > 0 && len(p.RFIs) > 0 && len(p.PrimeContracts) == 1:
				c.twoTier, c.costCode, c.rfi, c.contract = id64(p.ID), id64(p.CostCodes[0].ID), id64(p.RFIs[0].ID), id64(p.PrimeContracts[0].ID)
			}
		}
	})
	if c.oneTier == "" || c.twoTier == "" {
		t.Fatalf("dataset lacks a 1-tier project with change events (%q) or a 2-tier one with cost codes, RFIs and one prime contract (%q)", c.oneTier, c.twoTier)
	}
	c.project = c.twoTier
	c.gw = startGateway(t, env)
	return c
}

type cmWriteLine struct {
	ID            string  `json:"id"`
	Description   string  `json:"description"`
	CostCodeID    *string `json:"costCodeId"`
	EstimatedCost string  `json:"estimatedCost"`
}

type cmWriteEvent struct {
	ID          string        `json:"id"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Status      string        `json:"status"`
	Scope       string        `json:"scope"`
	RfiID       *string       `json:"rfiId"`
	LineItems   []cmWriteLine `json:"lineItems"`
}

const cmWriteEventSel = `id title description status scope rfiId lineItems { id description costCodeId estimatedCost }`

type cmWritePCO struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Status     string `json:"status"`
	GrandTotal string `json:"grandTotal"`
	LineItems  []struct {
		ID     string `json:"id"`
		Amount string `json:"amount"`
	} `json:"lineItems"`
}

const cmWritePCOSel = `id title status grandTotal lineItems { id amount }`

type createCEOut struct {
	C struct {
		ChangeEvent      *cmWriteEvent `json:"changeEvent"`
		UserErrors       []userError   `json:"userErrors"`
		ClientMutationID *string       `json:"clientMutationId"`
	} `json:"createChangeEvent"`
}

type createPCOOut struct {
	C struct {
		PCO              *cmWritePCO `json:"potentialChangeOrder"`
		UserErrors       []userError `json:"userErrors"`
		ClientMutationID *string     `json:"clientMutationId"`
	} `json:"createPotentialChangeOrder"`
}

const (
	createCEMutation  = `mutation($in: CreateChangeEventInput!) { createChangeEvent(input: $in) { changeEvent { ` + cmWriteEventSel + ` } ` + userErrorsSel + ` clientMutationId } }`
	createPCOMutation = `mutation($in: CreatePotentialChangeOrderInput!) { createPotentialChangeOrder(input: $in) { potentialChangeOrder { ` + cmWritePCOSel + ` } ` + userErrorsSel + ` clientMutationId } }`
)

func (c *cmWriteEnv) createCE(t *testing.T, in map[string]any) createCEOut {
	t.Helper()
	var out createCEOut
	c.do(t, createCEMutation, map[string]any{"in": in}, &out)
	return out
}

func (c *cmWriteEnv) createPCO(t *testing.T, in map[string]any) createPCOOut {
	t.Helper()
	var out createPCOOut
	c.do(t, createPCOMutation, map[string]any{"in": in}, &out)
	return out
}

// readBack reads a project's change events and PCOs through GraphQL.
func (c *cmWriteEnv) readBack(t *testing.T, project string) ([]cmWriteEvent, []cmWritePCO) {
	t.Helper()
	var out struct {
		Project struct {
			ChangeEvents          struct{ Nodes []cmWriteEvent } `json:"changeEvents"`
			PotentialChangeOrders struct{ Nodes []cmWritePCO }   `json:"potentialChangeOrders"`
		} `json:"project"`
	}
	c.do(t, `query($p: ID!) { project(id: $p) { changeEvents(first: 200) { nodes { `+cmWriteEventSel+` } }
	  potentialChangeOrders(first: 100) { nodes { `+cmWritePCOSel+` } } } }`, map[string]any{"p": project}, &out)
	return out.Project.ChangeEvents.Nodes, out.Project.PotentialChangeOrders.Nodes
}

func sumOf(t *testing.T, amounts ...string) decimal.Decimal {
	t.Helper()
	total := decimal.Zero
	for _, a := range amounts {
		d, err := decimal.NewFromString(a)
		if err != nil {
			t.Fatalf("amount %q: %v", a, err)
		}
		total = total.Add(d)
	}
	return total
}

func TestChangeManagementWrites(t *testing.T) {
	c := newCMWriteEnv(t)
	inputCosts := []string{"1250.10", "0.05", "-300.00"}
	var created cmWriteEvent

	t.Run("CreateChangeEventIsReadBackWithExactTotals", func(t *testing.T) {
		before, _ := c.readBack(t, c.twoTier)
		c.sb.ResetStats()
		out := c.createCE(t, map[string]any{"projectId": c.twoTier, "title": "Added footing", "description": "Footing at grid C4", "status": "PENDING", "scope": "IN_SCOPE",
			"rfiId": c.rfi, "clientMutationId": "cm-1", "lineItems": []map[string]any{
				{"description": "Excavation", "costCodeId": c.costCode, "estimatedCost": inputCosts[0]},
				{"description": "Survey", "estimatedCost": inputCosts[1]},
				{"description": "Credit", "estimatedCost": inputCosts[2]},
			}})
		if len(out.C.UserErrors) != 0 || out.C.ChangeEvent == nil {
			t.Fatalf("createChangeEvent: %+v", out.C)
		}
		if out.C.ClientMutationID == nil || *out.C.ClientMutationID != "cm-1" {
			t.Fatalf("clientMutationId %v, want cm-1", out.C.ClientMutationID)
		}
		if w := writes(c.sb); !maps.Equal(w, map[string]int64{"POST /rest/v1.0/change_events": 1, "PATCH /rest/v1.1/change_events/{id}": 1}) {
			t.Fatalf("upstream writes %v, want one change event create (line items nested in it) and its description", w)
		}
		after, _ := c.readBack(t, c.twoTier)
		if len(after) != len(before)+1 {
			t.Fatalf("%d change events read back, want %d", len(after), len(before)+1)
		}
		i := slices.IndexFunc(after, func(e cmWriteEvent) bool { return e.ID == out.C.ChangeEvent.ID })
		if i < 0 {
			t.Fatalf("change event %s is not read back", out.C.ChangeEvent.ID)
		}
		created = after[i]
		if created.Title != "Added footing" || created.Description != "Footing at grid C4" || created.Status != "PENDING" || created.Scope != "IN_SCOPE" || created.RfiID == nil || *created.RfiID != c.rfi {
			t.Fatalf("read back %+v", created)
		}
		if len(created.LineItems) != 3 {
			t.Fatalf("lines %+v, want 3", created.LineItems)
		}
		var got []string
		for j, l := range created.LineItems {
			got = append(got, l.EstimatedCost)
			if !sumOf(t, l.EstimatedCost).Equal(sumOf(t, inputCosts[j])) {
				t.Fatalf("line %d estimated cost %s, want %s", j, l.EstimatedCost, inputCosts[j])
			}
		}
		if l := created.LineItems[0]; l.CostCodeID == nil || *l.CostCodeID != c.costCode || l.Description != "Excavation" {
			t.Fatalf("first line %+v, want cost code %s", l, c.costCode)
		}
		if total, want := sumOf(t, got...), sumOf(t, inputCosts...); !total.Equal(want) || want.String() != "950.15" {
			t.Fatalf("total %s, want %s (950.15)", total, want)
		}
	})

	t.Run("FailingDescriptionDeletesTheChangeEventAgain", func(t *testing.T) {
		before, _ := c.readBack(t, c.twoTier)
		c.sb.ResetStats()
		c.sb.SetFaults(sandbox.Faults{FailRoutes: map[string]int{"PATCH /rest/v1.1/change_events/{id}": 500}})
		resp := gqlPost(t, c.gw.URL, createCEMutation, map[string]any{"in": map[string]any{"projectId": c.twoTier, "title": "Doomed event",
			"description": "never kept", "lineItems": []map[string]any{{"description": "x", "estimatedCost": "5.00"}}}})
		c.sb.SetFaults(sandbox.Faults{})
		if len(resp.Errors) != 1 || firstCode(resp) != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("errors %+v, want one UPSTREAM_UNAVAILABLE", resp.Errors)
		}
		if w := writes(c.sb); !maps.Equal(w, map[string]int64{"POST /rest/v1.0/change_events": 1, "PATCH /rest/v1.1/change_events/{id}": 1,
			"DELETE /rest/v1.1/change_events/{id}": 1}) {
			t.Fatalf("upstream writes %v, want the create, the failed description and the delete", w)
		}
		after, _ := c.readBack(t, c.twoTier)
		if len(after) != len(before) || slices.ContainsFunc(after, func(e cmWriteEvent) bool { return e.Title == "Doomed event" }) {
			t.Fatalf("%d change events after the failure (want %d, none titled Doomed event)", len(after), len(before))
		}
		c.sb.ReadDataset(func(d *data.Dataset) { // Procore's side, not the gateway's cache
			for _, p := range d.Projects {
				for _, ev := range p.ChangeMgmt.Events {
					if ev.Title == "Doomed event" {
						t.Fatalf("change event %d was left in the sandbox", ev.ID)
					}
				}
			}
		})
	})

	t.Run("SameIdempotencyKeyTwiceCreatesOneChangeEvent", func(t *testing.T) {
		c.sb.ResetStats()
		in := map[string]any{"projectId": c.twoTier, "title": "Keyed", "idempotencyKey": "ce-key-1",
			"lineItems": []map[string]any{{"description": "One", "estimatedCost": "10.00"}}}
		first := c.createCE(t, in)
		second := c.createCE(t, in)
		if first.C.ChangeEvent == nil || second.C.ChangeEvent == nil || first.C.ChangeEvent.ID != second.C.ChangeEvent.ID {
			t.Fatalf("first %+v, second %+v; want the same change event", first.C, second.C)
		}
		if n := writes(c.sb)["POST /rest/v1.0/change_events"]; n != 1 {
			t.Fatalf("%d change event creates upstream, want 1", n)
		}
	})

	t.Run("InvalidInputMakesNoUpstreamCall", func(t *testing.T) {
		many := make([]map[string]any, 101)
		for i := range many {
			many[i] = map[string]any{"description": "L" + strconv.Itoa(i), "estimatedCost": "1"}
		}
		line := func(cost string) []map[string]any {
			return []map[string]any{{"description": "x", "estimatedCost": cost}}
		}
		cases := []struct {
			name, mutation string
			in             map[string]any
			field          []string
			code           string
		}{
			{"ErrTitleRequired", createCEMutation, map[string]any{"title": "  "}, []string{"input", "title"}, "REQUIRED"},
			{"ErrTooManyLines", createCEMutation, map[string]any{"title": "t", "lineItems": many}, []string{"input", "lineItems"}, "OUT_OF_RANGE"},
			{"ErrThreeDecimals", createCEMutation, map[string]any{"title": "t", "lineItems": line("1.005")}, []string{"input", "lineItems", "0", "estimatedCost"}, "INVALID_DECIMAL"},
			{"ErrCreatedVoid", createCEMutation, map[string]any{"title": "t", "status": "VOID"}, []string{"input", "status"}, "INVALID_VALUE"},
			{"ErrBlankLineDescription", createCEMutation, map[string]any{"title": "t", "lineItems": []map[string]any{{"description": "", "estimatedCost": "1"}}}, []string{"input", "lineItems", "0", "description"}, "REQUIRED"},
			{"ErrPCOWithoutLines", createPCOMutation, map[string]any{"title": "t", "lineItems": []map[string]any{}}, []string{"input", "lineItems"}, "REQUIRED"},
			{"ErrPCOLineTwice", createPCOMutation, map[string]any{"title": "t", "lineItems": []map[string]any{{"changeEventLineItemId": "5"}, {"changeEventLineItemId": "5"}}}, []string{"input", "lineItems", "1", "changeEventLineItemId"}, "DUPLICATE"},
			{"ErrPCOAmountThreeDecimals", createPCOMutation, map[string]any{"title": "t", "lineItems": []map[string]any{{"changeEventLineItemId": "5", "amount": "2.001"}}}, []string{"input", "lineItems", "0", "amount"}, "INVALID_DECIMAL"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c.sb.ResetStats()
				tc.in["projectId"] = c.twoTier
				var out map[string]struct {
					UserErrors []userError `json:"userErrors"`
				}
				c.do(t, tc.mutation, map[string]any{"in": tc.in}, &out)
				var errs []userError
				for _, v := range out {
					errs = v.UserErrors
				}
				if len(errs) != 1 || !slices.Equal(errs[0].Field, tc.field) || errs[0].Code != tc.code {
					t.Fatalf("userErrors %+v, want one %s at %v", errs, tc.code, tc.field)
				}
				if n := c.sb.Stats().Total; n != 0 {
					t.Fatalf("%d upstream calls for input refused statically, want 0: %v", n, c.sb.Stats().ByRoute)
				}
			})
		}
	})

	t.Run("StateChecksRefuseWithNoWrite", func(t *testing.T) {
		if len(created.LineItems) != 3 {
			t.Skip("needs the change event created above")
		}
		cases := []struct {
			name, mutation string
			in             map[string]any
			field          []string
		}{
			{"ErrUnknownRFI", createCEMutation, map[string]any{"title": "t", "rfiId": "4300000000444"}, []string{"input", "rfiId"}},
			{"ErrUnknownCostCode", createCEMutation, map[string]any{"title": "t", "lineItems": []map[string]any{{"description": "x", "costCodeId": "4300000000444", "estimatedCost": "1"}}}, []string{"input", "lineItems", "0", "costCodeId"}},
			{"ErrLineOfAnotherProject", createPCOMutation, map[string]any{"title": "t", "lineItems": []map[string]any{{"changeEventLineItemId": c.oneTierLine}}}, []string{"input", "lineItems", "0", "changeEventLineItemId"}},
			{"ErrUnknownContract", createPCOMutation, map[string]any{"title": "t", "contractId": "4300000000444", "lineItems": []map[string]any{{"changeEventLineItemId": created.LineItems[0].ID}}}, []string{"input", "contractId"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c.sb.ResetStats()
				tc.in["projectId"] = c.twoTier
				var out map[string]struct {
					UserErrors []userError `json:"userErrors"`
				}
				c.do(t, tc.mutation, map[string]any{"in": tc.in}, &out)
				var errs []userError
				for _, v := range out {
					errs = v.UserErrors
				}
				if len(errs) != 1 || !slices.Equal(errs[0].Field, tc.field) || errs[0].Code != "NOT_FOUND" {
					t.Fatalf("userErrors %+v, want one NOT_FOUND at %v", errs, tc.field)
				}
				if w := writes(c.sb); len(w) != 0 {
					t.Fatalf("upstream writes %v, want none", w)
				}
			})
		}
	})

	t.Run("CreatePCOFromChangeEventLinesIsReadBackWithExactTotal", func(t *testing.T) {
		if len(created.LineItems) != 3 {
			t.Skip("needs the change event created above")
		}
		_, before := c.readBack(t, c.twoTier)
		c.sb.ResetStats()
		out := c.createPCO(t, map[string]any{"projectId": c.twoTier, "title": "PCO for footing", "clientMutationId": "pco-1",
			"lineItems": []map[string]any{
				{"changeEventLineItemId": created.LineItems[0].ID},
				{"changeEventLineItemId": created.LineItems[2].ID, "amount": "-250.25"},
			}})
		if len(out.C.UserErrors) != 0 || out.C.PCO == nil {
			t.Fatalf("createPotentialChangeOrder: %+v", out.C)
		}
		want := sumOf(t, inputCosts[0], "-250.25")
		if !sumOf(t, out.C.PCO.GrandTotal).Equal(want) || out.C.ClientMutationID == nil || *out.C.ClientMutationID != "pco-1" {
			t.Fatalf("payload %+v, want grand total %s and clientMutationId pco-1", out.C, want)
		}
		if w := writes(c.sb); !maps.Equal(w, map[string]int64{"POST /rest/v1.0/potential_change_orders": 1,
			"POST /rest/v1.0/potential_change_orders/{potential_change_order_id}/line_items": 2}) {
			t.Fatalf("upstream writes %v, want one PCO and two line items", w)
		}
		_, after := c.readBack(t, c.twoTier)
		i := slices.IndexFunc(after, func(p cmWritePCO) bool { return p.ID == out.C.PCO.ID })
		if len(after) != len(before)+1 || i < 0 {
			t.Fatalf("%d PCOs read back (want %d) holding %s: %v", len(after), len(before)+1, out.C.PCO.ID, i)
		}
		got := after[i]
		if !sumOf(t, got.GrandTotal).Equal(want) || len(got.LineItems) != 2 || got.Title != "PCO for footing" {
			t.Fatalf("read back %+v, want grand total %s over 2 lines", got, want)
		}
		if !sumOf(t, got.LineItems[0].Amount).Equal(sumOf(t, inputCosts[0])) || !sumOf(t, got.LineItems[1].Amount).Equal(sumOf(t, "-250.25")) {
			t.Fatalf("line amounts %+v, want %s and -250.25", got.LineItems, inputCosts[0])
		}
	})

	t.Run("SameIdempotencyKeyTwiceCreatesOnePCO", func(t *testing.T) {
		if len(created.LineItems) != 3 {
			t.Skip("needs the change event created above")
		}
		c.sb.ResetStats()
		in := map[string]any{"projectId": c.twoTier, "title": "Keyed PCO", "idempotencyKey": "pco-key-1", "contractId": c.contract,
			"lineItems": []map[string]any{{"changeEventLineItemId": created.LineItems[1].ID}}}
		first, second := c.createPCO(t, in), c.createPCO(t, in)
		if first.C.PCO == nil || second.C.PCO == nil || first.C.PCO.ID != second.C.PCO.ID {
			t.Fatalf("first %+v, second %+v; want the same PCO", first.C, second.C)
		}
		if n := writes(c.sb)["POST /rest/v1.0/potential_change_orders"]; n != 1 {
			t.Fatalf("%d PCO creates upstream, want 1", n)
		}
	})

	t.Run("FailingLineVoidsThePCOAndKeepsNoLine", func(t *testing.T) {
		if len(created.LineItems) != 3 {
			t.Skip("needs the change event created above")
		}
		_, before := c.readBack(t, c.twoTier)
		c.sb.ResetStats()
		c.sb.SetFaults(sandbox.Faults{FailRoutes: map[string]int{"POST /rest/v1.0/potential_change_orders/{potential_change_order_id}/line_items": 500}})
		resp := gqlPost(t, c.gw.URL, createPCOMutation, map[string]any{"in": map[string]any{"projectId": c.twoTier, "title": "Doomed",
			"lineItems": []map[string]any{{"changeEventLineItemId": created.LineItems[1].ID}}}})
		c.sb.SetFaults(sandbox.Faults{})
		if len(resp.Errors) != 1 || firstCode(resp) != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("errors %+v, want one UPSTREAM_UNAVAILABLE", resp.Errors)
		}
		if w := writes(c.sb); !maps.Equal(w, map[string]int64{"POST /rest/v1.0/potential_change_orders": 1,
			"POST /rest/v1.0/potential_change_orders/{potential_change_order_id}/line_items": 1, "PATCH /rest/v1.0/potential_change_orders/{id}": 1}) {
			t.Fatalf("upstream writes %v, want the PCO, its failed line and the void", w)
		}
		_, after := c.readBack(t, c.twoTier)
		if len(after) != len(before)+1 {
			t.Fatalf("%d PCOs, want %d (the voided one: Procore publishes no PCO delete)", len(after), len(before)+1)
		}
		for _, p := range after {
			if p.Title == "Doomed" && (p.Status != "VOID" || len(p.LineItems) != 0 || !sumOf(t, p.GrandTotal).IsZero()) {
				t.Fatalf("left-over PCO %+v, want VOID with no line and a zero total", p)
			}
		}
	})

	t.Run("PCOOnOneTierProjectIsRefusedWithNoWrite", func(t *testing.T) {
		c.sb.ResetStats()
		c.project = c.oneTier // the audit check compares the input's projectId
		defer func() { c.project = c.twoTier }()
		out := c.createPCO(t, map[string]any{"projectId": c.oneTier, "title": "t", "lineItems": []map[string]any{{"changeEventLineItemId": c.oneTierLine}}})
		if out.C.PCO != nil || len(out.C.UserErrors) != 1 {
			t.Fatalf("%+v, want one userError", out.C)
		}
		if ue := out.C.UserErrors[0]; ue.Code != "REJECTED" || !slices.Equal(ue.Field, []string{"input", "projectId"}) || ue.Message != mutate.OneTierPCOMessage {
			t.Fatalf("userError %+v, want REJECTED at input.projectId: %q", ue, mutate.OneTierPCOMessage)
		}
		if w := writes(c.sb); len(w) != 0 {
			t.Fatalf("upstream writes %v, want none", w)
		}
	})

	t.Run("ReadKeyIsForbiddenWithNoUpstreamCall", func(t *testing.T) {
		c.sb.ResetStats()
		for _, q := range []string{createCEMutation, createPCOMutation} {
			in := map[string]any{"projectId": c.twoTier, "title": "t", "lineItems": []map[string]any{}}
			status, resp := rawPost(t, c.gw.URL, q, map[string]any{"in": in}, bearerHeader(readKey))
			if status != http.StatusForbidden || firstCode(resp) != "FORBIDDEN" {
				t.Fatalf("status %d, errors %+v; want 403 FORBIDDEN", status, resp.Errors)
			}
		}
		if n := c.sb.Stats().Total; n != 0 {
			t.Fatalf("%d upstream calls, want 0", n)
		}
	})
}
