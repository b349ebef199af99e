package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestSchemaTypesOverHTTP checks, through the real gateway over the sandbox,
// the typed shapes frontends generate code from: the custom scalars'
// @specifiedBy URLs, RFI.ballInCourtRole as an enum (a role Procore adds later
// is UNKNOWN, not an error), UserError.code as an enum value, and
// submittalChanged carrying the status object Submittal.status has.
func TestSchemaTypesOverHTTP(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{})
	p := startGateway(t, env)

	t.Run("custom scalars name their specification", func(t *testing.T) {
		want := map[string]string{
			"Date":     "https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
			"DateTime": "https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
			"Decimal":  "https://speleotrove.com/decimal/daconvs.html#reftonum",
			"Upload":   "https://github.com/jaydenseric/graphql-multipart-request-spec",
		}
		for name, url := range want {
			r := p.query(t, `query($n: String!) { __type(name: $n) { kind specifiedByURL } }`, map[string]any{"n": name})
			var out struct {
				Type struct{ Kind, SpecifiedByURL string } `json:"__type"`
			}
			mustData(t, r, &out)
			if out.Type.Kind != "SCALAR" || out.Type.SpecifiedByURL != url {
				t.Errorf("%s: %+v, want SCALAR specified by %s", name, out.Type, url)
			}
		}
		// The subgraph SDL routers compose (TestApolloComposition composes
		// exactly this) carries the directive too.
		var svc struct {
			Service struct{ SDL string } `json:"_service"`
		}
		mustData(t, p.query(t, `{ _service { sdl } }`, nil), &svc)
		for name, url := range want {
			if d := "scalar " + name + ` @specifiedBy(url: "` + url + `")`; !strings.Contains(svc.Service.SDL, d) {
				t.Errorf("_service.sdl lacks %s", d)
			}
		}
	})

	// An RFI whose role Procore spells in a way this gateway does not know.
	var project, oddRFI int64
	want := map[int64]*string{} // RFI id -> expected ballInCourtRole (nil: null)
	roles := map[string]string{data.RoleAssignees: "ASSIGNEES", data.RoleManager: "RFI_MANAGER", data.RoleCreator: "CREATOR"}
	sb.ReadDataset(func(d *data.Dataset) {
		pr := d.Projects[0]
		project = pr.ID
		for _, r := range pr.RFIs {
			if r.Status == data.RFIOpen && r.BallInCourtRole == data.RoleManager && oddRFI == 0 {
				oddRFI = r.ID
			}
		}
	})
	if oddRFI == 0 {
		t.Fatal("no open RFI with the manager in court in the first project")
	}
	if _, err := sb.Mutate(sandbox.Mutation{Kind: "rfi", ProjectID: project, ID: oddRFI,
		Set: map[string]json.RawMessage{"ball_in_court_role": json.RawMessage(`"Design Team"`)}}); err != nil {
		t.Fatal(err)
	}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, pr := range d.Projects {
			if pr.ID != project {
				continue
			}
			for _, r := range pr.RFIs {
				switch v, ok := roles[r.BallInCourtRole]; {
				case ok:
					want[r.ID] = &v
				case r.BallInCourtRole == "":
					want[r.ID] = nil
				default:
					u := "UNKNOWN"
					want[r.ID] = &u
				}
			}
		}
	})

	t.Run("ballInCourtRole is an enum and an unknown role is UNKNOWN", func(t *testing.T) {
		r := p.query(t, `query($id: ID!) { project(id: $id) { rfis(first: 1000) { nodes { id ballInCourtRole } } } }`,
			map[string]any{"id": strconv.FormatInt(project, 10)})
		var out struct {
			Project struct {
				RFIs struct {
					Nodes []struct {
						ID              string
						BallInCourtRole *string
					}
				} `json:"rfis"`
			}
		}
		mustData(t, r, &out)
		seen := map[string]int{}
		for _, n := range out.Project.RFIs.Nodes {
			id, _ := strconv.ParseInt(n.ID, 10, 64)
			w, ok := want[id]
			if !ok {
				t.Fatalf("RFI %s is not in the sandbox's project", n.ID)
			}
			if (w == nil) != (n.BallInCourtRole == nil) || w != nil && *w != *n.BallInCourtRole {
				t.Errorf("RFI %s: ballInCourtRole %v, want %v", n.ID, deref(n.BallInCourtRole), deref(w))
			}
			seen[deref(n.BallInCourtRole)]++
		}
		if len(out.Project.RFIs.Nodes) != len(want) || seen["UNKNOWN"] != 1 || seen["ASSIGNEES"] == 0 || seen["RFI_MANAGER"] == 0 {
			t.Fatalf("%d RFIs of %d, roles seen %v", len(out.Project.RFIs.Nodes), len(want), seen)
		}
	})

	t.Run("a user error's code is an enum value", func(t *testing.T) {
		r := p.query(t, `mutation($in: UpdateCommitmentStatusInput!) { updateCommitmentStatus(input: $in) { commitment { id } userErrors { field code } } }`,
			map[string]any{"in": map[string]any{"projectId": strconv.FormatInt(project, 10), "commitmentId": "1", "status": "UNKNOWN"}})
		var out struct {
			U struct {
				Commitment *struct{ ID string }
				UserErrors []struct {
					Field []string
					Code  string
				}
			} `json:"updateCommitmentStatus"`
		}
		mustData(t, r, &out)
		if out.U.Commitment != nil || len(out.U.UserErrors) != 1 || out.U.UserErrors[0].Code != "INVALID_VALUE" {
			t.Fatalf("updateCommitmentStatus to UNKNOWN: %+v", out.U)
		}
	})

	t.Run("submittalChanged carries the status object Submittal.status has", func(t *testing.T) {
		var submittal, from int64
		var to data.SubmittalStatus
		var before data.SubmittalStatus
		sb.ReadDataset(func(d *data.Dataset) {
			for _, pr := range d.Projects {
				if pr.ID != project {
					continue
				}
				co := d.Company(pr.CompanyID)
				for _, s := range pr.Submittals {
					for _, st := range co.Statuses {
						if st.ID == s.StatusID {
							before = st
						}
					}
					for _, st := range co.Statuses {
						if before.ID != 0 && st.ID != s.StatusID && st.Name != before.Name {
							submittal, from, to = s.ID, s.StatusID, st
							return
						}
					}
					before = data.SubmittalStatus{}
				}
			}
		})
		if submittal == 0 || from == 0 {
			t.Fatal("no submittal with a status and another status to move it to")
		}
		sub := subscribeSSE(t, p.URL+"/graphql", `subscription($p: ID) { submittalChanged(projectId: $p) {
			kind submittalId previousStatus { id name status } status { id name status } submittal { status { id name status } } } }`,
			map[string]any{"p": strconv.FormatInt(project, 10)})
		waitActive(t, p, 1)
		r := p.query(t, `mutation($in: UpdateSubmittalStatusInput!) { updateSubmittalStatus(input: $in) { submittal { id } userErrors { code } } }`,
			map[string]any{"in": map[string]any{"projectId": strconv.FormatInt(project, 10), "submittalId": strconv.FormatInt(submittal, 10),
				"statusId": strconv.FormatInt(to.ID, 10)}})
		var m struct {
			U struct{ UserErrors []struct{ Code string } } `json:"updateSubmittalStatus"`
		}
		mustData(t, r, &m)
		if len(m.U.UserErrors) > 0 {
			t.Fatalf("updateSubmittalStatus: %+v", m.U.UserErrors)
		}
		type status struct{ ID, Name, Status string }
		var ev struct {
			Data struct {
				C struct {
					Kind, SubmittalID string
					PreviousStatus    *status
					Status            *status
					Submittal         struct{ Status *status }
				} `json:"submittalChanged"`
			}
		}
		select {
		case raw := <-sub.events:
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no submittalChanged event within 20s")
		}
		c := ev.Data.C
		wantNow := status{strconv.FormatInt(to.ID, 10), to.Name, to.Status}
		wantBefore := status{strconv.FormatInt(before.ID, 10), before.Name, before.Status}
		if c.Kind != "STATUS_CHANGED" || c.SubmittalID != strconv.FormatInt(submittal, 10) || c.Status == nil || *c.Status != wantNow ||
			c.PreviousStatus == nil || *c.PreviousStatus != wantBefore || c.Submittal.Status == nil || *c.Submittal.Status != *c.Status {
			t.Fatalf("event %+v (status %v, previous %v, submittal.status %v), want %+v from %+v",
				c, c.Status, c.PreviousStatus, c.Submittal.Status, wantNow, wantBefore)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// mustData fails on GraphQL errors and decodes data into out.
func mustData(t *testing.T, r gqlResponse, out any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatalf("%v: %s", err, r.Data)
	}
}
