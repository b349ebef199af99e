package rest

// The adapter against Procore's published contract: every Client method that
// reaches Procore, called with valid inputs from the sandbox dataset, on a
// sandbox that records each request outside the contract
// (sandbox/contract, Config.Contract "record"). The test fails on any
// violation: an operation, query parameter or body key the adapter sends
// that Procore does not publish.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/contract"
	"procoregraph/sandbox/data"
)

// adapterOperations are the Procore operations rest.Client reaches (reader.go,
// writer.go, webhooks.go, upload.go, CompanyID). A new call to Procore adds
// its operationId here, and a step to the test below.
var adapterOperations = []string{
	"RestV10MeGet",
	"RestV10CompaniesGet",
	"RestV11ProjectsGet",
	"RestV10ProjectsIdGet",
	"RestV13CompaniesCompanyIdUsersGet",
	"RestV13CompaniesCompanyIdUsersIdGet",
	"RestV10ProjectsProjectIdUsersGet",
	"RestV10VendorsGet",
	"RestV11ProjectsProjectIdVendorsGet",
	"RestV10CostCodesGet",
	"RestV10ProjectsProjectIdRfisGet",
	"RestV10ProjectsProjectIdRfisPost",
	"RestV10ProjectsProjectIdRfisIdGet",
	"RestV10ProjectsProjectIdRfisIdPatch",
	"RestV10ProjectsProjectIdRfisRfiIdRepliesPost",
	"RestV10ProjectsProjectIdRfisIdAdvanceBallInCourtPatch",
	"RestV10ProjectsProjectIdRfisIdForwardForReviewPatch",
	"RestV10CompaniesCompanyIdSubmittalStatusesGet",
	"RestV10ProjectsProjectIdSubmittalResponsesGet",
	"RestV11ProjectsProjectIdSubmittalsGet",
	"RestV11ProjectsProjectIdSubmittalsPost",
	"RestV11ProjectsProjectIdSubmittalsIdGet",
	"RestV11ProjectsProjectIdSubmittalsIdPatch",
	"RestV10SubmittalApproversIdPatch",
	"RestV10WorkOrderContractsGet",
	"RestV10WorkOrderContractsPost",
	"RestV10WorkOrderContractsIdGet",
	"RestV10WorkOrderContractsIdPatch",
	"RestV10WorkOrderContractsWorkOrderContractIdLineItemsPost",
	"RestV10PurchaseOrderContractsGet",
	"RestV10PurchaseOrderContractsPost",
	"RestV10PurchaseOrderContractsIdGet",
	"RestV10PurchaseOrderContractsIdPatch",
	"RestV10PurchaseOrderContractsPurchaseOrderContractIdLineItemsPost",
	"RestV10ProjectsProjectIdCommitmentChangeOrdersGet",
	"RestV10ProjectsProjectIdCommitmentChangeOrdersPost",
	"RestV10ProjectsProjectIdCommitmentChangeOrdersIdPatch",
	"RestV10ProjectsProjectIdCommitmentChangeOrdersIdDelete",
	"RestV20CompaniesCompanyIdProjectsProjectIdCommitmentChangeOrdersCommitmentChangeOrderIdLineItemsPost",
	"RestV20CompaniesCompanyIdProjectsProjectIdCommitmentContractsCommitmentContractIdLineItemsGet",
	"RestV10ProjectsProjectIdBillingPeriodsGet",
	"RestV11RequisitionsGet",
	"RestV11RequisitionsPost",
	"RestV11RequisitionsIdGet",
	"RestV11RequisitionsIdPatch",
	"RestV10BudgetViewsGet",
	"RestV10BudgetViewsBudgetViewIdDetailRowsGet",
	"RestV10ProjectsProjectIdManpowerLogsGet",
	"RestV10ProjectsProjectIdNotesLogsGet",
	"RestV10ObservationsItemsGet",
	"RestV11PunchItemsGet",
	"RestV10WebhooksHooksGet",
	"RestV10WebhooksHooksPost",
	"RestV10WebhooksHooksIdPatch",
	"RestV10WebhooksHooksHookIdTriggersGet",
	"RestV10WebhooksHooksHookIdTriggersPost",
	"RestV10WebhooksHooksHookIdTriggersIdDelete",
	"RestV10WebhooksResourcesGet",
	"RestV11ProjectsProjectIdUploadsPost",
	"RestV11ProjectsProjectIdUploadsUuidPatch",
	// change management (wire_changemgmt.go)
	"RestV10ChangeEventsGet",
	"RestV10PotentialChangeOrdersGet",
	"RestV10PotentialChangeOrdersPotentialChangeOrderIdLineItemsGet",
	"RestV10ChangeOrderRequestsGet",
	"RestV10ChangeOrderPackagesGet",
	"RestV10ProjectsProjectIdPrimeChangeOrdersGet",
}

// contractRun attributes the sandbox's counters to the Client method that
// caused them.
type contractRun struct {
	t          *testing.T
	e          *e2e
	table      *contract.Table
	calls      map[string]int64           // operation name → calls
	callers    map[string]map[string]bool // operation name → Client methods
	violations map[string]int64           // violation key → requests
	by         map[string]map[string]bool // violation key → Client methods
}

// step runs one Client call alone (the counters reset before it) and files
// what it sent. A failing call fails the test, but the run goes on.
func (r *contractRun) step(method string, fn func() error) {
	r.t.Helper()
	r.e.run.ResetStats()
	if err := fn(); err != nil {
		r.t.Errorf("%s: %v", method, err)
	}
	st := r.e.run.Stats()
	for route, n := range st.ByRoute {
		name := route
		if m, path, ok := strings.Cut(route, " "); ok {
			if op, found := r.table.Match(m, path); found {
				name = op.Name()
			}
		}
		r.calls[name] += n
		if r.callers[name] == nil {
			r.callers[name] = map[string]bool{}
		}
		r.callers[name][method] = true
	}
	for k, n := range st.ContractViolations {
		r.violations[k] += n
		if r.by[k] == nil {
			r.by[k] = map[string]bool{}
		}
		r.by[k][method] = true
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEveryOperationMeetsTheContract(t *testing.T) {
	e := startE2E(t, sandbox.Config{Contract: sandbox.ContractRecord, DemoMFA: "none", HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2}}, nil)
	ctx := context.Background()
	c, cid, pid := e.client, e.companyID, e.projectID
	run := &contractRun{t: t, e: e, table: contract.Must(), calls: map[string]int64{}, callers: map[string]map[string]bool{},
		violations: map[string]int64{}, by: map[string]map[string]bool{}}

	// Valid inputs from the dataset.
	fx := pickWriteFixture(e)
	since := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		projectName                           string
		users, vendors                        []int64
		rfiID, submittalID, observationID     int64
		punchID, workOrderID, purchaseOrderID int64
		invoiceID, invoiceCommitment          int64
		budgetViewID, specSection             int64
		logFrom, logTo                        adapter.Date
	)
	e.read(func(ds *data.Dataset, p *data.Project) {
		projectName = p.Name
		users = fx.users[:3]
		vendors = p.VendorIDs[:2]
		rfiID, submittalID = p.RFIs[0].ID, p.Submittals[0].ID
		observationID, punchID = p.Observations[0].ID, p.PunchItems[0].ID
		for _, x := range p.Commitments {
			switch {
			case x.Kind == data.WorkOrder && workOrderID == 0:
				workOrderID = x.ID
			case x.Kind == data.PurchaseOrder && purchaseOrderID == 0:
				purchaseOrderID = x.ID
			}
		}
		invoiceID, invoiceCommitment = p.Invoices[0].ID, p.Invoices[0].CommitmentID
		budgetViewID = p.BudgetViews[0].ID
		specSection = ds.Company(e.companyID).Specs[0].ID
		logFrom, logTo = adapter.DateOf(p.Manpower[0].Date), adapter.DateOf(p.Manpower[0].Date)
		for _, m := range p.Manpower {
			if d := adapter.DateOf(m.Date); d.Before(logFrom) {
				logFrom = d
			} else if logTo.Before(d) {
				logTo = d
			}
		}
	})
	filtered := func(ids ...int64) adapter.ListOptions { return adapter.ListOptions{UpdatedSince: &since, IDs: ids} }
	due := adapter.Date{Year: 2031, Month: 5, Day: 17}
	all, active := adapter.ProjectStatusAll, adapter.ProjectStatusActive
	search := projectName[:3]

	// Discovery: a person's credential and no company configured.
	refresh := contractUserRefreshToken(t, e.run)
	run.step("CompanyID (discovery)", func() error {
		person, err := New(Config{APIURL: e.run.URL, ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
			RefreshToken: refresh, Logger: quietLogger()})
		if err != nil {
			return err
		}
		defer person.CloseIdleConnections()
		got, err := person.CompanyID(ctx)
		if err == nil && got != cid {
			t.Errorf("discovered company %d, want %d", got, cid)
		}
		return err
	})

	// Reader.
	run.step("Me", func() error { _, err := c.Me(ctx); return err })
	run.step("Companies", func() error { _, err := c.Companies(ctx); return err })
	run.step("Projects", func() error {
		_, err := c.Projects(ctx, cid, adapter.ProjectFilter{Status: &all, Search: &search, UpdatedSince: &since}, filtered(pid))
		return err
	})
	run.step("Projects", func() error {
		_, err := c.Projects(ctx, cid, adapter.ProjectFilter{Status: &active}, adapter.ListOptions{Limit: 1})
		return err
	})
	run.step("Project", func() error { _, err := c.Project(ctx, cid, pid); return err })
	// Users by several ids and by one (an id lookup may take another route).
	run.step("CompanyUsers", func() error { _, err := c.CompanyUsers(ctx, cid, filtered(users...)); return err })
	run.step("CompanyUsers", func() error { _, err := c.CompanyUsers(ctx, cid, filtered(users[0])); return err })
	run.step("ProjectUsers", func() error { _, err := c.ProjectUsers(ctx, pid, filtered(users...)); return err })
	run.step("ProjectUsers", func() error { _, err := c.ProjectUsers(ctx, pid, filtered(users[0])); return err })
	run.step("CompanyVendors", func() error { _, err := c.CompanyVendors(ctx, cid, filtered(vendors...)); return err })
	run.step("ProjectVendors", func() error { _, err := c.ProjectVendors(ctx, pid, filtered(vendors...)); return err })
	run.step("CostCodes", func() error { _, err := c.CostCodes(ctx, pid, filtered(fx.costCode)); return err })
	run.step("RFIs", func() error { _, err := c.RFIs(ctx, pid, filtered(rfiID)); return err })
	run.step("RFI", func() error { _, err := c.RFI(ctx, pid, rfiID); return err })
	run.step("Submittals", func() error { _, err := c.Submittals(ctx, pid, filtered(submittalID)); return err })
	run.step("Submittal", func() error { _, err := c.Submittal(ctx, pid, submittalID); return err })
	run.step("Commitments", func() error { _, err := c.Commitments(ctx, pid, filtered(workOrderID, purchaseOrderID)); return err })
	run.step("Commitment", func() error {
		_, err := c.Commitment(ctx, pid, adapter.CommitmentSubcontract, workOrderID)
		return err
	})
	run.step("Commitment", func() error {
		_, err := c.Commitment(ctx, pid, adapter.CommitmentPurchaseOrder, purchaseOrderID)
		return err
	})
	run.step("ChangeOrders", func() error { _, err := c.ChangeOrders(ctx, pid, nil); return err })
	run.step("ChangeOrders", func() error { _, err := c.ChangeOrders(ctx, pid, &workOrderID); return err })
	run.step("Invoices", func() error {
		st := adapter.InvoiceDraft
		_, err := c.Invoices(ctx, pid, adapter.InvoiceFilter{CommitmentID: &invoiceCommitment, Status: &st}, filtered(invoiceID))
		return err
	})
	run.step("Invoice", func() error { _, err := c.Invoice(ctx, pid, invoiceID); return err })
	run.step("BillingPeriods", func() error { _, err := c.BillingPeriods(ctx, pid); return err })
	run.step("BudgetViews", func() error { _, err := c.BudgetViews(ctx, pid); return err })
	run.step("BudgetRows", func() error { _, err := c.BudgetRows(ctx, pid, budgetViewID); return err })
	// Change management, on a project with PCOs (2 or 3 tiers).
	var pcoProject, pcoID int64
	e.read(func(ds *data.Dataset, _ *data.Project) {
		for _, p := range ds.Projects {
			if p.CompanyID == cid && len(p.ChangeMgmt.PCOs) > 0 && pcoID == 0 {
				pcoProject, pcoID = p.ID, p.ChangeMgmt.PCOs[0].ID
			}
		}
	})
	run.step("ChangeEvents", func() error { _, err := c.ChangeEvents(ctx, pcoProject); return err })
	run.step("PotentialChangeOrders", func() error { _, err := c.PotentialChangeOrders(ctx, pcoProject); return err })
	run.step("PCOLineItems", func() error { _, err := c.PCOLineItems(ctx, pcoProject, pcoID); return err })
	run.step("ChangeOrderRequests", func() error { _, err := c.ChangeOrderRequests(ctx, pcoProject); return err })
	run.step("ChangeOrderPackages", func() error { _, err := c.ChangeOrderPackages(ctx, pcoProject); return err })
	run.step("PrimeChangeOrders", func() error { _, err := c.PrimeChangeOrders(ctx, pcoProject); return err })
	run.step("DailyLogs", func() error {
		_, err := c.DailyLogs(ctx, pid, adapter.DateRange{From: logFrom, To: logTo})
		return err
	})
	run.step("Observations", func() error { _, err := c.Observations(ctx, pid, filtered(observationID)); return err })
	run.step("PunchItems", func() error { _, err := c.PunchItems(ctx, pid, filtered(punchID)); return err })

	// Writer.
	var upload string
	run.step("Upload", func() (err error) {
		upload, err = c.Upload(ctx, pid, adapter.UploadInput{Filename: "S-501.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 S-501\n")})
		return err
	})
	uploads := []string{upload}
	var rfi adapter.RFI
	run.step("CreateRFI", func() (err error) {
		rfi, err = c.CreateRFI(ctx, pid, adapter.RFICreate{Subject: "Embed plate conflict", Question: "Which detail governs?",
			ManagerID: users[0], AssigneeIDs: users[1:3], DueDate: &due, UploadIDs: uploads,
			CostImpact:     &adapter.Impact{Status: adapter.ImpactYesKnown, Value: mustDec("1234.50")},
			ScheduleImpact: &adapter.Impact{Status: adapter.ImpactYesKnown, Value: mustDec("3")}})
		return err
	})
	run.step("ReplyToRFI", func() error {
		_, err := c.ReplyToRFI(ctx, pid, rfi.ID, adapter.RFIReply{Body: "Use detail 5/S-501.", Official: true, UploadIDs: uploads})
		return err
	})
	run.step("AdvanceRFIBallInCourt", func() error { _, err := c.AdvanceRFIBallInCourt(ctx, pid, rfi.ID); return err })
	run.step("ForwardRFI", func() error { _, err := c.ForwardRFI(ctx, pid, rfi.ID, fx.users[3]); return err })
	run.step("SetRFIAccepted", func() error { _, err := c.SetRFIAccepted(ctx, pid, rfi.ID, true); return err })
	run.step("SetRFIAccepted", func() error { _, err := c.SetRFIAccepted(ctx, pid, rfi.ID, false); return err })

	run.step("SubmittalStatuses", func() error { _, err := c.SubmittalStatuses(ctx, cid); return err })
	run.step("SubmittalResponses", func() error { _, err := c.SubmittalResponses(ctx, pid); return err })
	var sub adapter.Submittal
	run.step("CreateSubmittal", func() (err error) {
		sub, err = c.CreateSubmittal(ctx, pid, adapter.SubmittalCreate{Number: "CONTRACT-1", Title: "Anchor bolts", Type: "Shop Drawing",
			SpecSection: itoa(int(specSection)), Description: "Shop drawings", DueDate: &due, DistributionIDs: users[2:3], UploadIDs: uploads,
			Steps: []adapter.SubmittalStep{{ApproverIDs: users[:1], DaysToRespond: 5}, {ApproverIDs: users[1:3], DaysToRespond: 7}}})
		return err
	})
	run.step("UpdateSubmittalStatus", func() error { _, err := c.UpdateSubmittalStatus(ctx, pid, sub.ID, fx.statusIDs["Open"]); return err })
	run.step("RespondToSubmittal", func() error {
		if len(sub.Approvers) == 0 {
			var err error
			if sub, err = c.Submittal(ctx, pid, sub.ID); err != nil || len(sub.Approvers) == 0 {
				return err
			}
		}
		_, err := c.RespondToSubmittal(ctx, pid, sub.ID, sub.Approvers[0].ID, fx.approvedResponse, "Approved, see stamp")
		return err
	})

	var wo, po adapter.Commitment
	run.step("CreateCommitment", func() (err error) {
		wo, err = c.CreateCommitment(ctx, pid, adapter.CommitmentCreate{Kind: adapter.CommitmentSubcontract, Number: "SC-CONTRACT-1",
			Title: "Steel", VendorID: &fx.vendor, Status: adapter.CommitmentApproved, RetainagePercent: mustDec("10"),
			Description: "Structural steel", UploadIDs: uploads,
			LineItems: []adapter.CommitmentLineItemInput{
				{Description: "Fabrication", Amount: decimal.RequireFromString("60000.00"), CostCodeID: &fx.costCode},
				{Description: "Erection", Amount: decimal.RequireFromString("400.50"), Quantity: mustDec("3"), UnitCost: mustDec("133.50"), UOM: "ea"},
			}})
		return err
	})
	run.step("CreateCommitment", func() (err error) {
		po, err = c.CreateCommitment(ctx, pid, adapter.CommitmentCreate{Kind: adapter.CommitmentPurchaseOrder, Title: "Bolts", VendorID: &fx.vendor,
			LineItems: []adapter.CommitmentLineItemInput{{Description: "Bolts", Amount: decimal.NewFromInt(100)}}})
		return err
	})
	run.step("UpdateCommitmentStatus", func() error {
		_, err := c.UpdateCommitmentStatus(ctx, pid, adapter.CommitmentPurchaseOrder, po.ID, adapter.CommitmentApproved)
		return err
	})
	// A change order is a v1.0 create (commitment contract keys only), its
	// amount a v2.0 line item on the WBS code read from the commitment's v2.0
	// line items, then a v1.0 status update when the status is not draft.
	run.step("CreateChangeOrder", func() error {
		_, err := c.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: wo.ID, Number: "CO-1", Title: "Added bracing",
			Status: adapter.ChangeOrderPending, Description: "Bracing at grid B", DueDate: &due, Amount: decimal.RequireFromString("2500.25")})
		return err
	})
	run.step("CreateChangeOrder", func() error {
		_, err := c.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: purchaseOrderID, Amount: decimal.RequireFromString("-40.00")})
		return err
	})
	// A line Procore refuses (three decimal places) rolls the change order
	// back with the v1.0 delete.
	run.step("CreateChangeOrder", func() error {
		co, err := c.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: purchaseOrderID, Amount: decimal.RequireFromString("1.005")})
		var ae *adapter.Error
		if co.ID != 0 || !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput {
			return fmt.Errorf("a refused line: %+v, %v; want no change order and BAD_USER_INPUT", co, err)
		}
		return nil
	})
	var inv adapter.Invoice
	run.step("CreateInvoice", func() (err error) {
		if len(wo.LineItems) == 0 {
			return nil // CreateCommitment failed, reported above
		}
		inv, err = c.CreateInvoice(ctx, pid, adapter.InvoiceCreate{CommitmentID: wo.ID, PeriodID: fx.openPeriod, InvoiceNumber: "INV-CONTRACT-1",
			BillingDate: &due, UploadIDs: uploads,
			Items: []adapter.InvoiceItemInput{{LineItemID: wo.LineItems[0].ID, WorkCompletedThisPeriod: decimal.RequireFromString("15000.00"),
				MaterialsPresentlyStored: decimal.RequireFromString("2000.00"), WorkCompletedRetainagePercent: decimal.NewFromInt(10),
				MaterialsStoredRetainagePercent: decimal.NewFromInt(10)}}})
		return err
	})
	run.step("UpdateInvoiceStatus", func() error {
		_, err := c.UpdateInvoiceStatus(ctx, pid, inv.ID, adapter.InvoiceUnderReview)
		return err
	})
	run.step("UpdateCommitmentStatus", func() error {
		_, err := c.UpdateCommitmentStatus(ctx, pid, adapter.CommitmentSubcontract, wo.ID, adapter.CommitmentComplete)
		return err
	})

	// Webhooks, last: deliveries of the writes above do not matter here.
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(dest.Close)
	var hook adapter.WebhookHook
	run.step("CreateWebhookHook", func() (err error) {
		hook, err = c.CreateWebhookHook(ctx, cid, adapter.WebhookHookInput{Namespace: "contract-e2e", DestinationURL: dest.URL, Authorization: "Bearer s3cret"})
		return err
	})
	run.step("UpdateWebhookHook", func() error {
		_, err := c.UpdateWebhookHook(ctx, cid, hook.ID, adapter.WebhookHookInput{Namespace: "contract-e2e", DestinationURL: dest.URL + "/v2",
			Authorization: "Bearer s3cret", APIVersion: "v2"})
		return err
	})
	run.step("WebhookHooks", func() error { _, err := c.WebhookHooks(ctx, cid, "contract-e2e"); return err })
	run.step("CreateWebhookTrigger", func() error {
		_, err := c.CreateWebhookTrigger(ctx, cid, hook.ID, "RFIs", "create")
		return err
	})
	run.step("WebhookTriggers", func() error { _, err := c.WebhookTriggers(ctx, cid, hook.ID); return err })
	run.step("WebhookResources", func() error { _, err := c.WebhookResources(ctx, cid); return err })
	run.step("DeleteWebhookTrigger", func() error {
		tr, err := c.CreateWebhookTrigger(ctx, cid, hook.ID, "Submittals", "update")
		if err != nil {
			return err
		}
		return c.DeleteWebhookTrigger(ctx, cid, hook.ID, tr.ID)
	})

	// Every operation the adapter uses is in the contract and was called.
	uses := map[string]bool{}
	for _, id := range adapterOperations {
		uses[id] = true
		op, ok := opByName(run.table, id)
		switch {
		case !ok:
			t.Errorf("%s: not in the contract table", id)
		case !op.Published:
			t.Errorf("%s: Procore publishes no such operation", id)
		case run.calls[id] == 0:
			t.Errorf("%s: no step of this test reached it", id)
		}
	}
	var lines []string
	for _, name := range sortedKeys(run.calls) {
		lines = append(lines, name+" "+itoa(int(run.calls[name]))+" ("+strings.Join(sortedKeys(run.callers[name]), ", ")+")")
		if !uses[name] {
			t.Errorf("the adapter called %s, which adapterOperations does not list", name)
		}
	}
	t.Logf("operations called (%d of %d in the table):\n  %s", len(run.calls), len(run.table.Operations), strings.Join(lines, "\n  "))
	var unused []string
	for _, op := range run.table.Operations {
		if !uses[op.Name()] {
			unused = append(unused, op.Name())
		}
	}
	slices.Sort(unused)
	t.Logf("served by the sandbox, unused by the adapter: %s", strings.Join(unused, ", "))

	// The violations, with the Client methods that sent them.
	if len(run.violations) > 0 {
		var vs []string
		for _, k := range sortedKeys(run.violations) {
			vs = append(vs, k+" ×"+itoa(int(run.violations[k]))+" ("+strings.Join(sortedKeys(run.by[k]), ", ")+")")
		}
		t.Errorf("%d ways the adapter leaves Procore's published contract (operation kind name ×requests (Client methods)):\n  %s",
			len(vs), strings.Join(vs, "\n  "))
	}
}

func opByName(t *contract.Table, name string) (*contract.Operation, bool) {
	for _, op := range t.Operations {
		if op.Name() == name {
			return op, true
		}
	}
	return nil, false
}

// contractUserRefreshToken logs the demo user (no MFA) into the sandbox's
// web portal, authorizes the default client out of band and exchanges the
// code, as an operator would once; it returns the refresh token.
func contractUserRefreshToken(t *testing.T, sb *sandbox.Running) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	const oob = "urn:ietf:wg:oauth:2.0:oob"
	page := func(resp *http.Response, err error) (string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.Request.URL.String(), b.String()
	}
	q := url.Values{"response_type": {"code"}, "client_id": {sandbox.DefaultClientID}, "redirect_uri": {oob}, "state": {"s"}}
	_, body := page(hc.Get(sb.URL + "/oauth/authorize?" + q.Encode()))
	m := regexp.MustCompile(`name="return_to" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login form on the authorize page:\n%.500s", body)
	}
	page(hc.PostForm(sb.URL+"/login", url.Values{"email": {sandbox.DefaultDemoEmail}, "return_to": {html.UnescapeString(m[1])}}))
	_, body = page(hc.PostForm(sb.URL+"/login/password", url.Values{"password": {sandbox.DefaultDemoPassword}}))
	consent := url.Values{"decision": {"allow"}}
	for _, f := range regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		consent.Set(html.UnescapeString(f[1]), html.UnescapeString(f[2]))
	}
	if consent.Get("authenticity_token") == "" {
		t.Fatalf("no consent form after the login:\n%.500s", body)
	}
	at, _ := page(hc.PostForm(sb.URL+"/oauth/authorize", consent))
	u, err := url.Parse(at)
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("the portal did not end on a code page: %s", at)
	}
	resp, err := hc.PostForm(sb.URL+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {sandbox.DefaultClientID},
		"client_secret": {sandbox.DefaultClientSecret}, "code": {u.Query().Get("code")}, "redirect_uri": {oob}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: status %d, %v", resp.StatusCode, err)
	}
	return tok.RefreshToken
}
