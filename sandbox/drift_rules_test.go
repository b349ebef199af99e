package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

func TestDriftRulesChangeTheChosenResources(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 3, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 6}})
	p := e.project()
	rfis := fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p.ID)
	contracts := fmt.Sprintf("/rest/v1.0/work_order_contracts?project_id=%d", p.ID)
	punch := fmt.Sprintf("/rest/v1.1/punch_items?project_id=%d", p.ID)
	list := func(path string) []map[string]any {
		t.Helper()
		r := e.get(path)
		expectStatus(t, r, http.StatusOK)
		var items []map[string]any
		r.json(t, &items)
		if len(items) == 0 {
			t.Fatalf("%s: no items", path)
		}
		return items
	}
	before := list(rfis)

	// Over HTTP, as an operator would.
	req, _ := http.NewRequest(http.MethodPut, e.run.URL+"/_sandbox/faults", strings.NewReader(`{"drift": {"rules": [
		{"resource": "rfis", "kind": "rename_field", "field": "subject", "value": "subject_line"},
		{"resource": "rfis", "kind": "unknown_enum", "field": "status", "value": "in_design_review"},
		{"resource": "rfis", "kind": "unknown_enum", "field": "cost_impact.status"},
		{"resource": "commitments", "kind": "change_type", "field": "grand_total"},
		{"resource": "punch_items", "kind": "add_field", "field": "carbon_rating", "value": {"score": 3}},
		{"resource": "punch_items", "kind": "change_type", "field": "position", "value": [1]}
	]}}`))
	expectStatus(t, e.send(e.hc, req), http.StatusOK)
	if f := e.run.Faults(); len(f.Drift.Rules) != 6 {
		t.Fatalf("faults %+v", f)
	}

	t.Run("RenamedField", func(t *testing.T) {
		for i, it := range list(rfis) {
			if _, ok := it["subject"]; ok || it["subject_line"] != before[i]["subject"] {
				t.Fatalf("RFI %v: subject %v, subject_line %v", it["id"], it["subject"], it["subject_line"])
			}
		}
	})
	t.Run("UnknownEnumValues", func(t *testing.T) {
		for _, it := range list(rfis) {
			if it["status"] != "in_design_review" || it["cost_impact"].(map[string]any)["status"] != "procore_new_value" {
				t.Fatalf("RFI %v: status %v, cost impact %v", it["id"], it["status"], it["cost_impact"])
			}
		}
		r := e.get(fmt.Sprintf("%s/%d", rfis, int64(before[0]["id"].(float64)))) // shows too
		expectStatus(t, r, http.StatusOK)
		var one map[string]any
		r.json(t, &one)
		if one["status"] != "in_design_review" {
			t.Fatalf("show: status %v", one["status"])
		}
	})
	t.Run("ChangedTypes", func(t *testing.T) {
		for _, it := range list(contracts) {
			if gt, ok := it["grand_total"].(map[string]any); !ok || gt["value"] == nil {
				t.Fatalf("contract %v: grand_total %v, want the old value wrapped in an object", it["id"], it["grand_total"])
			}
		}
		for _, it := range list(punch) {
			if pos, ok := it["position"].([]any); !ok || len(pos) != 1 {
				t.Fatalf("punch item %v: position %v", it["id"], it["position"])
			}
		}
	})
	t.Run("AddedField", func(t *testing.T) {
		for _, it := range list(punch) {
			if cr, ok := it["carbon_rating"].(map[string]any); !ok || cr["score"] != 3.0 {
				t.Fatalf("punch item %v: carbon_rating %v", it["id"], it["carbon_rating"])
			}
		}
	})
	t.Run("OtherResourcesUntouched", func(t *testing.T) {
		for _, it := range list(fmt.Sprintf("/rest/v1.1/projects/%d/submittals", p.ID)) {
			if _, ok := it["carbon_rating"]; ok {
				t.Fatal("a punch item rule changed a submittal")
			}
			if _, ok := it["title"]; !ok {
				t.Fatal("submittal without title")
			}
		}
	})
	t.Run("ValidJSONAndStableBytes", func(t *testing.T) {
		a, b := e.get(rfis), e.get(rfis)
		if !json.Valid(a.body) || string(a.body) != string(b.body) {
			t.Fatal("drifted pages are not valid JSON, or not the same bytes twice")
		}
	})
	t.Run("BadRuleIsRefused", func(t *testing.T) {
		for _, body := range []string{
			`{"drift":{"rules":[{"resource":"rfis","kind":"explode","field":"status"}]}}`,
			`{"drift":{"rules":[{"resource":"rfis","kind":"rename_field"}]}}`,
			`{"drift":{"rules":[{"resource":"rfis","kind":"unknown_enum","field":"status","value":3}]}}`,
		} {
			req, _ := http.NewRequest(http.MethodPut, e.run.URL+"/_sandbox/faults", strings.NewReader(body))
			expectStatus(t, e.send(e.hc, req), http.StatusBadRequest)
		}
	})
	t.Run("ClearingRulesRestoresResponses", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{})
		for i, it := range list(rfis) {
			if it["subject"] != before[i]["subject"] || it["status"] != before[i]["status"] {
				t.Fatalf("RFI %v still drifted", it["id"])
			}
		}
	})
}
