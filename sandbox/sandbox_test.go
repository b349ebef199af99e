package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

func TestCompanyHeader(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 1, Data: data.Options{Companies: 2, ProjectsPerCompany: 2, ItemsPerProject: 3},
		ExtraClients: []auth.Client{{ID: "narrow", Secret: "narrow-secret", CompanyIDs: []int64{}}}})
	ds := e.ds()
	a, b := ds.Companies[0], ds.Companies[1]
	var projA, projB *data.Project
	for _, p := range ds.Projects {
		if p.CompanyID == a.ID && projA == nil {
			projA = p
		}
		if p.CompanyID == b.ID && projB == nil {
			projB = p
		}
	}
	// The "narrow" app is installed in no company (CompanyIDs is empty, not nil).

	t.Run("MissingHeaderIs400", func(t *testing.T) {
		r := e.call("GET", fmt.Sprintf("/rest/v1.0/projects/%d/rfis", projA.ID), 0, nil)
		expectStatus(t, r, http.StatusBadRequest)
		if string(r.body) != `{"errors":"Missing Procore-Company-Id header!"}` {
			t.Fatalf("body %s", r.body)
		}
	})
	t.Run("MeAndCompaniesNeedItForClientCredentials", func(t *testing.T) {
		expectStatus(t, e.call("GET", "/rest/v1.0/me", 0, nil), http.StatusBadRequest)
		expectStatus(t, e.call("GET", "/rest/v1.0/companies", 0, nil), http.StatusBadRequest)
		r := e.call("GET", "/rest/v1.0/me", a.ID, nil)
		expectStatus(t, r, http.StatusOK)
		var me struct {
			ID    int64  `json:"id"`
			Login string `json:"login"`
		}
		r.json(t, &me)
		if me.ID != ds.ServiceUserID || me.Login == "" {
			t.Fatalf("me = %+v, want the service account %d", me, ds.ServiceUserID)
		}
	})
	t.Run("MeWithoutHeaderWorksForAWebSession", func(t *testing.T) {
		hc, _ := e.session()
		req, _ := http.NewRequest("GET", e.run.URL+"/rest/v1.0/me", nil)
		r := e.send(hc, req)
		expectStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), sandbox.DefaultDemoEmail) {
			t.Fatalf("me = %s", r.body)
		}
	})
	t.Run("UnknownCompanyIs404", func(t *testing.T) {
		expectStatus(t, e.call("GET", fmt.Sprintf("/rest/v1.0/projects/%d/rfis", projA.ID), 999, nil), http.StatusNotFound)
	})
	t.Run("ProjectOfAnotherCompanyIs404", func(t *testing.T) {
		expectStatus(t, e.call("GET", fmt.Sprintf("/rest/v1.0/projects/%d/rfis", projB.ID), a.ID, nil), http.StatusNotFound)
		expectStatus(t, e.call("GET", fmt.Sprintf("/rest/v1.0/work_order_contracts?project_id=%d", projB.ID), a.ID, nil), http.StatusNotFound)
		expectStatus(t, e.call("GET", fmt.Sprintf("/rest/v1.1/projects?company_id=%d", b.ID), a.ID, nil), http.StatusNotFound)
	})
	t.Run("CompanyTheAppIsNotInstalledInIs404", func(t *testing.T) {
		tok := e.clientToken("narrow", "narrow-secret")
		expectStatus(t, e.callAs(tok, "GET", fmt.Sprintf("/rest/v1.1/projects?company_id=%d", a.ID), a.ID, nil), http.StatusNotFound)
		r := e.callAs(tok, "GET", "/rest/v1.0/companies", a.ID, nil)
		expectStatus(t, r, http.StatusNotFound)
	})
	t.Run("MatchingHeaderServes", func(t *testing.T) {
		r := e.call("GET", fmt.Sprintf("/rest/v1.1/projects?company_id=%d&filters[by_status]=All", a.ID), a.ID, nil)
		expectStatus(t, r, http.StatusOK)
		var ps []struct{ ID int64 }
		r.json(t, &ps)
		want := 0
		for _, p := range ds.Projects {
			if p.CompanyID == a.ID {
				want++
			}
		}
		if len(ps) != want || r.header.Get("Total") != strconv.Itoa(want) {
			t.Fatalf("got %d projects (Total %s), want %d", len(ps), r.header.Get("Total"), want)
		}
	})
	t.Run("BadTokenIs401", func(t *testing.T) {
		r := e.callAs("nope", "GET", "/rest/v1.0/me", a.ID, nil)
		expectStatus(t, r, http.StatusUnauthorized)
		if !strings.Contains(string(r.body), `"invalid_token"`) {
			t.Fatalf("body %s", r.body)
		}
	})
}

func TestLinkPaginationWalksTheWholeList(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 3, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2, RFIsPerProject: 250}})
	p := e.project()
	var want []int64
	for _, x := range p.RFIs {
		want = append(want, x.ID)
	}
	next := fmt.Sprintf("/rest/v1.0/projects/%d/rfis?per_page=40&filters[status][]=open&filters[status][]=closed&filters[status][]=draft", p.ID)
	var got []int64
	pages := 0
	for next != "" {
		r := e.get(next)
		expectStatus(t, r, http.StatusOK)
		pages++
		if r.header.Get("Total") != "250" || r.header.Get("Per-Page") != "40" {
			t.Fatalf("page %d: Total %q Per-Page %q", pages, r.header.Get("Total"), r.header.Get("Per-Page"))
		}
		l := links(r.header.Get("Link"))
		if !strings.HasPrefix(l["first"], e.run.URL) || !strings.Contains(l["last"], "page=7") || !strings.Contains(l["last"], "filters[status][]=draft") {
			t.Fatalf("page %d: Link %q", pages, r.header.Get("Link"))
		}
		if _, ok := l["prev"]; ok != (pages >= 2) {
			t.Fatalf("page %d: prev present=%v", pages, ok)
		}
		var items []struct{ ID int64 }
		r.json(t, &items)
		for _, it := range items {
			got = append(got, it.ID)
		}
		next = l["next"]
	}
	if pages != 7 || !slices.Equal(got, want) {
		t.Fatalf("walked %d pages, %d ids; want 7 pages and the %d dataset ids in order", pages, len(got), len(want))
	}
	t.Run("PerPageIsClampedToTheMax", func(t *testing.T) {
		r := e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?per_page=1000", p.ID))
		var items []struct{ ID int64 }
		r.json(t, &items)
		if r.header.Get("Per-Page") != "100" || len(items) != 100 {
			t.Fatalf("Per-Page %s, %d items", r.header.Get("Per-Page"), len(items))
		}
	})
	t.Run("PastTheLastPageIsEmpty", func(t *testing.T) {
		r := e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?page=99", p.ID))
		if string(r.body) != "[]" || r.header.Get("Total") != "250" {
			t.Fatalf("body %s Total %s", r.body, r.header.Get("Total"))
		}
	})
}

func TestFilters(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 5, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 60}})
	p := e.project()
	ids := func(r reply) []int64 {
		t.Helper()
		expectStatus(t, r, http.StatusOK)
		var items []struct{ ID int64 }
		r.json(t, &items)
		var out []int64
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	t.Run("IDArrayKeepsExactlyThoseIDs", func(t *testing.T) {
		want := []int64{p.RFIs[3].ID, p.RFIs[17].ID, p.RFIs[42].ID}
		got := ids(e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?filters[id][]=%d&filters[id][]=%d&filters[id][]=%d", p.ID, want[2], want[0], want[1])))
		if !slices.Equal(got, want) {
			t.Fatalf("got %v want %v", got, want)
		}
		got = ids(e.get(fmt.Sprintf("/rest/v1.1/projects/%d/submittals?filters[id]=%d", p.ID, p.Submittals[5].ID)))
		if !slices.Equal(got, []int64{p.Submittals[5].ID}) {
			t.Fatalf("scalar filters[id]: got %v", got)
		}
	})
	t.Run("UpdatedAtRangeKeepsItemsInside", func(t *testing.T) {
		from := e.ds().Base.AddDate(0, 0, -120)
		to := e.ds().Base.AddDate(0, 0, -30)
		var want []int64
		for _, x := range p.RFIs {
			if !x.UpdatedAt.Before(from) && !x.UpdatedAt.After(to) {
				want = append(want, x.ID)
			}
		}
		if len(want) == 0 || len(want) == len(p.RFIs) {
			t.Fatalf("test data does not exercise the filter: %d of %d", len(want), len(p.RFIs))
		}
		got := ids(e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?filters[updated_at]=%s...%s", p.ID, from.Format(time.RFC3339), to.Format(time.RFC3339))))
		if !slices.Equal(got, want) {
			t.Fatalf("got %d ids, want %d", len(got), len(want))
		}
		// Dates include the whole end day.
		day := p.RFIs[0].UpdatedAt.Format(time.DateOnly)
		got = ids(e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?filters[updated_at]=%s...%s", p.ID, day, day)))
		if !slices.Contains(got, p.RFIs[0].ID) {
			t.Fatalf("date range %s...%s misses RFI updated %s", day, day, p.RFIs[0].UpdatedAt)
		}
	})
	t.Run("InvalidRangeIs400", func(t *testing.T) {
		expectStatus(t, e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?filters[updated_at]=yesterday...today", p.ID)), http.StatusBadRequest)
	})
	t.Run("SortDescending", func(t *testing.T) {
		got := ids(e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis?sort[attribute]=id&sort[direction]=desc&per_page=5", p.ID)))
		n := len(p.RFIs)
		want := []int64{p.RFIs[n-1].ID, p.RFIs[n-2].ID, p.RFIs[n-3].ID, p.RFIs[n-4].ID, p.RFIs[n-5].ID}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v want %v", got, want)
		}
	})
	t.Run("ObservationStatusFilterTakesIntegers", func(t *testing.T) {
		var want []int64
		for _, o := range p.Observations {
			if o.Status == "closed" {
				want = append(want, o.ID)
			}
		}
		got := ids(e.get(fmt.Sprintf("/rest/v1.0/observations/items?project_id=%d&filters[status][]=3", p.ID)))
		if !slices.Equal(got, want) {
			t.Fatalf("got %v want %v", got, want)
		}
	})
}

func TestRateLimits(t *testing.T) {
	clk := newClock()
	e := start(t, sandbox.Config{Seed: 1, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2},
		Now: clk.Now, SpikeLimit: 5, HourlyLimit: 50})
	path := fmt.Sprintf("/rest/v1.0/projects/%d/rfis", e.project().ID)
	windowEnd := clk.Now().Add(10 * time.Second).Unix()
	for i := 0; i < 5; i++ {
		p := path
		if i == 2 {
			p = path + "/1" // a failed request counts too
		}
		r := e.get(p)
		if r.header.Get("X-Rate-Limit-Limit") != "5" || r.header.Get("X-Rate-Limit-Remaining") != strconv.Itoa(4-i) ||
			r.header.Get("X-Rate-Limit-Reset") != strconv.FormatInt(windowEnd, 10) {
			t.Fatalf("request %d: status %d, headers %v", i, r.status, r.header)
		}
	}
	r := e.get(path)
	expectStatus(t, r, http.StatusTooManyRequests)
	if string(r.body) != sandbox.RateLimitBody || r.header.Get("X-Rate-Limit-Remaining") != "0" ||
		r.header.Get("X-Rate-Limit-Reset") != strconv.FormatInt(windowEnd, 10) || r.header.Get("X-Rate-Limit-Limit") != "5" {
		t.Fatalf("429: body %q headers %v", r.body, r.header)
	}
	t.Run("OtherTokensHaveTheirOwnBudget", func(t *testing.T) {
		other := e.clientToken(sandbox.DefaultClientID, sandbox.DefaultClientSecret)
		expectStatus(t, e.callAs(other, "GET", path, e.company(), nil), http.StatusOK)
	})
	t.Run("TheWindowRollsOver", func(t *testing.T) {
		clk.Add(10 * time.Second)
		r := e.get(path)
		expectStatus(t, r, http.StatusOK)
		if r.header.Get("X-Rate-Limit-Remaining") != "4" {
			t.Fatalf("remaining %s", r.header.Get("X-Rate-Limit-Remaining"))
		}
	})
	t.Run("HourlyWindowReportedWhenTighter", func(t *testing.T) {
		// 6 of 50 used (the 429 did not count; the other token has its own
		// budget): spend the remaining 44 across spike windows.
		var last reply
		for i := 0; i < 44; i++ {
			if i%5 == 0 {
				clk.Add(10 * time.Second)
			}
			last = e.get(path)
			expectStatus(t, last, http.StatusOK)
		}
		if last.header.Get("X-Rate-Limit-Limit") != "50" || last.header.Get("X-Rate-Limit-Remaining") != "0" {
			t.Fatalf("headers %v", last.header)
		}
		clk.Add(10 * time.Second)
		expectStatus(t, e.get(path), http.StatusTooManyRequests)
	})
}

func TestFaults(t *testing.T) {
	clk := newClock()
	e := start(t, sandbox.Config{Seed: 9, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 8}, Now: clk.Now, SpikeLimit: 1000})
	path := fmt.Sprintf("/rest/v1.0/projects/%d/rfis", e.project().ID)
	t.Run("StormAnswers429UntilItEnds", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{RateLimitStorm: sandbox.Duration(30 * time.Second)})
		r := e.get(path)
		expectStatus(t, r, http.StatusTooManyRequests)
		if r.header.Get("X-Rate-Limit-Remaining") != "0" || r.header.Get("X-Rate-Limit-Reset") != strconv.FormatInt(clk.Now().Add(30*time.Second).Unix(), 10) {
			t.Fatalf("headers %v", r.header)
		}
		clk.Add(31 * time.Second)
		expectStatus(t, e.get(path), http.StatusOK)
	})
	t.Run("StallBodyHoldsTheBodyUntilReleasedOrAbandoned", func(t *testing.T) {
		want := e.get(path)
		expectStatus(t, want, http.StatusOK)
		e.run.SetFaults(sandbox.Faults{StallBody: true})
		get := func(ctx context.Context) (int, []byte, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.run.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			req.Header.Set("Procore-Company-Id", strconv.FormatInt(e.company(), 10))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, nil, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp.StatusCode, b, err
		}
		type got struct {
			status int
			body   []byte
			err    error
		}
		held := make(chan got, 1)
		go func() { s, b, err := get(context.Background()); held <- got{s, b, err} }()
		waitUntil(t, func() bool { return e.run.Stats().StalledBodies == 1 })
		e.run.SetFaults(sandbox.Faults{StallBody: true}) // setting the faults releases held bodies
		g := <-held
		if g.err != nil || g.status != http.StatusOK || !bytes.Equal(g.body, want.body) {
			t.Fatalf("released body: status %d, err %v, %d bytes, want the %d bytes of the answer", g.status, g.err, len(g.body), len(want.body))
		}

		ctx, cancel := context.WithCancel(context.Background())
		go func() { s, b, err := get(ctx); held <- got{s, b, err} }()
		waitUntil(t, func() bool { return e.run.Stats().StalledBodies == 1 })
		cancel() // the client gives up
		if g := <-held; g.err == nil {
			t.Fatalf("an abandoned stalled body read completed: %d bytes", len(g.body))
		}
		waitUntil(t, func() bool { return e.run.Stats().StalledBodies == 0 })
		e.run.SetFaults(sandbox.Faults{})
	})
	t.Run("OverloadAnswers503WithRetryAfter", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{Overload: true, OverloadRetryAfter: sandbox.Duration(3 * time.Second)})
		r := e.get(path)
		expectStatus(t, r, http.StatusServiceUnavailable)
		if r.header.Get("Retry-After") != "3" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		e.run.SetFaults(sandbox.Faults{})
	})
	t.Run("ErrorRateInjects5xx", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{ErrorRate: 0.5})
		fails := 0
		for i := 0; i < 100; i++ {
			if r := e.get(path); r.status >= 500 {
				fails++
			}
		}
		e.run.SetFaults(sandbox.Faults{})
		if fails < 30 || fails > 70 {
			t.Fatalf("%d of 100 failed at rate 0.5", fails)
		}
	})
	t.Run("FailRoutesFailsOnlyThoseRoutes", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{FailRoutes: map[string]int{
			"GET /rest/v1.0/projects/{project_id}/rfis":       0,
			"GET /rest/v1.1/projects/{project_id}/submittals": http.StatusForbidden,
		}})
		defer e.run.SetFaults(sandbox.Faults{})
		expectStatus(t, e.get(path), http.StatusInternalServerError)
		expectStatus(t, e.get(fmt.Sprintf("/rest/v1.1/projects/%d/submittals", e.project().ID)), http.StatusForbidden)
		expectStatus(t, e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis/%d", e.project().ID, e.project().RFIs[0].ID)), http.StatusOK)
	})
	t.Run("SchemaDrift", func(t *testing.T) {
		e.run.SetFaults(sandbox.Faults{Drift: sandbox.Drift{ExtraFields: true, MissingOptionalField: true, UnknownEnum: true}})
		defer e.run.SetFaults(sandbox.Faults{})
		r := e.get(path + "?per_page=100")
		expectStatus(t, r, http.StatusOK)
		var items []map[string]any
		r.json(t, &items)
		unknown := false
		for _, it := range items {
			if _, ok := it["sandbox_unknown_field"]; !ok {
				t.Fatal("no extra field")
			}
			if _, ok := it["due_date"]; ok {
				t.Fatal("due_date still present")
			}
			unknown = unknown || it["status"] == "pending_review"
		}
		if !unknown {
			t.Fatal("no unknown enum value among the RFIs")
		}
	})
	t.Run("FaultsOverHTTP", func(t *testing.T) {
		req, _ := http.NewRequest("PUT", e.run.URL+"/_sandbox/faults", strings.NewReader(`{"latency":"1ms","error_rate":0.25,"fail_routes":{"GET /rest/v1.0/vendors":502}}`))
		r := e.send(e.hc, req)
		expectStatus(t, r, http.StatusOK)
		if f := e.run.Faults(); f.ErrorRate != 0.25 || time.Duration(f.Latency) != time.Millisecond || f.FailRoutes["GET /rest/v1.0/vendors"] != 502 {
			t.Fatalf("faults %+v", f)
		}
		e.run.SetFaults(sandbox.Faults{})
	})
	t.Run("ExpireTokensMakesThemInvalid", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.run.URL+"/_sandbox/expire", strings.NewReader(`{"tokens":true}`))
		expectStatus(t, e.send(e.hc, req), http.StatusOK)
		expectStatus(t, e.get(path), http.StatusUnauthorized)
	})
}

func TestStatsCountEveryCall(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 2, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}})
	e.run.ResetStats()
	p := e.project().ID
	e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p))
	e.get(fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p))
	e.get(fmt.Sprintf("/rest/v1.1/projects/%d/submittals", p))
	e.call("GET", "/rest/v1.0/me", 0, nil) // refused (400) but counted
	st := e.run.Stats()
	if st.Total != 4 || st.ByRoute["GET /rest/v1.0/projects/{project_id}/rfis"] != 2 || st.ByRoute["GET /rest/v1.1/projects/{project_id}/submittals"] != 1 ||
		st.ByClient[sandbox.DefaultClientID] != 4 || len(st.ByToken) != 1 {
		t.Fatalf("stats %+v", st)
	}
	req, _ := http.NewRequest("POST", e.run.URL+"/_sandbox/stats/reset", nil)
	expectStatus(t, e.send(e.hc, req), http.StatusOK)
	if st := e.run.Stats(); st.Total != 0 || len(st.ByRoute) != 0 {
		t.Fatalf("after reset %+v", st)
	}
}

// waitUntil polls cond until it holds, failing after a generous bound (a
// guard against a hang, not a latency assertion).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
	}
}

// TestFirstProjectIsTheFirstCompanysFirstProject: with several companies of
// several projects, FirstProject names the first company and the first
// project that belongs to it.
func TestFirstProjectIsTheFirstCompanysFirstProject(t *testing.T) {
	run, err := sandbox.Start(context.Background(), sandbox.Config{Seed: 5, Data: data.Options{Companies: 3, ProjectsPerCompany: 4}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	company, project := run.FirstProject()
	var want int64
	run.ReadDataset(func(ds *data.Dataset) {
		if ds.Companies[0].ID != company {
			t.Errorf("company %d, want the first, %d", company, ds.Companies[0].ID)
		}
		for _, p := range ds.Projects {
			if p.CompanyID == company {
				want = p.ID
				break
			}
		}
	})
	if project == 0 || project != want {
		t.Fatalf("project %d, want %d", project, want)
	}
}
