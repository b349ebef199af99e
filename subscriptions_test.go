package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/apikeys"
	"procoregraph/authn"
	"procoregraph/events"
	"procoregraph/gateway"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/tenant"
)

// Live updates end to end: the real program over a sandbox on loopback, a
// subscriber using the real graphql-ws client from npm
// (conformance/ws-subscribe.mjs), and changes made through the gateway's
// mutations, directly in the sandbox (delivered by webhook), or found by the
// poller.

const webhookSecret = "Bearer test-webhook-secret"

// TestSubscriberSeesEachBallInCourtChangeOnce: a graphql-ws subscriber sees
// one ballInCourtChanged for a mutation through the gateway (source
// MUTATION; the webhooks the sandbox fires for that write add nothing) and
// one for a change made directly in the sandbox (source WEBHOOK), although
// the sandbox delivers every webhook twice and reorders half of them (the
// delivery log proves the duplicates arrived).
func TestSubscriberSeesEachBallInCourtChangeOnce(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	sb.SetFaults(sandbox.Faults{DuplicateWebhooks: 1, ReorderWebhooks: 0.5})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks")
	project, rfis, users := pickRFIs(t, sb, 2)

	sub := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{
		"url": wsURL(g), "query": bicSubscription, "variables": map[string]any{"projectId": strconv.FormatInt(project, 10)},
	}))
	sub.await(t, 15*time.Second, "connected")
	waitActive(t, g, 1)

	t.Run("MutationThroughTheGateway", func(t *testing.T) {
		before := ballInCourtOf(sb, project, rfis[0])
		r := g.query(t, `mutation($p: ID!, $r: ID!) { advanceRFIBallInCourt(input: {projectId: $p, rfiId: $r}) {
			rfi { id ballInCourt { id } } userErrors { message } } }`,
			map[string]any{"p": strconv.FormatInt(project, 10), "r": strconv.FormatInt(rfis[0], 10)})
		if len(r.Errors) > 0 {
			t.Fatalf("advanceRFIBallInCourt: %+v", r.Errors)
		}
		after := ballInCourtOf(sb, project, rfis[0])
		e := sub.nextBIC(t, 10*time.Second)
		if e.ItemID != strconv.FormatInt(rfis[0], 10) || e.Kind != "BALL_IN_COURT_CHANGED" || e.Source != "MUTATION" {
			t.Fatalf("event %+v, want BALL_IN_COURT_CHANGED of RFI %d from MUTATION", e, rfis[0])
		}
		if !slices.Equal(e.previousCourt(), idStrings(before...)) || !slices.Equal(e.court(), idStrings(after...)) {
			t.Fatalf("event moved the ball %v -> %v, sandbox says %v -> %v", e.previousCourt(), e.court(), before, after)
		}
		if e.RFI == nil || e.RFI.ID != e.ItemID {
			t.Fatalf("event's rfi %+v, want RFI %s", e.RFI, e.ItemID)
		}
	})

	t.Run("DirectChangeDeliveredByWebhook", func(t *testing.T) {
		before := ballInCourtOf(sb, project, rfis[1])
		to := otherUser(t, users, before)
		moveBall(t, sb, project, rfis[1], to)
		e := sub.nextBIC(t, 10*time.Second)
		if e.ItemID != strconv.FormatInt(rfis[1], 10) || e.Source != "WEBHOOK" {
			t.Fatalf("event %+v, want RFI %d from WEBHOOK", e, rfis[1])
		}
		if !slices.Equal(e.previousCourt(), idStrings(before...)) || !slices.Equal(e.court(), idStrings(to)) {
			t.Fatalf("event moved the ball %v -> %v, want %v -> [%d]", e.previousCourt(), e.court(), before, to)
		}
		// The item read for the event is the new state, not a cached one.
		if e.RFI == nil || len(e.RFI.BallInCourt) != 1 || e.RFI.BallInCourt[0].ID != strconv.FormatInt(to, 10) {
			t.Fatalf("event's rfi %+v, want ball in court [%d]", e.RFI, to)
		}
	})

	// Every delivery (two per event, some held back and reordered) lands; none
	// may produce a second event.
	waitDeliveries(t, sb, env, 2)
	sub.quiet(t, 1500*time.Millisecond)
}

// TestPollerFindsChangeWithoutWebhooks: with no webhooks registered, a change
// made directly in the sandbox reaches the graphql-ws subscriber through the
// poller (filters[updated_at] windows), once.
func TestPollerFindsChangeWithoutWebhooks(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6}})
	g := startGateway(t, env, "-poll-interval", "1s")
	project, rfis, users := pickRFIs(t, sb, 1)

	sub := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{
		"url": wsURL(g), "query": bicSubscription, "variables": map[string]any{"projectId": strconv.FormatInt(project, 10)},
	}))
	sub.await(t, 15*time.Second, "connected")
	waitActive(t, g, 1)

	before := ballInCourtOf(sb, project, rfis[0])
	to := otherUser(t, users, before)
	moveBall(t, sb, project, rfis[0], to)
	e := sub.nextBIC(t, 10*time.Second)
	if e.ItemID != strconv.FormatInt(rfis[0], 10) || e.Source != "POLLER" || e.Kind != "BALL_IN_COURT_CHANGED" {
		t.Fatalf("event %+v, want BALL_IN_COURT_CHANGED of RFI %d from POLLER", e, rfis[0])
	}
	if !slices.Equal(e.previousCourt(), idStrings(before...)) || !slices.Equal(e.court(), idStrings(to)) {
		t.Fatalf("event moved the ball %v -> %v, want %v -> [%d]", e.previousCourt(), e.court(), before, to)
	}
	if n := sb.Stats().ByRoute["GET /rest/v1.0/projects/{project_id}/rfis"]; n < 3 {
		t.Fatalf("the RFIs list was called %d times: the poller did not poll", n)
	}
	sub.quiet(t, 2500*time.Millisecond) // two more polls see the same state: nothing new
}

// TestWebhookWithWrongAuthorizationChangesNothing: a delivery with a wrong
// Authorization value is refused with 401 before anything happens: no
// upstream read, no event, and its event id is not recorded (the same
// delivery with the right value is then handled).
func TestWebhookWithWrongAuthorizationChangesNothing(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env) // webhooks not registered: this test posts them itself
	project, rfis, users := pickRFIs(t, sb, 1)
	company, _ := strconv.ParseInt(env["PROCORE_COMPANY_ID"], 10, 64)

	sub := subscribeSSE(t, g.URL+"/graphql", bicSubscription, map[string]any{"projectId": strconv.FormatInt(project, 10)})
	waitActive(t, g, 1)
	to := otherUser(t, users, ballInCourtOf(sb, project, rfis[0]))
	// Changed without a hook: only our forged deliveries will tell the gateway.
	moveBall(t, sb, project, rfis[0], to)
	payload := mustJSON(map[string]any{
		"id": int64(5982324300946918154), "ulid": "01EDPD2J6SBY1163N77H95GW09", "timestamp": "2026-07-20T15:22:01.353581Z",
		"api_version": "v2", "event_type": "update", "resource_name": "RFIs", "resource_id": rfis[0],
		"company_id": company, "project_id": project, "user_id": users[0],
	})
	post := func(auth string) int {
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/webhooks/procore", strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	calls := sb.Stats().Total
	for _, auth := range []string{"", "Bearer wrong", webhookSecret[:len(webhookSecret)-1], webhookSecret + "x", strings.ToLower(webhookSecret)} {
		if code := post(auth); code != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: status %d, want 401", auth, code)
		}
	}
	if got := sb.Stats().Total; got != calls {
		t.Fatalf("refused deliveries made %d upstream calls", got-calls)
	}
	select {
	case p := <-sub.events:
		t.Fatalf("a refused delivery produced an event: %s", p)
	case <-time.After(300 * time.Millisecond):
	}

	// Control: the same delivery, authorized, is handled (its id was not
	// recorded by the refused ones) and announces the change once.
	if code := post(webhookSecret); code != http.StatusOK {
		t.Fatalf("authorized delivery: status %d", code)
	}
	if e := sub.nextBIC(t, 5*time.Second); e.ItemID != strconv.FormatInt(rfis[0], 10) || e.Source != "WEBHOOK" {
		t.Fatalf("event %+v, want RFI %d from WEBHOOK", e, rfis[0])
	}
	if code := post(webhookSecret); code != http.StatusOK { // a duplicate: 200, nothing new
		t.Fatalf("duplicate delivery: status %d", code)
	}
	select {
	case p := <-sub.events:
		t.Fatalf("a duplicate delivery produced an event: %s", p)
	case <-time.After(300 * time.Millisecond):
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// waitDeliveries waits until every webhook event the sandbox fired has been
// delivered OK at least want times (the DuplicateWebhooks fault), reading the
// hooks' delivery logs through the Webhooks API.
func waitDeliveries(t *testing.T, sb *sandbox.Running, env map[string]string, want int) {
	t.Helper()
	token := sandboxToken(t, sb, env)
	get := func(path string, out any) {
		req, _ := http.NewRequest(http.MethodGet, sb.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Procore-Company-Id", env["PROCORE_COMPANY_ID"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	var hooks []struct {
		ID int64 `json:"id"`
	}
	get("/rest/v1.0/webhooks/hooks?company_id="+env["PROCORE_COMPANY_ID"], &hooks)
	if len(hooks) == 0 {
		t.Fatal("no webhook hook registered")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok := map[int64]int{}
		for _, h := range hooks {
			var ds []struct {
				EventID int64  `json:"event_id"`
				Outcome string `json:"outcome"`
			}
			get(fmt.Sprintf("/rest/v1.0/webhooks/hooks/%d/deliveries?company_id=%s&page_size=1000", h.ID, env["PROCORE_COMPANY_ID"]), &ds)
			for _, d := range ds {
				if _, seen := ok[d.EventID]; !seen {
					ok[d.EventID] = 0
				}
				if d.Outcome == "ok" {
					ok[d.EventID]++
				}
			}
		}
		done := len(ok) > 0
		for _, n := range ok {
			done = done && n >= want
		}
		if done {
			t.Logf("webhook events delivered: %d, each at least %d times", len(ok), want)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries by event: %v, want each at least %d OK", ok, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sandboxToken(t *testing.T, sb *sandbox.Running, env map[string]string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {env["PROCORE_CLIENT_ID"]},
		"client_secret": {env["PROCORE_CLIENT_SECRET"]}}
	resp, err := http.Post(sb.URL+"/oauth/token", "application/x-www-form-urlencoded", bytes.NewBufferString(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("sandbox token: %v", err)
	}
	return tok.AccessToken
}

// TestSubscriptionAcrossReplicasResumesFromCursor: two gateway replicas share
// a real Redis (REDIS_URL). A change delivered by webhook to replica A
// reaches a graphql-ws subscriber on replica B; B is then stopped, two more
// changes happen, and the subscriber reconnects to A with the cursor of the
// last event it received: it gets exactly the two events it missed, in
// order, with the cursors A's own subscribers saw.
func TestSubscriptionAcrossReplicasResumesFromCursor(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 10},
		WebhookMinBackoff: 50 * time.Millisecond})
	env["REDIS_URL"] = redisURL
	env["CACHE_PREFIX"] = fmt.Sprintf("test-replicas-%d:", time.Now().UnixNano())
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	a := startGateway(t, copyEnv(env), "-register-webhooks") // Procore tells A
	b := startGateway(t, copyEnv(env))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica A stderr:\n%s\nreplica B stderr:\n%s", tail(a.stderr.String(), 3000), tail(b.stderr.String(), 3000))
		}
	})
	project, rfis, users := pickRFIs(t, sb, 3)
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}

	onA := subscribeSSE(t, a.URL+"/graphql", bicSubscription, vars)
	waitActive(t, a, 1)
	sub := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": wsURL(b), "query": bicSubscription, "variables": vars}))
	sub.await(t, 15*time.Second, "connected")
	waitActive(t, b, 1)

	move := func(rfi int64) bicEvent {
		t.Helper()
		moveBall(t, sb, project, rfi, otherUser(t, users, ballInCourtOf(sb, project, rfi)))
		e := onA.nextBIC(t, 10*time.Second)
		if e.ItemID != strconv.FormatInt(rfi, 10) {
			t.Fatalf("replica A announced %+v, want RFI %d", e, rfi)
		}
		return e
	}
	first := move(rfis[0])
	got := sub.nextBIC(t, 10*time.Second)
	if got.Cursor != first.Cursor || got.ItemID != first.ItemID || got.Source != "WEBHOOK" {
		t.Fatalf("subscriber on B got %+v, want A's event %+v", got, first)
	}

	b.stop()
	sub.await(t, 10*time.Second, "error|complete|closed")
	missed := []bicEvent{move(rfis[1]), move(rfis[2])}

	sub.send(t, map[string]any{"cmd": "subscribe", "url": wsURL(a),
		"variables": map[string]any{"projectId": vars["projectId"], "after": got.Cursor}})
	for i, want := range missed {
		e := sub.nextBIC(t, 10*time.Second)
		if e.Cursor != want.Cursor || e.ItemID != want.ItemID || !slices.Equal(e.court(), want.court()) {
			t.Fatalf("resumed event %d: %+v, want %+v", i, e, want)
		}
	}
	sub.quiet(t, 500*time.Millisecond)
}

// TestSubscriptionThroughHiveGateway: a subscription opened through a real
// @graphql-hive/gateway (supergraph composed from our SDL; the gateway
// proxies it to us over graphql-transport-ws) receives the same event as a
// subscriber connected to us directly.
func TestSubscriptionThroughHiveGateway(t *testing.T) {
	node := requireNodePackages(t, append(subscriptionPackages, "@graphql-hive/gateway", "@apollo/composition")...)
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4},
		WebhookMinBackoff: 50 * time.Millisecond})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks")
	project, rfis, users := pickRFIs(t, sb, 1)
	vars := map[string]any{"projectId": strconv.FormatInt(project, 10)}

	direct := subscribeSSE(t, g.URL+"/graphql", bicSubscription, vars)
	waitActive(t, g, 1)
	hive := startNodeScript(t, node, "hive-gateway.mjs", g.URL+"/graphql", mustJSON(map[string]any{"query": bicSubscription, "variables": vars}))
	ready := hive.await(t, 40*time.Second, "ready")
	waitActive(t, g, 2) // the Hive gateway subscribed to us
	t.Logf("hive gateway at %s", ready.URL)

	moveBall(t, sb, project, rfis[0], otherUser(t, users, ballInCourtOf(sb, project, rfis[0])))
	want := direct.nextBIC(t, 10*time.Second)
	got := hive.nextBIC(t, 10*time.Second)
	if got.Cursor != want.Cursor || got.ItemID != want.ItemID || got.Source != want.Source ||
		!slices.Equal(got.court(), want.court()) || got.RFI == nil || got.RFI.ID != want.ItemID {
		t.Fatalf("through Hive: %+v\ndirect: %+v", got, want)
	}
}

// TestWebsocketInitChecksCredentials: the connection's credentials are
// checked at connection_init (browsers send them as connection parameters),
// with the real graphql-ws client: without a credential it is closed at once
// with 4401, with a wrong key with 4403 Forbidden, and with a key holding
// the subscribe scope it subscribes.
func TestWebsocketInitChecksCredentials(t *testing.T) {
	node := requireNodePackages(t, subscriptionPackages...)
	keys, err := apikeys.Parse(apiKeyEntry("live", "subscribe", "", testAPIKey))
	if err != nil {
		t.Fatal(err)
	}
	l := startLiveServerWith(t, events.NewMemoryBus(events.MemoryOptions{}), func(c *tenant.Connection) gateway.Authenticator {
		a, err := authn.New(authn.Options{Service: c, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
	url := "ws" + strings.TrimPrefix(l.srv.URL, "http") + "/graphql"
	vars := map[string]any{"projectId": strconv.FormatInt(l.project, 10)}

	for _, c := range []struct {
		name   string
		params map[string]any
		code   int
	}{
		{"NoCredentialIs4401", map[string]any{}, 4401},
		{"WrongKeyIs4403", map[string]any{"Authorization": "Bearer " + apikeys.Prefix + "wrongwrongwrongwrongwrongwrongwrongwrongwro"}, 4403},
		{"NotAGatewayTokenIs4403", map[string]any{"Authorization": "Bearer good"}, 4403},
	} {
		t.Run(c.name, func(t *testing.T) {
			refused := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": url, "query": bicSubscription,
				"variables": vars, "connectionParams": c.params}))
			start := time.Now()
			closed := refused.await(t, 5*time.Second, "closed", "error")
			if closed.Code != c.code {
				t.Fatalf("refused connection closed with %d %q, want %d", closed.Code, closed.Reason, c.code)
			}
			t.Logf("refused in %s: %d %s", time.Since(start).Round(time.Millisecond), closed.Code, closed.Reason)
		})
	}

	ok := startNodeScript(t, node, "ws-subscribe.mjs", mustJSON(map[string]any{"url": url, "query": bicSubscription,
		"variables": vars, "connectionParams": map[string]any{"Authorization": "Bearer " + testAPIKey}}))
	ok.await(t, 5*time.Second, "connected")
	l.waitActive(t, 1)
	l.publish(t, 42)
	if e := ok.nextBIC(t, 5*time.Second); e.ItemID != "42" {
		t.Fatalf("event %+v", e)
	}
}

// TestStatusSubscriptions: invoiceStatusChanged and commitmentChanged (over
// server-sent events) announce status changes made directly in the sandbox
// and delivered by webhook, with the previous and the new status and the
// item as it is now.
func TestStatusSubscriptions(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 6},
		WebhookMinBackoff: 50 * time.Millisecond})
	env["WEBHOOK_AUTHORIZATION"] = webhookSecret
	g := startGateway(t, env, "-register-webhooks")
	var project, invoice, commitment int64
	var invoiceFrom, commitmentFrom string
	sb.ReadDataset(func(d *data.Dataset) {
		p := d.Projects[0]
		project = p.ID
		for _, inv := range p.Invoices {
			if inv.Status == "draft" || inv.Status == "under_review" {
				invoice, invoiceFrom = inv.ID, inv.Status
				break
			}
		}
		for _, c := range p.Commitments {
			if c.Status != "Void" {
				commitment, commitmentFrom = c.ID, c.Status
				break
			}
		}
	})
	if invoice == 0 || commitment == 0 {
		t.Fatal("no invoice or commitment to change")
	}
	vars := map[string]any{"p": strconv.FormatInt(project, 10)}
	invSub := subscribeSSE(t, g.URL+"/graphql", `subscription($p: ID) { invoiceStatusChanged(projectId: $p) {
		cursor kind invoiceId previousStatus status source invoice { id status } } }`, vars)
	comSub := subscribeSSE(t, g.URL+"/graphql", `subscription($p: ID) { commitmentChanged(projectId: $p) {
		cursor kind commitmentId previousStatus status source commitment { id status } } }`, vars)
	waitActive(t, g, 2)

	invoiceTo := map[string]string{"draft": "under_review", "under_review": "revise_and_resubmit"}[invoiceFrom]
	set := func(kind string, id int64, status string) {
		if _, err := sb.Mutate(sandbox.Mutation{Kind: kind, ProjectID: project, ID: id,
			Set: map[string]json.RawMessage{"status": json.RawMessage(strconv.Quote(status))}}); err != nil {
			t.Fatal(err)
		}
	}
	set("invoice", invoice, invoiceTo)
	set("commitment", commitment, "Void")

	type change struct {
		Kind, PreviousStatus, Status, Source string
		InvoiceID, CommitmentID              string
		Invoice, Commitment                  *struct{ ID, Status string }
	}
	next := func(s *sseSubscription, field string) change {
		t.Helper()
		select {
		case p := <-s.events:
			var r struct {
				Data   map[string]change `json:"data"`
				Errors []gqlError        `json:"errors"`
			}
			if err := json.Unmarshal(p, &r); err != nil || len(r.Errors) > 0 {
				t.Fatalf("%s: %s %v", field, p, err)
			}
			return r.Data[field]
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", field)
		}
		return change{}
	}
	upper := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, " ", "_")) }
	inv := next(invSub, "invoiceStatusChanged")
	if inv.Kind != "STATUS_CHANGED" || inv.InvoiceID != strconv.FormatInt(invoice, 10) || inv.Source != "WEBHOOK" ||
		inv.PreviousStatus != upper(invoiceFrom) || inv.Status != upper(invoiceTo) || inv.Invoice == nil || inv.Invoice.Status != upper(invoiceTo) {
		t.Fatalf("invoice event %+v, want %s -> %s", inv, invoiceFrom, invoiceTo)
	}
	com := next(comSub, "commitmentChanged")
	if com.Kind != "STATUS_CHANGED" || com.CommitmentID != strconv.FormatInt(commitment, 10) ||
		com.PreviousStatus != upper(commitmentFrom) || com.Status != "VOID" || com.Commitment == nil || com.Commitment.Status != "VOID" {
		t.Fatalf("commitment event %+v, want %s -> VOID", com, commitmentFrom)
	}
}
