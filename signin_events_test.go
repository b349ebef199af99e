package main

import (
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// TestSignedInPersonGetsOnlyTheirProjectsEvents: a person signed in with
// Procore shares the company's event stream, but their all-projects
// subscription delivers only events of projects Procore shows them, and
// subscribing to a project they are not on is NOT_FOUND.
func TestSignedInPersonGetsOnlyTheirProjectsEvents(t *testing.T) {
	cfg := sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 6, ItemsPerProject: 6}}
	user := pickSignInUser(t, cfg)
	cfg.ExtraUsers = []auth.WebUser{user.webUser}
	sb, env := startSandbox(t, cfg)
	g := startGateway(t, env)
	token := signInForToken(t, g, sb.URL, user.email, user.password)

	openRFI := func(project string) string {
		var id string
		sb.ReadDataset(func(d *data.Dataset) {
			for _, p := range d.Projects {
				if id64(p.ID) != project {
					continue
				}
				for _, r := range p.RFIs {
					if r.Status == "open" && !r.Draft && id == "" {
						id = id64(r.ID)
					}
				}
			}
		})
		if id == "" {
			t.Fatalf("no open RFI in project %s", project)
		}
		return id
	}
	// The first visible and hidden projects with an open RFI.
	pick := func(ids []string) (string, string) {
		for _, p := range ids {
			var found bool
			sb.ReadDataset(func(d *data.Dataset) {
				for _, pr := range d.Projects {
					if id64(pr.ID) == p {
						for _, r := range pr.RFIs {
							found = found || r.Status == "open" && !r.Draft
						}
					}
				}
			})
			if found {
				return p, openRFI(p)
			}
		}
		t.Fatalf("no project with an open RFI among %v", ids)
		return "", ""
	}
	visible, visibleRFI := pick(user.visible)
	hidden, hiddenRFI := pick(user.hidden)

	other := subscribeSSEAs(t, g.URL+"/graphql", token, `subscription($p: ID) { rfiChanged(projectId: $p) { cursor } }`, map[string]any{"p": hidden})
	select {
	case ev := <-other.events:
		if !strings.Contains(string(ev), "NOT_FOUND") {
			t.Fatalf("subscribing to a project the person is not on: %s, want NOT_FOUND", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no answer to a subscription to a hidden project")
	}

	sub := subscribeSSEAs(t, g.URL+"/graphql", token, `subscription { rfiChanged { projectId rfiId } }`, nil)
	waitActive(t, g, 1)
	closeThenFirstEvent(t, g, sub, [2]string{hidden, hiddenRFI}, [2]string{visible, visibleRFI})
}
