package main

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// Status writes (issue 16): updateChangeOrderStatus and
// updatePaymentApplicationStatus through the gateway's HTTP to the sandbox.
// Expected figures come from the sandbox's own rows, read before the write;
// upstream writes are counted by route from the sandbox's statistics.

const (
	routePrimeCOPatch  = "PATCH /rest/v1.0/projects/{project_id}/prime_change_orders/{id}"
	routePackagePatch  = "PATCH /rest/v1.0/change_order_packages/{id}"
	routeCCOPatch      = "PATCH /rest/v1.0/projects/{project_id}/commitment_change_orders/{id}"
	routePayAppPatch   = "PATCH /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications/{id}"
	changeOrderStatusM = `mutation($in: UpdateChangeOrderStatusInput!) { updateChangeOrderStatus(input: $in) {
  primeChangeOrder { id status executed grandTotal } changeOrderPackage { id status executed grandTotal }
  commitmentChangeOrder { id status } ` + userErrorsSel + ` clientMutationId } }`
	payAppStatusM = `mutation($in: UpdatePaymentApplicationStatusInput!) { updatePaymentApplicationStatus(input: $in) {
  paymentApplication { id status } ` + userErrorsSel + ` clientMutationId } }`
	statusProjectQ = `query($p: ID!) { project(id: $p) {
  primeChangeOrders(first: 1000) { nodes { id status grandTotal } }
  changeOrderPackages(first: 1000) { nodes { id status grandTotal } }
  changeOrders(first: 1000) { nodes { id status } }
  primeContracts(first: 10) { nodes { id originalValue approvedChangeOrders revisedValue
    paymentApplications(first: 100) { nodes { id status g702 { netChangeByChangeOrders } } } } } } }`
)

type statusItem struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Executed   bool   `json:"executed"`
	GrandTotal string `json:"grandTotal"`
}

type changeOrderStatusOut struct {
	R struct {
		PrimeChangeOrder      *statusItem `json:"primeChangeOrder"`
		ChangeOrderPackage    *statusItem `json:"changeOrderPackage"`
		CommitmentChangeOrder *statusItem `json:"commitmentChangeOrder"`
		UserErrors            []userError `json:"userErrors"`
		ClientMutationID      *string     `json:"clientMutationId"`
	} `json:"updateChangeOrderStatus"`
}

type payAppStatusOut struct {
	R struct {
		PaymentApplication *statusItem `json:"paymentApplication"`
		UserErrors         []userError `json:"userErrors"`
		ClientMutationID   *string     `json:"clientMutationId"`
	} `json:"updatePaymentApplicationStatus"`
}

type statusProject struct {
	Project struct {
		PrimeChangeOrders   struct{ Nodes []statusItem } `json:"primeChangeOrders"`
		ChangeOrderPackages struct{ Nodes []statusItem } `json:"changeOrderPackages"`
		ChangeOrders        struct{ Nodes []statusItem } `json:"changeOrders"`
		PrimeContracts      struct {
			Nodes []struct {
				ID                   string `json:"id"`
				OriginalValue        string `json:"originalValue"`
				ApprovedChangeOrders string `json:"approvedChangeOrders"`
				RevisedValue         string `json:"revisedValue"`
				PaymentApplications  struct {
					Nodes []struct {
						ID     string `json:"id"`
						Status string `json:"status"`
						G702   struct {
							NetChangeByChangeOrders string `json:"netChangeByChangeOrders"`
						} `json:"g702"`
					} `json:"nodes"`
				} `json:"paymentApplications"`
			} `json:"nodes"`
		} `json:"primeContracts"`
	} `json:"project"`
}

// statusFixture is what the tests act on, found in the sandbox's rows.
type statusFixture struct {
	twoTier, threeTier string // projects (1- or 2-tier with a prime contract; 3-tier with one)
	primeCO            *data.PrimeChangeOrder
	primeCOContract    *data.PrimeContract
	pkg                *data.ChangeOrderPackage
	pkgContract        *data.PrimeContract
	cco                *data.ChangeOrder
	ccoProject         string
	// payProject/payContract/payApp: a contract whose latest payment
	// application is not approved, and an approved (earlier) one.
	payProject, payContract string
	openApp, approvedApp    *data.PaymentApplication
}

func findStatusFixture(t *testing.T, sb *sandbox.Running) statusFixture {
	t.Helper()
	var f statusFixture
	movable := func(s string) bool { return s != "approved" && s != "void" }
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.CompanyID != d.Companies[0].ID || !p.Active || len(p.PrimeContracts) != 1 {
				continue
			}
			pc := p.PrimeContracts[0]
			if !p.ThreeTierChangeOrders() {
				for _, x := range p.ChangeMgmt.PrimeChangeOrders {
					if f.primeCO == nil && movable(x.Status) && x.GrandTotal != 0 {
						f.twoTier, f.primeCO, f.primeCOContract = id64(p.ID), x, pc
					}
				}
				for _, x := range p.ChangeOrders {
					if f.cco == nil && movable(x.Status) {
						f.cco, f.ccoProject = x, id64(p.ID)
					}
				}
			} else {
				for _, x := range p.ChangeMgmt.Packages {
					if f.pkg == nil && movable(x.Status) && x.GrandTotal != 0 {
						f.threeTier, f.pkg, f.pkgContract = id64(p.ID), x, pc
					}
				}
			}
			if n := len(pc.PaymentApplications); f.openApp == nil && n >= 2 && pc.PaymentApplications[n-1].Status != "approved" &&
				pc.PaymentApplications[0].Status == "approved" {
				f.payProject, f.payContract = id64(p.ID), id64(pc.ID)
				f.openApp, f.approvedApp = pc.PaymentApplications[n-1], pc.PaymentApplications[0]
			}
		}
	})
	if f.primeCO == nil || f.pkg == nil || f.cco == nil || f.openApp == nil {
		t.Fatalf("dataset lacks a fixture: prime CO %v, package %v, commitment CO %v, open payment application %v",
			f.primeCO != nil, f.pkg != nil, f.cco != nil, f.openApp != nil)
	}
	return f
}

func TestStatusWrites(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 15, ItemsPerProject: 4}})
	f := findStatusFixture(t, sb)
	env["API_KEYS"] += ";" + apiKeyEntry("bi-reader", "read", "", readKey)
	m := &mutationEnv{sb: sb, env: env, gw: startGateway(t, env)}

	readProject := func(t *testing.T, project string) statusProject {
		t.Helper()
		var out statusProject
		m.do(t, statusProjectQ, map[string]any{"p": project}, &out)
		return out
	}
	setCO := func(t *testing.T, project, typ, id, status string) changeOrderStatusOut {
		t.Helper()
		var out changeOrderStatusOut
		m.do(t, changeOrderStatusM, map[string]any{"in": map[string]any{"projectId": project, "changeOrderId": id, "type": typ,
			"status": status, "clientMutationId": "cm-" + id}}, &out)
		if out.R.ClientMutationID == nil || *out.R.ClientMutationID != "cm-"+id {
			t.Fatalf("clientMutationId %v, want cm-%s", out.R.ClientMutationID, id)
		}
		return out
	}
	wantWrites := func(t *testing.T, want map[string]int64) {
		t.Helper()
		if got := writes(sb); !maps.Equal(got, want) {
			t.Fatalf("upstream writes %v, want %v", got, want)
		}
	}
	// approvalRaises approves a change order whose grand total is total and
	// checks that the project's prime contract (approved change orders, revised
	// value) and its open payment applications rose by exactly total.
	approvalRaises := func(t *testing.T, project, typ string, id int64, pc *data.PrimeContract, total data.Fixed, route, prevStatus string) {
		var wm struct {
			Changes struct{ EndCursor string } `json:"changes"`
		}
		m.do(t, `{ changes { endCursor } }`, nil, &wm)
		openBefore := map[string]data.Fixed{}
		sb.ReadDataset(func(*data.Dataset) {
			for _, a := range pc.PaymentApplications {
				if a.Status != "approved" {
					openBefore[id64(a.ID)] = a.NetChangeByCOs
				}
			}
		})
		var approvedBefore, original data.Fixed
		sb.ReadDataset(func(*data.Dataset) { approvedBefore, original = pc.ApprovedChangeOrders, pc.OriginalValue })
		before := readProject(t, project) // also fills the gateway's caches
		if n := len(before.Project.PrimeContracts.Nodes); n != 1 {
			t.Fatalf("%d prime contracts", n)
		}
		if got := dec(t, before.Project.PrimeContracts.Nodes[0].ApprovedChangeOrders); !got.Equal(cents(approvedBefore)) {
			t.Fatalf("approvedChangeOrders before %s, sandbox row %s", got, cents(approvedBefore))
		}
		sb.ResetStats()
		out := setCO(t, project, typ, id64(id), "APPROVED")
		item := out.R.PrimeChangeOrder
		if typ == "CHANGE_ORDER_PACKAGE" {
			item = out.R.ChangeOrderPackage
		}
		if len(out.R.UserErrors) != 0 || item == nil || item.ID != id64(id) || item.Status != "APPROVED" || !item.Executed {
			t.Fatalf("payload %+v", out.R)
		}
		wantWrites(t, map[string]int64{route: 1})
		// One fresh read of the item (its list, filtered by id) and the PATCH.
		if st := sb.Stats(); st.Total != 2 {
			t.Fatalf("%d Procore calls for the approval, want 2: %v", st.Total, st.ByRoute)
		}

		// The differ saw the state before and after: one STATUS_CHANGED.
		var feed struct {
			Changes struct {
				Nodes []struct {
					Kind           string  `json:"kind"`
					ItemKind       string  `json:"itemKind"`
					ItemID         string  `json:"itemId"`
					PreviousStatus *string `json:"previousStatus"`
					Status         *string `json:"status"`
					Source         string  `json:"source"`
				} `json:"nodes"`
			} `json:"changes"`
		}
		m.do(t, `query($s: String) { changes(since: $s) { nodes { kind itemKind itemId previousStatus status source } } }`,
			map[string]any{"s": wm.Changes.EndCursor}, &feed)
		if n := feed.Changes.Nodes; len(n) != 1 || n[0].Kind != "STATUS_CHANGED" || n[0].ItemKind != typ || n[0].ItemID != id64(id) ||
			n[0].PreviousStatus == nil || *n[0].PreviousStatus != strings.ToUpper(prevStatus) || n[0].Status == nil || *n[0].Status != "APPROVED" || n[0].Source != "MUTATION" {
			t.Fatalf("change feed after the approval: %+v, want one STATUS_CHANGED %s → APPROVED of %s %d", n, strings.ToUpper(prevStatus), typ, id)
		}

		wantApproved := cents(approvedBefore).Add(cents(total))
		after := readProject(t, project)
		c := after.Project.PrimeContracts.Nodes[0]
		if got := dec(t, c.ApprovedChangeOrders); !got.Equal(wantApproved) {
			t.Fatalf("approvedChangeOrders %s after approving %s, want %s + %s = %s", got, cents(total), cents(approvedBefore), cents(total), wantApproved)
		}
		if got := dec(t, c.RevisedValue); !got.Equal(cents(original).Add(wantApproved)) {
			t.Fatalf("revisedValue %s, want %s", got, cents(original).Add(wantApproved))
		}
		for _, a := range c.PaymentApplications.Nodes {
			if prev, open := openBefore[a.ID]; open {
				if got := dec(t, a.G702.NetChangeByChangeOrders); !got.Equal(cents(prev).Add(cents(total))) {
					t.Fatalf("open payment application %s netChangeByChangeOrders %s, want %s", a.ID, got, cents(prev).Add(cents(total)))
				}
			}
		}
		list := after.Project.PrimeChangeOrders.Nodes
		if typ == "CHANGE_ORDER_PACKAGE" {
			list = after.Project.ChangeOrderPackages.Nodes
		}
		i := slices.IndexFunc(list, func(x statusItem) bool { return x.ID == id64(id) })
		if i < 0 || list[i].Status != "APPROVED" {
			t.Fatalf("read back: %+v", list)
		}

		// The same status again: success, no write.
		again := setCO(t, project, typ, id64(id), "APPROVED")
		if len(again.R.UserErrors) != 0 {
			t.Fatalf("same status again: %+v", again.R)
		}
		wantWrites(t, map[string]int64{route: 1})

		// Out of APPROVED (except to VOID) is refused: no write.
		back := setCO(t, project, typ, id64(id), "DRAFT")
		if len(back.R.UserErrors) != 1 || back.R.UserErrors[0].Code != "INVALID_TRANSITION" || !slices.Equal(back.R.UserErrors[0].Field, []string{"input", "status"}) {
			t.Fatalf("APPROVED → DRAFT: %+v", back.R)
		}
		wantWrites(t, map[string]int64{route: 1})

		// APPROVED → VOID is allowed and takes the grand total off again.
		if v := setCO(t, project, typ, id64(id), "VOID"); len(v.R.UserErrors) != 0 {
			t.Fatalf("APPROVED → VOID: %+v", v.R)
		}
		wantWrites(t, map[string]int64{route: 2})
		voided := readProject(t, project).Project.PrimeContracts.Nodes[0]
		if got := dec(t, voided.ApprovedChangeOrders); !got.Equal(cents(approvedBefore)) {
			t.Fatalf("approvedChangeOrders %s after voiding, want %s again", got, cents(approvedBefore))
		}
		// VOID is final.
		if v := setCO(t, project, typ, id64(id), "PENDING"); len(v.R.UserErrors) != 1 || v.R.UserErrors[0].Code != "INVALID_TRANSITION" {
			t.Fatalf("VOID → PENDING: %+v", v.R)
		}
		wantWrites(t, map[string]int64{route: 2})
	}

	t.Run("ApprovingPrimeChangeOrderRaisesPrimeContractByItsGrandTotal", func(t *testing.T) {
		approvalRaises(t, f.twoTier, "PRIME_CHANGE_ORDER", f.primeCO.ID, f.primeCOContract, f.primeCO.GrandTotal, routePrimeCOPatch, f.primeCO.Status)
	})

	t.Run("ApprovingPackageRaisesPrimeContractByItsGrandTotal", func(t *testing.T) {
		approvalRaises(t, f.threeTier, "CHANGE_ORDER_PACKAGE", f.pkg.ID, f.pkgContract, f.pkg.GrandTotal, routePackagePatch, f.pkg.Status)
	})

	t.Run("CommitmentChangeOrderStatusReadsBack", func(t *testing.T) {
		before := readProject(t, f.ccoProject)
		if !slices.ContainsFunc(before.Project.ChangeOrders.Nodes, func(x statusItem) bool { return x.ID == id64(f.cco.ID) }) {
			t.Fatalf("commitment change order %d not listed", f.cco.ID)
		}
		sb.ResetStats()
		out := setCO(t, f.ccoProject, "COMMITMENT_CHANGE_ORDER", id64(f.cco.ID), "REJECTED")
		if len(out.R.UserErrors) != 0 || out.R.CommitmentChangeOrder == nil || out.R.CommitmentChangeOrder.Status != "REJECTED" {
			t.Fatalf("payload %+v", out.R)
		}
		wantWrites(t, map[string]int64{routeCCOPatch: 1})
		after := readProject(t, f.ccoProject)
		i := slices.IndexFunc(after.Project.ChangeOrders.Nodes, func(x statusItem) bool { return x.ID == id64(f.cco.ID) })
		if i < 0 || after.Project.ChangeOrders.Nodes[i].Status != "REJECTED" {
			t.Fatalf("read back: %+v", after.Project.ChangeOrders.Nodes)
		}
	})

	t.Run("WrongTierTypesWriteNothing", func(t *testing.T) {
		for _, c := range []struct{ name, project, typ, id string }{
			{"PrimeChangeOrderOnThreeTierProject", f.threeTier, "PRIME_CHANGE_ORDER", id64(f.pkg.ID)},
			{"CommitmentChangeOrderOnThreeTierProject", f.threeTier, "COMMITMENT_CHANGE_ORDER", id64(f.pkg.ID)},
			{"PackageOnTwoTierProject", f.twoTier, "CHANGE_ORDER_PACKAGE", id64(f.primeCO.ID)},
		} {
			t.Run(c.name, func(t *testing.T) {
				sb.ResetStats()
				out := setCO(t, c.project, c.typ, c.id, "PENDING")
				if len(out.R.UserErrors) != 1 || out.R.UserErrors[0].Code != "INVALID_VALUE" || !slices.Equal(out.R.UserErrors[0].Field, []string{"input", "type"}) {
					t.Fatalf("%+v, want one INVALID_VALUE on input.type", out.R)
				}
				wantWrites(t, map[string]int64{})
			})
		}
	})

	t.Run("UnknownStatusIsRefusedBeforeAnyProcoreCall", func(t *testing.T) {
		sb.ResetStats()
		out := setCO(t, f.twoTier, "PRIME_CHANGE_ORDER", id64(f.primeCO.ID), "UNKNOWN")
		if len(out.R.UserErrors) != 1 || out.R.UserErrors[0].Code != "INVALID_VALUE" {
			t.Fatalf("%+v", out.R)
		}
		var p payAppStatusOut
		m.do(t, payAppStatusM, map[string]any{"in": map[string]any{"projectId": f.payProject, "primeContractId": f.payContract,
			"paymentApplicationId": id64(f.openApp.ID), "status": "UNKNOWN"}}, &p)
		if len(p.R.UserErrors) != 1 || p.R.UserErrors[0].Code != "INVALID_VALUE" {
			t.Fatalf("%+v", p.R)
		}
		if n := sb.Stats().Total; n != 0 {
			t.Fatalf("%d Procore calls, want 0: %v", n, sb.Stats().ByRoute)
		}
	})

	t.Run("PaymentApplicationStatusReadsBack", func(t *testing.T) {
		next := map[string]string{"draft": "UNDER_REVIEW", "under_review": "APPROVED", "revise_and_resubmit": "UNDER_REVIEW"}[f.openApp.Status]
		readProject(t, f.payProject) // cached, so the read back below proves the invalidation
		sb.ResetStats()
		set := func(status string) payAppStatusOut {
			var p payAppStatusOut
			m.do(t, payAppStatusM, map[string]any{"in": map[string]any{"projectId": f.payProject, "primeContractId": f.payContract,
				"paymentApplicationId": id64(f.openApp.ID), "status": status, "clientMutationId": "pay"}}, &p)
			return p
		}
		p := set(next)
		if len(p.R.UserErrors) != 0 || p.R.PaymentApplication == nil || p.R.PaymentApplication.Status != next || p.R.ClientMutationID == nil || *p.R.ClientMutationID != "pay" {
			t.Fatalf("payload %+v", p.R)
		}
		wantWrites(t, map[string]int64{routePayAppPatch: 1})
		if again := set(next); len(again.R.UserErrors) != 0 || again.R.PaymentApplication.Status != next {
			t.Fatalf("same status again: %+v", again.R)
		}
		wantWrites(t, map[string]int64{routePayAppPatch: 1})
		after := readProject(t, f.payProject)
		found := false
		for _, c := range after.Project.PrimeContracts.Nodes {
			for _, a := range c.PaymentApplications.Nodes {
				if a.ID == id64(f.openApp.ID) {
					found = a.Status == next
				}
			}
		}
		if !found {
			t.Fatalf("read back: payment application %d is not %s", f.openApp.ID, next)
		}
	})

	t.Run("ApprovedPaymentApplicationIsFinalAndWritesNothing", func(t *testing.T) {
		sb.ResetStats()
		var p payAppStatusOut
		m.do(t, payAppStatusM, map[string]any{"in": map[string]any{"projectId": f.payProject, "primeContractId": f.payContract,
			"paymentApplicationId": id64(f.approvedApp.ID), "status": "DRAFT"}}, &p)
		if len(p.R.UserErrors) != 1 || p.R.UserErrors[0].Code != "INVALID_TRANSITION" || p.R.PaymentApplication != nil {
			t.Fatalf("%+v", p.R)
		}
		wantWrites(t, map[string]int64{})
	})

	t.Run("WithoutWriteScopeIsForbidden", func(t *testing.T) {
		sb.ResetStats()
		for _, q := range []struct {
			query string
			in    map[string]any
		}{
			{changeOrderStatusM, map[string]any{"projectId": f.twoTier, "changeOrderId": id64(f.primeCO.ID), "type": "PRIME_CHANGE_ORDER", "status": "VOID"}},
			{payAppStatusM, map[string]any{"projectId": f.payProject, "primeContractId": f.payContract, "paymentApplicationId": id64(f.openApp.ID), "status": "DRAFT"}},
		} {
			status, resp := rawPost(t, m.gw.URL, q.query, map[string]any{"in": q.in}, bearerHeader(readKey))
			if status != http.StatusForbidden || firstCode(resp) != "FORBIDDEN" {
				t.Fatalf("status %d, errors %+v; want 403 FORBIDDEN", status, resp.Errors)
			}
		}
		if n := sb.Stats().Total; n != 0 {
			t.Fatalf("%d Procore calls, want 0: %v", n, sb.Stats().ByRoute)
		}
	})
}
