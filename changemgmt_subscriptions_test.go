package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// Change management and owner invoice subscriptions end to end: the real
// program over a sandbox on loopback, subscribers using the real graphql-ws
// client (conformance/ws-subscribe.mjs), and status changes made directly in
// the sandbox (POST /_sandbox/mutate, as another Procore user would),
// delivered by webhook or found by the poller.

const changeOrderChangedSubscription = `subscription($p: ID, $types: [ChangeOrderType!], $after: String) {
  changeOrderChanged(projectId: $p, types: $types, after: $after) {
    cursor kind projectId type changeOrderId title previousStatus status source
    primeChangeOrder { id status } commitmentChangeOrder { id status }
  }
}`

const changeEventChangedSubscription = `subscription($p: ID, $after: String) {
  changeEventChanged(projectId: $p, after: $after) {
    cursor kind projectId changeEventId title previousStatus status source changeEvent { id status }
  }
}`

const paymentApplicationChangedSubscription = `subscription($p: ID, $after: String) {
  paymentApplicationStatusChanged(projectId: $p, after: $after) {
    cursor kind projectId paymentApplicationId title previousStatus status source paymentApplication { id status }
  }
}`

// cmChange is any of the three subscriptions' events as the tests select them.
type cmChange struct {
	Cursor               string `json:"cursor"`
	Kind                 string `json:"kind"`
	ProjectID            string `json:"projectId"`
	Type                 string `json:"type"`
	ChangeOrderID        string `json:"changeOrderId"`
	ChangeEventID        string `json:"changeEventId"`
	PaymentApplicationID string `json:"paymentApplicationId"`
	Title                string `json:"title"`
	PreviousStatus       string `json:"previousStatus"`
	Status               string `json:"status"`
	Source               string `json:"source"`
	Item                 *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"-"`
}

// itemID is the event's item id, whichever subscription it came from.
func (c cmChange) itemID() string { return c.ChangeOrderID + c.ChangeEventID + c.PaymentApplicationID }

// decodeCM decodes a next payload of one of the three subscriptions (field
// is its root field), failing on errors; Item is the item object selected
// (the one that is not null).
func decodeCM(t *testing.T, field string, payload json.RawMessage) cmChange {
	t.Helper()
	var r struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []gqlError                 `json:"errors"`
	}
	if err := json.Unmarshal(payload, &r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s event %s: %v %v", field, payload, err, r.Errors)
	}
	var c cmChange
	if err := json.Unmarshal(r.Data[field], &c); err != nil {
		t.Fatal(err)
	}
	var items map[string]json.RawMessage
	_ = json.Unmarshal(r.Data[field], &items)
	for _, k := range []string{"primeChangeOrder", "commitmentChangeOrder", "changeEvent", "paymentApplication"} {
		if raw := items[k]; len(raw) > 0 && string(raw) != "null" {
			if c.Item != nil {
				t.Fatalf("%s event %s: two items", field, payload)
			}
			if err := json.Unmarshal(raw, &c.Item); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

// cmSubscriber is a graphql-ws subscriber of one of the three fields.
type cmSubscriber struct {
	*nodeScript
	field string
}

func subscribeCM(t *testing.T, node string, g *gatewayProc, field, query string, vars map[string]any) *cmSubscriber {
	t.Helper()
	s := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": wsURL(g), "query": query, "variables": vars}))
	s.await(t, 15*time.Second, "connected")
	return &cmSubscriber{nodeScript: s, field: field}
}

func (s *cmSubscriber) next(t *testing.T) cmChange {
	t.Helper()
	return decodeCM(t, s.field, s.await(t, 15*time.Second, "next", "connected").Payload)
}

// cmWorld names the items the tests change: a 1- or 2-tier project with a
// prime change order, a commitment change order, a change event and a
// payment application, and another project.
type cmWorld struct {
	project, other                    int64
	primeCO, cco, changeEvent, payApp int64
	status                            map[int64]string // each item's status now (sandbox spelling)
}

func pickChangeMgmt(t *testing.T, sb *sandbox.Running) cmWorld {
	t.Helper()
	w := cmWorld{status: map[int64]string{}}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			cm := p.ChangeMgmt
			var pa *data.PaymentApplication
			for _, pc := range p.PrimeContracts {
				if len(pc.PaymentApplications) > 0 {
					pa = pc.PaymentApplications[len(pc.PaymentApplications)-1]
				}
			}
			if w.project != 0 || p.ChangeOrderTiers == 3 || len(cm.PrimeChangeOrders) == 0 || len(p.ChangeOrders) == 0 ||
				len(cm.Events) == 0 || pa == nil {
				continue
			}
			w.project = p.ID
			w.primeCO, w.status[cm.PrimeChangeOrders[0].ID] = cm.PrimeChangeOrders[0].ID, cm.PrimeChangeOrders[0].Status
			w.cco, w.status[p.ChangeOrders[0].ID] = p.ChangeOrders[0].ID, p.ChangeOrders[0].Status
			w.changeEvent, w.status[cm.Events[0].ID] = cm.Events[0].ID, cm.Events[0].Status
			w.payApp, w.status[pa.ID] = pa.ID, pa.Status
		}
		for _, p := range d.Projects {
			if p.ID != w.project {
				w.other = p.ID
				break
			}
		}
	})
	if w.project == 0 || w.other == 0 {
		t.Fatal("the dataset has no 1- or 2-tier project with prime and commitment change orders, change events and payment applications")
	}
	return w
}

// change sets an item's status in the sandbox (firing its webhook) to one
// it does not have, and returns the previous and the new status as the API
// enums spell them.
func (w cmWorld) change(t *testing.T, sb *sandbox.Running, kind string, id int64) (from, to string) {
	t.Helper()
	from = w.status[id]
	switch kind {
	case "change_event":
		to = map[bool]string{true: "closed", false: "void"}[from == "void"]
	case "payment_application":
		to = map[bool]string{true: "under_review", false: "draft"}[from == "draft"]
	default:
		to = map[bool]string{true: "pending", false: "void"}[from == "void"]
	}
	if _, err := sb.Mutate(sandbox.Mutation{Kind: kind, ProjectID: w.project, ID: id,
		Set: map[string]json.RawMessage{"status": json.RawMessage(strconv.Quote(to))}}); err != nil {
		t.Fatal(err)
	}
	w.status[id] = to
	return strings.ToUpper(from), strings.ToUpper(to)
}

// checkChange fails unless e is the STATUS_CHANGED of id from -> to, from
// source (any source when ""), with the item as it is now.
func checkChange(t *testing.T, e cmChange, id int64, from, to, source string) {
	t.Helper()
	if e.itemID() != strconv.FormatInt(id, 10) || e.Kind != "STATUS_CHANGED" || e.PreviousStatus != from || e.Status != to ||
		(source != "" && e.Source != source) || e.Title == "" || e.Cursor == "" {
		t.Fatalf("event %+v, want STATUS_CHANGED of %d %s -> %s from %s", e, id, from, to, source)
	}
	if e.Item == nil || e.Item.ID != strconv.FormatInt(id, 10) || e.Item.Status != to {
		t.Fatalf("event %+v: item %+v, want %d with status %s", e, e.Item, id, to)
	}
}

// TestChangeManagementStatusChangesArriveOnceByWebhook: a status change of a
// prime change order, a commitment change order (both delivered as "Change
// Order Packages"), a change event and a payment application, each made in
// the sandbox, reaches the graphql-ws subscribers of its subscription once
// (source WEBHOOK), although the sandbox delivers every webhook twice and
// reorders half of them. Subscribers filtered by type or by another project
// get only what matches, and a subscriber that resumes after the first
// change order event's cursor gets exactly the later one.
func TestChangeManagementStatusChangesArriveOnceByWebhook(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	sb.SetFaults(sandbox.Faults{DuplicateWebhooks: 1, ReorderWebhooks: 0.5})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks")
	w := pickChangeMgmt(t, sb)
	p := strconv.FormatInt(w.project, 10)

	orders := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription, map[string]any{"p": p})
	commitmentOnly := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription,
		map[string]any{"p": p, "types": []string{"COMMITMENT_CHANGE_ORDER"}})
	otherProject := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription,
		map[string]any{"p": strconv.FormatInt(w.other, 10)})
	changeEvents := subscribeCM(t, node, g, "changeEventChanged", changeEventChangedSubscription, map[string]any{"p": p})
	payApps := subscribeCM(t, node, g, "paymentApplicationStatusChanged", paymentApplicationChangedSubscription, map[string]any{"p": p})
	waitActive(t, g, 5)

	// One change at a time, so that the change order events come in order.
	primeFrom, primeTo := w.change(t, sb, "prime_change_order", w.primeCO)
	first := orders.next(t)
	checkChange(t, first, w.primeCO, primeFrom, primeTo, "WEBHOOK")
	if first.Type != "PRIME_CHANGE_ORDER" || first.ProjectID != p {
		t.Fatalf("prime change order event %+v", first)
	}
	ccoFrom, ccoTo := w.change(t, sb, "change_order", w.cco)
	second := orders.next(t)
	checkChange(t, second, w.cco, ccoFrom, ccoTo, "WEBHOOK")
	if second.Type != "COMMITMENT_CHANGE_ORDER" {
		t.Fatalf("commitment change order event %+v", second)
	}
	if e := commitmentOnly.next(t); e.Cursor != second.Cursor {
		t.Fatalf("the COMMITMENT_CHANGE_ORDER subscriber got %+v first, want %+v", e, second)
	}
	ceFrom, ceTo := w.change(t, sb, "change_event", w.changeEvent)
	checkChange(t, changeEvents.next(t), w.changeEvent, ceFrom, ceTo, "WEBHOOK")
	paFrom, paTo := w.change(t, sb, "payment_application", w.payApp)
	checkChange(t, payApps.next(t), w.payApp, paFrom, paTo, "WEBHOOK")

	t.Run("ResumeAfterACursorReplaysWhatFollows", func(t *testing.T) {
		late := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription,
			map[string]any{"p": p, "after": first.Cursor})
		if e := late.next(t); e.Cursor != second.Cursor || e.itemID() != second.itemID() || e.Status != second.Status {
			t.Fatalf("resumed after %s: %+v, want %+v", first.Cursor, e, second)
		}
		late.quiet(t, 500*time.Millisecond)
	})

	// Every delivery (two per change, some held back and reordered) lands;
	// none may produce a second event.
	waitDeliveries(t, sb, env, 2)
	for _, s := range []*cmSubscriber{orders, commitmentOnly, otherProject, changeEvents, payApps} {
		s.quiet(t, 500*time.Millisecond)
	}
}

// routeCalls is how many times the sandbox served each of routes.
func routeCalls(sb *sandbox.Running, routes ...string) map[string]int64 {
	st := sb.Stats()
	out := map[string]int64{}
	for _, r := range routes {
		out[r] = st.ByRoute[r]
	}
	return out
}

var changeMgmtRoutes = []string{
	"GET /rest/v1.0/change_events", "GET /rest/v1.0/potential_change_orders", "GET /rest/v1.0/change_order_packages",
	"GET /rest/v1.0/projects/{project_id}/prime_change_orders", "GET /rest/v1.0/projects/{project_id}/commitment_change_orders",
	"GET /rest/v1.0/prime_contracts", "GET /rest/v1.0/prime_contracts/{prime_contract_id}/payment_applications",
}

// waitPolls waits until the poller has listed every project's RFIs n more
// times (n polls).
func waitPolls(t *testing.T, sb *sandbox.Running, projects, n int) {
	t.Helper()
	start := sb.Stats().ByRoute[rfiListRoute]
	deadline := time.Now().Add(20 * time.Second)
	for sb.Stats().ByRoute[rfiListRoute] < start+int64(n*projects) {
		if time.Now().After(deadline) {
			t.Fatalf("the poller did not poll %d times in 20s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChangeManagementPollerFollowsSubscribedKindsOnly: without webhooks,
// the poller lists no change management list and no owner invoice while
// nobody subscribes to them; once subscribers of the three subscriptions are
// active, a status change of each, made in the sandbox, reaches its
// subscriber once (source POLLER), and the polls after it add nothing.
func TestChangeManagementPollerFollowsSubscribedKindsOnly(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	const projects = 2
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: projects, ItemsPerProject: 6}})
	g := startGateway(t, env, "-poll-interval", "1s")
	w := pickChangeMgmt(t, sb)
	p := strconv.FormatInt(w.project, 10)

	waitPolls(t, sb, projects, 2)
	for r, n := range routeCalls(sb, changeMgmtRoutes...) {
		if n != 0 {
			t.Fatalf("without subscribers the poller called %s %d times", r, n)
		}
	}

	orders := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription, map[string]any{"p": p})
	changeEvents := subscribeCM(t, node, g, "changeEventChanged", changeEventChangedSubscription, map[string]any{"p": p})
	payApps := subscribeCM(t, node, g, "paymentApplicationStatusChanged", paymentApplicationChangedSubscription, map[string]any{"p": p})
	waitActive(t, g, 3)
	waitPolls(t, sb, projects, 1) // a poll that began before the subscriptions would not list the new kinds

	for _, c := range []struct {
		kind string
		id   int64
		sub  *cmSubscriber
	}{{"prime_change_order", w.primeCO, orders}, {"change_order", w.cco, orders},
		{"change_event", w.changeEvent, changeEvents}, {"payment_application", w.payApp, payApps}} {
		start := time.Now()
		from, to := w.change(t, sb, c.kind, c.id)
		checkChange(t, c.sub.next(t), c.id, from, to, "POLLER")
		t.Logf("%s: announced after %s", c.kind, time.Since(start).Round(time.Millisecond))
	}
	before := routeCalls(sb, changeMgmtRoutes...)
	pollStart := time.Now()
	waitPolls(t, sb, projects, 2)
	t.Logf("two polls took %s", time.Since(pollStart).Round(time.Millisecond))
	after := routeCalls(sb, changeMgmtRoutes...)
	for _, r := range changeMgmtRoutes {
		if after[r] <= before[r] {
			t.Errorf("while subscribed, the poller did not call %s (%d -> %d)", r, before[r], after[r])
		}
	}
	t.Logf("change management calls over two polls of %d projects: %v -> %v", projects, before, after)
	for _, s := range []*cmSubscriber{orders, changeEvents, payApps} {
		s.quiet(t, 500*time.Millisecond)
	}
}

// TestChangeManagementWebhookAndPollerDeliverOnce: with webhooks registered
// (each delivered twice) and the poller running, a change order's status
// change reaches the subscriber once, from whichever source reported it
// first; the other source's report and later polls add nothing.
func TestChangeManagementWebhookAndPollerDeliverOnce(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	const projects = 2
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: projects, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	sb.SetFaults(sandbox.Faults{DuplicateWebhooks: 1})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks", "-poll-interval", "1s")
	w := pickChangeMgmt(t, sb)
	p := strconv.FormatInt(w.project, 10)

	orders := subscribeCM(t, node, g, "changeOrderChanged", changeOrderChangedSubscription, map[string]any{"p": p})
	waitActive(t, g, 1)
	waitPolls(t, sb, projects, 1)
	from, to := w.change(t, sb, "prime_change_order", w.primeCO)
	e := orders.next(t)
	checkChange(t, e, w.primeCO, from, to, "")
	if e.Source != "WEBHOOK" && e.Source != "POLLER" {
		t.Fatalf("event source %q", e.Source)
	}
	t.Logf("reported first by %s", e.Source)
	waitDeliveries(t, sb, env, 2)
	waitPolls(t, sb, projects, 2)
	orders.quiet(t, 500*time.Millisecond)
}

// TestChangeManagementSubscriptionRefusalsAndUnfollowedResources: a key
// allowlisted to one project is refused (NOT_FOUND) each subscription of
// another project, as is a project that does not exist; a webhook delivery
// for a resource the gateway does not follow ("Change Order Requests") is
// accepted and ignored (no Procore call, no event), and the same change
// delivered as "Change Order Packages" is announced once, read with exactly
// the two lists that find a prime change order (commitment change orders,
// then prime change orders).
func TestChangeManagementSubscriptionRefusalsAndUnfollowedResources(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6}})
	w := pickChangeMgmt(t, sb)
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	env["API_KEYS"] += ";" + apiKeyEntry("field-app", "read,write,subscribe", strconv.FormatInt(w.project, 10), fieldKey)
	g := startGateway(t, env) // webhooks not registered: this test posts them itself
	p := strconv.FormatInt(w.project, 10)

	t.Run("ProjectsOutsideTheAllowlistOrUnknownAreNotFound", func(t *testing.T) {
		for _, q := range []string{changeOrderChangedSubscription, changeEventChangedSubscription, paymentApplicationChangedSubscription} {
			for _, c := range []struct{ key, project string }{{fieldKey, strconv.FormatInt(w.other, 10)}, {"", "999999999"}} {
				sub := subscribeSSEAs(t, g.URL+"/graphql", c.key, q, map[string]any{"p": c.project})
				select {
				case ev := <-sub.events:
					if !strings.Contains(string(ev), "NOT_FOUND") || strings.Contains(string(ev), `"cursor"`) {
						t.Fatalf("project %s: first answer %s, want a NOT_FOUND error", c.project, ev)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("project %s: no answer", c.project)
				}
				sub.cancel()
			}
		}
	})

	// The allowlisted key's own project is served.
	orders := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": wsURL(g),
		"query":     `subscription($p: ID) { changeOrderChanged(projectId: $p) { cursor kind type changeOrderId previousStatus status source } }`,
		"variables": map[string]any{"p": p}, "connectionParams": map[string]any{"Authorization": "Bearer " + fieldKey}}))
	orders.await(t, 15*time.Second, "connected")
	waitActive(t, g, 1)
	from, to := w.change(t, sb, "prime_change_order", w.primeCO) // no hook: only our deliveries tell the gateway
	company, _ := strconv.ParseInt(env["PROCORE_COMPANY_ID"], 10, 64)
	deliver := func(id int64, resource string) {
		t.Helper()
		body := mustJSON(map[string]any{"id": id, "ulid": "01EDPD2J6SBY1163N77H9" + strconv.FormatInt(id, 10) + "W0",
			"timestamp": "2026-07-20T15:22:01.353581Z", "api_version": "v2", "event_type": "update", "resource_name": resource,
			"resource_id": w.primeCO, "company_id": company, "project_id": w.project})
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/webhooks/procore", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", webhookSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery of %s: status %d", resource, resp.StatusCode)
		}
	}
	calls := sb.Stats().Total
	deliver(7001, "Change Order Requests")
	orders.quiet(t, 1500*time.Millisecond)
	if got := sb.Stats().Total - calls; got != 0 {
		t.Fatalf("a delivery for an unfollowed resource made %d Procore calls", got)
	}

	before := routeCalls(sb, changeMgmtRoutes...)
	calls = sb.Stats().Total
	deliver(7002, "Change Order Packages")
	l := orders.await(t, 10*time.Second, "next", "connected")
	var r struct {
		Data struct {
			E cmChange `json:"changeOrderChanged"`
		} `json:"data"`
	}
	if err := json.Unmarshal(l.Payload, &r); err != nil {
		t.Fatal(err)
	}
	if e := r.Data.E; e.ChangeOrderID != strconv.FormatInt(w.primeCO, 10) || e.Type != "PRIME_CHANGE_ORDER" || e.Source != "WEBHOOK" ||
		e.PreviousStatus != from || e.Status != to {
		t.Fatalf("event %s, want PRIME_CHANGE_ORDER %d %s -> %s from WEBHOOK", l.Payload, w.primeCO, from, to)
	}
	after := routeCalls(sb, changeMgmtRoutes...)
	if got := sb.Stats().Total - calls; got != 2 ||
		after["GET /rest/v1.0/projects/{project_id}/commitment_change_orders"] != before["GET /rest/v1.0/projects/{project_id}/commitment_change_orders"]+1 ||
		after["GET /rest/v1.0/projects/{project_id}/prime_change_orders"] != before["GET /rest/v1.0/projects/{project_id}/prime_change_orders"]+1 {
		t.Fatalf("the delivery made %d Procore calls (%v -> %v), want the commitment and the prime change order lists once each", got, before, after)
	}
	deliver(7002, "Change Order Packages") // a duplicate: nothing new
	orders.quiet(t, 1000*time.Millisecond)
}
