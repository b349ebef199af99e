package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestChangeManagementMutationsReachSubscribers: the issue 16 writes feed the
// issue 16 subscriptions. With neither webhooks nor a poller, only the
// mutations themselves can produce the events: approving a prime change
// order, moving the latest payment application and creating a change event
// each reach a graphql-ws subscriber once, from source MUTATION, with the
// previous and new status (CREATED for the change event).
func TestChangeManagementMutationsReachSubscribers(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 8, ItemsPerProject: 3}})
	g := startGateway(t, env)
	f := findStatusFixture(t, sb)
	// The fixture points into the sandbox's rows, which the writes change:
	// keep the statuses before them.
	var primeFrom, appFrom string
	sb.ReadDataset(func(*data.Dataset) {
		primeFrom, appFrom = strings.ToUpper(f.primeCO.Status), strings.ToUpper(f.openApp.Status)
	})

	orders := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription, map[string]any{"p": f.twoTier})
	changeEvents := subscribeCM(t, node, g, "changeEventChanged", changeEventChangedSubscription, map[string]any{"p": f.twoTier})
	payApps := subscribeCM(t, node, g, "paymentApplicationStatusChanged", paymentApplicationChangedSubscription, map[string]any{"p": f.payProject})
	waitActive(t, g, 3)

	mutate := func(query string, in map[string]any, into any) {
		t.Helper()
		r := g.query(t, query, map[string]any{"in": in})
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", query, r.Errors)
		}
		if err := json.Unmarshal(r.Data, into); err != nil {
			t.Fatal(err)
		}
	}

	var co changeOrderStatusOut
	mutate(changeOrderStatusM, map[string]any{"projectId": f.twoTier, "changeOrderId": id64(f.primeCO.ID),
		"type": "PRIME_CHANGE_ORDER", "status": "APPROVED"}, &co)
	if len(co.R.UserErrors) > 0 || co.R.PrimeChangeOrder == nil {
		t.Fatalf("updateChangeOrderStatus: %+v", co.R)
	}
	e := orders.next(t)
	checkChange(t, e, f.primeCO.ID, primeFrom, "APPROVED", "MUTATION")
	if e.Type != "PRIME_CHANGE_ORDER" {
		t.Fatalf("change order event %+v, want type PRIME_CHANGE_ORDER", e)
	}

	to := "UNDER_REVIEW"
	if appFrom == "UNDER_REVIEW" {
		to = "REVISE_AND_RESUBMIT"
	}
	var pa payAppStatusOut
	mutate(payAppStatusM, map[string]any{"projectId": f.payProject, "primeContractId": f.payContract,
		"paymentApplicationId": id64(f.openApp.ID), "status": to}, &pa)
	if len(pa.R.UserErrors) > 0 || pa.R.PaymentApplication == nil {
		t.Fatalf("updatePaymentApplicationStatus: %+v", pa.R)
	}
	checkChange(t, payApps.next(t), f.openApp.ID, appFrom, to, "MUTATION")

	var ce struct {
		C struct {
			ChangeEvent *struct {
				ID string `json:"id"`
			} `json:"changeEvent"`
			UserErrors []userError `json:"userErrors"`
		} `json:"createChangeEvent"`
	}
	mutate(`mutation($in: CreateChangeEventInput!) { createChangeEvent(input: $in) { changeEvent { id } userErrors { field message code } } }`,
		map[string]any{"projectId": f.twoTier, "title": "Owner asked for a canopy", "lineItems": []map[string]any{{"description": "Canopy", "estimatedCost": "4200.00"}}}, &ce)
	if len(ce.C.UserErrors) > 0 || ce.C.ChangeEvent == nil {
		t.Fatalf("createChangeEvent: %+v", ce.C)
	}
	created := changeEvents.next(t)
	if created.Kind != "CREATED" || created.ChangeEventID != ce.C.ChangeEvent.ID || created.Source != "MUTATION" || created.Status != "OPEN" ||
		created.Item == nil || created.Item.ID != ce.C.ChangeEvent.ID {
		t.Fatalf("change event event %+v, want CREATED of %s from MUTATION", created, ce.C.ChangeEvent.ID)
	}

	// Each write is one event: nothing else arrives.
	for _, s := range []*cmSubscriber{orders, changeEvents, payApps} {
		s.quiet(t, 500*time.Millisecond)
	}
}
