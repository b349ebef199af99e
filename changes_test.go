package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/cache/cachetest"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// changesQuery reads one page of the change feed.
const changesQuery = `query($since: String, $first: Int, $projects: [ID!]) {
  changes(since: $since, first: $first, projectIds: $projects) {
    endCursor hasNextPage
    nodes { cursor kind itemKind itemId projectId status previousStatus ballInCourt { id } source }
  }
}`

type feedChange struct {
	Cursor, Kind, ItemKind, ItemID, ProjectID, Source string
	Status, PreviousStatus                            *string
	BallInCourt                                       []struct{ ID string }
}

func (c feedChange) String() string {
	return c.Kind + " " + c.ItemKind + " " + c.ItemID + " (" + c.Source + ")"
}

type feedPage struct {
	EndCursor   string
	HasNextPage bool
	Nodes       []feedChange
}

// readChanges asks for one page of changes as the harness key.
func readChanges(t *testing.T, g *gatewayProc, since *string, first int, projects ...string) (feedPage, gqlResponse) {
	t.Helper()
	vars := map[string]any{"first": first}
	if since != nil {
		vars["since"] = *since
	}
	if len(projects) > 0 {
		vars["projects"] = projects
	}
	r := g.query(t, changesQuery, vars)
	var d struct{ Changes feedPage }
	if len(r.Errors) == 0 {
		if err := json.Unmarshal(r.Data, &d); err != nil {
			t.Fatalf("changes: %v: %s", err, r.Data)
		}
	}
	return d.Changes, r
}

// syncer is a BI client: it stores the endCursor of every page it reads and
// resumes from it, as the README's recipe says.
type syncer struct {
	g         *gatewayProc
	watermark string
	seen      []feedChange
	pages     int
}

// newSyncer takes the watermark (changes without since) before anything
// changes, as a sync takes it before its full sync.
func newSyncer(t *testing.T, g *gatewayProc) *syncer {
	t.Helper()
	p, r := readChanges(t, g, nil, 10)
	if len(r.Errors) > 0 || p.EndCursor == "" || len(p.Nodes) != 0 || p.HasNextPage {
		t.Fatalf("watermark: %+v %+v", p, r.Errors)
	}
	return &syncer{g: g, watermark: p.EndCursor}
}

// syncOnce reads pages of two from the stored watermark until hasNextPage is
// false, storing each page's endCursor.
func (s *syncer) syncOnce(t *testing.T) {
	t.Helper()
	for range 100 {
		since := s.watermark
		p, r := readChanges(t, s.g, &since, 2)
		if len(r.Errors) > 0 {
			t.Fatalf("changes(since: %s): %+v", since, r.Errors)
		}
		if p.EndCursor == "" {
			t.Fatalf("page without endCursor: %+v", p)
		}
		s.pages++
		s.seen = append(s.seen, p.Nodes...)
		s.watermark = p.EndCursor
		if !p.HasNextPage {
			return
		}
	}
	t.Fatal("the feed never ended")
}

// syncUntil syncs until the changes seen number at least n (the sources are
// asynchronous: webhooks are queued, the poller polls every second).
func (s *syncer) syncUntil(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.syncOnce(t)
		if len(s.seen) >= n || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createRFIThroughGateway creates an RFI in project with the harness key and
// returns its id.
func createRFIThroughGateway(t *testing.T, g *gatewayProc, project, manager int64, subject string) string {
	t.Helper()
	r := g.query(t, `mutation($p: ID!, $m: ID!, $s: String!) { createRFI(input: {projectId: $p, subject: $s,
		question: "Which anchor bolts?", managerId: $m}) { rfi { id } userErrors { message } } }`,
		map[string]any{"p": id64(project), "m": id64(manager), "s": subject})
	var d struct {
		CreateRFI struct {
			RFI        *struct{ ID string }
			UserErrors []struct{ Message string }
		}
	}
	if err := json.Unmarshal(r.Data, &d); err != nil || len(r.Errors) > 0 || d.CreateRFI.RFI == nil {
		t.Fatalf("createRFI: %v %+v %s", err, r.Errors, r.Data)
	}
	return d.CreateRFI.RFI.ID
}

func mutateRFI(t *testing.T, sb *sandbox.Running, project, rfi int64, set map[string]string) {
	t.Helper()
	m := sandbox.Mutation{Kind: "rfi", ProjectID: project, ID: rfi, Set: map[string]json.RawMessage{}}
	for k, v := range set {
		m.Set[k] = json.RawMessage(v)
	}
	if _, err := sb.Mutate(m); err != nil {
		t.Fatalf("sandbox mutate %v: %v", set, err)
	}
}

// wantChanges compares what a sync saw with the expected changes, in order.
func wantChanges(t *testing.T, got []feedChange, want []string) {
	t.Helper()
	var g []string
	for _, c := range got {
		g = append(g, c.String())
	}
	if !slices.Equal(g, want) {
		t.Fatalf("the sync saw\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
	cursors := map[string]bool{}
	for _, c := range got {
		if c.Cursor == "" || cursors[c.Cursor] {
			t.Fatalf("change %s has an empty or repeated cursor %q", c, c.Cursor)
		}
		cursors[c.Cursor] = true
	}
}

// TestChangesFeedSyncsCreatesChangesAndDeletions: an incremental sync through
// Query.changes, resuming every time from the endCursor it stored, sees each
// create, ball-in-court move, status change and deletion once, in order,
// whether the gateway learned of them by webhook (on the Redis Streams log)
// or by polling Procore's lists and RFI recycle bin (on the in-memory log).
func TestChangesFeedSyncsCreatesChangesAndDeletions(t *testing.T) {
	t.Run("WebhooksOnTheRedisLog", func(t *testing.T) {
		rdb := cachetest.Client(t)
		sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6},
			WebhookMinBackoff: 50 * time.Millisecond})
		sb.SetFaults(sandbox.Faults{DuplicateWebhooks: 1})
		env["WEBHOOK_AUTHORIZATION"] = webhookSecret
		env["REDIS_URL"] = cachetest.URL(t)
		env["CACHE_PREFIX"] = cachetest.Prefix(t, rdb, "changes-feed")
		g := startGateway(t, env, "-register-webhooks")
		project, rfis, users := pickRFIs(t, sb, 1)
		x := rfis[0]

		s := newSyncer(t, g)
		created := createRFIThroughGateway(t, g, project, users[0], "Changes feed: new RFI")
		to := otherUser(t, users, ballInCourtOf(sb, project, x))
		// A webhook names the item only: the gateway reads it when the
		// delivery is processed. Each change is synced before the next, so
		// that each state is still there to read (an item deleted before its
		// update is read shows only the deletion).
		moveBall(t, sb, project, x, to)
		s.syncUntil(t, 2)
		mutateRFI(t, sb, project, x, map[string]string{"status": `"closed"`})
		s.syncUntil(t, 4)
		mutateRFI(t, sb, project, x, map[string]string{"recycled": "true"})

		xs := id64(x)
		want := []string{
			"CREATED RFI " + created + " (MUTATION)",
			"BALL_IN_COURT_CHANGED RFI " + xs + " (WEBHOOK)",
			"STATUS_CHANGED RFI " + xs + " (WEBHOOK)",
			"BALL_IN_COURT_CHANGED RFI " + xs + " (WEBHOOK)", // closing empties the court
			"DELETED RFI " + xs + " (WEBHOOK)",
		}
		s.syncUntil(t, len(want))
		// Every duplicated delivery has landed; none may add a change.
		waitDeliveries(t, sb, env, 2)
		s.syncOnce(t)
		// The create is observed twice, by the mutation once Procore answered
		// it and by the webhook Procore sends for it; whichever records it
		// first makes the one CREATED change. The mutation usually wins, but
		// on a loaded machine the webhook can (a run saw it): either is right.
		if len(s.seen) > 0 && s.seen[0].Kind == "CREATED" && s.seen[0].Source == "WEBHOOK" {
			want[0] = "CREATED RFI " + created + " (WEBHOOK)"
		}
		wantChanges(t, s.seen, want)
		del := s.seen[len(s.seen)-1]
		if del.Status == nil || *del.Status != "CLOSED" || len(del.BallInCourt) != 0 || del.ProjectID != id64(project) {
			t.Fatalf("tombstone %+v: want the last status CLOSED, an empty court, project %d", del, project)
		}
		if s.pages < 3 {
			t.Fatalf("%d pages for %d changes at first: 2: the sync did not page", s.pages, len(want))
		}

		// The RFI is gone from the lists and in the recycle bin.
		r := g.query(t, `query($p: ID!) { project(id: $p) { rfis(first: 100) { nodes { id } } } }`, map[string]any{"p": id64(project)})
		if strings.Contains(string(r.Data), `"`+xs+`"`) {
			t.Fatalf("the deleted RFI %s is still listed: %s", xs, r.Data)
		}
		var recycled []int64
		sb.ReadDataset(func(d *data.Dataset) {
			for _, p := range d.Projects {
				if p.ID == project {
					for _, r := range p.RecycledRFIs {
						recycled = append(recycled, r.ID)
					}
				}
			}
		})
		if !slices.Equal(recycled, []int64{x}) {
			t.Fatalf("recycle bin %v, want [%d]", recycled, x)
		}
	})

	t.Run("PollerOnTheMemoryLog", func(t *testing.T) {
		sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6}})
		g := startGateway(t, env, "-poll-interval", "1s")
		project, rfis, users := pickRFIs(t, sb, 1)
		y := rfis[0]
		// The poller's first pass (a silent baseline of the lists and of the
		// recycle bins) is over once a second pass has started.
		const binRoute = "GET /rest/v1.0/projects/{project_id}/rfis/recycle_bin"
		deadline := time.Now().Add(20 * time.Second)
		for sb.Stats().ByRoute[binRoute] < 4 {
			if time.Now().After(deadline) {
				t.Fatalf("the poller never read the recycle bins: %v", sb.Stats().ByRoute)
			}
			time.Sleep(50 * time.Millisecond)
		}

		s := newSyncer(t, g)
		to := otherUser(t, users, ballInCourtOf(sb, project, y))
		moveBall(t, sb, project, y, to)
		ys := id64(y)
		s.syncUntil(t, 1)
		// Deleted after the move was seen: both are real, in this order.
		mutateRFI(t, sb, project, y, map[string]string{"recycled": "true"})
		want := []string{
			"BALL_IN_COURT_CHANGED RFI " + ys + " (POLLER)",
			"DELETED RFI " + ys + " (POLLER)",
		}
		s.syncUntil(t, len(want))
		// Two more polls see the recycle bin's entry again (the window
		// overlaps): nothing new.
		polls := sb.Stats().ByRoute[binRoute]
		for sb.Stats().ByRoute[binRoute] < polls+4 {
			time.Sleep(50 * time.Millisecond)
		}
		s.syncOnce(t)
		wantChanges(t, s.seen, want)
	})
}

// TestChangesFeedRefusesAnExpiredCursor: a cursor after which the log
// dropped events (older than EVENT_RETENTION, or from a log that restarted)
// is refused with CURSOR_EXPIRED, telling the client to sync fully; a cursor
// that is not one is BAD_USER_INPUT.
func TestChangesFeedRefusesAnExpiredCursor(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	env["EVENT_RETENTION"] = "2s"
	g := startGateway(t, env)
	project, _, users := pickRFIs(t, sb, 1)
	s := newSyncer(t, g)
	createRFIThroughGateway(t, g, project, users[0], "Expires soon")
	time.Sleep(2500 * time.Millisecond) // past the retention: the next publish trims it
	createRFIThroughGateway(t, g, project, users[0], "Trims the first")

	code := func(t *testing.T, r gqlResponse) string {
		t.Helper()
		if len(r.Errors) != 1 {
			t.Fatalf("errors %+v, want one", r.Errors)
		}
		c, _ := r.Errors[0].Extensions["code"].(string)
		return c
	}
	t.Run("OlderThanRetentionIsCursorExpired", func(t *testing.T) {
		_, r := readChanges(t, g, &s.watermark, 10)
		if c := code(t, r); c != "CURSOR_EXPIRED" || !strings.Contains(r.Errors[0].Message, "full sync") {
			t.Fatalf("error %+v, want CURSOR_EXPIRED telling to do a full sync", r.Errors[0])
		}
	})
	t.Run("CursorOfAnotherLogIsCursorExpired", func(t *testing.T) {
		other := startGateway(t, env) // another in-memory log: as after a restart
		_, r := readChanges(t, other, &s.watermark, 10)
		if c := code(t, r); c != "CURSOR_EXPIRED" {
			t.Fatalf("error %+v, want CURSOR_EXPIRED", r.Errors[0])
		}
	})
	t.Run("NotACursorIsBadUserInput", func(t *testing.T) {
		bad := "not-a-cursor"
		_, r := readChanges(t, g, &bad, 10)
		if c := code(t, r); c != "BAD_USER_INPUT" {
			t.Fatalf("error %+v, want BAD_USER_INPUT", r.Errors[0])
		}
	})
	t.Run("FirstAboveTheCapIsBadUserInput", func(t *testing.T) {
		_, r := readChanges(t, g, nil, 501)
		if c := code(t, r); c != "BAD_USER_INPUT" {
			t.Fatalf("error %+v, want BAD_USER_INPUT", r.Errors[0])
		}
	})
	t.Run("TheCurrentWatermarkReadsTheNewChange", func(t *testing.T) {
		p, r := readChanges(t, g, nil, 10)
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		created := createRFIThroughGateway(t, g, project, users[0], "After the new watermark")
		p2, r := readChanges(t, g, &p.EndCursor, 10)
		if len(r.Errors) > 0 || len(p2.Nodes) != 1 || p2.Nodes[0].ItemID != created || p2.Nodes[0].Kind != "CREATED" {
			t.Fatalf("after a fresh watermark: %+v %+v, want CREATED %s", p2, r.Errors, created)
		}
	})
}

// TestChangesFeedOfAnAllowlistedKey: a key allowlisted to project A reads
// A's changes and never B's, although both change; asking for B is
// NOT_FOUND.
func TestChangesFeedOfAnAllowlistedKey(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 4}})
	var a, b, managerA, managerB int64
	sb.ReadDataset(func(d *data.Dataset) {
		a, b = d.Projects[0].ID, d.Projects[1].ID
		managerA, managerB = d.Projects[0].RFIs[0].ManagerID, d.Projects[1].RFIs[0].ManagerID
	})
	env["API_KEYS"] += ";" + apiKeyEntry("field-app", "read", id64(a), fieldKey)
	g := startGateway(t, env)
	asKey := bearerHeader(fieldKey)
	read := func(t *testing.T, since *string, projects ...string) (feedPage, gqlResponse) {
		t.Helper()
		vars := map[string]any{"first": 100}
		if since != nil {
			vars["since"] = *since
		}
		if len(projects) > 0 {
			vars["projects"] = projects
		}
		_, r := rawPost(t, g.URL, changesQuery, vars, asKey)
		var d struct{ Changes feedPage }
		if len(r.Errors) == 0 {
			if err := json.Unmarshal(r.Data, &d); err != nil {
				t.Fatal(err)
			}
		}
		return d.Changes, r
	}
	start, r := read(t, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	var inA []string
	for i := range 3 {
		inA = append(inA, createRFIThroughGateway(t, g, a, managerA, fmt.Sprintf("A %d", i)))
		createRFIThroughGateway(t, g, b, managerB, fmt.Sprintf("B %d", i))
	}
	p, r := read(t, &start.EndCursor)
	if len(r.Errors) > 0 || p.HasNextPage {
		t.Fatalf("%+v %+v", p, r.Errors)
	}
	var got []string
	for _, c := range p.Nodes {
		if c.ProjectID != id64(a) {
			t.Fatalf("the key restricted to %d saw a change of project %s: %+v", a, c.ProjectID, c)
		}
		got = append(got, c.ItemID)
	}
	if !slices.Equal(got, inA) {
		t.Fatalf("changes of A %v, want %v", got, inA)
	}
	// The harness key (every project) sees both projects' six creates.
	all, r := readChanges(t, g, &start.EndCursor, 100)
	if len(r.Errors) > 0 || len(all.Nodes) != 6 {
		t.Fatalf("unrestricted: %d changes %+v, want 6", len(all.Nodes), r.Errors)
	}
	_, r = read(t, &start.EndCursor, strconv.FormatInt(b, 10))
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "NOT_FOUND" {
		t.Fatalf("asking for project B: %+v, want NOT_FOUND", r.Errors)
	}
}

// TestChangesFeedRefusesAnExpiredCursorOnRedis: on the Redis Streams log, a
// cursor whose events the retention (EVENT_RETENTION) removed is
// CURSOR_EXPIRED; a watermark taken afterwards reads on.
func TestChangesFeedRefusesAnExpiredCursorOnRedis(t *testing.T) {
	rdb := cachetest.Client(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	prefix := cachetest.Prefix(t, rdb, "changes-expiry")
	env["REDIS_URL"] = cachetest.URL(t)
	env["CACHE_PREFIX"] = prefix
	env["EVENT_RETENTION"] = "1s"
	g := startGateway(t, env)
	project, _, users := pickRFIs(t, sb, 1)
	s := newSyncer(t, g)
	createRFIThroughGateway(t, g, project, users[0], "Expires with the stream")

	ctx := t.Context()
	keys, err := rdb.Keys(ctx, prefix+"*:events").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("event streams %v %v, want one", keys, err)
	}
	// The stream expires EVENT_RETENTION after its last event, and the
	// event with it.
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Exists(ctx, keys[0]).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the event stream never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, r := readChanges(t, g, &s.watermark, 10)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "CURSOR_EXPIRED" {
		t.Fatalf("errors %+v, want CURSOR_EXPIRED", r.Errors)
	}
	fresh := newSyncer(t, g)
	created := createRFIThroughGateway(t, g, project, users[0], "After the trim")
	fresh.syncOnce(t)
	if len(fresh.seen) != 1 || fresh.seen[0].ItemID != created {
		t.Fatalf("after a new watermark: %+v, want the create of %s", fresh.seen, created)
	}
}
