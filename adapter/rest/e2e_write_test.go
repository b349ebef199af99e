package rest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// writeFixture is what the write tests pick from the dataset.
type writeFixture struct {
	users              []int64 // project directory
	vendor, costCode   int64
	badCostCode        int64
	openPeriod         int64
	approvedResponse   int64
	statusIDs          map[string]int64
	olderInvoice       int64 // an invoice that is not the latest of its commitment
	olderInvoiceStatus string
}

func pickWriteFixture(e *e2e) writeFixture {
	var f writeFixture
	e.read(func(ds *data.Dataset, p *data.Project) {
		co := ds.Company(e.companyID)
		for _, u := range p.UserIDs {
			if u != ds.ServiceUserID {
				f.users = append(f.users, u)
			}
		}
		f.vendor = p.VendorIDs[0]
		f.costCode = p.CostCodes[len(p.CostCodes)-1].ID
		f.badCostCode = 1
		for _, bp := range p.BillingPeriods {
			if bp.Status == "open" {
				f.openPeriod = bp.ID
			}
		}
		for _, r := range co.Responses {
			if r.Considered == "approved" && f.approvedResponse == 0 {
				f.approvedResponse = r.ID
			}
		}
		f.statusIDs = map[string]int64{}
		for _, s := range co.Statuses {
			f.statusIDs[s.Name] = s.ID
		}
		for _, inv := range p.Invoices {
			if p.LatestInvoice(inv.CommitmentID) != inv {
				f.olderInvoice, f.olderInvoiceStatus = inv.ID, inv.Status
				break
			}
		}
	})
	return f
}

func mustDec(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }

func TestE2EWritesRoundTrip(t *testing.T) {
	e := startE2E(t, sandbox.Config{}, nil)
	ctx := context.Background()
	c, pid := e.client, e.projectID
	fx := pickWriteFixture(e)
	due := adapter.Date{Year: 2031, Month: 5, Day: 17}

	var rfi adapter.RFI
	t.Run("CreateRFI", func(t *testing.T) {
		var err error
		rfi, err = c.CreateRFI(ctx, pid, adapter.RFICreate{
			Subject: "Embed plate conflict at grid B/7", Question: "Which detail governs?", ManagerID: fx.users[0],
			AssigneeIDs: []int64{fx.users[1], fx.users[2]}, DueDate: &due,
			CostImpact:     &adapter.Impact{Status: adapter.ImpactYesKnown, Value: mustDec("1234.50")},
			ScheduleImpact: &adapter.Impact{Status: adapter.ImpactYesKnown, Value: mustDec("3")},
		})
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.RFI(ctx, pid, rfi.ID)
		if err != nil {
			t.Fatal(err)
		}
		if back.Subject != "Embed plate conflict at grid B/7" || back.Status != adapter.RFIStatusOpen || back.Number == "" ||
			back.RFIManager == nil || back.RFIManager.ID != fx.users[0] || *back.DueDate != due ||
			!slices.Equal(ids(back.Assignees, func(p adapter.Person) int64 { return p.ID }), []int64{fx.users[1], fx.users[2]}) ||
			back.CostImpact == nil || !back.CostImpact.Value.Equal(decimal.RequireFromString("1234.5")) ||
			back.ScheduleImpact == nil || !back.ScheduleImpact.Value.Equal(decimal.NewFromInt(3)) ||
			len(back.Questions) != 1 || back.Questions[0].Body != "Which detail governs?" {
			t.Fatalf("read back %+v", back)
		}
	})
	t.Run("ReplyToRFI", func(t *testing.T) {
		got, err := c.ReplyToRFI(ctx, pid, rfi.ID, adapter.RFIReply{Body: "Use detail 5/S-501.", Official: true})
		if err != nil {
			t.Fatal(err)
		}
		a := got.Questions[0].Answers
		if len(a) != 1 || a[0].Body != "Use detail 5/S-501." || !a[0].Official {
			t.Fatalf("answers %+v", a)
		}
	})
	t.Run("AdvanceAndForwardBallInCourt", func(t *testing.T) {
		before, _ := c.RFI(ctx, pid, rfi.ID)
		got, err := c.AdvanceRFIBallInCourt(ctx, pid, rfi.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.BallInCourtRole == nil || before.BallInCourtRole == nil || *got.BallInCourtRole == *before.BallInCourtRole ||
			*got.BallInCourtRole == adapter.BallInCourtUnknown {
			t.Fatalf("ball in court role %v, before %v", got.BallInCourtRole, before.BallInCourtRole)
		}
		got, err = c.ForwardRFI(ctx, pid, rfi.ID, fx.users[3])
		if err != nil {
			t.Fatal(err)
		}
		if len(got.BallInCourt) != 1 || got.BallInCourt[0].ID != fx.users[3] {
			t.Fatalf("forwarded ball in court %+v", got.BallInCourt)
		}
	})
	t.Run("CloseAndReopen", func(t *testing.T) {
		got, err := c.SetRFIAccepted(ctx, pid, rfi.ID, true)
		if err != nil || got.Status != adapter.RFIStatusClosed {
			t.Fatalf("close: %v %v", got.Status, err)
		}
		if back, _ := c.RFI(ctx, pid, rfi.ID); back.Status != adapter.RFIStatusClosed {
			t.Fatalf("read back %s", back.Status)
		}
		got, err = c.SetRFIAccepted(ctx, pid, rfi.ID, false)
		if err != nil || got.Status != adapter.RFIStatusOpen {
			t.Fatalf("reopen: %v %v", got.Status, err)
		}
	})
	t.Run("ProcoreValidationBecomesFieldErrors", func(t *testing.T) {
		_, err := c.CreateRFI(ctx, pid, adapter.RFICreate{Subject: "s", Question: "q", ManagerID: 1})
		var ae *adapter.Error
		if !asAdapterError(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) == 0 || ae.Fields[0].Field[0] != "rfi_manager_id" {
			t.Fatalf("%+v, want BAD_USER_INPUT on rfi_manager_id", err)
		}
	})

	t.Run("Submittal", func(t *testing.T) {
		s, err := c.CreateSubmittal(ctx, pid, adapter.SubmittalCreate{Number: "E2E-1", Title: "Anchor bolts", Description: "Shop drawings",
			DueDate: &due, DistributionIDs: []int64{fx.users[4]},
			Steps: []adapter.SubmittalStep{{ApproverIDs: []int64{fx.users[0]}, DaysToRespond: 5}, {ApproverIDs: []int64{fx.users[1], fx.users[2]}, DaysToRespond: 7}}})
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Submittal(ctx, pid, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var steps []int
		for _, a := range back.Approvers {
			steps = append(steps, a.Step)
		}
		if back.Number != "E2E-1" || back.Title != "Anchor bolts" || !slices.Equal(steps, []int{1, 2, 2}) || back.Approvers[0].User.ID != fx.users[0] {
			t.Fatalf("read back %+v (steps %v)", back, steps)
		}
		if open := fx.statusIDs["Open"]; back.Status == nil || back.Status.ID != open {
			got, err := c.UpdateSubmittalStatus(ctx, pid, s.ID, open)
			if err != nil || got.Status.ID != open {
				t.Fatalf("open the submittal: %+v %v", got.Status, err)
			}
		}
		got, err := c.RespondToSubmittal(ctx, pid, s.ID, back.Approvers[0].ID, fx.approvedResponse, "Approved, see stamp")
		if err != nil {
			t.Fatal(err)
		}
		if a := got.Approvers[0]; a.Response == nil || a.Response.ID != fx.approvedResponse || a.Comment != "Approved, see stamp" {
			t.Fatalf("approver after response %+v", a)
		}
		closed := fx.statusIDs["Closed"]
		got, err = c.UpdateSubmittalStatus(ctx, pid, s.ID, closed)
		if err != nil || got.Status == nil || got.Status.ID != closed {
			t.Fatalf("status %+v %v", got.Status, err)
		}
		_, err = c.CreateSubmittal(ctx, pid, adapter.SubmittalCreate{Number: "E2E-1"})
		var ae *adapter.Error
		if !asAdapterError(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) == 0 || ae.Fields[0].Field[0] != "number" {
			t.Fatalf("duplicate number: %+v, want BAD_USER_INPUT on number", err)
		}
	})

	var commitment adapter.Commitment
	t.Run("CreateCommitmentWithSOVThenApprove", func(t *testing.T) {
		var err error
		commitment, err = c.CreateCommitment(ctx, pid, adapter.CommitmentCreate{
			Kind: adapter.CommitmentSubcontract, Title: "E2E steel", VendorID: &fx.vendor, Status: adapter.CommitmentApproved,
			RetainagePercent: mustDec("10"),
			LineItems: []adapter.CommitmentLineItemInput{
				{Description: "Fabrication", Amount: decimal.RequireFromString("60000.00"), CostCodeID: &fx.costCode},
				{Description: "Erection", Amount: decimal.RequireFromString("40000.50")},
			}})
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Commitment(ctx, pid, adapter.CommitmentSubcontract, commitment.ID)
		if err != nil {
			t.Fatal(err)
		}
		if back.Status != adapter.CommitmentApproved || len(back.LineItems) != 2 || !back.GrandTotal.Equal(decimal.RequireFromString("100000.50")) ||
			back.LineItems[0].Description != "Fabrication" || back.LineItems[0].CostCode == nil || back.LineItems[0].CostCode.ID != fx.costCode ||
			*back.VendorID != fx.vendor || !back.RetainagePercent.Equal(decimal.NewFromInt(10)) {
			t.Fatalf("read back %+v", back)
		}
		commitment = back
	})
	t.Run("LineItemFailureIsReported", func(t *testing.T) {
		got, err := c.CreateCommitment(ctx, pid, adapter.CommitmentCreate{Kind: adapter.CommitmentPurchaseOrder, Title: "E2E PO",
			LineItems: []adapter.CommitmentLineItemInput{
				{Description: "Good", Amount: decimal.NewFromInt(100)},
				{Description: "Bad cost code", Amount: decimal.NewFromInt(5), CostCodeID: &fx.badCostCode},
			}})
		if err == nil || got.ID == 0 || !strings.Contains(err.Error(), "line item 2 of 2") || adapter.ErrorCode(err) != adapter.CodeBadUserInput {
			t.Fatalf("%v (commitment %d), want an error naming line item 2 of 2 and the created id", err, got.ID)
		}
		back, err := c.Commitment(ctx, pid, adapter.CommitmentPurchaseOrder, got.ID)
		if err != nil || len(back.LineItems) != 1 {
			t.Fatalf("the partial commitment: %+v %v", back.LineItems, err)
		}
	})
	t.Run("CreateChangeOrder", func(t *testing.T) {
		if commitment.ID == 0 {
			t.Fatal("needs the commitment created above")
		}
		co, err := c.CreateChangeOrder(ctx, pid, adapter.ChangeOrderCreate{CommitmentID: commitment.ID, Title: "Added bracing",
			Status: adapter.ChangeOrderPending, Amount: decimal.RequireFromString("2500.25")})
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.ChangeOrders(ctx, pid, &commitment.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != co.ID || list[0].Status != adapter.ChangeOrderPending || !list[0].GrandTotal.Equal(decimal.RequireFromString("2500.25")) {
			t.Fatalf("change orders of the commitment %+v", list)
		}
	})
	t.Run("CreateInvoiceAndSubmit", func(t *testing.T) {
		li := commitment.LineItems
		if len(li) != 2 {
			t.Fatal("needs the commitment created above")
		}
		inv, err := c.CreateInvoice(ctx, pid, adapter.InvoiceCreate{CommitmentID: commitment.ID, PeriodID: fx.openPeriod, InvoiceNumber: "E2E-INV-1",
			Items: []adapter.InvoiceItemInput{
				{LineItemID: li[0].ID, WorkCompletedThisPeriod: decimal.RequireFromString("15000.00"), MaterialsPresentlyStored: decimal.RequireFromString("2000.00"),
					WorkCompletedRetainagePercent: decimal.NewFromInt(10), MaterialsStoredRetainagePercent: decimal.NewFromInt(10)},
				{LineItemID: li[1].ID, WorkCompletedThisPeriod: decimal.RequireFromString("1000.33"),
					WorkCompletedRetainagePercent: decimal.NewFromInt(5), MaterialsStoredRetainagePercent: decimal.NewFromInt(5)},
			}})
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.Invoice(ctx, pid, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if back.InvoiceNumber != "E2E-INV-1" || back.Status != adapter.InvoiceDraft || back.CommitmentID != commitment.ID || *back.PeriodID != fx.openPeriod {
			t.Fatalf("read back %+v", back)
		}
		var completed, retained adapter.Decimal
		for _, it := range back.Items {
			completed = completed.Add(it.TotalCompletedAndStoredToDate)
			retained = retained.Add(it.WorkCompletedRetainageRetained).Add(it.MaterialsStoredRetainageRetained)
		}
		s := back.Summary
		if !completed.Equal(decimal.RequireFromString("18000.33")) || !s.TotalCompletedAndStoredToDate.Equal(completed) {
			t.Fatalf("completed and stored: items %s, G702 %s, want 18000.33", completed, s.TotalCompletedAndStoredToDate)
		}
		if !s.TotalRetainage.Equal(retained) || !s.TotalRetainage.Equal(s.CompletedWorkRetainageAmount.Add(s.StoredMaterialsRetainageAmount)) ||
			!s.TotalEarnedLessRetainage.Equal(s.TotalCompletedAndStoredToDate.Sub(s.TotalRetainage)) ||
			!s.CurrentPaymentDue.Equal(s.TotalEarnedLessRetainage.Sub(s.LessPreviousCertificates)) {
			t.Fatalf("G702 does not add up: %+v (items retained %s)", s, retained)
		}
		got, err := c.UpdateInvoiceStatus(ctx, pid, inv.ID, adapter.InvoiceUnderReview)
		if err != nil || got.Status != adapter.InvoiceUnderReview {
			t.Fatalf("submit: %v %v", got.Status, err)
		}
	})
	t.Run("BusinessRuleRefusal", func(t *testing.T) {
		if fx.olderInvoice == 0 {
			t.Skip("no commitment with two invoices in the dataset")
		}
		_, err := c.UpdateInvoiceStatus(ctx, pid, fx.olderInvoice, adapter.InvoiceUnderReview)
		var ae *adapter.Error
		if !asAdapterError(err, &ae) || ae.Code != adapter.CodeBadUserInput || ae.Status != 422 || !strings.Contains(ae.Message, "latest") {
			t.Fatalf("%+v, want BAD_USER_INPUT carrying Procore's reason", err)
		}
	})
	t.Run("UpdateCommitmentStatus", func(t *testing.T) {
		if commitment.ID == 0 {
			t.Fatal("needs the commitment created above")
		}
		got, err := c.UpdateCommitmentStatus(ctx, pid, adapter.CommitmentSubcontract, commitment.ID, adapter.CommitmentComplete)
		if err != nil || got.Status != adapter.CommitmentComplete {
			t.Fatalf("%v %v", got.Status, err)
		}
		_, err = c.UpdateCommitmentStatus(ctx, pid, adapter.CommitmentSubcontract, commitment.ID, adapter.CommitmentReceived)
		if adapter.ErrorCode(err) != adapter.CodeBadUserInput {
			t.Fatalf("a purchase-order status on a subcontract: %v, want BAD_USER_INPUT", err)
		}
	})
}

func TestE2EUpload(t *testing.T) {
	e := startE2E(t, sandbox.Config{}, nil)
	ctx := context.Background()
	fx := pickWriteFixture(e)
	content := []byte("%PDF-1.4 detail sheet S-501\n")
	sum := sha256.Sum256(content)

	t.Run("AttachesToAnRFI", func(t *testing.T) {
		e.run.ResetStats()
		id, err := e.client.Upload(ctx, e.projectID, adapter.UploadInput{Filename: "S-501.pdf", ContentType: "application/pdf",
			Data: content, SHA256: hex.EncodeToString(sum[:])})
		if err != nil {
			t.Fatal(err)
		}
		rfi, err := e.client.CreateRFI(ctx, e.projectID, adapter.RFICreate{Subject: "See attached", Question: "Confirm?", ManagerID: fx.users[0], UploadIDs: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		back, _ := e.client.RFI(ctx, e.projectID, rfi.ID)
		if att := back.Questions[0].Attachments; len(att) != 1 || att[0].Name != "S-501.pdf" {
			t.Fatalf("attachments %+v", att)
		}
	})
	t.Run("WrongChecksumMakesNoCall", func(t *testing.T) {
		e.run.ResetStats()
		_, err := e.client.Upload(ctx, e.projectID, adapter.UploadInput{Filename: "x.pdf", Data: content, SHA256: strings.Repeat("0", 64)})
		var ae *adapter.Error
		if !asAdapterError(err, &ae) || ae.Code != adapter.CodeBadUserInput || ae.Fields[0].Field[0] != "sha256" {
			t.Fatalf("%+v, want BAD_USER_INPUT on sha256", err)
		}
		if n := e.run.Stats().Total; n != 0 {
			t.Fatalf("%d upstream calls for a refused upload", n)
		}
	})
	t.Run("PresignedPUTCarriesNoProcoreCredentials", func(t *testing.T) {
		// The PUT goes through the upload client, which has no auth transport:
		// if it carried the bearer token the sandbox would still accept it, so
		// assert on the request itself.
		var sawAuth []string
		c := newTestClient(t, e.run.URL, func(cfg *Config) {
			cfg.ClientID, cfg.ClientSecret, cfg.CompanyID = sandbox.DefaultClientID, sandbox.DefaultClientSecret, e.companyID
			cfg.Clock = WallClock{}
			cfg.HTTPClient = nil
		})
		c.upload.Transport = &retryTransport{cfg: c.cfg.Retry, clock: WallClock{}, logger: quietLogger(),
			next: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				sawAuth = append(sawAuth, r.Header.Get("Authorization")+r.Header.Get(companyHeader))
				return baseTransport().RoundTrip(r)
			})}
		if _, err := c.Upload(ctx, e.projectID, adapter.UploadInput{Filename: "a.txt", Data: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
		if len(sawAuth) != 1 || sawAuth[0] != "" {
			t.Fatalf("presigned PUT headers %q, want one PUT without Authorization or company header", sawAuth)
		}
	})
}
