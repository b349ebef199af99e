package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

const lookupKey = "pgk_lookupLookupLookupLookupLookupLookupLook"

const (
	routeSubmittalsList = "GET /rest/v1.1/projects/{project_id}/submittals"
	routeRFIsList       = "GET /rest/v1.0/projects/{project_id}/rfis"
	routeRFIShow        = "GET /rest/v1.0/projects/{project_id}/rfis/{id}"
	routeSubmittalShow  = "GET /rest/v1.1/projects/{project_id}/submittals/{id}"
	routeSubcontract    = "GET /rest/v1.0/work_order_contracts/{id}"
	routePurchaseOrder  = "GET /rest/v1.0/purchase_order_contracts/{id}"
	routeInvoiceShow    = "GET /rest/v1.1/requisitions/{id}"
	routeCompanyUser    = "GET /rest/v1.3/companies/{company_id}/users/{id}"
	routeCompanyVendors = "GET /rest/v1.0/vendors"
	routeProjects       = "GET /rest/v1.1/projects"
)

// TestFailingListLeavesTheRestOfTheProject: when Procore keeps failing the
// submittals list (500 after every retry), the project still renders its
// name and RFIs; submittals is null with one UPSTREAM_UNAVAILABLE error at
// its own path, for the project looked up by id and for each project of a
// list alike. A 403 on one tool is FORBIDDEN at its path the same way.
func TestFailingListLeavesTheRestOfTheProject(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 4}})
	type rfi struct{ ID, Subject string }
	var pid, name string
	rfis := map[string]string{}
	var total int
	sb.ReadDataset(func(d *data.Dataset) {
		p := d.Projects[0]
		pid, name, total = id64(p.ID), p.Name, len(p.RFIs)
		for _, r := range p.RFIs {
			rfis[id64(r.ID)] = r.Subject
		}
	})
	g := startGateway(t, env, "-no-cache")

	t.Run("UpstreamUnavailableAtItsPath", func(t *testing.T) {
		sb.SetFaults(sandbox.Faults{FailRoutes: map[string]int{routeSubmittalsList: 500}})
		t.Cleanup(func() { sb.SetFaults(sandbox.Faults{}) })
		sb.ResetStats()
		start := time.Now()
		r := g.query(t, `query($p: ID!) {
			project(id: $p) { id name rfis(first: 3) { totalCount nodes { id subject } } submittals(first: 3) { totalCount nodes { id } } }
			projects(first: 2) { nodes { id name submittals(first: 3) { totalCount } } }
		}`, map[string]any{"p": pid})
		t.Logf("answered in %v after %d submittals list attempts", time.Since(start).Round(time.Millisecond), sb.Stats().ByRoute[routeSubmittalsList])
		var d struct {
			Project *struct {
				ID, Name string
				Rfis     *struct {
					TotalCount int
					Nodes      []rfi
				}
				Submittals *json.RawMessage
			}
			Projects struct {
				Nodes []struct {
					ID, Name   string
					Submittals *json.RawMessage
				}
			}
		}
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatalf("%v: %s", err, r.Data)
		}
		if d.Project == nil || d.Project.Name != name || d.Project.Rfis == nil {
			t.Fatalf("project %s: %s, want its name %q and RFIs", pid, r.Data, name)
		}
		if d.Project.Rfis.TotalCount != total || len(d.Project.Rfis.Nodes) != 3 {
			t.Fatalf("rfis %+v, want 3 of %d", d.Project.Rfis, total)
		}
		for _, n := range d.Project.Rfis.Nodes {
			if rfis[n.ID] != n.Subject {
				t.Fatalf("RFI %s subject %q, the sandbox has %q", n.ID, n.Subject, rfis[n.ID])
			}
		}
		if d.Project.Submittals != nil {
			t.Fatalf("submittals %s, want null", *d.Project.Submittals)
		}
		if len(d.Projects.Nodes) != 2 {
			t.Fatalf("projects %s, want 2 with their names", r.Data)
		}
		wantPaths := [][]any{{"project", "submittals"}}
		for i, n := range d.Projects.Nodes {
			if n.Name == "" || n.Submittals != nil {
				t.Fatalf("projects.nodes[%d] %+v, want its name and null submittals", i, n)
			}
			wantPaths = append(wantPaths, []any{"projects", "nodes", float64(i), "submittals"})
		}
		if len(r.Errors) != len(wantPaths) {
			t.Fatalf("errors %+v, want one at each of %v", r.Errors, wantPaths)
		}
		for _, want := range wantPaths {
			found := false
			for _, e := range r.Errors {
				if reflect.DeepEqual(e.Path, want) {
					found = true
					if e.Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
						t.Fatalf("error at %v: %+v, want UPSTREAM_UNAVAILABLE", want, e)
					}
				}
			}
			if !found {
				t.Fatalf("no error at %v: %+v", want, r.Errors)
			}
		}
	})

	t.Run("ForbiddenToolAtItsPath", func(t *testing.T) {
		sb.SetFaults(sandbox.Faults{FailRoutes: map[string]int{routeSubmittalsList: 403}})
		t.Cleanup(func() { sb.SetFaults(sandbox.Faults{}) })
		sb.ResetStats()
		r := g.query(t, `query($p: ID!) { project(id: $p) { name rfis(first: 1) { totalCount } submittals(first: 1) { totalCount } } }`,
			map[string]any{"p": pid})
		var d struct {
			Project *struct {
				Name       string
				Rfis       *struct{ TotalCount int }
				Submittals *json.RawMessage
			}
		}
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Project == nil || d.Project.Name != name || d.Project.Rfis == nil || d.Project.Rfis.TotalCount != total || d.Project.Submittals != nil {
			t.Fatalf("%s, want the name, %d RFIs and null submittals", r.Data, total)
		}
		if len(r.Errors) != 1 || !reflect.DeepEqual(r.Errors[0].Path, []any{"project", "submittals"}) || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
			t.Fatalf("errors %+v, want one FORBIDDEN at [project submittals]", r.Errors)
		}
		if n := sb.Stats().ByRoute[routeSubmittalsList]; n != 1 {
			t.Fatalf("%d submittals list calls, want 1 (a 403 is not retried)", n)
		}
	})
}

// TestLookupsByID: rfi, submittal, commitment, invoice, user and vendor by id
// return the sandbox's item; with projectId each is one Procore call (a
// purchase order without its kind: two), fetched once however many aliases
// ask; a missing id, an item of another project and a project outside a
// key's allowlist are null without an error; without projectId every
// visible project is asked once for all the ids of the request. A lookup
// with its project is cached until a write to that project.
func TestLookupsByID(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6, CommitmentsPerProject: 3}})
	type item struct{ id, project, text string }
	var a, b string
	var nProjects int
	var rfiA, rfiA2, rfiB, openA, subA, invA, subcontractA, poA, user, vendor item
	sb.ReadDataset(func(d *data.Dataset) {
		pa, pb := d.Projects[0], d.Projects[1]
		a, b = id64(pa.ID), id64(pb.ID)
		for _, p := range d.Projects {
			if p.CompanyID == d.Companies[0].ID {
				nProjects++
			}
		}
		rfiA = item{id64(pa.RFIs[0].ID), a, pa.RFIs[0].Subject}
		rfiA2 = item{id64(pa.RFIs[1].ID), a, pa.RFIs[1].Subject}
		rfiB = item{id64(pb.RFIs[0].ID), b, pb.RFIs[0].Subject}
		for _, r := range pa.RFIs[2:] {
			if r.Status == "open" && !r.Draft && openA.id == "" {
				openA = item{id64(r.ID), a, r.Subject}
			}
		}
		subA = item{id64(pa.Submittals[0].ID), a, pa.Submittals[0].Title}
		invA = item{id64(pa.Invoices[0].ID), a, pa.Invoices[0].InvoiceNumber}
		for _, c := range pa.Commitments {
			switch {
			case c.Kind == data.WorkOrder && subcontractA.id == "":
				subcontractA = item{id64(c.ID), a, c.Title}
			case c.Kind == data.PurchaseOrder && poA.id == "":
				poA = item{id64(c.ID), a, c.Title}
			}
		}
		uid := d.Companies[0].UserIDs[0]
		for _, u := range d.Users {
			if u.ID == uid {
				user = item{id64(u.ID), "", u.Email}
			}
		}
		v := d.Companies[0].Vendors[0]
		vendor = item{id64(v.ID), "", v.Name}
	})
	if subcontractA.id == "" || poA.id == "" || openA.id == "" {
		t.Fatalf("project %s needs a subcontract, a purchase order and an open RFI", a)
	}
	env["API_KEYS"] += ";" + apiKeyEntry("lookup-app", "read", a, lookupKey)
	g := startGateway(t, env)

	// lookup runs q and returns its data, failing on any error, with the
	// sandbox's requests by route.
	lookup := func(t *testing.T, token, q string, vars map[string]any) (map[string]json.RawMessage, map[string]int64) {
		t.Helper()
		sb.ResetStats()
		r := g.queryAs(t, token, q, vars)
		st := sb.Stats()
		if len(r.Errors) > 0 {
			t.Fatalf("errors %+v", r.Errors)
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatal(err)
		}
		return d, st.ByRoute
	}
	field := func(t *testing.T, raw json.RawMessage, name string) string {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			t.Fatalf("%s: %v, want an object", raw, err)
		}
		s, _ := m[name].(string)
		return s
	}
	calls := func(t *testing.T, got map[string]int64, want map[string]int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("Procore calls %v, want %v", got, want)
		}
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("Procore calls %v, want %v", got, want)
			}
		}
	}
	t.Run("RFIWithItsProjectIsOneCall", func(t *testing.T) {
		d, st := lookup(t, "", `query($id: ID!, $p: ID) {
			x: rfi(id: $id, projectId: $p) { id subject questions { body } }
			y: rfi(id: $id, projectId: $p) { id subject }
		}`, map[string]any{"id": rfiA.id, "p": a})
		for _, k := range []string{"x", "y"} {
			if field(t, d[k], "id") != rfiA.id || field(t, d[k], "subject") != rfiA.text {
				t.Fatalf("%s: %s, want RFI %s %q", k, d[k], rfiA.id, rfiA.text)
			}
		}
		calls(t, st, map[string]int64{routeRFIShow: 1})
	})
	t.Run("SubmittalWithItsProjectIsOneCall", func(t *testing.T) {
		d, st := lookup(t, "", `query($id: ID!, $p: ID) { submittal(id: $id, projectId: $p) { id title } }`, map[string]any{"id": subA.id, "p": a})
		if field(t, d["submittal"], "title") != subA.text {
			t.Fatalf("%s, want title %q", d["submittal"], subA.text)
		}
		calls(t, st, map[string]int64{routeSubmittalShow: 1})
	})
	t.Run("InvoiceWithItsProjectIsOneCall", func(t *testing.T) {
		d, st := lookup(t, "", `query($id: ID!, $p: ID) { invoice(id: $id, projectId: $p) { id invoiceNumber items { description } } }`, map[string]any{"id": invA.id, "p": a})
		if field(t, d["invoice"], "id") != invA.id || field(t, d["invoice"], "invoiceNumber") != invA.text {
			t.Fatalf("%s, want invoice %s %q", d["invoice"], invA.id, invA.text)
		}
		calls(t, st, map[string]int64{routeInvoiceShow: 1})
	})
	t.Run("CommitmentWithProjectAndKindIsOneCall", func(t *testing.T) {
		d, st := lookup(t, "", `query($id: ID!, $p: ID) { commitment(id: $id, projectId: $p, kind: SUBCONTRACT) { id title lineItems { description } } }`,
			map[string]any{"id": subcontractA.id, "p": a})
		if field(t, d["commitment"], "title") != subcontractA.text {
			t.Fatalf("%s, want title %q", d["commitment"], subcontractA.text)
		}
		calls(t, st, map[string]int64{routeSubcontract: 1})
	})
	t.Run("PurchaseOrderWithoutKindIsTwoCalls", func(t *testing.T) {
		d, st := lookup(t, "", `query($id: ID!, $p: ID) { commitment(id: $id, projectId: $p) { id title kind } }`,
			map[string]any{"id": poA.id, "p": a})
		if field(t, d["commitment"], "title") != poA.text || field(t, d["commitment"], "kind") != "PURCHASE_ORDER" {
			t.Fatalf("%s, want purchase order %q", d["commitment"], poA.text)
		}
		calls(t, st, map[string]int64{routeSubcontract: 1, routePurchaseOrder: 1})
	})
	t.Run("UserAndVendorAreOneCallEach", func(t *testing.T) {
		d, st := lookup(t, "", `query($u: ID!, $v: ID!) { user(id: $u) { id login } vendor(id: $v) { id name } }`,
			map[string]any{"u": user.id, "v": vendor.id})
		if field(t, d["user"], "login") != user.text || field(t, d["vendor"], "name") != vendor.text {
			t.Fatalf("user %s vendor %s, want %q and %q", d["user"], d["vendor"], user.text, vendor.text)
		}
		calls(t, st, map[string]int64{routeCompanyUser: 1, routeCompanyVendors: 1})
	})
	t.Run("MissingOrMisplacedIDsAreNull", func(t *testing.T) {
		d, st := lookup(t, "", `query($a: ID!, $b: ID!) {
			missing: rfi(id: "987654321", projectId: $a) { id }
			elsewhere: rfi(id: $b, projectId: $a) { id }
			noInvoice: invoice(id: "987654321", projectId: $a) { id }
			noUser: user(id: "987654321") { id }
			noVendor: vendor(id: "987654321") { id }
		}`, map[string]any{"a": a, "b": rfiB.id})
		for _, k := range []string{"missing", "elsewhere", "noInvoice", "noUser", "noVendor"} {
			if string(d[k]) != "null" {
				t.Fatalf("%s: %s, want null", k, d[k])
			}
		}
		calls(t, st, map[string]int64{routeRFIShow: 2, routeInvoiceShow: 1, routeCompanyUser: 1, routeCompanyVendors: 1})
	})
	t.Run("WithoutProjectEveryProjectIsAskedOnceForAllIDs", func(t *testing.T) {
		d, st := lookup(t, "", `query($x: ID!, $y: ID!, $z: ID!) {
			x: rfi(id: $x) { id subject }
			y: rfi(id: $y) { id subject }
			z: rfi(id: $z) { id subject }
			none: rfi(id: "987654321") { id }
		}`, map[string]any{"x": rfiA.id, "y": rfiA2.id, "z": rfiB.id})
		for k, want := range map[string]item{"x": rfiA, "y": rfiA2, "z": rfiB} {
			if field(t, d[k], "subject") != want.text {
				t.Fatalf("%s: %s, want %q", k, d[k], want.text)
			}
		}
		if string(d["none"]) != "null" {
			t.Fatalf("none: %s, want null", d["none"])
		}
		// The project list (every status, cached afterwards), then each
		// project's RFIs filtered by the three ids.
		calls(t, st, map[string]int64{routeProjects: 1, routeRFIsList: int64(nProjects)})
	})
	t.Run("CachedUntilAWriteToItsProject", func(t *testing.T) {
		const q = `query($id: ID!, $p: ID) { rfi(id: $id, projectId: $p) { id status } }`
		vars := map[string]any{"id": openA.id, "p": a}
		d, st := lookup(t, "", q, vars)
		if field(t, d["rfi"], "status") != "OPEN" {
			t.Fatalf("%s, want OPEN", d["rfi"])
		}
		calls(t, st, map[string]int64{routeRFIShow: 1})
		if _, st = lookup(t, "", q, vars); len(st) != 0 {
			t.Fatalf("the same lookup again called Procore: %v, want the cached show", st)
		}
		r := g.query(t, `mutation($p: ID!, $id: ID!) { closeRFI(input: {projectId: $p, rfiId: $id}) { rfi { status } userErrors { code message } } }`,
			map[string]any{"p": a, "id": openA.id})
		var closed struct {
			CloseRFI struct {
				RFI        *struct{ Status string }
				UserErrors []any
			}
		}
		if err := json.Unmarshal(r.Data, &closed); err != nil || len(r.Errors) > 0 || closed.CloseRFI.RFI == nil || len(closed.CloseRFI.UserErrors) > 0 {
			t.Fatalf("closeRFI: %s %+v", r.Data, r.Errors)
		}
		d, st = lookup(t, "", q, vars)
		if field(t, d["rfi"], "status") != "CLOSED" {
			t.Fatalf("after closeRFI: %s, want CLOSED", d["rfi"])
		}
		calls(t, st, map[string]int64{routeRFIShow: 1})
	})
	t.Run("ProjectOutsideTheKeysAllowlistIsNull", func(t *testing.T) {
		d, st := lookup(t, lookupKey, `query($a: ID!, $b: ID!, $ra: ID!, $rb: ID!) {
			allowed: rfi(id: $ra, projectId: $a) { id subject }
			withProject: rfi(id: $rb, projectId: $b) { id subject }
			withoutProject: rfi(id: $rb) { id subject }
		}`, map[string]any{"a": a, "b": b, "ra": rfiA.id, "rb": rfiB.id})
		if field(t, d["allowed"], "subject") != rfiA.text {
			t.Fatalf("allowed: %s, want %q", d["allowed"], rfiA.text)
		}
		for _, k := range []string{"withProject", "withoutProject"} {
			if string(d[k]) != "null" {
				t.Fatalf("%s: %s, want null", k, d[k])
			}
		}
		// The allowed RFI's show; the search reads the allowlisted project
		// list and asks the one allowed project; project B is never asked.
		calls(t, st, map[string]int64{routeRFIShow: 1, routeProjects: 1, routeRFIsList: 1})
	})
}
