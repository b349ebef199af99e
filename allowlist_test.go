package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

const fieldKey = "pgk_fieldFieldFieldFieldFieldFieldFieldFieldF"

// TestProjectAllowlistedKeyNeverSeesAnotherProject: a key allowlisted to
// project A sees only A, on every path: the project list and lookups,
// federation _entities (projects and RFIs of B come back null, and no name
// or subject of B is in any answer), subscriptions (subscribing to B is
// NOT_FOUND; an all-projects subscription delivers A's events and never
// B's) and mutations (a write to B is NOT_FOUND with no Procore write).
func TestProjectAllowlistedKeyNeverSeesAnotherProject(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6}})
	type proj struct {
		id, name, rfi, rfiSubject string
		open                      []string
	}
	var a, b proj
	sb.ReadDataset(func(d *data.Dataset) {
		for i, p := range []*proj{&a, &b} {
			pr := d.Projects[i]
			p.id, p.name = id64(pr.ID), pr.Name
			p.rfi, p.rfiSubject = id64(pr.RFIs[0].ID), pr.RFIs[0].Subject
			for _, r := range pr.RFIs {
				if r.Status == "open" && !r.Draft {
					p.open = append(p.open, id64(r.ID))
				}
			}
		}
	})
	if len(a.open) == 0 || len(b.open) < 2 {
		t.Fatalf("need open RFIs in both projects: %d, %d", len(a.open), len(b.open))
	}
	env["API_KEYS"] += ";" + apiKeyEntry("field-app", "read,write,subscribe", a.id, fieldKey)
	g := startGateway(t, env)
	asKey := bearerHeader(fieldKey)
	leaks := func(t *testing.T, raw []byte) {
		t.Helper()
		for _, s := range []string{b.id, b.name, b.rfi, b.rfiSubject} {
			if strings.Contains(string(raw), s) {
				t.Fatalf("the answer holds %q of the other project: %s", s, raw)
			}
		}
	}

	t.Run("ProjectListHoldsOnlyTheAllowedProject", func(t *testing.T) {
		_, resp := rawPost(t, g.URL, `{ projects(first: 50, filter: {status: ALL}) { totalCount nodes { id name } } }`, nil, asKey)
		var d struct {
			Projects struct {
				TotalCount int
				Nodes      []struct{ ID, Name string }
			}
		}
		if err := json.Unmarshal(resp.Data, &d); err != nil || len(resp.Errors) > 0 {
			t.Fatalf("%v %+v", err, resp.Errors)
		}
		if d.Projects.TotalCount != 1 || len(d.Projects.Nodes) != 1 || d.Projects.Nodes[0].ID != a.id {
			t.Fatalf("projects %+v, want only %s", d.Projects, a.id)
		}
		leaks(t, resp.Data)
	})

	t.Run("LookupOfTheOtherProjectIsNotFound", func(t *testing.T) {
		_, resp := rawPost(t, g.URL, `query($p: ID!) { project(id: $p) { id name rfis(first: 5) { nodes { id subject } } } }`,
			map[string]any{"p": b.id}, asKey)
		if !strings.Contains(string(resp.Data), `"project":null`) {
			t.Fatalf("project %s: %s %+v, want null", b.id, resp.Data, resp.Errors)
		}
		leaks(t, resp.Data)
	})

	t.Run("EntitiesOfTheOtherProjectAreNull", func(t *testing.T) {
		q := `query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { id name } ... on RFI { id subject } } }`
		reps := []map[string]any{{"__typename": "Project", "id": b.id}, {"__typename": "RFI", "id": b.rfi},
			{"__typename": "Project", "id": a.id}, {"__typename": "RFI", "id": a.rfi}}
		_, resp := rawPost(t, g.URL, q, map[string]any{"r": reps}, asKey)
		var d struct {
			Entities []*struct{ ID string } `json:"_entities"`
		}
		if err := json.Unmarshal(resp.Data, &d); err != nil || len(d.Entities) != 4 {
			t.Fatalf("%v: %s", err, resp.Data)
		}
		if d.Entities[0] != nil || d.Entities[1] != nil || d.Entities[2] == nil || d.Entities[2].ID != a.id || d.Entities[3] == nil || d.Entities[3].ID != a.rfi {
			t.Fatalf("entities %s, want [null, null, %s, %s]", resp.Data, a.id, a.rfi)
		}
		leaks(t, resp.Data)
		for _, e := range resp.Errors {
			leaks(t, []byte(e.Message))
		}
	})

	closeRFI := `mutation($p: ID!, $r: ID!) { closeRFI(input: {projectId: $p, rfiId: $r}) { rfi { id status } userErrors { code field } } }`

	t.Run("WritesToTheOtherProjectAreNotFound", func(t *testing.T) {
		sb.ResetStats()
		_, resp := rawPost(t, g.URL, closeRFI, map[string]any{"p": b.id, "r": b.open[1]}, asKey)
		if !strings.Contains(string(resp.Data)+firstCode(resp), "NOT_FOUND") {
			t.Fatalf("closeRFI in the other project: %s %+v, want NOT_FOUND", resp.Data, resp.Errors)
		}
		if w := writes(sb); len(w) != 0 {
			t.Fatalf("Procore writes %v for a refused project", w)
		}
	})

	t.Run("SubscriptionToTheOtherProjectIsNotFound", func(t *testing.T) {
		sub := subscribeSSEAs(t, g.URL+"/graphql", fieldKey, `subscription($p: ID) { rfiChanged(projectId: $p) { cursor rfiId } }`,
			map[string]any{"p": b.id})
		select {
		case ev := <-sub.events:
			if !strings.Contains(string(ev), "NOT_FOUND") {
				t.Fatalf("first event %s, want a NOT_FOUND error", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no answer to a subscription to another project")
		}
	})

	t.Run("AllProjectsSubscriptionDeliversOnlyTheAllowedProject", func(t *testing.T) {
		sub := subscribeSSEAs(t, g.URL+"/graphql", fieldKey, `subscription { rfiChanged { cursor projectId rfiId } }`, nil)
		waitActive(t, g, 1)
		// The other project changes first, through the unrestricted key; then
		// the allowed one. Events arrive in order, so the first event this
		// subscriber gets would be B's if B's events reached it.
		leaks(t, closeThenFirstEvent(t, g, sub, [2]string{b.id, b.open[0]}, [2]string{a.id, a.open[0]}))
	})
}

// closeThenFirstEvent closes (through the harness key) an open RFI of a
// project the subscriber must not see, then one of a project it sees, and
// returns the first rfiChanged event the subscriber gets, which must be the
// second one: events arrive in order, so it would be the first close if the
// subscriber were sent other projects' events.
func closeThenFirstEvent(t *testing.T, g *gatewayProc, sub *sseSubscription, hidden, visible [2]string) json.RawMessage {
	t.Helper()
	closeRFI := `mutation($p: ID!, $r: ID!) { closeRFI(input: {projectId: $p, rfiId: $r}) { rfi { status } userErrors { code } } }`
	for _, c := range [][2]string{hidden, visible} {
		status, resp := rawPost(t, g.URL, closeRFI, map[string]any{"p": c[0], "r": c[1]}, bearerHeader(testAPIKey))
		if status != http.StatusOK || len(resp.Errors) > 0 || !strings.Contains(string(resp.Data), "CLOSED") {
			t.Fatalf("closeRFI %s/%s: %d %s %+v", c[0], c[1], status, resp.Data, resp.Errors)
		}
	}
	select {
	case ev := <-sub.events:
		var e struct {
			Data struct {
				RfiChanged struct{ ProjectID, RfiID string }
			}
		}
		_ = json.Unmarshal(ev, &e)
		if e.Data.RfiChanged.ProjectID != visible[0] || e.Data.RfiChanged.RfiID != visible[1] {
			t.Fatalf("first event %s, want RFI %s of project %s (not %s of %s)", ev, visible[1], visible[0], hidden[1], hidden[0])
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatalf("no event for project %s", visible[0])
	}
	return nil
}
