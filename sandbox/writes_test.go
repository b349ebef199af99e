package sandbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

type person struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

type rfiJSON struct {
	ID              int64    `json:"id"`
	Number          *string  `json:"number"`
	Subject         string   `json:"subject"`
	Status          string   `json:"status"`
	Accepted        bool     `json:"accepted"`
	BallInCourtRole *string  `json:"ball_in_court_role"`
	BallInCourts    []person `json:"ball_in_courts"`
	Assignees       []person `json:"assignees"`
	RFIManager      person   `json:"rfi_manager"`
	UpdatedAt       string   `json:"updated_at"`
	Questions       []struct {
		PlainTextBody string `json:"plain_text_body"`
		Answers       []struct {
			PlainTextBody string `json:"plain_text_body"`
			Official      bool   `json:"official"`
		} `json:"answers"`
	} `json:"questions"`
}

func personIDs(ps []person) []int64 {
	var out []int64
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestRFIWrites(t *testing.T) {
	clk := newClock()
	e := start(t, sandbox.Config{Seed: 11, Now: clk.Now, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 5}})
	p := e.project()
	base := fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p.ID)
	users := p.UserIDs
	manager, a1, a2 := users[2], users[3], users[4]
	maxNumber := 0
	for _, x := range p.RFIs {
		maxNumber = max(maxNumber, x.Number)
	}

	t.Run("CreateMissingRequiredFieldsIs422", func(t *testing.T) {
		r := e.call("POST", base, e.company(), map[string]any{"rfi": map[string]any{"assignee_ids": []int64{a1}}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		var body struct{ Errors map[string][]string }
		r.json(t, &body)
		for _, f := range []string{"subject", "rfi_manager_id", "question.body"} {
			if !slices.Equal(body.Errors[f], []string{"can't be blank"}) {
				t.Fatalf("errors %v: want %s can't be blank", body.Errors, f)
			}
		}
	})
	t.Run("CreateWithStrangerManagerIs422", func(t *testing.T) {
		r := e.call("POST", base, e.company(), map[string]any{"rfi": map[string]any{"subject": "x", "rfi_manager_id": 42, "question": map[string]any{"body": "q"}}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), `"rfi_manager_id":["is invalid"]`) {
			t.Fatalf("body %s", r.body)
		}
	})
	var created rfiJSON
	t.Run("CreateAssignsNextNumberAndBallInCourt", func(t *testing.T) {
		e.run.ResetStats()
		r := e.call("POST", base, e.company(), map[string]any{"rfi": map[string]any{
			"subject": "Confirm slab thickness at the ramp", "rfi_manager_id": manager, "assignee_ids": []int64{a2, a1},
			"question": map[string]any{"body": "Drawings show 8 in., specs 10 in. Which governs?"}, "due_date": "2026-03-20",
			"cost_impact": map[string]any{"status": "yes_known", "value": "1250.50"}}})
		expectStatus(t, r, http.StatusCreated)
		r.json(t, &created)
		want := []int64{a1, a2}
		slices.Sort(want)
		if *created.Number != fmt.Sprint(maxNumber+1) || created.Status != "open" || *created.BallInCourtRole != "Assignees" ||
			!slices.Equal(personIDs(created.BallInCourts), want) || created.RFIManager.ID != manager {
			t.Fatalf("created %+v", created)
		}
		if created.UpdatedAt != clk.Now().Format(time.RFC3339) {
			t.Fatalf("updated_at %s", created.UpdatedAt)
		}
		// Later reads see it.
		r = e.get(fmt.Sprintf("%s/%d", base, created.ID))
		expectStatus(t, r, http.StatusOK)
		r = e.get(base)
		if r.header.Get("Total") != "6" {
			t.Fatalf("Total %s after create", r.header.Get("Total"))
		}
		if st := e.run.Stats(); st.ByRoute["POST /rest/v1.0/projects/{project_id}/rfis"] != 1 {
			t.Fatalf("stats %+v", st.ByRoute)
		}
	})
	patch := func(suffix string, body any) rfiJSON {
		t.Helper()
		clk.Add(time.Minute)
		r := e.call("PATCH", fmt.Sprintf("%s/%d%s", base, created.ID, suffix), e.company(), body)
		expectStatus(t, r, http.StatusOK)
		var x rfiJSON
		r.json(t, &x)
		if x.UpdatedAt != clk.Now().Format(time.RFC3339) {
			t.Fatalf("updated_at %s not bumped to %s", x.UpdatedAt, clk.Now())
		}
		return x
	}
	t.Run("AdvanceBallInCourtTogglesManagerAndAssignees", func(t *testing.T) {
		x := patch("/advance_ball_in_court", nil)
		if *x.BallInCourtRole != "RFI Manager" || !slices.Equal(personIDs(x.BallInCourts), []int64{manager}) {
			t.Fatalf("after advance: %s %v", *x.BallInCourtRole, personIDs(x.BallInCourts))
		}
		x = patch("/advance_ball_in_court", nil)
		if *x.BallInCourtRole != "Assignees" || len(x.BallInCourts) != 2 {
			t.Fatalf("after second advance: %s %v", *x.BallInCourtRole, personIDs(x.BallInCourts))
		}
	})
	t.Run("ForwardForReviewSetsTheForwardee", func(t *testing.T) {
		x := patch("/forward_for_review", map[string]any{"rfi": map[string]any{"forwardee_ids": []int64{users[5]}}})
		if !slices.Equal(personIDs(x.BallInCourts), []int64{users[5]}) {
			t.Fatalf("ball in court %v", personIDs(x.BallInCourts))
		}
	})
	t.Run("ReplyAddsAnAnswer", func(t *testing.T) {
		r := e.call("POST", fmt.Sprintf("%s/%d/replies", base, created.ID), e.company(), map[string]any{"reply": map[string]any{"body": "Use 10 in.", "official": true}})
		expectStatus(t, r, http.StatusCreated)
		x := e.get(fmt.Sprintf("%s/%d", base, created.ID))
		var got rfiJSON
		x.json(t, &got)
		if len(got.Questions) != 1 || len(got.Questions[0].Answers) != 1 || !got.Questions[0].Answers[0].Official {
			t.Fatalf("questions %+v", got.Questions)
		}
		expectStatus(t, e.call("POST", fmt.Sprintf("%s/%d/replies", base, created.ID), e.company(), map[string]any{"reply": map[string]any{}}), http.StatusUnprocessableEntity)
	})
	t.Run("AcceptedTrueClosesAndFalseReopens", func(t *testing.T) {
		x := patch("", map[string]any{"rfi": map[string]any{"accepted": true}})
		if x.Status != "closed" || !x.Accepted || len(x.BallInCourts) != 0 {
			t.Fatalf("after accept: %+v", x)
		}
		x = patch("", map[string]any{"rfi": map[string]any{"accepted": false}})
		if x.Status != "open" || x.Accepted || *x.BallInCourtRole != "Assignees" {
			t.Fatalf("after reopen: %+v", x)
		}
	})
	t.Run("ClosingADraftIsRefused", func(t *testing.T) {
		r := e.call("POST", base, e.company(), map[string]any{"rfi": map[string]any{"subject": "d", "rfi_manager_id": manager, "draft": true, "question": map[string]any{"body": "q"}}})
		expectStatus(t, r, http.StatusCreated)
		var d rfiJSON
		r.json(t, &d)
		if d.Number != nil || d.Status != "draft" {
			t.Fatalf("draft %+v", d)
		}
		r = e.call("PATCH", fmt.Sprintf("%s/%d", base, d.ID), e.company(), map[string]any{"rfi": map[string]any{"accepted": true}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), `"code":"unprocessable_entity"`) {
			t.Fatalf("body %s", r.body)
		}
	})
}

func TestSubmittalWorkflow(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 12, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 3}})
	p := e.project()
	co := e.ds().Companies[0]
	base := fmt.Sprintf("/rest/v1.1/projects/%d/submittals", p.ID)
	expectStatus(t, e.call("POST", base, e.company(), map[string]any{"submittal": map[string]any{"title": "no number"}}), http.StatusUnprocessableEntity)
	u := p.UserIDs
	r := e.call("POST", base, e.company(), map[string]any{"submittal": map[string]any{
		"number": "42", "title": "Curtain wall shop drawings", "specification_section_id": co.Specs[10].ID,
		"workflow_data": [][]map[string]any{{{"login_information_id": u[2], "days_to_respond": 5}, {"login_information_id": u[3]}}, {{"login_information_id": u[4]}}}}})
	expectStatus(t, r, http.StatusCreated)
	var s struct {
		ID          int64
		Status      struct{ Name string }
		BallInCourt []person `json:"ball_in_court"`
		Approvers   []struct {
			ID   int64
			Step int `json:"workflow_group_number"`
		}
	}
	r.json(t, &s)
	if s.Status.Name != "Open" || !slices.Equal(personIDs(s.BallInCourt), []int64{u[2], u[3]}) || len(s.Approvers) != 3 {
		t.Fatalf("created %+v", s)
	}
	approved := co.Responses[1].ID
	respond := func(approver int64, query string, body map[string]any) reply {
		return e.call("PATCH", fmt.Sprintf("/rest/v1.0/submittal_approvers/%d?%s", approver, query), e.company(),
			map[string]any{"submittal_approver": body})
	}
	contract := fmt.Sprintf("project_id=%d&submittal_id=%d", p.ID, s.ID)
	t.Run("OldRespondShapeIsRefused", func(t *testing.T) {
		a := s.Approvers[0].ID
		// The adapter's old request: no submittal_id, response_id for submittal_response_id.
		expectStatus(t, respond(a, fmt.Sprintf("project_id=%d", p.ID), map[string]any{"response_id": approved}), http.StatusBadRequest)
		expectStatus(t, respond(a, fmt.Sprintf("project_id=%d", p.ID), map[string]any{"submittal_response_id": approved}), http.StatusBadRequest)
		r := respond(a, contract, map[string]any{"response_id": approved})
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "submittal_response_id") {
			t.Fatalf("body %s", r.body)
		}
		expectStatus(t, respond(a, fmt.Sprintf("submittal_id=%d", s.ID), map[string]any{"submittal_response_id": approved}), http.StatusBadRequest)
		// An approver addressed through another submittal is not found.
		expectStatus(t, respond(a, fmt.Sprintf("project_id=%d&submittal_id=%d", p.ID, p.Submittals[0].ID), map[string]any{"submittal_response_id": approved}), http.StatusNotFound)
	})
	for _, a := range s.Approvers[:2] {
		expectStatus(t, respond(a.ID, contract, map[string]any{"submittal_response_id": approved, "comment": "ok"}), http.StatusOK)
	}
	r = e.get(fmt.Sprintf("%s/%d", base, s.ID))
	r.json(t, &s)
	if !slices.Equal(personIDs(s.BallInCourt), []int64{u[4]}) {
		t.Fatalf("after step 1 responses, ball in court %v, want step 2 %d", personIDs(s.BallInCourt), u[4])
	}
	r = respond(s.Approvers[2].ID, contract, map[string]any{"submittal_response_id": 1})
	expectStatus(t, r, http.StatusUnprocessableEntity)
	t.Run("UploadIDsAreNoSubmittalParameter", func(t *testing.T) {
		r := e.call("POST", base, e.company(), map[string]any{"submittal": map[string]any{"number": "43", "upload_ids": []string{"01HZZZZZZZZZZZZZZZZZZZZZZZ"}}})
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "upload_ids") {
			t.Fatalf("body %s", r.body)
		}
		// prostore_file_ids is: an unknown file is a field error.
		r = e.call("POST", base, e.company(), map[string]any{"submittal": map[string]any{"number": "43", "prostore_file_ids": []string{"01HZZZZZZZZZZZZZZZZZZZZZZZ"}}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), `"prostore_file_ids"`) {
			t.Fatalf("body %s", r.body)
		}
	})
}

func TestCommitmentSOVLock(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 13, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}})
	p := e.project()
	base := "/rest/v1.0/work_order_contracts"
	t.Run("ProjectIDOnlyInTheQueryIs400", func(t *testing.T) {
		r := e.call("POST", fmt.Sprintf("%s?project_id=%d", base, p.ID), e.company(), map[string]any{"work_order_contract": map[string]any{"title": "x"}})
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(string(r.body), "project_id") {
			t.Fatalf("body %s", r.body)
		}
	})
	r := e.call("POST", base, e.company(), map[string]any{"project_id": p.ID, "work_order_contract": map[string]any{"title": "x", "status": "Signed"}})
	expectStatus(t, r, http.StatusUnprocessableEntity)
	r = e.call("POST", base, e.company(), map[string]any{"project_id": p.ID, "work_order_contract": map[string]any{
		"title": "Glazing subcontract", "vendor_id": p.VendorIDs[0], "retainage_percent": "10", "status": "Draft",
		"line_items": []map[string]any{{"description": "Curtain wall", "amount": "125000.00"}, {"description": "Storefront", "quantity": "3", "unit_cost": "1000.10"}}}})
	expectStatus(t, r, http.StatusCreated)
	var c struct {
		ID         int64
		Number     string
		GrandTotal string               `json:"grand_total"`
		LineItems  []struct{ ID int64 } `json:"line_items"`
	}
	r.json(t, &c)
	if c.GrandTotal != "128000.30" || len(c.LineItems) != 2 || c.Number == "" {
		t.Fatalf("created %+v", c)
	}
	lines := fmt.Sprintf("/rest/v1.0/work_order_contracts/%d/line_items", c.ID)
	show := fmt.Sprintf("/rest/v1.0/work_order_contracts/%d", c.ID)
	t.Run("LineItemAndUpdateWithProjectIDOnlyInTheQueryAre400", func(t *testing.T) {
		q := fmt.Sprintf("?project_id=%d", p.ID)
		expectStatus(t, e.call("POST", lines+q, e.company(), map[string]any{"line_item": map[string]any{"description": "x", "amount": "1"}}), http.StatusBadRequest)
		expectStatus(t, e.call("PATCH", show+q, e.company(), map[string]any{"work_order_contract": map[string]any{"status": "Approved"}}), http.StatusBadRequest)
	})
	expectStatus(t, e.call("POST", lines, e.company(), map[string]any{"project_id": p.ID, "line_item": map[string]any{"description": "Sealants", "amount": "5000"}}), http.StatusCreated)
	expectStatus(t, e.call("PATCH", show, e.company(), map[string]any{"project_id": p.ID, "work_order_contract": map[string]any{"status": "Approved"}}), http.StatusOK)
	r = e.call("POST", lines, e.company(), map[string]any{"project_id": p.ID, "line_item": map[string]any{"description": "More", "amount": "1"}})
	expectStatus(t, r, http.StatusUnprocessableEntity)
	r = e.call("PATCH", show, e.company(), map[string]any{"project_id": p.ID, "work_order_contract": map[string]any{"line_items": []map[string]any{{"id": c.LineItems[0].ID, "amount": "1"}}}})
	expectStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), "locked") {
		t.Fatalf("body %s", r.body)
	}
}

type invoiceJSON struct {
	ID      int64
	Number  int
	Status  string
	Summary map[string]string
	Items   []map[string]any
}

func dec(t *testing.T, v any) decimal.Decimal {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%v is not a decimal string", v)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestInvoices(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 14, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2, CommitmentsPerProject: 6}})
	p := e.project()
	base := fmt.Sprintf("/rest/v1.1/requisitions?project_id=%d", p.ID)
	// A new approved commitment with a 10% retainage and two SOV lines.
	r := e.call("POST", "/rest/v1.0/work_order_contracts", e.company(), map[string]any{"project_id": p.ID, "work_order_contract": map[string]any{
		"title": "Drywall", "status": "Approved", "retainage_percent": "10.00",
		"line_items": []map[string]any{{"description": "Framing", "amount": "100000.00"}, {"description": "Board", "amount": "55555.55"}}}})
	expectStatus(t, r, http.StatusCreated)
	var c struct {
		ID        int64
		LineItems []struct{ ID int64 } `json:"line_items"`
	}
	r.json(t, &c)
	create := func(status string, items []map[string]any) reply {
		return e.call("POST", "/rest/v1.1/requisitions", e.company(), map[string]any{"project_id": p.ID, "commitment_id": c.ID,
			"requisition": map[string]any{"status": status, "items": items}})
	}
	update := func(id int64, requisition map[string]any) reply {
		return e.call("PATCH", fmt.Sprintf("/rest/v1.1/requisitions/%d", id), e.company(), map[string]any{"project_id": p.ID, "commitment_id": c.ID,
			"requisition": requisition})
	}
	t.Run("MissingProjectOrCommitmentIs400", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"requisition": map[string]any{}},
			{"project_id": p.ID, "requisition": map[string]any{}},
			{"commitment_id": c.ID, "requisition": map[string]any{}}, // project_id in the query is not Procore's
		} {
			r := e.call("POST", base, e.company(), body)
			expectStatus(t, r, http.StatusBadRequest)
			if !strings.Contains(string(r.body), "param is missing") {
				t.Fatalf("body %s", r.body)
			}
		}
		r := e.call("POST", "/rest/v1.1/requisitions", e.company(), map[string]any{"project_id": p.ID, "commitment_id": 1, "requisition": map[string]any{}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), `"commitment_id":["is invalid"]`) {
			t.Fatalf("body %s", r.body)
		}
	})
	var first, second invoiceJSON
	t.Run("G702AgreesWithItemsToTheCent", func(t *testing.T) {
		r := create("under_review", []map[string]any{
			{"line_item_id": c.LineItems[0].ID, "work_completed_this_period": "33333.33", "materials_presently_stored": "1234.57"},
			{"line_item_id": c.LineItems[1].ID, "work_completed_this_period": "10000.05", "work_completed_retainage_percent_this_period": "5"}})
		expectStatus(t, r, http.StatusCreated)
		r.json(t, &first)
		checkG702(t, first, decimal.Zero)
		s := first.Summary
		// Independent arithmetic: 10% of 33333.33 = 3333.333 → 3333.33; 5% of 10000.05 = 500.0025 → 500.00;
		// 10% of 1234.57 = 123.457 → 123.46.
		if s["completed_work_retainage_amount"] != "3833.33" || s["stored_materials_retainage_amount"] != "123.46" ||
			s["total_completed_and_stored_to_date"] != "44567.95" || s["total_retainage"] != "3956.79" ||
			s["total_earned_less_retainage"] != "40611.16" || s["current_payment_due"] != "40611.16" ||
			s["original_contract_sum"] != "155555.55" || s["balance_to_finish_including_retainage"] != "114944.39" {
			t.Fatalf("summary %v", s)
		}
	})
	t.Run("SecondInvoiceCarriesPreviousCertificates", func(t *testing.T) {
		// The old request: project_id in the query, no commitment_id.
		r := e.call("PATCH", fmt.Sprintf("/rest/v1.1/requisitions/%d?project_id=%d", first.ID, p.ID), e.company(), map[string]any{"requisition": map[string]any{"status": "approved"}})
		expectStatus(t, r, http.StatusBadRequest)
		r = e.call("PATCH", fmt.Sprintf("/rest/v1.1/requisitions/%d?project_id=%d", first.ID, p.ID), e.company(), map[string]any{"commitment_id": c.ID, "requisition": map[string]any{"status": "approved"}})
		expectStatus(t, r, http.StatusBadRequest)
		// Another commitment's invoice is not found.
		r = e.call("PATCH", fmt.Sprintf("/rest/v1.1/requisitions/%d", first.ID), e.company(), map[string]any{"project_id": p.ID, "commitment_id": p.Commitments[0].ID, "requisition": map[string]any{"status": "approved"}})
		expectStatus(t, r, http.StatusNotFound)
		r = update(first.ID, map[string]any{"status": "approved"})
		expectStatus(t, r, http.StatusOK)
		r = create("draft", []map[string]any{{"line_item_id": c.LineItems[0].ID, "work_completed_this_period": "20000.00", "work_completed_retainage_released_this_period": "1000.00"}})
		expectStatus(t, r, http.StatusCreated)
		r.json(t, &second)
		if second.Number != 2 || second.Summary["less_previous_certificates_for_payment"] != first.Summary["total_earned_less_retainage"] {
			t.Fatalf("second %+v", second)
		}
		checkG702(t, second, dec(t, first.Summary["total_earned_less_retainage"]))
		s := second.Summary
		// Independent arithmetic: completed 33333.33 + 10000.05 before, 20000.00 now, nothing stored;
		// work retainage 3833.33 before + 10% of 20000.00 − 1000.00 released = 4833.33;
		// earned 63333.38 − 4833.33 = 58500.05, less the first's 40611.16.
		if s["total_completed_and_stored_to_date"] != "63333.38" || s["completed_work_retainage_amount"] != "4833.33" ||
			s["stored_materials_retainage_amount"] != "0.00" || s["total_retainage"] != "4833.33" ||
			s["total_earned_less_retainage"] != "58500.05" || s["less_previous_certificates_for_payment"] != "40611.16" ||
			s["current_payment_due"] != "17888.89" || s["balance_to_finish_including_retainage"] != "97055.50" {
			t.Fatalf("summary %v", s)
		}
	})
	t.Run("OnlyTheLatestInvoiceIsEditable", func(t *testing.T) {
		r := update(first.ID, map[string]any{"invoice_number": "X"})
		expectStatus(t, r, http.StatusUnprocessableEntity)
	})
	t.Run("InvalidTransitionIsRefused", func(t *testing.T) {
		expectStatus(t, update(second.ID, map[string]any{"status": "approved"}), http.StatusOK)
		r := update(second.ID, map[string]any{"status": "draft"})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.body), "Invalid status transition from approved to draft") {
			t.Fatalf("body %s", r.body)
		}
		r = update(second.ID, map[string]any{"status": "paid"})
		expectStatus(t, r, http.StatusUnprocessableEntity)
	})
	t.Run("StandardWebUserMayOnlySaveOrSubmit", func(t *testing.T) {
		r := create("draft", nil)
		expectStatus(t, r, http.StatusCreated)
		var third invoiceJSON
		r.json(t, &third)
		hc, csrf := e.session()
		patch := func(status string) reply {
			req, _ := http.NewRequest("PATCH", fmt.Sprintf("%s/rest/v1.1/requisitions/%d", e.run.URL, third.ID),
				strings.NewReader(fmt.Sprintf(`{"project_id":%d,"commitment_id":%d,"requisition":{"status":%q}}`, p.ID, c.ID, status)))
			req.Header.Set("Procore-Company-Id", fmt.Sprint(e.company()))
			req.Header.Set("X-CSRF-Token", csrf)
			return e.send(hc, req)
		}
		expectStatus(t, patch("approved"), http.StatusForbidden)
		expectStatus(t, patch("under_review"), http.StatusOK)
	})
	t.Run("DraftCommitmentCannotBeInvoiced", func(t *testing.T) {
		r := e.call("POST", "/rest/v1.0/purchase_order_contracts", e.company(), map[string]any{"project_id": p.ID, "purchase_order_contract": map[string]any{"title": "Lumber"}})
		expectStatus(t, r, http.StatusCreated)
		var po struct{ ID int64 }
		r.json(t, &po)
		r = e.call("POST", "/rest/v1.1/requisitions", e.company(), map[string]any{"project_id": p.ID, "commitment_id": po.ID, "requisition": map[string]any{}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
	})
}

// checkG702 recomputes the summary from the G703 items with exact decimals.
func checkG702(t *testing.T, inv invoiceJSON, previous decimal.Decimal) {
	t.Helper()
	var completed, workRet, matRet decimal.Decimal
	for _, it := range inv.Items {
		prev, this, stored := dec(t, it["work_completed_from_previous_application"]), dec(t, it["work_completed_this_period"]), dec(t, it["materials_presently_stored"])
		total := prev.Add(this).Add(stored)
		if !total.Equal(dec(t, it["total_completed_and_stored_to_date"])) {
			t.Fatalf("row total %v != %v", it["total_completed_and_stored_to_date"], total)
		}
		retained := this.Mul(dec(t, it["work_completed_retainage_percent_this_period"])).Div(decimal.NewFromInt(100)).Round(2)
		if !retained.Equal(dec(t, it["work_completed_retainage_retained_this_period"])) {
			t.Fatalf("row retained %v != %v", it["work_completed_retainage_retained_this_period"], retained)
		}
		completed = completed.Add(total)
		workRet = workRet.Add(dec(t, it["work_completed_retainage_from_previous_application"])).Add(retained).Sub(dec(t, it["work_completed_retainage_released_this_period"]))
		matRet = matRet.Add(dec(t, it["materials_stored_retainage_currently_retained"]))
	}
	s := inv.Summary
	earned := completed.Sub(workRet).Sub(matRet)
	for k, want := range map[string]decimal.Decimal{
		"total_completed_and_stored_to_date":     completed,
		"completed_work_retainage_amount":        workRet,
		"stored_materials_retainage_amount":      matRet,
		"total_retainage":                        workRet.Add(matRet),
		"total_earned_less_retainage":            earned,
		"less_previous_certificates_for_payment": previous,
		"current_payment_due":                    earned.Sub(previous),
		"balance_to_finish_including_retainage":  dec(t, s["contract_sum_to_date"]).Sub(earned),
	} {
		if got := dec(t, s[k]); !got.Equal(want) {
			t.Fatalf("%s = %s, want %s", k, got, want)
		}
	}
}

func TestMutateFiresWebhook(t *testing.T) {
	got := make(chan map[string]any, 10)
	auths := make(chan string, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		_ = json.Unmarshal(b, &ev)
		auths <- r.Header.Get("Authorization")
		got <- ev
	}))
	defer recv.Close()
	e := start(t, sandbox.Config{Seed: 15, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 3}})
	p := e.project()
	r := e.call("POST", "/rest/v1.0/webhooks/hooks", e.company(), map[string]any{"company_id": e.company(), "hook": map[string]any{
		"namespace": "sandbox-test", "destination_url": recv.URL, "destination_headers": map[string]string{"Authorization": "Bearer hook-secret"}}})
	expectStatus(t, r, http.StatusCreated)
	var hook struct{ ID int64 }
	r.json(t, &hook)
	r = e.call("POST", fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/triggers", hook.ID), e.company(), map[string]any{"company_id": e.company(), "trigger": map[string]any{"resource_name": "RFIs", "event_type": "update"}})
	expectStatus(t, r, http.StatusCreated)

	rfi := p.RFIs[1]
	target := p.UserIDs[len(p.UserIDs)-1]
	req, _ := http.NewRequest("POST", e.run.URL+"/_sandbox/mutate", strings.NewReader(fmt.Sprintf(`{"kind":"rfi","project_id":%d,"id":%d,"set":{"ball_in_court_ids":[%d]}}`, p.ID, rfi.ID, target)))
	expectStatus(t, e.send(e.hc, req), http.StatusOK)
	select {
	case ev := <-got:
		if a := <-auths; a != "Bearer hook-secret" {
			t.Fatalf("Authorization %q", a)
		}
		if ev["resource_name"] != "RFIs" || ev["event_type"] != "update" || fmt.Sprint(int64(ev["resource_id"].(float64))) != fmt.Sprint(rfi.ID) {
			t.Fatalf("event %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook delivered")
	}
	var x rfiJSON
	e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis/%d", p.ID, rfi.ID)).json(t, &x)
	if !slices.Equal(personIDs(x.BallInCourts), []int64{target}) {
		t.Fatalf("ball in court %v", personIDs(x.BallInCourts))
	}

	t.Run("DuplicateFaultDeliversTwice", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{DuplicateWebhooks: 1})
		defer e.run.SetFaults(sandbox.Faults{})
		// An API write this time: close the RFI.
		r := e.call("PATCH", fmt.Sprintf("/rest/v1.0/projects/%d/rfis/%d", p.ID, rfi.ID), e.company(), map[string]any{"rfi": map[string]any{"accepted": true}})
		expectStatus(t, r, http.StatusOK)
		var ids []any
		for len(ids) < 2 {
			select {
			case ev := <-got:
				<-auths
				ids = append(ids, ev["id"])
			case <-time.After(5 * time.Second):
				t.Fatalf("got %d deliveries, want 2", len(ids))
			}
		}
		if ids[0] != ids[1] {
			t.Fatalf("duplicate deliveries have different ids %v", ids)
		}
	})
}

func TestSameSeedGivesIdenticalBytes(t *testing.T) {
	cfg := sandbox.Config{Seed: 77, Data: data.Options{Companies: 2, ProjectsPerCompany: 2, ItemsPerProject: 12, CommitmentsPerProject: 5}}
	a, b := start(t, cfg), start(t, cfg)
	cfg.Seed = 78
	other := start(t, cfg)
	p := a.project().ID
	paths := []string{
		"/rest/v1.0/companies",
		fmt.Sprintf("/rest/v1.1/projects?company_id=%d", a.company()),
		fmt.Sprintf("/rest/v1.0/projects/%d?company_id=%d", p, a.company()),
		fmt.Sprintf("/rest/v1.3/companies/%d/users", a.company()),
		fmt.Sprintf("/rest/v1.0/projects/%d/users", p),
		fmt.Sprintf("/rest/v1.0/vendors?company_id=%d", a.company()),
		fmt.Sprintf("/rest/v1.1/projects/%d/vendors", p),
		fmt.Sprintf("/rest/v1.0/cost_codes?project_id=%d", p),
		fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p),
		fmt.Sprintf("/rest/v1.1/projects/%d/submittals", p),
		fmt.Sprintf("/rest/v1.0/companies/%d/submittal_statuses", a.company()),
		fmt.Sprintf("/rest/v1.0/work_order_contracts?project_id=%d&view=extended", p),
		fmt.Sprintf("/rest/v1.0/purchase_order_contracts?project_id=%d", p),
		fmt.Sprintf("/rest/v1.0/projects/%d/commitment_change_orders", p),
		fmt.Sprintf("/rest/v1.0/projects/%d/billing_periods", p),
		fmt.Sprintf("/rest/v1.1/requisitions?project_id=%d&view=extended", p),
		fmt.Sprintf("/rest/v1.0/budget_views?project_id=%d", p),
		fmt.Sprintf("/rest/v1.0/budget_views/%d/detail_rows?project_id=%d", a.project().BudgetViews[0].ID, p),
		fmt.Sprintf("/rest/v1.0/projects/%d/manpower_logs?start_date=2024-01-01&end_date=2026-12-31", p),
		fmt.Sprintf("/rest/v1.0/projects/%d/notes_logs?start_date=2024-01-01&end_date=2026-12-31", p),
		fmt.Sprintf("/rest/v1.0/observations/items?project_id=%d", p),
		fmt.Sprintf("/rest/v1.1/punch_items?project_id=%d", p),
	}
	differs := 0
	for _, path := range paths {
		ra, rb, ro := a.get(path), b.get(path), other.get(path)
		expectStatus(t, ra, http.StatusOK)
		if len(ra.body) < 10 || string(ra.body) != string(rb.body) {
			t.Fatalf("%s: bodies differ between two sandboxes with the same seed (or empty: %s)", path, ra.body)
		}
		if string(ra.body) != string(ro.body) {
			differs++
		}
	}
	if differs < len(paths)/2 {
		t.Fatalf("only %d of %d bodies differ for another seed", differs, len(paths))
	}
}
