package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// bulkDashboardQuery is the dashboard's shape as a bulk export: every
// project (all statuses, through a variable), each with every RFI and every
// submittal (one through nodes, one through edges { node }).
const bulkDashboardQuery = `query BulkDashboard($status: ProjectStatus) {
  projects(filter: {status: $status}) {
    totalCount
    nodes {
      id name projectNumber
      rfis { nodes { id number subject status dueDate ballInCourt { id name } } }
      submittals { edges { cursor node { id number title status { id name } } } }
    }
  }
}`

const startBulkMutation = `mutation($q: String!, $v: JSON) {
  startBulkExport(input: {query: $q, variables: $v}) {
    bulkExport { id status }
    userErrors { field code message }
  }
}`

const bulkStatusQuery = `query($id: ID!) {
  bulkExport(id: $id) { id status objectCount fileSize errorCode errorMessage completedAt expiresAt url }
}`

type bulkState struct {
	ID           string  `json:"id"`
	Status       string  `json:"status"`
	ObjectCount  int     `json:"objectCount"`
	FileSize     int     `json:"fileSize"`
	ErrorCode    *string `json:"errorCode"`
	ErrorMessage *string `json:"errorMessage"`
	URL          *string `json:"url"`
}

type bulkUserError struct {
	Field   []string `json:"field"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
}

// startBulk starts an export as token ("" = the harness key) and returns it
// or its userErrors.
func startBulk(t testing.TB, g *gatewayProc, token, q string, vars map[string]any) (*bulkState, []bulkUserError) {
	t.Helper()
	r := g.queryAs(t, token, startBulkMutation, map[string]any{"q": q, "v": vars})
	if len(r.Errors) > 0 {
		t.Fatalf("startBulkExport: %+v", r.Errors)
	}
	var d struct {
		Start struct {
			BulkExport *bulkState      `json:"bulkExport"`
			UserErrors []bulkUserError `json:"userErrors"`
		} `json:"startBulkExport"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Start.BulkExport, d.Start.UserErrors
}

// bulkStatus reads an export as token; nil when the gateway answers null.
func bulkStatus(t testing.TB, g *gatewayProc, token, id string) *bulkState {
	t.Helper()
	r := g.queryAs(t, token, bulkStatusQuery, map[string]any{"id": id})
	if len(r.Errors) > 0 {
		t.Fatalf("bulkExport: %+v", r.Errors)
	}
	var d struct {
		B *bulkState `json:"bulkExport"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.B
}

// waitBulk polls until the export leaves RUNNING.
func waitBulk(t *testing.T, g *gatewayProc, id string) *bulkState {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		b := bulkStatus(t, g, "", id)
		if b == nil {
			t.Fatalf("export %s vanished while polled", id)
		}
		if b.Status != "RUNNING" && b.Status != "CREATED" {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("export %s still running after 3 minutes", id)
	return nil
}

// bulkRow is one line of an export's file, with the fields the test reads.
type bulkRow struct {
	Path     string  `json:"__path"`
	ParentID *string `json:"__parentId"`
	ID       string  `json:"id"`
	// projects
	Name          string  `json:"name"`
	ProjectNumber *string `json:"projectNumber"`
	// rfis
	Number  *string         `json:"number"`
	Subject string          `json:"subject"`
	Status  json.RawMessage `json:"status"`
	DueDate *string         `json:"dueDate"`
	// submittals
	Title *string `json:"title"`
}

// downloadBulk GETs url without any credential and decodes the gzip JSON
// Lines file; it also returns the raw keys of every row.
func downloadBulk(t testing.TB, u string) ([]bulkRow, []map[string]json.RawMessage) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET the export: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" {
		t.Fatalf("Content-Type %q, want application/gzip", ct)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("the export is not gzip: %v", err)
	}
	var rows []bulkRow
	var raws []map[string]json.RawMessage
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r bulkRow
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(rows)+1, err, sc.Bytes())
		}
		_ = json.Unmarshal(sc.Bytes(), &raw)
		rows = append(rows, r)
		raws = append(raws, raw)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, raws
}

// TestBulkExportDashboard is the BI engineer's nightly sync as a bulk export:
// the dashboard query over 20 projects × 500 RFIs and 500 submittals,
// downloaded through its signed URL and compared row for row with the
// sandbox's dataset, in exactly the Procore calls the lists need.
func TestBulkExportDashboard(t *testing.T) {
	const projects, items = 20, 500
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: projects, ItemsPerProject: items,
		CommitmentsPerProject: 2}, HourlyLimit: -1, SpikeLimit: -1})
	g := startGateway(t, copyEnv(env))

	sb.ResetStats()
	b, ues := startBulk(t, g, "", bulkDashboardQuery, map[string]any{"status": "ALL"})
	if len(ues) > 0 || b == nil || b.Status != "RUNNING" {
		t.Fatalf("start: %+v %+v", b, ues)
	}
	done := waitBulk(t, g, b.ID)
	st := sb.Stats()
	if done.Status != "COMPLETED" || done.URL == nil {
		t.Fatalf("export ended %s (%v: %v)", done.Status, text(done.ErrorCode), text(done.ErrorMessage))
	}
	if want := projects * (1 + 2*items); done.ObjectCount != want {
		t.Fatalf("objectCount %d, want %d (a project, its RFIs and submittals each)", done.ObjectCount, want)
	}
	// One projects page (per_page 300), and each project's RFI and submittal
	// lists whole, in pages of 100: nothing else.
	pages := (items + 99) / 100
	if want := int64(1 + projects*2*pages); st.Total != want {
		t.Fatalf("the export made %d Procore calls, want %d (by route: %v)", st.Total, want, st.ByRoute)
	}

	rows, raws := downloadBulk(t, *done.URL)
	if len(rows) != done.ObjectCount {
		t.Fatalf("%d rows in the file, objectCount says %d", len(rows), done.ObjectCount)
	}
	for i, raw := range raws {
		for _, k := range []string{"rfis", "submittals", "totalCount", "_bulkId", "_bulkType", "_bulkNodes"} {
			if _, ok := raw[k]; ok {
				t.Fatalf("row %d carries %q: %v", i, k, raw)
			}
		}
	}
	byPath := map[string][]bulkRow{}
	seenParent := map[string]bool{}
	for i, r := range rows {
		if r.Path != "projects" {
			if r.ParentID == nil || !seenParent[*r.ParentID] {
				t.Fatalf("row %d (%s %s) comes before its parent or has none (%v)", i, r.Path, r.ID, r.ParentID)
			}
		} else {
			seenParent[r.ID] = true
		}
		byPath[r.Path] = append(byPath[r.Path], r)
	}
	m := &mismatches{t: t}
	sb.ReadDataset(func(ds *data.Dataset) {
		company := ds.Companies[0]
		var ps []*data.Project
		for _, p := range ds.Projects {
			if p.CompanyID == company.ID {
				ps = append(ps, p)
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		if len(ps) != projects || len(byPath["projects"]) != projects {
			t.Fatalf("%d project rows, the sandbox has %d projects", len(byPath["projects"]), len(ps))
		}
		var rfis, subs []bulkRow
		for i, p := range ps {
			pr := byPath["projects"][i]
			m.check(pr.ID == id(p.ID) && pr.Name == p.Name && text(pr.ProjectNumber) == p.ProjectNumber && pr.ParentID == nil,
				"project row %d: got %s %q %q parent %v, want %d %q %q", i, pr.ID, pr.Name, text(pr.ProjectNumber), pr.ParentID, p.ID, p.Name, p.ProjectNumber)
			for _, r := range p.RFIs {
				number := ""
				if r.Number != 0 {
					number = strconv.Itoa(r.Number)
				}
				due := dateOf(r.DueDate)
				rfis = append(rfis, bulkRow{ParentID: ptr(id(p.ID)), ID: id(r.ID), Number: ptr(number), Subject: r.Subject,
					Status: json.RawMessage(strconv.Quote(enumOf(r.Status))), DueDate: ptr(due)})
			}
			for _, s := range p.Submittals {
				stat := company.Status(s.StatusID)
				sj, _ := json.Marshal(map[string]string{"id": id(stat.ID), "name": stat.Name})
				subs = append(subs, bulkRow{ParentID: ptr(id(p.ID)), ID: id(s.ID), Number: ptr(s.Number), Title: ptr(s.Title), Status: sj})
			}
		}
		for _, c := range []struct {
			path       string
			want, got  []bulkRow
			keyFields  func(r bulkRow) string
			projectsOf int
		}{
			{"projects.rfis", rfis, byPath["projects.rfis"], func(r bulkRow) string {
				return fmt.Sprintf("%s|%s|%s|%s|%s|%s", text(r.ParentID), r.ID, text(r.Number), r.Subject, compactJSON(r.Status), text(r.DueDate))
			}, 0},
			{"projects.submittals", subs, byPath["projects.submittals"], func(r bulkRow) string {
				return fmt.Sprintf("%s|%s|%s|%s|%s", text(r.ParentID), r.ID, text(r.Number), text(r.Title), compactJSON(r.Status))
			}, 0},
		} {
			if len(c.got) != len(c.want) {
				t.Fatalf("%s: %d rows, the sandbox has %d", c.path, len(c.got), len(c.want))
			}
			for i := range c.want {
				w, g := c.keyFields(c.want[i]), c.keyFields(c.got[i])
				m.check(w == g, "%s row %d: got %s, want %s", c.path, i, g, w)
			}
		}
	})

	t.Run("TamperedOrForeignSignatureIs403", func(t *testing.T) {
		u, _ := url.Parse(*done.URL)
		q := u.Query()
		exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
		sig := q.Get("sig")
		flip := []byte(sig)
		flip[0] ^= 1
		for name, mod := range map[string]func(v url.Values){
			"FlippedSignature": func(v url.Values) { v.Set("sig", string(flip)) },
			"LaterExpiry":      func(v url.Values) { v.Set("exp", strconv.FormatInt(exp+3600, 10)) },
			"PastExpiry":       func(v url.Values) { v.Set("exp", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)) },
			"NoSignature":      func(v url.Values) { v.Del("sig") },
		} {
			v := u.Query()
			mod(v)
			resp, err := http.Get(u.Scheme + "://" + u.Host + u.Path + "?" + v.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
			}
		}
		// Another export's id under this signature.
		resp, err := http.Get(u.Scheme + "://" + u.Host + "/bulk/1" + "?" + u.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("another id: status %d, want 403", resp.StatusCode)
		}
	})
	if out := g.stderr.String(); len(out) > 0 {
		u, _ := url.Parse(*done.URL)
		if sig := u.Query().Get("sig"); strings.Contains(out, sig) {
			t.Fatalf("the gateway logged the download signature")
		}
	}
}

func ptr[T any](v T) *T { return &v }

func compactJSON(b json.RawMessage) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestBulkExportPagesEveryConnection follows every page: with 7 items a
// page, 10 projects take 2 root pages and each project's 20 RFIs 3 pages
// (the first inline, the others through _entities), and the file still has
// every row once, in order, joined to its parent.
func TestBulkExportPagesEveryConnection(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 10, ItemsPerProject: 20,
		CommitmentsPerProject: 2}, HourlyLimit: -1, SpikeLimit: -1})
	env["BULK_PAGE_SIZE"] = "7"
	g := startGateway(t, env)
	b, ues := startBulk(t, g, "", `query { projects(filter: {status: ALL}) { nodes { id rfis { nodes { id subject } } } } }`, nil)
	if len(ues) > 0 {
		t.Fatalf("start: %+v", ues)
	}
	done := waitBulk(t, g, b.ID)
	if done.Status != "COMPLETED" {
		t.Fatalf("export ended %s (%v: %v)", done.Status, text(done.ErrorCode), text(done.ErrorMessage))
	}
	rows, _ := downloadBulk(t, *done.URL)
	var want []string
	sb.ReadDataset(func(ds *data.Dataset) {
		var ps []*data.Project
		for _, p := range ds.Projects {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		for _, p := range ps {
			want = append(want, "projects||"+id(p.ID))
			for _, r := range p.RFIs {
				want = append(want, "projects.rfis|"+id(p.ID)+"|"+id(r.ID)+"|"+r.Subject)
			}
		}
	})
	var got []string
	for _, r := range rows {
		if r.Path == "projects" {
			got = append(got, "projects|"+text(r.ParentID)+"|"+r.ID)
		} else {
			got = append(got, r.Path+"|"+text(r.ParentID)+"|"+r.ID+"|"+r.Subject)
		}
	}
	if len(got) != len(want) || len(want) != 10*21 {
		t.Fatalf("%d rows, want %d (sandbox) = 210", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

// TestBulkExportOnePerCallerAndPrivate: one running export per caller, seen
// and cancelled by its caller alone; documents a bulk export cannot run are
// refused with INVALID_VALUE; finished exports expire with their URL; a
// shutdown cancels running exports and leaves no file behind.
func TestBulkExportOnePerCallerAndPrivate(t *testing.T) {
	const otherKey = "pgk_otherOtherOtherOtherOtherOtherOtherOther00"
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}})
	env["API_KEYS"] += ";" + apiKeyEntry("bi-reader", "read", "", otherKey)
	env["BULK_TTL"] = "3s"
	dir := t.TempDir()
	env["BULK_DIR"] = dir
	g := startGateway(t, env)
	q := `{ projects { nodes { id name rfis { nodes { id } } } } }`

	t.Run("RefusedDocumentsAreInvalidValue", func(t *testing.T) {
		for name, doc := range map[string]string{
			"Mutation":              `mutation { closeRFI(input: {projectId: 1, rfiId: 2}) { userErrors { code } } }`,
			"NotParsable":           `{ projects { nodes { id }`,
			"UnknownField":          `{ projects { nodes { nope } } }`,
			"RootNotAConnection":    `{ viewer { id } }`,
			"TwoRootFields":         `{ projects { nodes { id } } viewer { id } }`,
			"ConnectionOutsideNode": `{ projects { nodes { id company { projects { nodes { id } } } } } }`,
		} {
			b, ues := startBulk(t, g, "", doc, nil)
			if b != nil || len(ues) != 1 || ues[0].Code != "INVALID_VALUE" || ues[0].Field[1] != "query" {
				t.Errorf("%s: export %+v, userErrors %+v; want one INVALID_VALUE on [input query]", name, b, ues)
			}
		}
	})

	sb.SetFaults(sandbox.Faults{StallBody: true}) // the first export cannot finish
	first, ues := startBulk(t, g, "", q, nil)
	if len(ues) > 0 || first.Status != "RUNNING" {
		t.Fatalf("start: %+v %+v", first, ues)
	}
	t.Run("SecondStartIsInProgress", func(t *testing.T) {
		b, ues := startBulk(t, g, "", q, nil)
		if b != nil || len(ues) != 1 || ues[0].Code != "IN_PROGRESS" {
			t.Fatalf("second start: %+v %+v, want one IN_PROGRESS userError", b, ues)
		}
	})
	t.Run("AnotherCallerCannotSeeOrCancelIt", func(t *testing.T) {
		if b := bulkStatus(t, g, otherKey, first.ID); b != nil {
			t.Fatalf("another caller read the export: %+v", b)
		}
		r := g.queryAs(t, otherKey, `mutation($id: ID!) { cancelBulkExport(id: $id) { bulkExport { id } userErrors { code } } }`, map[string]any{"id": first.ID})
		if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"bulkExport":null`) || !strings.Contains(string(r.Data), `"NOT_FOUND"`) {
			t.Fatalf("another caller's cancel: %s %+v", r.Data, r.Errors)
		}
		if b := bulkStatus(t, g, "", first.ID); b == nil || b.Status != "RUNNING" {
			t.Fatalf("after another caller's cancel: %+v", b)
		}
		// The other caller (read scope only) runs one of its own meanwhile.
		own, ues := startBulk(t, g, otherKey, q, nil)
		if len(ues) > 0 || own.Status != "RUNNING" {
			t.Fatalf("other caller's start: %+v %+v", own, ues)
		}
		r = g.queryAs(t, otherKey, `mutation($id: ID!) { cancelBulkExport(id: $id) { bulkExport { status url } userErrors { code } } }`, map[string]any{"id": own.ID})
		if !strings.Contains(string(r.Data), `"status":"CANCELED","url":null`) {
			t.Fatalf("cancel own export: %s %+v", r.Data, r.Errors)
		}
	})
	t.Run("CancelThenStartAgain", func(t *testing.T) {
		r := g.query(t, `mutation($id: ID!) { cancelBulkExport(id: $id) { bulkExport { status url } userErrors { code } } }`, map[string]any{"id": first.ID})
		if !strings.Contains(string(r.Data), `"status":"CANCELED","url":null`) {
			t.Fatalf("cancel: %s %+v", r.Data, r.Errors)
		}
		sb.SetFaults(sandbox.Faults{}) // releases the held bodies
		b, ues := startBulk(t, g, "", q, nil)
		if len(ues) > 0 {
			t.Fatalf("start after cancel: %+v", ues)
		}
		var u string
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			s := bulkStatus(t, g, "", b.ID)
			if s == nil {
				break // expired
			}
			if s.Status == "FAILED" || s.Status == "CANCELED" {
				t.Fatalf("export ended %s: %s %s", s.Status, deref(s.ErrorCode), deref(s.ErrorMessage))
			}
			if s.URL != nil {
				u = *s.URL
			}
			time.Sleep(50 * time.Millisecond)
		}
		if u == "" {
			t.Fatal("never saw the export completed with a URL before it expired (BULK_TTL 3s)")
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("expired URL: status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("ShutdownCancelsAndLeavesNoFile", func(t *testing.T) {
		sb.SetFaults(sandbox.Faults{StallBody: true})
		defer sb.SetFaults(sandbox.Faults{})
		b, ues := startBulk(t, g, "", q, nil)
		if len(ues) > 0 || b.Status != "RUNNING" {
			t.Fatalf("start: %+v %+v", b, ues)
		}
		g.stop()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Fatalf("files left in BULK_DIR after shutdown: %v", entries)
		}
	})
}

// TestBulkExportRunsOnlyTrustedQueriesWhenLockedDown: with ONLY_PERSISTED
// the query of a bulk export must itself be a trusted document, or the
// trusted startBulkExport mutation would run any query.
func TestBulkExportRunsOnlyTrustedQueriesWhenLockedDown(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}})
	trusted := `query Trusted { projects { nodes { id name } } }`
	startDoc := strings.Replace(startBulkMutation, "mutation(", "mutation StartBulk(", 1)
	var ops []map[string]any
	for _, op := range []struct{ name, typ, body string }{{"StartBulk", "mutation", startDoc}, {"Trusted", "query", trusted}} {
		sum := sha256.Sum256([]byte(op.body))
		ops = append(ops, map[string]any{"id": hex.EncodeToString(sum[:]), "name": op.name, "type": op.typ, "body": op.body})
	}
	manifest, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": ops})
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	env["PERSISTED_OPERATIONS"] = path
	env["ONLY_PERSISTED"] = "true"
	g := startGateway(t, env)
	sum := sha256.Sum256([]byte(startDoc))
	start := func(q string) string {
		body, _ := json.Marshal(map[string]any{"variables": map[string]any{"q": q},
			"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}})
		_, raw := postRaw(t, g.URL, body, nil)
		return string(raw)
	}
	if raw := start(`{ projects { nodes { id name rfis { nodes { id } } } } }`); !strings.Contains(raw, `"code":"INVALID_VALUE"`) || !strings.Contains(raw, `"bulkExport":null`) {
		t.Fatalf("an untrusted bulk query: %s", raw)
	}
	if raw := start(trusted); !strings.Contains(raw, `"status":"RUNNING"`) {
		t.Fatalf("the trusted bulk query: %s", raw)
	}
}
