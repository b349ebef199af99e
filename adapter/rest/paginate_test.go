package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter"
)

// pagedRFIs serves n RFIs with Procore's paging headers. It records every
// query it receives. linkHost, when set, replaces the host in Link URLs;
// noLinks drops the Link header; capPerPage caps per_page lower than asked.
type pagedRFIs struct {
	n          int
	noLinks    bool
	noTotal    bool
	capPerPage int
	linkHost   string
	mu         sync.Mutex
	queries    []url.Values
	hosts      []string
}

func (p *pagedRFIs) handler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.queries = append(p.queries, q)
	p.hosts = append(p.hosts, r.Host)
	p.mu.Unlock()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per < 1 || per > 100 {
		per = 100
	}
	if p.capPerPage > 0 && per > p.capPerPage {
		per = p.capPerPage
	}
	start := (page - 1) * per
	var items []map[string]any
	for i := start; i < min(start+per, p.n); i++ {
		items = append(items, map[string]any{"id": 5_000_000_000 + i, "subject": fmt.Sprintf("RFI %d", i), "status": "open"})
	}
	if items == nil {
		items = []map[string]any{}
	}
	last := max(1, (p.n+per-1)/per)
	link := func(pg int) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		if p.linkHost != "" {
			u.Host = p.linkHost
		}
		qq := u.Query()
		qq.Set("page", strconv.Itoa(pg))
		qq.Set("per_page", strconv.Itoa(per))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	if !p.noLinks {
		links := []string{fmt.Sprintf(`<%s>; rel="first"`, link(1))}
		if page > 1 {
			links = append(links, fmt.Sprintf(`<%s>; rel="prev"`, link(page-1)))
		}
		if page < last {
			links = append(links, fmt.Sprintf(`<%s>; rel="next"`, link(page+1)))
		}
		links = append(links, fmt.Sprintf(`<%s>; rel="last"`, link(last)))
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	if !p.noTotal {
		w.Header().Set("Total", strconv.Itoa(p.n))
	}
	w.Header().Set("Per-Page", strconv.Itoa(per))
	writeJSON(w, 200, items)
}

func pagedServer(t *testing.T, p *pagedRFIs) *fakeProcore {
	f := newFakeProcore(t)
	f.Mux.HandleFunc("GET /rest/v1.0/projects/9/rfis", p.handler)
	return f
}

func TestPaginationFollowsLinkVerbatim(t *testing.T) {
	p := &pagedRFIs{n: 250}
	f := pagedServer(t, p)
	c := newTestClient(t, f.URL, nil)
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	page, err := c.RFIs(context.Background(), 9, adapter.ListOptions{UpdatedSince: &since})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 250 || page.Total != 250 || len(p.queries) != 3 {
		t.Fatalf("%d items, Total %d, %d requests", len(page.Items), page.Total, len(p.queries))
	}
	window := p.queries[0].Get("filters[updated_at]")
	if !strings.HasPrefix(window, "2026-01-01T00:00:00Z...") {
		t.Fatalf("first page filter %q", window)
	}
	for i, q := range p.queries {
		if q.Get("filters[updated_at]") != window || q.Get("per_page") != "100" || q.Get("page") != strconv.Itoa(i+1) {
			t.Fatalf("page %d query %v: the window and page size must stay fixed", i+1, q)
		}
	}
	for i, r := range page.Items {
		if r.ID != int64(5_000_000_000+i) {
			t.Fatalf("item %d has id %d", i, r.ID)
		}
	}
}

func TestPaginationHonoursALowerPerPage(t *testing.T) {
	p := &pagedRFIs{n: 95, capPerPage: 30}
	f := pagedServer(t, p)
	page, err := newTestClient(t, f.URL, nil).RFIs(context.Background(), 9, adapter.ListOptions{})
	if err != nil || len(page.Items) != 95 || len(p.queries) != 4 {
		t.Fatalf("%d items in %d requests (%v)", len(page.Items), len(p.queries), err)
	}
}

func TestPaginationWithoutLinkHeaders(t *testing.T) {
	t.Run("FullPagesAskForTheNext", func(t *testing.T) {
		p := &pagedRFIs{n: 230, noLinks: true, capPerPage: 50}
		f := pagedServer(t, p)
		page, err := newTestClient(t, f.URL, nil).RFIs(context.Background(), 9, adapter.ListOptions{})
		if err != nil || len(page.Items) != 230 || page.Total != 230 || len(p.queries) != 5 {
			t.Fatalf("%d items, Total %d, %d requests, %v", len(page.Items), page.Total, len(p.queries), err)
		}
	})
	t.Run("NoTotalCountsTheItems", func(t *testing.T) {
		p := &pagedRFIs{n: 130, noLinks: true, noTotal: true}
		f := pagedServer(t, p)
		page, err := newTestClient(t, f.URL, nil).RFIs(context.Background(), 9, adapter.ListOptions{})
		if err != nil || len(page.Items) != 130 || page.Total != 130 {
			t.Fatalf("%d items, Total %d, %v", len(page.Items), page.Total, err)
		}
	})
}

func TestPaginationStaysOnTheAPIHost(t *testing.T) {
	p := &pagedRFIs{n: 150, linkHost: "evil.example:80"}
	f := pagedServer(t, p)
	page, err := newTestClient(t, f.URL, nil).RFIs(context.Background(), 9, adapter.ListOptions{})
	if err != nil || len(page.Items) != 150 {
		t.Fatalf("%d items, %v", len(page.Items), err)
	}
	apiHost := strings.TrimPrefix(f.URL, "http://")
	for _, h := range p.hosts {
		if h != apiHost {
			t.Fatalf("a page was requested from %q; the bearer token must stay on %q", h, apiHost)
		}
	}
}

func TestPaginationStopsOnALinkLoop(t *testing.T) {
	f := newFakeProcore(t)
	var n int
	f.Mux.HandleFunc("GET /rest/v1.0/projects/9/rfis", func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Link", fmt.Sprintf(`<http://%s/rest/v1.0/projects/9/rfis?page=2&per_page=1>; rel="next"`, r.Host))
		writeJSON(w, 200, []map[string]any{{"id": n}})
	})
	page, err := newTestClient(t, f.URL, nil).RFIs(context.Background(), 9, adapter.ListOptions{})
	if err != nil || n != 2 || len(page.Items) != 2 {
		t.Fatalf("%d requests, %d items, %v: a repeated next link must end the walk", n, len(page.Items), err)
	}
}

func TestParseLinks(t *testing.T) {
	got := parseLinks([]string{
		`<https://api.procore.com/rest/v1.0/projects/1/rfis?page=1&sort=a,b>; rel="first", <https://api.procore.com/rest/v1.0/projects/1/rfis?page=3&sort=a,b>; rel="next"`,
		`<https://x/last>; rel=last; title="x"`,
	})
	if got["next"] != "https://api.procore.com/rest/v1.0/projects/1/rfis?page=3&sort=a,b" || got["first"] == "" || got["last"] != "https://x/last" {
		t.Fatalf("%v", got)
	}
	if len(parseLinks(nil)) != 0 || len(parseLinks([]string{"garbage"})) != 0 {
		t.Fatal("garbage parsed")
	}
}

func TestCommitmentsMergeBothKinds(t *testing.T) {
	f := newFakeProcore(t)
	serve := func(path string, ids ...int) {
		f.Mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("project_id") != "9" || r.Header.Get(companyHeader) != "42" {
				writeJSON(w, 400, map[string]string{"errors": "missing project_id or company"})
				return
			}
			var items []map[string]any
			for _, id := range ids {
				items = append(items, map[string]any{"id": id, "number": strconv.Itoa(id), "status": "Draft", "grand_total": "1.00"})
			}
			w.Header().Set("Total", strconv.Itoa(len(ids)))
			writeJSON(w, 200, items)
		})
	}
	serve("/rest/v1.0/work_order_contracts", 1, 4, 6)
	serve("/rest/v1.0/purchase_order_contracts", 2, 3, 5)
	page, err := newTestClient(t, f.URL, nil).Commitments(context.Background(), 9, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range page.Items {
		got = append(got, fmt.Sprintf("%d:%s", x.ID, x.Kind))
	}
	want := "1:SUBCONTRACT 2:PURCHASE_ORDER 3:PURCHASE_ORDER 4:SUBCONTRACT 5:PURCHASE_ORDER 6:SUBCONTRACT"
	if strings.Join(got, " ") != want || page.Total != 6 {
		t.Fatalf("%v (Total %d), want %s", got, page.Total, want)
	}
	limited, _ := newTestClient(t, f.URL, nil).Commitments(context.Background(), 9, adapter.ListOptions{Limit: 4})
	if len(limited.Items) != 4 || limited.Items[3].ID != 4 || limited.Total != 6 {
		t.Fatalf("limited %+v", limited)
	}
}

// TestListOrderAndUpperBound: an order reaches Procore as sort[attribute] and
// sort[direction] on the RFI list, kept on every page; updatedBefore alone
// sends the epoch as the lower end and rounds the upper end up to the
// second; a list Procore cannot sort refuses an order before any call.
func TestListOrderAndUpperBound(t *testing.T) {
	p := &pagedRFIs{n: 150}
	f := pagedServer(t, p)
	c := newTestClient(t, f.URL, nil)
	before := time.Date(2026, 3, 4, 5, 6, 7, 500, time.UTC)
	if _, err := c.RFIs(context.Background(), 9, adapter.ListOptions{UpdatedBefore: &before, Order: adapter.OrderUpdatedDesc}); err != nil {
		t.Fatal(err)
	}
	if len(p.queries) != 2 {
		t.Fatalf("%d requests, want 2", len(p.queries))
	}
	for i, q := range p.queries {
		if q.Get("sort[attribute]") != "updated_at" || q.Get("sort[direction]") != "desc" ||
			q.Get("filters[updated_at]") != "1970-01-01T00:00:00Z...2026-03-04T05:06:08Z" {
			t.Fatalf("request %d: %v", i, q)
		}
	}
	_, err := c.Submittals(context.Background(), 9, adapter.ListOptions{Order: adapter.OrderIDDesc})
	if e, ok := err.(*adapter.Error); !ok || e.Code != adapter.CodeBadUserInput {
		t.Fatalf("submittals by -id: %v, want BAD_USER_INPUT", err)
	}
	if len(p.queries) != 2 {
		t.Fatalf("the refused order made a call")
	}
}
