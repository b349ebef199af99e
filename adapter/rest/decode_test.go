package rest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

func fixture[T any](t *testing.T, name string) T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := decodeBody(b, &v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return v
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func eqDec(t *testing.T, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(dec(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func date(y int, m time.Month, d int) adapter.Date { return adapter.Date{Year: y, Month: m, Day: d} }

func TestDecodeRFIs(t *testing.T) {
	ws := fixture[[]wireRFI](t, "rfis.json")
	if len(ws) != 2 {
		t.Fatalf("%d RFIs", len(ws))
	}
	r := ws[0].rfi(4294967396)
	if r.ID != 5368709121 || r.ProjectID != 4294967396 || r.Number != "12" || r.FullNumber != "A-12" || r.Status != adapter.RFIStatusOpen {
		t.Errorf("header fields: %+v", r)
	}
	if r.DueDate == nil || *r.DueDate != date(2026, 2, 14) {
		t.Errorf("due date %v", r.DueDate)
	}
	if len(r.BallInCourt) != 1 || r.BallInCourt[0].Login != "ann@example.com" {
		t.Errorf("ball in court %+v", r.BallInCourt)
	}
	if len(r.Assignees) != 2 || r.Assignees[1].ID != 4294967312 {
		t.Errorf("assignees %+v (second id was a string)", r.Assignees)
	}
	if r.RFIManager == nil || r.RFIManager.Name != "Pat Manager" || r.ReceivedFrom != nil {
		t.Errorf("manager %+v received from %+v", r.RFIManager, r.ReceivedFrom)
	}
	if r.ResponsibleContractor == nil || r.ResponsibleContractor.Name != "Steel Co" || r.CostCode == nil || r.CostCode.FullCode != "05-100" {
		t.Errorf("contractor %+v cost code %+v", r.ResponsibleContractor, r.CostCode)
	}
	if r.CostImpact == nil || r.CostImpact.Status != adapter.ImpactYesKnown || !r.CostImpact.Value.Equal(dec("12500.50")) {
		t.Errorf("cost impact %+v", r.CostImpact)
	}
	if r.ScheduleImpact == nil || r.ScheduleImpact.Status != adapter.ImpactTBD || r.ScheduleImpact.Value != nil {
		t.Errorf("schedule impact %+v", r.ScheduleImpact)
	}
	if len(r.Questions) != 1 || r.Questions[0].Body != "What is the pocket depth?" || r.Questions[0].CreatedBy != "Pat Manager" ||
		len(r.Questions[0].Attachments) != 1 || r.Questions[0].Attachments[0].Name != "detail.pdf" {
		t.Errorf("questions %+v", r.Questions)
	}
	a := r.Questions[0].Answers
	if len(a) != 1 || !a[0].Official || a[0].Body != "200 mm." || a[0].CreatedByID == nil || *a[0].CreatedByID != 4294967311 {
		t.Errorf("answers %+v", a)
	}
	if !r.UpdatedAt.Equal(time.Date(2026, 2, 1, 9, 0, 0, 123e6, time.UTC)) {
		t.Errorf("updated at %v", r.UpdatedAt)
	}

	d := ws[1].rfi(4294967396)
	if d.ID != 5368709122 || d.Number != "13" {
		t.Errorf("string id / numeric number: %d %q", d.ID, d.Number)
	}
	if d.Status != adapter.RFIStatusUnknown {
		t.Errorf("unknown status became %q, want UNKNOWN", d.Status)
	}
	if d.DueDate == nil || *d.DueDate != date(2026, 3, 1) {
		t.Errorf("timestamp as a date field: %v", d.DueDate)
	}
	if !d.CreatedAt.Equal(time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)) || d.CreatedAt.Location() != time.UTC {
		t.Errorf("offset timestamp not normalized to UTC: %v", d.CreatedAt)
	}
	if d.RFIManager == nil || d.RFIManager.ID != 4294967300 {
		t.Errorf("a bare id as a person: %+v", d.RFIManager)
	}
	if d.CostImpact.Status != adapter.ImpactNA || !d.CostImpact.Value.IsZero() || d.ScheduleImpact.Status != adapter.ImpactYesUnknown {
		t.Errorf("impacts %+v %+v", d.CostImpact, d.ScheduleImpact)
	}
	if len(d.BallInCourt) != 0 || len(d.Assignees) != 0 || d.Draft {
		t.Errorf("nulls: %+v %+v %v", d.BallInCourt, d.Assignees, d.Draft)
	}
}

func TestDecodeRFIBallInCourtRole(t *testing.T) {
	role := func(r adapter.RFIBallInCourtRole) *adapter.RFIBallInCourtRole { return &r }
	for _, tc := range []struct {
		name, json string
		want       *adapter.RFIBallInCourtRole
	}{
		{"Procore's Assignees is ASSIGNEES", `"Assignees"`, role(adapter.BallInCourtAssignees)},
		{"Procore's RFI Manager is RFI_MANAGER", `"RFI Manager"`, role(adapter.BallInCourtRFIManager)},
		{"Procore's Creator is CREATOR", `"Creator"`, role(adapter.BallInCourtCreator)},
		{"a role Procore adds later is UNKNOWN", `"Design Team"`, role(adapter.BallInCourtUnknown)},
		{"null is no role", `null`, nil},
		{"an empty string is no role", `""`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w wireRFI
			if err := json.Unmarshal([]byte(`{"id": 1, "ball_in_court_role": `+tc.json+`}`), &w); err != nil {
				t.Fatal(err)
			}
			got := w.rfi(1).BallInCourtRole
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Fatalf("ball_in_court_role %s → %v, want %v", tc.json, got, tc.want)
			}
		})
	}
}

func TestDecodeSubmittal(t *testing.T) {
	s := fixture[wireSubmittal](t, "submittal.json").submittal(1)
	if s.ID != 9663676417 || s.Number != "03 30 00-1" || s.FormattedNumber != "03 30 00-1.0" || s.Type != "Product Data" {
		t.Errorf("%+v", s)
	}
	if s.Status == nil || s.Status.ID != 10737418241 || s.Status.Name != "Open" {
		t.Errorf("status %+v", s.Status)
	}
	if s.SpecSection != "03 30 00 - Cast-in-Place Concrete" || s.SubmitBy == nil || *s.SubmitBy != date(2026, 2, 10) {
		t.Errorf("spec %q submit by %v", s.SpecSection, s.SubmitBy)
	}
	if len(s.Approvers) != 2 {
		t.Fatalf("approvers %+v", s.Approvers)
	}
	a0, a1 := s.Approvers[0], s.Approvers[1]
	if a0.Step != 1 || a0.Response == nil || a0.Response.Name != "Approved as Noted" || a0.User.ID != 4294967311 || a0.Comment != "See markups" ||
		a0.ReturnedDate == nil || *a0.ReturnedDate != date(2026, 2, 5) {
		t.Errorf("approver 0 %+v", a0)
	}
	if a1.ID != 11811160066 || a1.Step != 2 || a1.SentDate != nil || a1.Comment != "" {
		t.Errorf("approver 1 (string id and step, nulls) %+v", a1)
	}
	if len(s.BallInCourt) != 1 || len(s.Distribution) != 1 || s.SubmittalManager.Login != "pm@example.com" {
		t.Errorf("people %+v %+v %+v", s.BallInCourt, s.Distribution, s.SubmittalManager)
	}
}

func TestDecodeCommitments(t *testing.T) {
	ws := fixture[[]wireCommitment](t, "work_order_contracts.json")
	c0 := ws[0].commitment(1, adapter.CommitmentSubcontract)
	if c0.Status != adapter.CommitmentOutForBid || c0.ProjectID != 4294967396 || c0.VendorName != "Steel Co" || *c0.VendorID != 6442450945 {
		t.Errorf("%+v", c0)
	}
	eqDec(t, "grand total", c0.GrandTotal, "1250000.00")
	eqDec(t, "remaining", c0.RemainingBalance, "1162500.50")
	eqDec(t, "retainage", *c0.RetainagePercent, "10")
	if c0.ContractDate == nil || *c0.ContractDate != date(2026, 1, 15) || len(c0.LineItems) != 0 {
		t.Errorf("date %v items %v", c0.ContractDate, c0.LineItems)
	}

	c1 := ws[1].commitment(1, adapter.CommitmentSubcontract)
	if c1.Status != adapter.CommitmentApproved || !c1.Executed || c1.ProjectID != 1 || *c1.VendorID != 6442450946 {
		t.Errorf("%+v", c1)
	}
	eqDec(t, "money as a number", c1.GrandTotal, "98765.43")
	eqDec(t, "retainage as a number", *c1.RetainagePercent, "5")
	if !c1.PendingChangeOrders.IsZero() {
		t.Errorf("null money = %s, want 0", c1.PendingChangeOrders)
	}
	if len(c1.LineItems) != 2 {
		t.Fatalf("line items %+v", c1.LineItems)
	}
	li := c1.LineItems[0]
	eqDec(t, "line amount", li.Amount, "50000.00")
	if li.CostCode == nil || li.CostCode.FullCode != "03-300" || li.UOM != "LS" || li.Position != 1 || !li.Quantity.Equal(dec("1")) {
		t.Errorf("line 0 %+v", li)
	}
	eqDec(t, "line amount as a number", c1.LineItems[1].Amount, "48765.43")
	if c1.LineItems[1].Position != 2 || c1.LineItems[1].Quantity != nil {
		t.Errorf("line 1 %+v", c1.LineItems[1])
	}

	if st := ws[2].commitment(1, adapter.CommitmentSubcontract).Status; st != adapter.CommitmentUnknown {
		t.Errorf("unknown status became %q", st)
	}
}

func TestDecodeRequisition(t *testing.T) {
	inv := fixture[wireRequisition](t, "requisition.json").invoice(1)
	if inv.ID != 15032385537 || inv.Number != 2 || inv.InvoiceNumber != "INV-0002" || inv.Status != adapter.InvoiceUnderReview ||
		inv.CommitmentID != 12884901890 || *inv.PeriodID != 16106127361 || inv.VendorName != "Concrete Inc" {
		t.Errorf("%+v", inv)
	}
	if *inv.PeriodStart != date(2026, 2, 1) || *inv.PeriodEnd != date(2026, 2, 28) || *inv.BillingDate != date(2026, 2, 28) {
		t.Errorf("dates %v %v %v", inv.PeriodStart, inv.PeriodEnd, inv.BillingDate)
	}
	s := inv.Summary
	eqDec(t, "total retainage", s.TotalRetainage, "1500.00")
	eqDec(t, "earned less retainage", s.TotalEarnedLessRetainage, "28500.00")
	eqDec(t, "previous certificates", s.LessPreviousCertificates, "9500.00")
	eqDec(t, "current payment due", s.CurrentPaymentDue, "19000.00")
	eqDec(t, "balance", s.BalanceToFinishIncludingRetainage, "70265.43")
	if len(inv.Items) != 1 {
		t.Fatalf("items %+v", inv.Items)
	}
	it := inv.Items[0]
	if it.Description != "Footings" || *it.LineItemID != 13958643713 || *it.CostCodeID != 7516192770 {
		t.Errorf("item %+v", it)
	}
	eqDec(t, "this period", it.WorkCompletedThisPeriod, "15000")
	eqDec(t, "percent", it.PercentComplete, "60")
	eqDec(t, "retained", it.WorkCompletedRetainageRetained, "750")
	eqDec(t, "materials retained", it.MaterialsStoredRetainageRetained, "250")
}

func TestDecodeBudgetRowColumns(t *testing.T) {
	rows := fixture[[]wireBudgetRow](t, "budget_rows.json")
	r := rows[0].row
	if r.ID != 1 || *r.CostCodeID != 7516192770 || r.CostCode != "03-300 - Concrete" || r.Category != "Commitment" {
		t.Errorf("%+v", r)
	}
	eqDec(t, "original", r.OriginalBudgetAmount, "100000")
	eqDec(t, "modifications", r.BudgetModifications, "-2500")
	if len(r.Columns) != 3 {
		t.Fatalf("columns %v, want the 3 view columns only", r.Columns)
	}
	eqDec(t, "Revised Budget", r.Columns["Revised Budget"], "97500")
	eqDec(t, "Committed Costs", r.Columns["Committed Costs"], "98765.43")
	eqDec(t, "Projected Over Under", r.Columns["Projected Over Under"], "-1265.43")
}

func TestDecodeFieldResources(t *testing.T) {
	obs := fixture[[]wireObservation](t, "observations.json")
	o0, o1 := obs[0].observation(1), obs[1].observation(1)
	if o0.Status != adapter.ObservationReadyForReview || o0.TypeName != "Safety" || o0.Assignee.ID != 4294967320 {
		t.Errorf("%+v", o0)
	}
	if o1.Status != adapter.ObservationClosed || o1.TypeName != "Quality" || o1.Number != "2" {
		t.Errorf("integer status 3 / numeric number: %+v", o1)
	}

	punch := fixture[[]wirePunchItem](t, "punch_items.json")
	p0, p1 := punch[0].punchItem(1), punch[1].punchItem(1)
	if p0.Status != adapter.PunchOverdue || p0.Number != "7" || p0.PunchItemManager.Name != "Pat Manager" || len(p0.BallInCourt) != 1 || p0.ClosedAt != nil {
		t.Errorf("%+v", p0)
	}
	if p1.Status != adapter.PunchClosed || p1.ClosedAt == nil {
		t.Errorf("%+v", p1)
	}

	mp := fixture[[]wireManpowerLog](t, "manpower_logs.json")
	m0, m1 := mp[0].log(), mp[1].log()
	if m0.Date != date(2026, 2, 2) || m0.NumWorkers != 6 || m0.Vendor.Name != "Concrete Inc" || m0.Status != "approved" {
		t.Errorf("%+v", m0)
	}
	eqDec(t, "man hours", m0.ManHours, "48")
	eqDec(t, "computed man hours", m1.ManHours, "22.5")
	if m1.NumWorkers != 3 || m1.Status != "pending" {
		t.Errorf("%+v", m1)
	}

	notes := fixture[[]wireNotesLog](t, "notes_logs.json")
	if n := notes[0].log(); n.Comment != "Concrete pour delayed by rain" || n.CreatedBy.Login != "pm@example.com" || n.Date != date(2026, 2, 2) {
		t.Errorf("%+v", n)
	}
}

func TestDecodeDirectory(t *testing.T) {
	ps := fixture[[]wireProject](t, "projects.json")
	p0, p1 := ps[0].project(99), ps[1].project(99)
	if p0.CompanyID != 4294967297 || p0.DisplayName != "T-100 - Tower" || p0.Stage != "Course of Construction" || !p0.Active ||
		*p0.CompletionDate != date(2027, 6, 30) || !p0.TotalValue.Equal(dec("25000000")) {
		t.Errorf("%+v", p0)
	}
	if p1.ID != 4294967397 || p1.CompanyID != 99 || !p1.Active || p1.Stage != "Pre-Construction" || !p1.TotalValue.Equal(dec("1000000")) {
		t.Errorf("%+v", p1)
	}

	us := fixture[[]wireUser](t, "users.json")
	u0, u1 := us[0].user(), us[1].user()
	if u0.Login != "ann@example.com" || u0.Name != "Ann Architect" || u0.JobTitle != "Architect" || *u0.VendorID != 6442450947 || !u0.IsActive {
		t.Errorf("%+v", u0)
	}
	if u1.Name != "Eve Engineer" || u1.Login != "eng@example.com" || u1.IsActive {
		t.Errorf("%+v", u1)
	}

	vs := fixture[[]wireVendor](t, "vendors.json")
	if v := vs[0].vendor(); v.Name != "Steel Co" || v.AbbreviatedName != "STL" || v.BusinessPhone != "555-0100" {
		t.Errorf("%+v", v)
	}

	cc := fixture[[]wireCostCode](t, "cost_codes.json")
	if c := cc[0].costCode(); c.FullCode != "03-300" || *c.ParentID != 7516192760 {
		t.Errorf("%+v", c)
	}
	if c := cc[1].costCode(); c.ParentID != nil {
		t.Errorf("null parent %+v", c)
	}

	cos := fixture[[]wireChangeOrder](t, "change_orders.json")
	if c := cos[0].changeOrder(1); c.Status != adapter.ChangeOrderPendingBillable || c.CommitmentID != 12884901890 || !c.GrandTotal.Equal(dec("12500.50")) {
		t.Errorf("%+v", c)
	}
	if c := cos[1].changeOrder(1); c.Status != adapter.ChangeOrderApproved || c.CommitmentID != 12884901889 {
		t.Errorf("%+v", c)
	}

	bps := fixture[[]wireBillingPeriod](t, "billing_periods.json")
	if b := bps[1].period(); b.Position != 1 || b.Status != "closed" || b.DueDate != nil || b.EndDate != date(2026, 1, 31) {
		t.Errorf("%+v", b)
	}
}

func TestFlexScalars(t *testing.T) {
	t.Run("IDs", func(t *testing.T) {
		for in, want := range map[string]int64{`9007199254740993`: 9007199254740993, `"9007199254740993"`: 9007199254740993,
			`null`: 0, `""`: 0, `4.294967297e9`: 4294967297} {
			var v flexID
			if err := json.Unmarshal([]byte(in), &v); err != nil || int64(v) != want {
				t.Errorf("%s -> %d, %v; want %d", in, v, err, want)
			}
		}
		var v flexID
		if err := json.Unmarshal([]byte(`"abc"`), &v); err == nil {
			t.Error("a non-numeric id decoded without error")
		}
	})
	t.Run("Decimals", func(t *testing.T) {
		for in, want := range map[string]string{`"1234.50"`: "1234.5", `1234.5`: "1234.5", `"$1,234.50"`: "1234.5",
			`0.1`: "0.1", `"12.5%"`: "12.5", `123456789012345678.01`: "123456789012345678.01"} {
			var v flexDecimal
			if err := json.Unmarshal([]byte(in), &v); err != nil || !v.Set || !v.V.Equal(dec(want)) {
				t.Errorf("%s -> %v, %v; want %s", in, v, err, want)
			}
		}
		for _, in := range []string{`null`, `""`, `"n/a"`} {
			var v flexDecimal
			if err := json.Unmarshal([]byte(in), &v); err != nil || v.Set {
				t.Errorf("%s -> %+v, want unset", in, v)
			}
		}
	})
	t.Run("Enums", func(t *testing.T) {
		for in, want := range map[string]adapter.CommitmentStatus{"Out For Bid": adapter.CommitmentOutForBid,
			"out_for_bid": adapter.CommitmentOutForBid, " OUT-FOR-BID ": adapter.CommitmentOutForBid,
			"Partially Received": adapter.CommitmentPartiallyReceived, "approved": adapter.CommitmentApproved,
			"Signed": adapter.CommitmentUnknown, "": adapter.CommitmentUnknown} {
			if got := enumOf(in, adapter.CommitmentUnknown, commitmentStatuses...); got != want {
				t.Errorf("%q -> %q, want %q", in, got, want)
			}
		}
	})
	t.Run("Times", func(t *testing.T) {
		want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, in := range []string{`"2026-01-02T03:04:05Z"`, `"2026-01-02T04:04:05+01:00"`, `"2026-01-02T03:04:05.000Z"`,
			`"2026-01-02 03:04:05 UTC"`, `1767323045`} {
			var v flexTime
			if err := json.Unmarshal([]byte(in), &v); err != nil || !v.V.Equal(want) {
				t.Errorf("%s -> %v, %v", in, v.V, err)
			}
		}
	})
	t.Run("EnvelopeUnwrapped", func(t *testing.T) {
		var items []wireCompany
		if err := decodeBody([]byte(`{"data":[{"id":"1","name":"A"}]}`), &items); err != nil || len(items) != 1 || items[0].ID != 1 {
			t.Fatalf("%+v %v", items, err)
		}
	})
}
