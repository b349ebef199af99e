package main

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/cursor"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// rfiListRoute is the sandbox route of a project's RFI list.
const rfiListRoute = "GET /rest/v1.0/projects/{project_id}/rfis"

const rfiPageQuery = `query($p: ID!, $first: Int, $after: String, $order: ListOrder, $since: DateTime, $before: DateTime) {
  project(id: $p) { rfis(first: $first, after: $after, orderBy: $order, updatedSince: $since, updatedBefore: $before) {
    edges { cursor node { id subject } } pageInfo { hasNextPage endCursor } } } }`

// rfiPage is one page of rfiPageQuery's answer.
type rfiPage struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			ID      string `json:"id"`
			Subject string `json:"subject"`
		} `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

func (p rfiPage) ids(t testing.TB) []int64 {
	t.Helper()
	out := make([]int64, len(p.Edges))
	for i, e := range p.Edges {
		id, err := strconv.ParseInt(e.Node.ID, 10, 64)
		if err != nil {
			t.Fatalf("RFI id %q: %v", e.Node.ID, err)
		}
		out[i] = id
	}
	return out
}

// freshReads is the header a sync sends: every read comes from Procore.
var freshReads = http.Header{"Cache-Control": {"max-age=0"}}

// queryRFIPage runs rfiPageQuery with vars (p is set to project) and
// returns the page, or the answer's errors.
func queryRFIPage(t testing.TB, g *gatewayProc, h http.Header, project int64, vars map[string]any) (rfiPage, []gqlError) {
	t.Helper()
	v := map[string]any{"p": strconv.FormatInt(project, 10)}
	for k, x := range vars {
		v[k] = x
	}
	r := g.queryWith(t, h, rfiPageQuery, v)
	if len(r.Errors) > 0 {
		return rfiPage{}, r.Errors
	}
	var d struct {
		Project struct {
			RFIs rfiPage `json:"rfis"`
		} `json:"project"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
	return d.Project.RFIs, nil
}

func mustRFIPage(t testing.TB, g *gatewayProc, h http.Header, project int64, vars map[string]any) rfiPage {
	t.Helper()
	p, errs := queryRFIPage(t, g, h, project, vars)
	if len(errs) > 0 {
		t.Fatalf("rfis %v: %+v", vars, errs)
	}
	return p
}

// sandboxRFIIDs returns the ids of a project's RFIs as the sandbox holds
// them, in id order.
func sandboxRFIIDs(sb *sandbox.Running, project int64) []int64 {
	var ids []int64
	sb.ReadDataset(func(d *data.Dataset) {
		for _, x := range d.Project(project).RFIs {
			ids = append(ids, x.ID)
		}
	})
	slices.Sort(ids)
	return ids
}

func firstProjectID(sb *sandbox.Running) int64 {
	var id int64
	sb.ReadDataset(func(d *data.Dataset) { id = d.Projects[0].ID })
	return id
}

// createRFI adds an RFI in the sandbox, behind the gateway's back, and
// returns its id.
func createRFI(t testing.TB, sb *sandbox.Running, project int64, subject string) int64 {
	t.Helper()
	raw, _ := json.Marshal(subject)
	body, err := sb.Mutate(sandbox.Mutation{Kind: "rfi", Op: "create", ProjectID: project, Set: map[string]json.RawMessage{"subject": raw}})
	if err != nil {
		t.Errorf("create RFI: %v", err)
		return 0
	}
	var x struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &x); err != nil || x.ID == 0 {
		t.Errorf("create RFI answered %s (%v)", body, err)
	}
	return x.ID
}

// startPagingProject serves one project of items RFIs (and as many of each
// other kind), without rate limits, through a gateway, and returns the
// sandbox, the gateway and the project's id.
func startPagingProject(t *testing.T, items int) (*sandbox.Running, *gatewayProc, int64) {
	t.Helper()
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: items},
		HourlyLimit: -1, SpikeLimit: -1})
	return sb, startGateway(t, env), firstProjectID(sb)
}

func deleteRFI(t testing.TB, sb *sandbox.Running, project, id int64) {
	t.Helper()
	if _, err := sb.Mutate(sandbox.Mutation{Kind: "rfi", Op: "delete", ProjectID: project, ID: id}); err != nil {
		t.Errorf("delete RFI %d: %v", id, err)
	}
}

// TestKeysetPagingNeitherSkipsNorRepeatsUnderInsertsAndDeletes is the
// property of keyset paging, over seeded random trials: a client pages a
// project's RFIs with a small `first` (1 to 6, in each of the four orders)
// while the sandbox inserts and deletes RFIs concurrently with every page
// request. Every RFI present for the whole sync is seen exactly once, no RFI
// is seen twice, and nothing else is seen.
//
// Offset cursors fail this property whenever a deletion lands before the
// cursor (the rest of the list shifts left by one and an item is skipped);
// TestOffsetCursorsSkipAfterADeletion shows it deterministically.
func TestKeysetPagingNeitherSkipsNorRepeatsUnderInsertsAndDeletes(t *testing.T) {
	sb, g, project := startPagingProject(t, 30)
	orders := []map[string]any{nil, {"field": "ID", "direction": "DESC"}, {"field": "UPDATED_AT"}, {"field": "UPDATED_AT", "direction": "DESC"}}
	const (
		trials         = 40
		opsPerTrial    = 24 // bounds the sync: inserts at its tail extend it
		maxPagesPerRun = 400
	)
	var pagesServed, opsMade int
	for trial := range trials {
		seed := int64(15_000 + trial)
		rng := rand.New(rand.NewSource(seed))
		order := orders[trial%len(orders)]
		first := 1 + rng.Intn(6)

		initial := sandboxRFIIDs(sb, project)
		var mu sync.Mutex
		deleted, inserted := map[int64]bool{}, map[int64]bool{}
		// The mutator makes 1 or 2 changes per page, concurrently with that
		// page's request.
		ticks := make(chan struct{}, maxPagesPerRun)
		done := make(chan struct{})
		go func() {
			defer close(done)
			r := rand.New(rand.NewSource(seed * 31))
			ops := 0
			for range ticks {
				for n := 1 + r.Intn(2); n > 0 && ops < opsPerTrial; n-- {
					ops++
					current := sandboxRFIIDs(sb, project)
					if r.Intn(2) == 0 || len(current) < 5 {
						id := createRFI(t, sb, project, "inserted mid-sync "+strconv.Itoa(ops))
						mu.Lock()
						inserted[id] = true
						mu.Unlock()
						continue
					}
					id := current[r.Intn(len(current))]
					deleteRFI(t, sb, project, id)
					mu.Lock()
					deleted[id] = true
					mu.Unlock()
				}
			}
			mu.Lock()
			opsMade += ops
			mu.Unlock()
		}()

		seen := map[int64]int{}
		var after any
		pages := 0
		for {
			if pages == maxPagesPerRun {
				t.Fatalf("trial %d (seed %d, order %v, first %d): no end after %d pages", trial, seed, order, first, pages)
			}
			pages++
			ticks <- struct{}{}
			p := mustRFIPage(t, g, freshReads, project, map[string]any{"first": first, "after": after, "order": order})
			for _, id := range p.ids(t) {
				seen[id]++
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			if p.PageInfo.EndCursor == nil {
				t.Fatalf("trial %d (seed %d): hasNextPage without an endCursor", trial, seed)
			}
			after = *p.PageInfo.EndCursor
		}
		close(ticks)
		<-done
		pagesServed += pages

		mu.Lock()
		for id, n := range seen {
			if n > 1 {
				t.Errorf("trial %d (seed %d, order %v, first %d): RFI %d seen %d times", trial, seed, order, first, id, n)
			}
			if !slices.Contains(initial, id) && !inserted[id] {
				t.Errorf("trial %d (seed %d): RFI %d was neither in the project nor inserted", trial, seed, id)
			}
		}
		for _, id := range initial {
			if !deleted[id] && seen[id] != 1 {
				t.Errorf("trial %d (seed %d, order %v, first %d): RFI %d, present for the whole sync, seen %d times",
					trial, seed, order, first, id, seen[id])
			}
		}
		mu.Unlock()
	}
	t.Logf("%d trials, %d pages, %d concurrent inserts and deletes", trials, pagesServed, opsMade)
	if opsMade < trials*opsPerTrial/4 {
		t.Fatalf("only %d changes were made during the syncs: the property was barely exercised", opsMade)
	}
}

// TestOffsetCursorsSkipAfterADeletion shows, deterministically, what keyset
// cursors fix: after the first item of a page is deleted, the page after an
// offset cursor (issued before keyset paging, still accepted) skips an item,
// and the page after the keyset cursor of the same position does not.
func TestOffsetCursorsSkipAfterADeletion(t *testing.T) {
	sb, g, project := startPagingProject(t, 10)
	ids := sandboxRFIIDs(sb, project)

	page1 := mustRFIPage(t, g, freshReads, project, map[string]any{"first": 3})
	if got := page1.ids(t); !slices.Equal(got, ids[:3]) {
		t.Fatalf("first page %v, want %v", got, ids[:3])
	}
	keyset := *page1.PageInfo.EndCursor
	offset := cursor.Encode(2) // what this gateway issued for the third item before keyset paging

	deleteRFI(t, sb, project, ids[0])

	offPage := mustRFIPage(t, g, freshReads, project, map[string]any{"first": 3, "after": offset})
	if got, want := offPage.ids(t), ids[4:7]; !slices.Equal(got, want) {
		t.Fatalf("after the offset cursor: %v, want %v (offset paging skips %d)", got, want, ids[3])
	}
	keyPage := mustRFIPage(t, g, freshReads, project, map[string]any{"first": 3, "after": keyset})
	if got, want := keyPage.ids(t), ids[3:6]; !slices.Equal(got, want) {
		t.Fatalf("after the keyset cursor: %v, want %v", got, want)
	}
}

// TestPagingArgumentsRefusedWithBadUserInput: cursors are tied to their
// order, and bounds must make a range.
func TestPagingArgumentsRefusedWithBadUserInput(t *testing.T) {
	_, g, project := startPagingProject(t, 5)
	byID := mustRFIPage(t, g, nil, project, map[string]any{"first": 1})
	for _, c := range []struct {
		name string
		vars map[string]any
	}{
		{"OffsetCursorWithUpdatedAtOrder", map[string]any{"after": cursor.Encode(0), "order": map[string]any{"field": "UPDATED_AT"}}},
		{"IDCursorWithUpdatedAtOrder", map[string]any{"after": *byID.PageInfo.EndCursor, "order": map[string]any{"field": "UPDATED_AT"}}},
		{"AscendingCursorWithDescendingOrder", map[string]any{"after": *byID.PageInfo.EndCursor, "order": map[string]any{"field": "ID", "direction": "DESC"}}},
		{"TamperedCursor", map[string]any{"after": "azE6aWE6MDowOjA="}}, // "k1:ia:0:0:0": id 0
		{"FirstOverTheCap", map[string]any{"first": 1001}},
		{"UpdatedBeforeBeforeUpdatedSince", map[string]any{"since": "2026-01-02T00:00:00Z", "before": "2026-01-01T00:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errs := queryRFIPage(t, g, nil, project, c.vars)
			if len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" {
				t.Fatalf("errors %+v, want one BAD_USER_INPUT", errs)
			}
		})
	}
}

// TestKeysetPageCostsOneProcoreCall counts the upstream calls of one page
// after a cursor, read fresh: one RFI list call (plus the project lookup
// behind project(id:)), in updated_at order wherever the page is (Procore
// filters from the cursor's updated_at) and in id order within the first
// 100 items.
func TestKeysetPageCostsOneProcoreCall(t *testing.T) {
	sb, g, project := startPagingProject(t, 40)
	for _, c := range []struct {
		name  string
		order map[string]any
	}{
		{"UpdatedAtOrder", map[string]any{"field": "UPDATED_AT"}},
		{"UpdatedAtDescendingOrder", map[string]any{"field": "UPDATED_AT", "direction": "DESC"}},
		{"IDOrder", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var after any
			for range 3 { // to the fourth page
				p := mustRFIPage(t, g, freshReads, project, map[string]any{"first": 5, "order": c.order, "after": after})
				after = *p.PageInfo.EndCursor
			}
			sb.ResetStats()
			p := mustRFIPage(t, g, freshReads, project, map[string]any{"first": 5, "order": c.order, "after": after})
			if len(p.Edges) != 5 {
				t.Fatalf("fourth page has %d RFIs, want 5", len(p.Edges))
			}
			st := sb.Stats()
			if st.ByRoute[rfiListRoute] != 1 || st.Total != 2 {
				t.Fatalf("one page: %d RFI list calls, %d calls in all (%v); want 1 and 2", st.ByRoute[rfiListRoute], st.Total, st.ByRoute)
			}
		})
	}
}

// TestCacheControlMaxAgeZeroReadsProcore: an RFI renamed in the sandbox
// behind the gateway's back (no webhook reaches it) stays stale in the
// whole-answer cache and in the data cache, until a request with
// Cache-Control: max-age=0 reads Procore; what it read is then what every
// request gets.
func TestCacheControlMaxAgeZeroReadsProcore(t *testing.T) {
	sb, g, project := startPagingProject(t, 5)
	ids := sandboxRFIIDs(sb, project)
	vars := map[string]any{"first": 1}
	// The same reads through another document: a response-cache miss served
	// from the data cache.
	const other = `query($p: ID!) { project(id: $p) { rfis(first: 1) { nodes { id subject } } } }`
	otherSubject := func(h http.Header) (string, string) {
		t.Helper()
		r := g.queryWith(t, h, other, map[string]any{"p": strconv.FormatInt(project, 10)})
		if len(r.Errors) > 0 {
			t.Fatalf("%+v", r.Errors)
		}
		var d struct {
			Project struct {
				RFIs struct {
					Nodes []struct{ Subject string } `json:"nodes"`
				} `json:"rfis"`
			} `json:"project"`
		}
		if err := json.Unmarshal(r.Data, &d); err != nil || len(d.Project.RFIs.Nodes) != 1 {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
		return d.Project.RFIs.Nodes[0].Subject, r.Extensions.Procoregraph.ResponseCache
	}
	subject := func(h http.Header) string {
		t.Helper()
		return mustRFIPage(t, g, h, project, vars).Edges[0].Node.Subject
	}

	before := subject(nil)
	raw, _ := json.Marshal("renamed behind the gateway's back")
	if _, err := sb.Mutate(sandbox.Mutation{Kind: "rfi", ProjectID: project, ID: ids[0], Set: map[string]json.RawMessage{"subject": raw}}); err != nil {
		t.Fatal(err)
	}
	if got := subject(nil); got != before {
		t.Fatalf("without Cache-Control the answer is %q, want the cached %q", got, before)
	}
	if got, rc := otherSubject(nil); got != before || rc != "miss" {
		t.Fatalf("another document: %q (response cache %s), want the data cache's %q (miss)", got, rc, before)
	}
	for _, cc := range []string{"max-age=0", "no-cache"} {
		if got, rc := otherSubject(http.Header{"Cache-Control": {cc}}); got != "renamed behind the gateway's back" || rc != "miss" {
			t.Fatalf("Cache-Control: %s: %q (response cache %s), want Procore's subject", cc, got, rc)
		}
	}
	if got := subject(freshReads); got != "renamed behind the gateway's back" {
		t.Fatalf("with Cache-Control: max-age=0 the answer is %q, want Procore's", got)
	}
	if got := subject(nil); got != "renamed behind the gateway's back" {
		t.Fatalf("after the fresh read the cached answer is %q, want the refreshed one", got)
	}
}

// TestServerTimeExtension: every query answer, executed or from the
// response cache, carries extensions.serverTime, an RFC 3339 instant no
// earlier than the request was sent and no later than its answer arrived.
func TestServerTimeExtension(t *testing.T) {
	_, g, project := startPagingProject(t, 5)
	for _, c := range []struct {
		name, cache string
	}{{"ExecutedAnswer", "miss"}, {"ResponseCacheHit", "hit"}} {
		t.Run(c.name, func(t *testing.T) {
			sent := time.Now()
			r := g.query(t, rfiPageQuery, map[string]any{"p": strconv.FormatInt(project, 10), "first": 2})
			received := time.Now()
			if len(r.Errors) > 0 || r.Extensions.Procoregraph.ResponseCache != c.cache {
				t.Fatalf("errors %+v, response cache %q; want none, %q", r.Errors, r.Extensions.Procoregraph.ResponseCache, c.cache)
			}
			st, err := time.Parse(time.RFC3339Nano, r.Extensions.ServerTime)
			if err != nil {
				t.Fatalf("serverTime %q: %v", r.Extensions.ServerTime, err)
			}
			if st.Before(sent) || st.After(received) {
				t.Fatalf("serverTime %s outside [%s, %s]", st, sent.UTC(), received.UTC())
			}
		})
	}
}

// TestCursorsAreThereWheneverTheSelectionAsksForThem: a page's cursors are
// encoded only when its selection asks for edges or pageInfo's cursors;
// asked for through an alias, a fragment, an inline fragment or
// @include on a variable, they are there, and equal to those of the plain
// query (the last edge's cursor is the endCursor).
func TestCursorsAreThereWheneverTheSelectionAsksForThem(t *testing.T) {
	_, g, project := startPagingProject(t, 5)
	vars := map[string]any{"p": strconv.FormatInt(project, 10), "yes": true, "no": false}
	plain := g.query(t, `query($p: ID!) { project(id: $p) { rfis(first: 3) {
	  edges { cursor } pageInfo { startCursor endCursor } } } }`, vars)
	if len(plain.Errors) > 0 {
		t.Fatal(plain.Errors)
	}
	var want struct {
		Project struct {
			RFIs struct {
				Edges    []struct{ Cursor string }
				PageInfo struct{ StartCursor, EndCursor string }
			}
		}
	}
	if err := json.Unmarshal(plain.Data, &want); err != nil {
		t.Fatal(err)
	}
	e := want.Project.RFIs.Edges
	if len(e) != 3 || e[0].Cursor == "" || e[2].Cursor == "" || e[0].Cursor != want.Project.RFIs.PageInfo.StartCursor || e[2].Cursor != want.Project.RFIs.PageInfo.EndCursor {
		t.Fatalf("the plain query's cursors: %s", plain.Data)
	}
	start, end, second := e[0].Cursor, e[2].Cursor, e[1].Cursor
	for _, tc := range []struct{ name, query, want string }{
		{"aliases", `query($p: ID!) { project(id: $p) { r: rfis(first: 3) { totalCount p: pageInfo { e: endCursor } } } }`,
			`{"project":{"r":{"totalCount":5,"p":{"e":"` + end + `"}}}}`},
		{"a named fragment", `query($p: ID!) { project(id: $p) { rfis(first: 3) { ...F } } } fragment F on RFIConnection { pageInfo { startCursor } }`,
			`{"project":{"rfis":{"pageInfo":{"startCursor":"` + start + `"}}}}`},
		{"an inline fragment on an edge", `query($p: ID!) { project(id: $p) { rfis(first: 2) { nodes { id } ... on RFIConnection { edges { cursor } } } } }`,
			`"edges":[{"cursor":"` + start + `"},{"cursor":"` + second + `"}]`},
		{"@include on a true variable", `query($p: ID!, $yes: Boolean!) { project(id: $p) { rfis(first: 3) { totalCount pageInfo @include(if: $yes) { endCursor } } } }`,
			`{"project":{"rfis":{"totalCount":5,"pageInfo":{"endCursor":"` + end + `"}}}}`},
		{"@skip on a false variable", `query($p: ID!, $no: Boolean!) { project(id: $p) { rfis(first: 1) { edges @skip(if: $no) { cursor } } } }`,
			`{"project":{"rfis":{"edges":[{"cursor":"` + start + `"}]}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := g.query(t, tc.query, vars)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			if got := string(r.Data); !strings.Contains(got, tc.want) {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
