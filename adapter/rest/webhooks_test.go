package rest

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

func TestWebhookResourcesReadsTheDocumentedCatalog(t *testing.T) {
	f := newFakeProcore(t)
	var query, company string
	f.Mux.HandleFunc("GET /rest/v1.0/webhooks/resources", func(w http.ResponseWriter, r *http.Request) {
		query, company = r.URL.RawQuery, r.Header.Get("Procore-Company-Id")
		w.Header().Set("Content-Type", "application/json")
		// The documented shape: tools is the resource name, create/update/delete
		// legacy strings (null), except the event types not fired. Variants a
		// deployment might send: tools as a list, resource_name, name.
		_, _ = io.WriteString(w, `[
			{"api_version": "v2", "product_category": "Construction Financials", "tools": "Budget Line Items",
			 "except": [], "create": null, "update": null, "delete": null},
			{"api_version": "v2", "product_category": "Core", "tools": "Company Users", "except": ["DELETE"],
			 "create": "create", "update": "update", "delete": null},
			{"api_version": "v2", "product_category": "Project Management", "tools": ["RFIs"], "except": null},
			{"product_category": "Construction Financials", "resource_name": "Requisitions", "tools": "Commitments"},
			{"name": "Punch Items", "tools": null},
			{"api_version": "v2", "product_category": "Core", "tools": null, "except": []}
		]`)
	})
	c := newTestClient(t, f.URL, nil)
	got, err := c.WebhookResources(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	if query != "company_id=42" || company != "42" {
		t.Errorf("query %q, Procore-Company-Id %q", query, company)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if want := []string{"Budget Line Items", "Company Users", "RFIs", "Requisitions", "Punch Items"}; !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v (entries without a name left out)", names, want)
	}
	if users := got[1]; users.Allows("delete") || !users.Allows("update") || users.ProductCategory != "Core" || users.APIVersion != "v2" {
		t.Errorf("Company Users = %+v, want delete refused (case-insensitively), update allowed", users)
	}
}

func TestE2EWebhookResourcesAndTriggerDeletion(t *testing.T) {
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}}, nil)
	ctx := context.Background()
	rs, err := e.client.WebhookResources(ctx, e.companyID)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]WebhookResource{}
	for _, r := range rs {
		byName[r.Name] = r
	}
	t.Run("CatalogNamesSubcontractorInvoicesRequisitions", func(t *testing.T) {
		for _, name := range []string{"RFIs", "Submittals", "Punch Items", "Work Order Contracts", "Purchase Order Contracts",
			"Requisitions", "Payment Applications", "Company Users"} {
			if _, ok := byName[name]; !ok {
				t.Errorf("%q missing from the catalog (%d entries)", name, len(rs))
			}
		}
		if byName["Company Users"].Allows("delete") || !byName["Requisitions"].Allows("update") {
			t.Errorf("event types: Company Users %+v, Requisitions %+v", byName["Company Users"], byName["Requisitions"])
		}
	})
	t.Run("DeletedTriggerIsGone", func(t *testing.T) {
		h, err := e.client.CreateWebhookHook(ctx, e.companyID, adapter.WebhookHookInput{Namespace: "procoregraph-test",
			DestinationURL: "http://127.0.0.1:1/webhooks/procore", Authorization: "Bearer x"})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := e.client.CreateWebhookTrigger(ctx, e.companyID, h.ID, "Requisitions", "update")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.DeleteWebhookTrigger(ctx, e.companyID, h.ID, tr.ID); err != nil {
			t.Fatal(err)
		}
		left, err := e.client.WebhookTriggers(ctx, e.companyID, h.ID)
		if err != nil || len(left) != 0 {
			t.Fatalf("triggers after delete: %v %v", left, err)
		}
		if err := e.client.DeleteWebhookTrigger(ctx, e.companyID, h.ID, tr.ID); !adapter.IsNotFound(err) {
			t.Fatalf("deleting it again: %v, want NOT_FOUND", err)
		}
	})
}
