package rest

import (
	"context"
	"net/http"
	"testing"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// Contract (contract_status_writes.json and contract.json): the status
// PATCHes send {"change_order": {"status"}} (packages and payment
// applications add the required body project_id, payment applications wrap
// the status in payment_application), no query; the single-item reads go
// through the lists' id filters (filters[id] a single integer on the prime
// and commitment change order lists, filters[id][] on packages).
func TestStatusWritesSendExactlyThePublishedKeys(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		switch r.Method + " " + r.Path {
		case "PATCH /rest/v1.0/projects/9/prime_change_orders/21":
			return map[string]any{"id": 21, "status": "approved", "grand_total": "10.00"}
		case "GET /rest/v1.0/projects/9/prime_change_orders":
			return []any{map[string]any{"id": 21, "status": "approved", "grand_total": "10.00"}}
		case "PATCH /rest/v1.0/change_order_packages/22":
			return map[string]any{"id": 22, "status": "void", "grand_total": "5.00"}
		case "PATCH /rest/v1.0/projects/9/commitment_change_orders/23":
			return map[string]any{"id": 23, "contract_id": 7, "status": "rejected"}
		case "PATCH /rest/v1.0/prime_contracts/5/payment_applications/24":
			return map[string]any{"id": 24, "number": 2, "status": "under_review"}
		}
		return nil
	})
	c := newTestClient(t, l.URL, nil)
	ctx := context.Background()

	if got, err := c.UpdatePrimeChangeOrderStatus(ctx, 9, 21, adapter.ChangeOrderApproved); err != nil || got.ID != 21 || got.Status != adapter.ChangeOrderApproved {
		t.Fatalf("prime: %+v %v", got, err)
	}
	r := l.only(t, "PATCH", "/rest/v1.0/projects/9/prime_change_orders/21")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"change_order": {"status": "approved"}}`)

	if got, err := c.UpdateChangeOrderPackageStatus(ctx, 9, 22, adapter.ChangeOrderVoid); err != nil || got.ID != 22 || got.Status != adapter.ChangeOrderVoid {
		t.Fatalf("package: %+v %v", got, err)
	}
	r = l.only(t, "PATCH", "/rest/v1.0/change_order_packages/22")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"project_id": 9, "change_order": {"status": "void"}}`)

	if got, err := c.UpdateCommitmentChangeOrderStatus(ctx, 9, 23, adapter.ChangeOrderRejected); err != nil || got.ID != 23 || got.Status != adapter.ChangeOrderRejected {
		t.Fatalf("commitment: %+v %v", got, err)
	}
	r = l.only(t, "PATCH", "/rest/v1.0/projects/9/commitment_change_orders/23")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"change_order": {"status": "rejected"}}`)

	if got, err := c.UpdatePaymentApplicationStatus(ctx, 9, 5, 24, adapter.PaymentApplicationUnderReview); err != nil || got.ID != 24 || got.Status != adapter.PaymentApplicationUnderReview {
		t.Fatalf("payment application: %+v %v", got, err)
	}
	r = l.only(t, "PATCH", "/rest/v1.0/prime_contracts/5/payment_applications/24")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"project_id": 9, "payment_application": {"status": "under_review"}}`)

	if _, err := c.PrimeChangeOrder(ctx, 9, 21); err != nil {
		t.Fatal(err)
	}
	expectQuery(t, l.only(t, "GET", "/rest/v1.0/projects/9/prime_change_orders"), map[string]string{"filters[id]": "21"})

	// Values outside a resource's published enum are refused before any call.
	n := len(l.all())
	for name, err := range map[string]error{
		"package pending_billable": func() error {
			_, err := c.UpdateChangeOrderPackageStatus(ctx, 9, 22, adapter.ChangeOrderPendingBillable)
			return err
		}(),
		"change order UNKNOWN": func() error {
			_, err := c.UpdatePrimeChangeOrderStatus(ctx, 9, 21, adapter.ChangeOrderUnknown)
			return err
		}(),
		"payment application UNKNOWN": func() error {
			_, err := c.UpdatePaymentApplicationStatus(ctx, 9, 5, 24, adapter.PaymentApplicationUnknown)
			return err
		}(),
	} {
		if adapter.ErrorCode(err) != adapter.CodeBadUserInput {
			t.Errorf("%s: %v, want BAD_USER_INPUT", name, err)
		}
	}
	if len(l.all()) != n {
		t.Fatalf("refused values reached Procore: %v", l.all()[n:])
	}
}

// The status writes against the sandbox enforcing the contract: every read
// and write meets it (no violation recorded), the 3-tier refusals come back
// as ErrWrongChangeOrderTier, and a body with a key the contract does not
// publish, or without the required project_id, is refused with nothing
// changed.
func TestStatusWritesMeetTheSandboxContract(t *testing.T) {
	e := startE2E(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 5}}, nil)
	ctx := context.Background()
	c := e.client
	var twoTier, threeTier, primeCO, pkg, payContract, payApp int64
	var primeStatus string
	e.run.ReadDataset(func(ds *data.Dataset) {
		for _, p := range ds.Projects {
			switch {
			case p.ThreeTierChangeOrders() && len(p.ChangeMgmt.Packages) > 0 && threeTier == 0:
				threeTier, pkg = p.ID, p.ChangeMgmt.Packages[0].ID
			case !p.ThreeTierChangeOrders() && len(p.ChangeMgmt.PrimeChangeOrders) > 0 && twoTier == 0:
				twoTier, primeCO, primeStatus = p.ID, p.ChangeMgmt.PrimeChangeOrders[0].ID, p.ChangeMgmt.PrimeChangeOrders[0].Status
			}
			if len(p.PrimeContracts) > 0 && len(p.PrimeContracts[0].PaymentApplications) > 0 && payApp == 0 && p.ID == twoTier {
				apps := p.PrimeContracts[0].PaymentApplications
				payContract, payApp = p.PrimeContracts[0].ID, apps[len(apps)-1].ID
			}
		}
	})
	if threeTier == 0 || twoTier == 0 {
		t.Fatal("dataset lacks a 3-tier project with packages or a 1/2-tier project with prime change orders")
	}
	e.run.ResetStats()

	if _, err := c.PrimeChangeOrder(ctx, twoTier, primeCO); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangeOrderPackage(ctx, threeTier, pkg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PrimeChangeOrder(ctx, threeTier, pkg); !adapter.IsWrongChangeOrderTier(err) {
		t.Fatalf("prime change order on a 3-tier project: %v, want the wrong tier", err)
	}
	if _, err := c.CommitmentChangeOrder(ctx, threeTier, pkg); !adapter.IsWrongChangeOrderTier(err) {
		t.Fatalf("commitment change order on a 3-tier project: %v, want the wrong tier", err)
	}
	if _, err := c.ChangeOrderPackage(ctx, twoTier, primeCO); !adapter.IsNotFound(err) {
		t.Fatalf("package on a 1/2-tier project: %v, want NOT_FOUND", err)
	}
	// void → anything is refused by the sandbox, so move to pending (allowed
	// from every status but void and approved) only when the row allows it.
	if primeStatus != "void" && primeStatus != "approved" {
		if got, err := c.UpdatePrimeChangeOrderStatus(ctx, twoTier, primeCO, adapter.ChangeOrderPending); err != nil || got.Status != adapter.ChangeOrderPending {
			t.Fatalf("prime: %+v %v", got, err)
		}
	}
	if got, err := c.UpdateChangeOrderPackageStatus(ctx, threeTier, pkg, adapter.ChangeOrderVoid); err != nil || got.Status != adapter.ChangeOrderVoid {
		t.Fatalf("package: %+v %v", got, err)
	}
	if payApp != 0 {
		apps, err := c.PaymentApplications(ctx, twoTier, payContract)
		if err != nil {
			t.Fatal(err)
		}
		if cur := apps[len(apps)-1]; cur.Status != adapter.PaymentApplicationApproved {
			next := map[adapter.PaymentApplicationStatus]adapter.PaymentApplicationStatus{adapter.PaymentApplicationDraft: adapter.PaymentApplicationUnderReview,
				adapter.PaymentApplicationUnderReview: adapter.PaymentApplicationDraft, adapter.PaymentApplicationReviseAndResubmit: adapter.PaymentApplicationDraft}[cur.Status]
			if got, err := c.UpdatePaymentApplicationStatus(ctx, twoTier, payContract, payApp, next); err != nil || got.Status != next {
				t.Fatalf("payment application: %+v %v", got, err)
			}
		}
	}
	if v := e.run.Stats().ContractViolations; len(v) != 0 {
		t.Fatalf("contract violations: %v", v)
	}

	statuses := func() (prime, pkgStatus string) {
		e.run.ReadDataset(func(ds *data.Dataset) {
			for _, x := range ds.Project(twoTier).ChangeMgmt.PrimeChangeOrders {
				if x.ID == primeCO {
					prime = x.Status
				}
			}
			for _, x := range ds.Project(threeTier).ChangeMgmt.Packages {
				if x.ID == pkg {
					pkgStatus = x.Status
				}
			}
		})
		return prime, pkgStatus
	}
	primeBefore, pkgBefore := statuses()
	for name, k := range map[string]call{
		"UnpublishedChangeOrderKey": {what: "bad", method: http.MethodPatch, path: pathf("/rest/v1.0/projects/%d/prime_change_orders/%d", twoTier, primeCO),
			body: map[string]any{"change_order": map[string]any{"status": "void", "line_items": []any{}}}},
		"UnpublishedWrapper": {what: "bad", method: http.MethodPatch, path: pathf("/rest/v1.0/projects/%d/prime_change_orders/%d", twoTier, primeCO),
			body: map[string]any{"prime_change_order": map[string]any{"status": "void"}}},
		"PackageWithoutProjectID": {what: "bad", method: http.MethodPatch, path: pathf("/rest/v1.0/change_order_packages/%d", pkg),
			body: map[string]any{"change_order": map[string]any{"status": "draft"}}},
		"PaymentApplicationStatusOutsideWrapper": {what: "bad", method: http.MethodPatch, path: pathf("/rest/v1.0/prime_contracts/%d/payment_applications/%d", payContract, payApp),
			body: map[string]any{"project_id": twoTier, "status": "draft"}},
	} {
		t.Run(name+"IsRefused", func(t *testing.T) {
			if name == "PaymentApplicationStatusOutsideWrapper" && payApp == 0 {
				t.Skip("no payment application in the dataset")
			}
			e.run.ResetStats()
			_, err := c.do(ctx, k)
			if code := adapter.ErrorCode(err); code != adapter.CodeBadUserInput {
				t.Fatalf("%v, want BAD_USER_INPUT", err)
			}
			if v := e.run.Stats().ContractViolations; len(v) == 0 {
				t.Fatalf("no contract violation recorded")
			}
		})
	}
	if p, k := statuses(); p != primeBefore || k != pkgBefore {
		t.Fatalf("after the refused requests: prime change order %s (was %s), package %s (was %s)", p, primeBefore, k, pkgBefore)
	}
}
