package events_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/events"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/tenant"
)

// world is a sandbox on loopback, a REST client as one connection, and the
// differ over an in-memory store and bus, as the gateway wires them.
type world struct {
	sb      *sandbox.Running
	conn    *tenant.Connection
	client  *rest.Client
	store   cache.Store
	bus     *events.MemoryBus
	differ  events.Observer
	project int64
	rfi     int64
	users   []int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 4},
		WebhookMinBackoff: 20 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	w := &world{sb: sb}
	var company int64
	sb.ReadDataset(func(d *data.Dataset) {
		company = d.Companies[0].ID
		p := d.Projects[0]
		w.project = p.ID
		for _, r := range p.RFIs {
			if r.Status == data.RFIOpen && len(r.BallInCourtIDs) > 0 {
				w.rfi = r.ID
				break
			}
		}
		for _, u := range p.UserIDs {
			if u != d.ServiceUserID && u != d.DemoUserID {
				w.users = append(w.users, u)
			}
		}
	})
	w.client, err = rest.New(rest.Config{APIURL: sb.URL, LoginURL: sb.URL, ClientID: sandbox.DefaultClientID,
		ClientSecret: sandbox.DefaultClientSecret, CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	w.conn = &tenant.Connection{ID: "c1", CompanyID: company, UserKey: "u", Procore: w.client}
	store, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	w.store = store
	w.bus = events.NewMemoryBus(events.MemoryOptions{})
	t.Cleanup(func() { _ = w.bus.Close() })
	w.differ = events.NewDiffer(store, w.bus, events.DifferOptions{})
	return w
}

// move changes the RFI's ball in court in the sandbox to a user not in it.
func (w *world) move(t *testing.T) int64 {
	t.Helper()
	var court []int64
	w.sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.ID == w.project {
				court = p.RFI(w.rfi).BallInCourtIDs
			}
		}
	})
	for _, u := range w.users {
		if len(court) != 1 || court[0] != u {
			_, err := w.sb.Mutate(sandbox.Mutation{Kind: "rfi", ProjectID: w.project, ID: w.rfi,
				Set: map[string]json.RawMessage{"ball_in_court_ids": json.RawMessage("[" + strconv.FormatInt(u, 10) + "]")}})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatal("no user to move the ball to")
	return 0
}

func (w *world) subscribe(t *testing.T) *events.Subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := w.bus.Subscribe(ctx, events.Filter{Conn: "c1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPoller(t *testing.T) {
	ctx := context.Background()

	t.Run("OneReplicaPollsAndFindsTheChangeOnce", func(t *testing.T) {
		w := newWorld(t)
		sub := w.subscribe(t)
		opts := events.PollerOptions{Store: w.store, Observer: w.differ, Interval: time.Hour, Lease: time.Minute}
		a, _ := events.NewPoller(w.conn, opts)
		b, _ := events.NewPoller(w.conn, opts)

		n, err := a.PollOnce(ctx) // first pass: the baseline, silently
		if err != nil || n == 0 {
			t.Fatalf("first poll reported %d items, err %v", n, err)
		}
		if n, err := b.PollOnce(ctx); err != nil || n != 0 || b.Holding() {
			t.Fatalf("second replica polled %d items (holding %v, err %v) while the first holds the lock", n, b.Holding(), err)
		}
		expectNothing(t, sub, 100*time.Millisecond)

		to := w.move(t)
		calls := w.sb.Stats().ByRoute["GET /rest/v1.0/projects/{project_id}/rfis"]
		if _, err := a.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		e := receive(t, sub)
		if e.Kind != events.KindBallInCourtChanged || e.ItemID != w.rfi || e.Source != events.SourcePoller ||
			len(e.NewBallInCourt) != 1 || e.NewBallInCourt[0].ID != to {
			t.Fatalf("event %+v, want the RFI's ball moved to %d by the poller", e, to)
		}
		if got := w.sb.Stats().ByRoute["GET /rest/v1.0/projects/{project_id}/rfis"] - calls; got != 2 {
			t.Fatalf("a poll listed RFIs %d times, want one per project (2)", got)
		}
		if _, err := a.PollOnce(ctx); err != nil { // the same state again: nothing new
			t.Fatal(err)
		}
		expectNothing(t, sub, 100*time.Millisecond)
	})

	t.Run("AnotherReplicaTakesOverAfterRelease", func(t *testing.T) {
		w := newWorld(t)
		opts := events.PollerOptions{Store: w.store, Observer: w.differ, Interval: 20 * time.Millisecond, Lease: time.Minute}
		a, _ := events.NewPoller(w.conn, opts)
		b, _ := events.NewPoller(w.conn, opts)
		actx, stopA := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = a.Run(actx); close(done) }()
		waitFor(t, a.Holding)
		if _, err := b.PollOnce(ctx); err != nil || b.Holding() {
			t.Fatalf("b took the lock while a runs (err %v)", err)
		}
		stopA()
		<-done
		if _, err := b.PollOnce(ctx); err != nil || !b.Holding() {
			t.Fatalf("b did not take the lock a released (err %v)", err)
		}
	})
}

func TestPrimerRecordsBaselineSoTheFirstChangeIsAnnounced(t *testing.T) {
	w := newWorld(t)
	sub := w.subscribe(t)
	p, err := events.NewPrimer(events.PrimerOptions{Store: w.store, Observer: w.differ})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Prime(context.Background(), w.conn, w.project, []events.ItemKind{events.ItemRFI}); err != nil {
		t.Fatal(err)
	}
	calls := w.sb.Stats().Total
	if err := p.Prime(context.Background(), w.conn, w.project, []events.ItemKind{events.ItemRFI}); err != nil {
		t.Fatal(err)
	}
	if got := w.sb.Stats().Total - calls; got != 0 {
		t.Fatalf("priming again within the TTL made %d upstream calls", got)
	}
	to := w.move(t)
	r, err := w.client.RFI(context.Background(), w.project, w.rfi)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.differ.Observe(context.Background(), events.RFISnapshot("c1", r), events.SourceWebhook); err != nil {
		t.Fatal(err)
	}
	if e := receive(t, sub); e.Kind != events.KindBallInCourtChanged || e.NewBallInCourt[0].ID != to || len(e.PreviousBallInCourt) == 0 {
		t.Fatalf("event %+v, want the move to %d with the previous court known", e, to)
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	o := events.RegisterOptions{DestinationURL: "http://127.0.0.1:1/webhooks/procore", Authorization: "Bearer s1"}
	first, err := events.Register(ctx, w.client, w.conn.CompanyID, o)
	if err != nil {
		t.Fatal(err)
	}
	if !first.CreatedHook || len(first.CreatedTriggers) != len(events.WatchedResources)*2 || !first.Hook.HasAuthorization {
		t.Fatalf("first registration %+v", first)
	}
	o.Authorization = "Bearer s2" // rotated
	again, err := events.Register(ctx, w.client, w.conn.CompanyID, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.CreatedHook || len(again.CreatedTriggers) != 0 || again.Hook.ID != first.Hook.ID {
		t.Fatalf("second registration %+v, want the same hook and nothing new", again)
	}
	if _, err := events.Register(ctx, w.client, w.conn.CompanyID, events.RegisterOptions{Namespace: "Bad_NS",
		DestinationURL: o.DestinationURL, Authorization: "x"}); err == nil {
		t.Fatal("an invalid namespace was accepted")
	}
}

// TestWebhookHandler drives the receiver with the sandbox's own deliveries:
// a hook registered through Register points at it, changes made in the
// sandbox arrive duplicated, and each is announced once.
func TestWebhookHandler(t *testing.T) {
	w := newWorld(t)
	sub := w.subscribe(t)
	h, err := events.NewWebhookHandler(events.WebhookOptions{
		Authorization: "Bearer right",
		Connection: func(_ context.Context, company int64) (*tenant.Connection, bool) {
			return w.conn, company == w.conn.CompanyID
		},
		Observer: w.differ, Store: w.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	t.Run("DuplicatedDeliveriesAnnounceOnce", func(t *testing.T) {
		if _, err := events.Register(context.Background(), w.client, w.conn.CompanyID,
			events.RegisterOptions{DestinationURL: srv.URL, Authorization: "Bearer right"}); err != nil {
			t.Fatal(err)
		}
		// Baseline, as a subscription's primer records it.
		p, _ := events.NewPrimer(events.PrimerOptions{Store: w.store, Observer: w.differ})
		if err := p.Prime(context.Background(), w.conn, w.project, nil); err != nil {
			t.Fatal(err)
		}
		w.sb.SetFaults(sandbox.Faults{DuplicateWebhooks: 1})
		to := w.move(t)
		e := receive(t, sub)
		if e.Source != events.SourceWebhook || e.ItemID != w.rfi || e.NewBallInCourt[0].ID != to {
			t.Fatalf("event %+v", e)
		}
		expectNothing(t, sub, 500*time.Millisecond)
	})

	post := func(auth, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	v4 := func(id string, company int64) string {
		return `{"id":"` + id + `","timestamp":"2026-01-02T03:04:05.000001Z","reason":"update","company_id":"` +
			strconv.FormatInt(company, 10) + `","project_id":"` + strconv.FormatInt(w.project, 10) +
			`","user_id":"1","resource_type":"RFIs","resource_id":"` + strconv.FormatInt(w.rfi, 10) + `"}`
	}
	t.Run("V4PayloadWithStringIdsIsHandled", func(t *testing.T) {
		w.sb.SetFaults(sandbox.Faults{})
		if code := post("Bearer right", v4("01J0000000000000000000000A", w.conn.CompanyID)); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("UnknownCompanyIsAcceptedAndIgnored", func(t *testing.T) {
		calls := w.sb.Stats().Total
		if code := post("Bearer right", v4("01J0000000000000000000000B", 42)); code != http.StatusAccepted {
			t.Fatalf("status %d, want 202", code)
		}
		if w.sb.Stats().Total != calls {
			t.Fatal("a delivery for an unknown company read Procore")
		}
	})
	t.Run("MalformedPayloadIsBadRequest", func(t *testing.T) {
		if code := post("Bearer right", `{"id": 1}`); code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", code)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
