package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// sandboxAPI GETs a sandbox API path as the gateway's OAuth app.
func sandboxAPI(t *testing.T, sb *sandbox.Running, env map[string]string) func(path string, out any) {
	token := sandboxToken(t, sb, env)
	return func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, sb.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Procore-Company-Id", env["PROCORE_COMPANY_ID"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
}

// TestWebhookRegistrationFollowsTheCatalog: -register-webhooks reads
// Procore's webhook resources catalog and creates triggers only under names it
// lists, subcontractor invoices as "Requisitions" ("Payment Applications" is
// the owner side: owner invoices); an invoice changed in the sandbox is
// delivered under that name and announced by invoiceStatusChanged.
func TestWebhookRegistrationFollowsTheCatalog(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks")
	get := sandboxAPI(t, sb, env)
	company := env["PROCORE_COMPANY_ID"]

	var catalog []struct {
		Tools  string   `json:"tools"`
		Except []string `json:"except"`
	}
	get("/rest/v1.0/webhooks/resources?company_id="+company, &catalog)
	listed := map[string]bool{}
	for _, r := range catalog {
		listed[r.Tools] = true
	}
	var hooks []struct {
		ID        int64  `json:"id"`
		Namespace string `json:"namespace"`
	}
	get("/rest/v1.0/webhooks/hooks?company_id="+company, &hooks)
	if len(hooks) != 1 {
		t.Fatalf("hooks %+v, want the gateway's one", hooks)
	}
	var triggers []struct {
		ResourceName string `json:"resource_name"`
		EventType    string `json:"event_type"`
	}
	get(fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/triggers?company_id=%s", hooks[0].ID, company), &triggers)
	var got []string
	for _, tr := range triggers {
		if !listed[tr.ResourceName] {
			t.Errorf("trigger on %q, which the catalog does not list", tr.ResourceName)
		}
		got = append(got, tr.ResourceName+"/"+tr.EventType)
	}
	slices.Sort(got)
	want := []string{"Change Events/create", "Change Events/delete", "Change Events/update",
		"Change Order Packages/create", "Change Order Packages/delete", "Change Order Packages/update",
		"Payment Applications/create", "Payment Applications/delete", "Payment Applications/update",
		"Potential Change Orders/create", "Potential Change Orders/delete", "Potential Change Orders/update",
		"Punch Items/create", "Punch Items/delete", "Punch Items/update",
		"Purchase Order Contracts/create", "Purchase Order Contracts/delete", "Purchase Order Contracts/update",
		"RFIs/create", "RFIs/delete", "RFIs/update", "Requisitions/create", "Requisitions/delete", "Requisitions/update",
		"Submittals/create", "Submittals/delete", "Submittals/update",
		"Work Order Contracts/create", "Work Order Contracts/delete", "Work Order Contracts/update"}
	if !slices.Equal(got, want) {
		t.Fatalf("triggers %v\nwant %v", got, want)
	}

	t.Run("InvoiceChangeIsDeliveredAsRequisitions", func(t *testing.T) {
		var project, invoice int64
		var from string
		sb.ReadDataset(func(d *data.Dataset) {
			project = d.Projects[0].ID
			for _, inv := range d.Projects[0].Invoices {
				if inv.Status == "draft" || inv.Status == "under_review" {
					invoice, from = inv.ID, inv.Status
					break
				}
			}
		})
		if invoice == 0 {
			t.Fatal("no invoice to change")
		}
		sub := subscribeSSE(t, g.URL+"/graphql", `subscription($p: ID) { invoiceStatusChanged(projectId: $p) {
			kind invoiceId previousStatus status source } }`, map[string]any{"p": strconv.FormatInt(project, 10)})
		waitActive(t, g, 1)
		to := map[string]string{"draft": "under_review", "under_review": "revise_and_resubmit"}[from]
		if _, err := sb.Mutate(sandbox.Mutation{Kind: "invoice", ProjectID: project, ID: invoice,
			Set: map[string]json.RawMessage{"status": json.RawMessage(strconv.Quote(to))}}); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-sub.events:
			var r struct {
				Data struct {
					E struct{ Kind, InvoiceID, PreviousStatus, Status, Source string } `json:"invoiceStatusChanged"`
				} `json:"data"`
			}
			if err := json.Unmarshal(p, &r); err != nil {
				t.Fatal(err)
			}
			if e := r.Data.E; e.InvoiceID != strconv.FormatInt(invoice, 10) || e.Source != "WEBHOOK" || e.Kind != "STATUS_CHANGED" {
				t.Fatalf("event %s", p)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no invoiceStatusChanged event")
		}
		type delivery struct {
			Event struct {
				ResourceName string `json:"resource_name"`
				ResourceID   int64  `json:"resource_id"`
			} `json:"event"`
			Outcome string `json:"outcome"`
		}
		deadline := time.Now().Add(5 * time.Second)
		for { // the sandbox logs a delivery once it has read the answer
			var ds []delivery
			get(fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/deliveries?company_id=%s", hooks[0].ID, company), &ds)
			i := slices.IndexFunc(ds, func(d delivery) bool { return d.Event.ResourceID == invoice && d.Outcome == "ok" })
			if i >= 0 {
				if ds[i].Event.ResourceName != "Requisitions" {
					t.Fatalf("invoice delivered as %q, want Requisitions", ds[i].Event.ResourceName)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no delivery for invoice %d in %+v", invoice, ds)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
