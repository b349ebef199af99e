package rest

// The exact requests the adapter sends where Procore's published contract
// (its OpenAPI description, per-operation parameters and body keys) puts a
// parameter somewhere else than one might guess: which query parameters and
// body keys, no more and no fewer. Each test answers with canned JSON from a
// fake Procore that records every API request.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// sentRequest is one API request as the fake Procore received it.
type sentRequest struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any // nil without a body
}

func (r sentRequest) String() string {
	b, _ := json.Marshal(r.Body)
	return fmt.Sprintf("%s %s?%s %s", r.Method, r.Path, r.Query.Encode(), b)
}

// requestLog is a fake Procore that records API requests and answers each
// with answer(r) (status 200 and a JSON value); answer returning nil is 404.
type requestLog struct {
	*fakeProcore
	mu   sync.Mutex
	reqs []sentRequest
}

func recordingProcore(t *testing.T, answer func(r sentRequest, w http.ResponseWriter) any) *requestLog {
	t.Helper()
	l := &requestLog{fakeProcore: newFakeProcore(t)}
	l.Mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := sentRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &s.Body); err != nil {
				t.Errorf("%s %s: body is not a JSON object: %s", r.Method, r.URL.Path, b)
			}
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, s)
		l.mu.Unlock()
		v := answer(s, w)
		if v == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"errors": "Resource not found"})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	return l
}

// sent returns the recorded requests with method and path.
func (l *requestLog) sent(method, path string) []sentRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sentRequest
	for _, r := range l.reqs {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (l *requestLog) all() []sentRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// only returns the single request with method and path, failing otherwise.
func (l *requestLog) only(t *testing.T, method, path string) sentRequest {
	t.Helper()
	got := l.sent(method, path)
	if len(got) != 1 {
		t.Fatalf("%d requests %s %s, want 1; sent: %v", len(got), method, path, l.all())
	}
	return got[0]
}

// expectQuery fails unless q is exactly want (name → value).
func expectQuery(t *testing.T, r sentRequest, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, vs := range r.Query {
		got[k] = strings.Join(vs, ",")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %s: query %v, want exactly %v", r.Method, r.Path, got, want)
	}
}

// expectBody fails unless the request's JSON body is exactly want.
func expectBody(t *testing.T, r sentRequest, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Body, w) {
		got, _ := json.Marshal(r.Body)
		t.Fatalf("%s %s: body %s, want exactly %s", r.Method, r.Path, got, want)
	}
}

// Contract: PATCH /rest/v1.0/submittal_approvers/{id} has required query
// parameters project_id and submittal_id, and its body is
// {"submittal_approver": {"submittal_response_id" (required), "comment", ...}}.
func TestRespondToSubmittalSendsSubmittalIDAndSubmittalResponseID(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		switch r.Method + " " + r.Path {
		case "PATCH /rest/v1.0/submittal_approvers/77":
			return map[string]any{"id": 77}
		case "GET /rest/v1.1/projects/9/submittals/5":
			return map[string]any{"id": 5, "number": "12"}
		}
		return nil
	})
	c := newTestClient(t, l.URL, nil)
	if _, err := c.RespondToSubmittal(context.Background(), 9, 5, 77, 3, "No exceptions taken"); err != nil {
		t.Fatal(err)
	}
	r := l.only(t, "PATCH", "/rest/v1.0/submittal_approvers/77")
	expectQuery(t, r, map[string]string{"project_id": "9", "submittal_id": "5"})
	expectBody(t, r, `{"submittal_approver": {"submittal_response_id": 3, "comment": "No exceptions taken"}}`)
}

// Contract: PATCH /rest/v1.1/projects/{project_id}/submittals/{id} requires
// submittal.number (as the create does).
func TestUpdateSubmittalStatusSendsTheNumber(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		if r.Path == "/rest/v1.1/projects/9/submittals/5" {
			return map[string]any{"id": 5, "number": "05 12 00-3", "status": map[string]any{"id": 4, "name": "Closed"}}
		}
		return nil
	})
	c := newTestClient(t, l.URL, nil)
	if _, err := c.UpdateSubmittalStatus(context.Background(), 9, 5, 4); err != nil {
		t.Fatal(err)
	}
	r := l.only(t, "PATCH", "/rest/v1.1/projects/9/submittals/5")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"submittal": {"number": "05 12 00-3", "status_id": 4}}`)
}

// Contract: POST /rest/v1.1/projects/{project_id}/submittals has no
// upload_ids; uploaded files go in submittal.prostore_file_ids.
func TestCreateSubmittalSendsUploadsAsProstoreFileIDs(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		return map[string]any{"id": 5, "number": "12"}
	})
	c := newTestClient(t, l.URL, nil)
	_, err := c.CreateSubmittal(context.Background(), 9, adapter.SubmittalCreate{Number: "12", Title: "Anchor bolts",
		Steps:     []adapter.SubmittalStep{{ApproverIDs: []int64{31}, DaysToRespond: 5}},
		UploadIDs: []string{"01J0000000000000000000000A", "01J0000000000000000000000B"}})
	if err != nil {
		t.Fatal(err)
	}
	r := l.only(t, "POST", "/rest/v1.1/projects/9/submittals")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"submittal": {"number": "12", "title": "Anchor bolts",
		"workflow_data": [[{"login_information_id": 31, "approver_type": "Approver", "days_to_respond": 5}]],
		"prostore_file_ids": ["01J0000000000000000000000A", "01J0000000000000000000000B"]}}`)
}

// Contract: PATCH /rest/v1.1/requisitions/{id} takes no project_id query
// parameter; project_id and commitment_id are required body keys. POST
// /rest/v1.1/requisitions likewise.
func TestInvoiceWritesSendProjectAndCommitmentInTheBody(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
		switch r.Method + " " + r.Path {
		case "GET /rest/v1.1/requisitions/11":
			return map[string]any{"id": 11, "commitment_id": 44, "status": "draft"}
		case "PATCH /rest/v1.1/requisitions/11":
			return map[string]any{"id": 11, "commitment_id": 44, "status": "under_review"}
		case "POST /rest/v1.1/requisitions":
			return map[string]any{"id": 12, "commitment_id": 44, "status": "draft"}
		}
		return nil
	})
	c := newTestClient(t, l.URL, nil)
	ctx := context.Background()
	got, err := c.UpdateInvoiceStatus(ctx, 9, 11, adapter.InvoiceUnderReview)
	if err != nil || got.Status != adapter.InvoiceUnderReview {
		t.Fatalf("%+v %v", got, err)
	}
	expectQuery(t, l.only(t, "GET", "/rest/v1.1/requisitions/11"), map[string]string{"project_id": "9"})
	r := l.only(t, "PATCH", "/rest/v1.1/requisitions/11")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"project_id": 9, "commitment_id": 44, "requisition": {"status": "under_review"}}`)

	if _, err := c.CreateInvoice(ctx, 9, adapter.InvoiceCreate{CommitmentID: 44, PeriodID: 3, InvoiceNumber: "A-1"}); err != nil {
		t.Fatal(err)
	}
	r = l.only(t, "POST", "/rest/v1.1/requisitions")
	expectQuery(t, r, map[string]string{})
	expectBody(t, r, `{"project_id": 9, "commitment_id": 44, "requisition": {"period_id": 3, "invoice_number": "A-1"}}`)
}

// Contract: work and purchase order contracts take project_id in the query
// on lists and shows, but in the body (required) on creates, updates and
// line item creates, which list no project_id query parameter.
func TestCommitmentWritesSendProjectIDInTheBody(t *testing.T) {
	for _, kind := range []adapter.CommitmentKind{adapter.CommitmentSubcontract, adapter.CommitmentPurchaseOrder} {
		t.Run(string(kind), func(t *testing.T) {
			base, key, _ := commitmentPath(kind)
			l := recordingProcore(t, func(r sentRequest, _ http.ResponseWriter) any {
				switch r.Method + " " + r.Path {
				case "POST " + base, "GET " + base + "/21", "PATCH " + base + "/21":
					return map[string]any{"id": 21, "status": "Approved"}
				case "POST " + base + "/21/line_items":
					return map[string]any{"id": 22}
				case "GET /rest/v1.0/work_order_contracts", "GET /rest/v1.0/purchase_order_contracts":
					return []any{}
				}
				return nil
			})
			c := newTestClient(t, l.URL, nil)
			ctx := context.Background()
			_, err := c.CreateCommitment(ctx, 9, adapter.CommitmentCreate{Kind: kind, Title: "Steel", Status: adapter.CommitmentApproved,
				LineItems: []adapter.CommitmentLineItemInput{{Description: "Fabrication", Amount: decimal.RequireFromString("100.50")}}})
			if err != nil {
				t.Fatal(err)
			}
			r := l.only(t, "POST", base)
			expectQuery(t, r, map[string]string{})
			expectBody(t, r, `{"project_id": 9, "`+key+`": {"title": "Steel", "status": "Draft"}}`)
			r = l.only(t, "POST", base+"/21/line_items")
			expectQuery(t, r, map[string]string{})
			expectBody(t, r, `{"project_id": 9, "line_item": {"description": "Fabrication", "amount": "100.5"}}`)
			r = l.only(t, "PATCH", base+"/21")
			expectQuery(t, r, map[string]string{})
			expectBody(t, r, `{"project_id": 9, "`+key+`": {"status": "Approved"}}`)
			expectQuery(t, l.only(t, "GET", base+"/21"), map[string]string{"project_id": "9"})

			if _, err := c.UpdateCommitmentStatus(ctx, 9, kind, 21, adapter.CommitmentApproved); err != nil {
				t.Fatal(err)
			}
			patches := l.sent("PATCH", base+"/21")
			expectQuery(t, patches[1], map[string]string{})
			expectBody(t, patches[1], `{"project_id": 9, "`+key+`": {"status": "Approved"}}`)

			if _, err := c.Commitments(ctx, 9, adapter.ListOptions{}); err != nil {
				t.Fatal(err)
			}
			expectQuery(t, l.only(t, "GET", base), map[string]string{"project_id": "9", "page": "1", "per_page": "100"})
		})
	}
}

// Contract: GET /rest/v1.1/projects filters by status with
// filters[by_status] (Active, Inactive, All); by_status is no parameter.
func TestProjectsByStatusSendsFiltersByStatus(t *testing.T) {
	l := recordingProcore(t, func(sentRequest, http.ResponseWriter) any { return []any{} })
	c := newTestClient(t, l.URL, nil)
	for status, want := range map[adapter.ProjectStatus]string{adapter.ProjectStatusActive: "Active",
		adapter.ProjectStatusInactive: "Inactive", adapter.ProjectStatusAll: "All"} {
		if _, err := c.Projects(context.Background(), 42, adapter.ProjectFilter{Status: &status}, adapter.ListOptions{IDs: []int64{7}}); err != nil {
			t.Fatal(err)
		}
		reqs := l.sent("GET", "/rest/v1.1/projects")
		expectQuery(t, reqs[len(reqs)-1], map[string]string{"company_id": "42", "filters[by_status]": want, "filters[id][]": "7",
			"page": "1", "per_page": "300"})
	}
}

// Contract: project vendors (GET /rest/v1.1/projects/{project_id}/vendors)
// and cost codes (GET /rest/v1.0/cost_codes) have no filters[updated_at]:
// none is sent, and UpdatedSince is applied to the fetched list by the
// items' updated_at.
func TestUpdatedSinceWithoutAnUpdatedAtFilterFiltersTheFetchedList(t *testing.T) {
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	// 250 items, every third updated since; three pages of 100.
	items := func(r sentRequest) []map[string]any {
		page, _ := strconv.Atoi(r.Query.Get("page"))
		var out []map[string]any
		for i := (page - 1) * 100; i < min(page*100, 250); i++ {
			u := since.Add(-time.Hour)
			if i%3 == 0 {
				u = since.Add(time.Duration(i) * time.Minute)
			}
			out = append(out, map[string]any{"id": 1000 + i, "name": fmt.Sprint("item ", i), "updated_at": u.Format(time.RFC3339)})
		}
		return out
	}
	l := recordingProcore(t, func(r sentRequest, w http.ResponseWriter) any {
		w.Header().Set("Total", "250")
		return items(r)
	})
	c := newTestClient(t, l.URL, nil)
	ctx := context.Background()
	var want []int64
	for i := 0; i < 250; i += 3 {
		want = append(want, int64(1000+i))
	}
	vendors, err := c.ProjectVendors(ctx, 9, adapter.ListOptions{UpdatedSince: &since, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	codes, err := c.CostCodes(ctx, 9, adapter.ListOptions{UpdatedSince: &since})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(vendors.Items, func(v adapter.Vendor) int64 { return v.ID }); !slices.Equal(got, want[:10]) || vendors.Total != len(want) {
		t.Fatalf("project vendors %v (Total %d), want %v (Total %d)", got, vendors.Total, want[:10], len(want))
	}
	if got := ids(codes.Items, func(c adapter.CostCode) int64 { return c.ID }); !slices.Equal(got, want) || codes.Total != len(want) {
		t.Fatalf("cost codes %v (Total %d), want %d items", got, codes.Total, len(want))
	}
	for _, r := range l.all() {
		for k := range r.Query {
			if strings.HasPrefix(k, "filters[updated_at]") {
				t.Fatalf("%s: sends %s, which the endpoint does not have", r, k)
			}
		}
	}
	if n := len(l.sent("GET", "/rest/v1.1/projects/9/vendors")); n != 3 {
		t.Fatalf("%d project vendor pages, want the whole list (3)", n)
	}
}

// fakeDirectory serves n company users (ids 1..n) 100 a page with Total and
// Link headers, the show route, and ignores filters[id] (Procore has none).
func fakeDirectory(t *testing.T, n int) *requestLog {
	return recordingProcore(t, func(r sentRequest, w http.ResponseWriter) any {
		if id, ok := strings.CutPrefix(r.Path, "/rest/v1.3/companies/42/users/"); ok {
			v, _ := strconv.Atoi(id)
			if v < 1 || v > n {
				return nil
			}
			return map[string]any{"id": v, "name": fmt.Sprint("user ", v)}
		}
		if r.Path != "/rest/v1.3/companies/42/users" {
			return nil
		}
		page, _ := strconv.Atoi(r.Query.Get("page"))
		w.Header().Set("Total", strconv.Itoa(n))
		if page*100 < n {
			w.Header().Set("Link", fmt.Sprintf(`<http://x/rest/v1.3/companies/42/users?page=%d&per_page=100>; rel="next"`, page+1))
		}
		out := []map[string]any{}
		for v := (page-1)*100 + 1; v <= min(page*100, n); v++ {
			out = append(out, map[string]any{"id": v, "name": fmt.Sprint("user ", v)})
		}
		return out
	})
}

// Contract: GET /rest/v1.3/companies/{company_id}/users has no id filter;
// GET /rest/v1.3/companies/{company_id}/users/{id} shows one user. One id is
// a show; more walk the directory, stopping once all are found or once
// fetching the missing ones alone is cheaper than the pages left.
func TestCompanyUsersByIDUseTheShowRouteAndTheDirectory(t *testing.T) {
	ctx := context.Background()
	userIDs := func(p adapter.Page[adapter.User]) []int64 {
		return ids(p.Items, func(u adapter.User) int64 { return u.ID })
	}
	t.Run("OneIDIsAShow", func(t *testing.T) {
		l := fakeDirectory(t, 1000)
		page, err := newTestClient(t, l.URL, nil).CompanyUsers(ctx, 42, adapter.ListOptions{IDs: []int64{777}})
		if err != nil || !slices.Equal(userIDs(page), []int64{777}) || page.Total != 1 {
			t.Fatalf("%v (Total %d) %v", userIDs(page), page.Total, err)
		}
		if reqs := l.all(); len(reqs) != 1 || reqs[0].Path != "/rest/v1.3/companies/42/users/777" {
			t.Fatalf("sent %v, want one show", reqs)
		}
		page, err = newTestClient(t, l.URL, nil).CompanyUsers(ctx, 42, adapter.ListOptions{IDs: []int64{5000}})
		if err != nil || len(page.Items) != 0 || page.Total != 0 {
			t.Fatalf("unknown user: %+v %v, want none", page, err)
		}
	})
	t.Run("IDsOnTheFirstPageTakeOneCall", func(t *testing.T) {
		l := fakeDirectory(t, 1000)
		page, err := newTestClient(t, l.URL, nil).CompanyUsers(ctx, 42, adapter.ListOptions{IDs: []int64{90, 3, 45, 3}})
		if err != nil || !slices.Equal(userIDs(page), []int64{3, 45, 90}) || page.Total != 3 {
			t.Fatalf("%v (Total %d) %v", userIDs(page), page.Total, err)
		}
		reqs := l.all()
		if len(reqs) != 1 {
			t.Fatalf("sent %v, want one page", reqs)
		}
		expectQuery(t, reqs[0], map[string]string{"page": "1", "per_page": "100"})
	})
	t.Run("FewMissingIDsAreFetchedAlone", func(t *testing.T) {
		l := fakeDirectory(t, 1000)
		page, err := newTestClient(t, l.URL, nil).CompanyUsers(ctx, 42, adapter.ListOptions{IDs: []int64{950, 10, 5000}})
		if err != nil || !slices.Equal(userIDs(page), []int64{10, 950}) {
			t.Fatalf("%v %v", userIDs(page), err)
		}
		// Page 1 finds 10; the other two cost two shows, not nine pages.
		if n := len(l.all()); n != 3 || len(l.sent("GET", "/rest/v1.3/companies/42/users")) != 1 {
			t.Fatalf("sent %v, want page 1 and two shows", l.all())
		}
	})
	t.Run("ManyIDsWalkTheDirectoryOnce", func(t *testing.T) {
		l := fakeDirectory(t, 350)
		want := []int64{1, 120, 199, 250, 301, 349}
		since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		page, err := newTestClient(t, l.URL, nil).CompanyUsers(ctx, 42, adapter.ListOptions{IDs: want, UpdatedSince: &since})
		if err != nil || !slices.Equal(userIDs(page), want) {
			t.Fatalf("%v %v", userIDs(page), err)
		}
		reqs := l.all()
		if len(reqs) != 4 {
			t.Fatalf("sent %v, want the 4 pages", reqs)
		}
		for _, r := range reqs {
			for k := range r.Query {
				if strings.HasPrefix(k, "filters[id]") {
					t.Fatalf("%s: company users have no id filter", r)
				}
			}
			if !strings.HasPrefix(r.Query.Get("filters[updated_at]"), "2026-01-01T00:00:00Z...") {
				t.Fatalf("%s: the directory has filters[updated_at]", r)
			}
		}
	})
}

// Contract: GET /rest/v1.0/projects/{project_id}/users has filters[id], one
// integer, not an array.
func TestProjectUsersByIDSendOneIDAtATime(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, w http.ResponseWriter) any {
		if v := r.Query.Get("filters[id]"); v != "" {
			id, _ := strconv.Atoi(v)
			return []map[string]any{{"id": id}}
		}
		w.Header().Set("Total", "3")
		return []map[string]any{{"id": 1}, {"id": 2}, {"id": 3}}
	})
	c := newTestClient(t, l.URL, nil)
	page, err := c.ProjectUsers(context.Background(), 9, adapter.ListOptions{IDs: []int64{2}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != 2 {
		t.Fatalf("%+v %v", page, err)
	}
	expectQuery(t, l.only(t, "GET", "/rest/v1.0/projects/9/users"), map[string]string{"filters[id]": "2", "page": "1", "per_page": "100"})
	page, err = c.ProjectUsers(context.Background(), 9, adapter.ListOptions{IDs: []int64{3, 1, 99}})
	if err != nil || !slices.Equal(ids(page.Items, func(u adapter.User) int64 { return u.ID }), []int64{1, 3}) {
		t.Fatalf("%+v %v", page, err)
	}
	for _, r := range l.all() {
		if _, ok := r.Query["filters[id][]"]; ok {
			t.Fatalf("%s: filters[id] takes one id here", r)
		}
	}
}

// Procore's next links can omit the request's filters: every page keeps the
// original query, with only page and per_page from the link.
func TestPaginationKeepsTheOriginalQueryWhenTheLinkDropsIt(t *testing.T) {
	l := recordingProcore(t, func(r sentRequest, w http.ResponseWriter) any {
		page, _ := strconv.Atoi(r.Query.Get("page"))
		if page < 3 {
			// The link names the page and a lower per_page, nothing else.
			w.Header().Set("Link", fmt.Sprintf(`<https://elsewhere.example/rest/v1.0/projects/9/rfis?page=%d&per_page=50>; rel="next"`, page+1))
		}
		out := []map[string]any{}
		for i := 0; i < 50; i++ {
			out = append(out, map[string]any{"id": page*1000 + i})
		}
		return out
	})
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	page, err := newTestClient(t, l.URL, nil).RFIs(context.Background(), 9, adapter.ListOptions{UpdatedSince: &since})
	if err != nil || len(page.Items) != 150 {
		t.Fatalf("%d items, %v", len(page.Items), err)
	}
	reqs := l.sent("GET", "/rest/v1.0/projects/9/rfis")
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	window := reqs[0].Query.Get("filters[updated_at]")
	for i, r := range reqs {
		want := map[string]string{"filters[updated_at]": window, "page": strconv.Itoa(i + 1), "per_page": "50"}
		if i == 0 {
			want["per_page"] = "100"
		}
		expectQuery(t, r, want)
	}
}

// Procore's token endpoint is on its login host: without a LoginURL the
// client derives it from the API host.
func TestTokenRequestsGoToTheLoginHost(t *testing.T) {
	for api, login := range map[string]string{
		"https://api.procore.com":         "login.procore.com",
		"https://sandbox.procore.com":     "login-sandbox.procore.com",
		"https://api-monthly.procore.com": "login-sandbox-monthly.procore.com",
		"https://api.procoregov.com":      "login.procoregov.com",
		"http://127.0.0.1:8443":           "127.0.0.1:8443",
	} {
		t.Run(api, func(t *testing.T) {
			var mu sync.Mutex
			var hosts []string
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				hosts = append(hosts, r.Method+" "+r.URL.Host+r.URL.Path)
				mu.Unlock()
				body := `{"id": 1, "login": "a@b.c", "name": "A"}`
				if r.URL.Path == "/oauth/token" {
					body = `{"access_token": "t", "token_type": "bearer", "expires_in": 5400, "created_at": 1}`
				}
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			})
			c := newTestClient(t, api, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: rt} })
			if _, err := c.Me(context.Background()); err != nil {
				t.Fatal(err)
			}
			apiHost := strings.TrimPrefix(strings.TrimPrefix(api, "https://"), "http://")
			want := []string{"POST " + login + "/oauth/token", "GET " + apiHost + "/rest/v1.0/me"}
			if !slices.Equal(hosts, want) {
				t.Fatalf("requests %v, want %v", hosts, want)
			}
		})
	}
	if got := LoginURLFor("https://API.Procore.com/"); got != "https://login.procore.com" {
		t.Fatalf("LoginURLFor = %q", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
