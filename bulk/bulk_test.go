package bulk

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"

	"procoregraph/graph"
)

var schema = graph.NewExecutableSchema(graph.Config{}).Schema()

// fakeExec answers every root page query with projects project rows (each
// with rfis RFIs in one page) and records the queries.
type fakeExec struct {
	projects, rfis int
	block          bool
	mu             sync.Mutex
	queries        []string
}

func (f *fakeExec) Execute(ctx context.Context, _ Owner, query string, _ map[string]any) ([]byte, error) {
	f.mu.Lock()
	f.queries = append(f.queries, query)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var nodes []map[string]any
	for p := 1; p <= f.projects; p++ {
		var rfis []map[string]any
		for r := 1; r <= f.rfis; r++ {
			rfis = append(rfis, map[string]any{aliasType: "RFI", aliasID: fmt.Sprint(p*1000 + r), "subject": strings.Repeat("x", 40)})
		}
		nodes = append(nodes, map[string]any{aliasType: "Project", aliasID: fmt.Sprint(p), "name": fmt.Sprintf("P%d", p),
			"rfis": map[string]any{aliasPage: map[string]any{"hasNextPage": false}, aliasNodes: rfis}})
	}
	return json.Marshal(map[string]any{"projects": map[string]any{aliasPage: map[string]any{"hasNextPage": false}, aliasNodes: nodes}})
}

func newService(t *testing.T, exec Executor, o Options) *Service {
	t.Helper()
	o.Schema, o.Exec = schema, exec
	o.Key = []byte("0123456789abcdef0123456789abcdef")
	o.Dir = t.TempDir()
	o.PublicURL = "http://gateway.test"
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func owner(name string) Owner { return Owner{Key: "conn|" + name, RateKey: name} }

func wait(t *testing.T, s *Service, key, id string) Export {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		e, ok := s.Get(key, id)
		if !ok {
			t.Fatalf("export %s gone", id)
		}
		if e.Status != StatusRunning {
			return e
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("export still running")
	return Export{}
}

func TestStartRefusesDocumentsItCannotRun(t *testing.T) {
	s := newService(t, &fakeExec{}, Options{})
	for name, q := range map[string]string{
		"Mutation":                 `mutation { closeRFI(input: {projectId: 1, rfiId: 1}) { userErrors { code } } }`,
		"TwoOperations":            `query A { projects { nodes { id } } } query B { projects { nodes { id } } }`,
		"RootNotAConnection":       `{ project(id: 1) { id } }`,
		"FragmentOnConnection":     `{ projects { ... on ProjectConnection { nodes { id } } } }`,
		"ConnectionOutsideNodes":   `{ projects { nodes { company { projects { nodes { id } } } } } }`,
		"ConnectionInNodeFragment": `{ projects { nodes { ... on Project { rfis { nodes { id } } } } } }`,
		"ReservedVariable":         `query($bulkAfter: String) { projects(after: $bulkAfter) { nodes { id } } }`,
		"InvalidVariables":         `query($s: ProjectStatus) { projects(filter: {status: $s}) { nodes { id } } }`,
		"TooLarge":                 `{ projects { nodes { id ` + strings.Repeat("name ", 20_000) + `} } }`,
	} {
		vars := map[string]any{}
		if name == "InvalidVariables" {
			vars["s"] = "SOMETIMES"
		}
		_, err := s.Start(owner("a"), q, vars)
		var se *StartError
		if !errors.As(err, &se) || se.Code != CodeInvalidValue {
			t.Errorf("%s: %v, want a StartError %s", name, err, CodeInvalidValue)
		}
	}
}

func TestPageQueriesPageEveryConnection(t *testing.T) {
	doc, errs := gqlparser.LoadQueryWithRules(schema, `query($s: ProjectStatus) { projects(filter: {status: $s}, first: 5) {
		totalCount nodes { id rfis(first: 3) { nodes { id } } submittals { edges { cursor node { id title } } } } } }`, PageRules())
	if errs != nil {
		t.Fatal(errs)
	}
	p, err := newPlan(schema, doc, 50_000, PageCap)
	if err != nil {
		t.Fatal(err)
	}
	// Each project brings up to 2 × 1,000 nested nodes: 24 projects a page.
	if p.root.first != 50_000/2001 {
		t.Fatalf("root first %d", p.root.first)
	}
	compact := func(q string) string { return strings.Join(strings.Fields(q), " ") }
	root := compact(p.root.query)
	for _, want := range []string{
		"projects(filter: {status:$s}, first: 24, after: $bulkAfter)",
		"rfis(first: 1000)", "submittals(first: 1000)", "_bulkId: id", "_bulkPage: pageInfo { hasNextPage endCursor }",
	} {
		if !strings.Contains(root, want) {
			t.Errorf("root query lacks %q:\n%s", want, root)
		}
	}
	if strings.Contains(root, "totalCount") || strings.Contains(root, "first: 5") || strings.Contains(root, "first: 3") {
		t.Errorf("root query keeps the document's paging or connection fields:\n%s", root)
	}
	next := compact(p.conns[1].query)
	for _, want := range []string{"_entities(representations: $bulkReps)", "... on Project", "rfis(first: 1000, after: $bulkAfter)"} {
		if !strings.Contains(next, want) {
			t.Errorf("next-page query lacks %q:\n%s", want, next)
		}
	}
	for _, q := range []string{p.root.query, p.conns[1].query, p.conns[2].query} {
		if _, errs := gqlparser.LoadQueryWithRules(schema, q, PageRules()); errs != nil {
			t.Errorf("page query does not validate: %v\n%s", errs, q)
		}
	}
}

func TestNestedConnectionsUnderNestedOnesAskForFewerItems(t *testing.T) {
	doc, errs := gqlparser.LoadQueryWithRules(schema, `{ projects { nodes { id commitments { nodes { id invoices { nodes { id } } } } } } }`, PageRules())
	if errs != nil {
		t.Fatal(errs)
	}
	p, err := newPlan(schema, doc, 50_000, PageCap)
	if err != nil {
		t.Fatal(err)
	}
	commitments, invoices := p.conns[1], p.conns[2]
	if commitments.first != NestedFirst || invoices.first != NestedFirst || p.root.first != 50_000/(1+NestedFirst*(1+NestedFirst)) {
		t.Fatalf("firsts: root %d commitments %d invoices %d", p.root.first, commitments.first, invoices.first)
	}
}

func TestFileOverItsLimitFailsTooLargeAndLeavesNoFile(t *testing.T) {
	s := newService(t, &fakeExec{projects: 50, rfis: 200}, Options{MaxFileBytes: 4096})
	e, err := s.Start(owner("a"), `{ projects { nodes { id name rfis { nodes { id subject } } } } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := wait(t, s, owner("a").Key, e.ID)
	if done.Status != StatusFailed || done.ErrorCode != CodeTooLarge || done.URL != "" {
		t.Fatalf("export: %+v", done)
	}
	if entries, _ := os.ReadDir(s.o.Dir); len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
}

func TestDownloadNeedsAnUntamperedUnexpiredSignature(t *testing.T) {
	now := time.Now()
	s := newService(t, &fakeExec{projects: 2, rfis: 3}, Options{Now: func() time.Time { return now }})
	e, err := s.Start(owner("a"), `{ projects { nodes { id name rfis { nodes { id } } } } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := wait(t, s, owner("a").Key, e.ID)
	if done.Status != StatusCompleted || done.Objects != 8 {
		t.Fatalf("export: %+v", done)
	}
	if _, ok := s.Get(owner("b").Key, e.ID); ok {
		t.Fatal("another owner sees the export")
	}
	get := func(u string) *http.Response {
		t.Helper()
		pu, _ := url.Parse(u)
		r := httptest.NewRequest(http.MethodGet, pu.RequestURI(), nil)
		r.SetPathValue("id", strings.TrimPrefix(pu.Path, "/bulk/"))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Result()
	}
	resp := get(done.URL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 8 || lines[0] != `{"__path":"projects","id":"1","name":"P1"}` ||
		lines[1] != `{"__parentId":"1","__path":"projects.rfis","id":"1001","subject":"`+strings.Repeat("x", 40)+`"}` {
		t.Fatalf("file:\n%s", body)
	}
	tampered := strings.Replace(done.URL, "sig=", "sig=A", 1)
	if resp := get(tampered); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered: %d", resp.StatusCode)
	}
	now = done.ExpiresAt // the clock reaches the expiry
	if resp := get(done.URL); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("expired: %d", resp.StatusCode)
	}
}

func TestCloseCancelsRunningExports(t *testing.T) {
	f := &fakeExec{block: true}
	s := newService(t, f, Options{})
	e, err := s.Start(owner("a"), `{ projects { nodes { id } } }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(owner("a"), `{ projects { nodes { id } } }`, nil); err == nil || err.(*StartError).Code != CodeInProgress {
		t.Fatalf("second start: %v", err)
	}
	if _, err := s.Start(owner("b"), `{ projects { nodes { id } } }`, nil); err != nil {
		t.Fatalf("another owner's start: %v", err)
	}
	if _, err := s.Start(owner("c"), `{ projects { nodes { id } } }`, nil); err == nil || err.(*StartError).Code != CodeBusy {
		t.Fatalf("third running export: %v, want BUSY", err)
	}
	s.Close() // returns only when the runs have ended
	if _, ok := s.Get(owner("a").Key, e.ID); ok {
		t.Fatal("export kept after Close")
	}
	if _, err := os.Stat(s.o.Dir); err != nil {
		t.Fatalf("BULK_DIR itself removed: %v", err) // a configured directory stays
	}
}
