package events_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/adapter"
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

// catalogOf reads the webhook resources catalog through the REST client, as
// the gateway does.
func catalogOf(c *rest.Client) func(context.Context, int64) ([]events.CatalogResource, error) {
	return func(ctx context.Context, company int64) ([]events.CatalogResource, error) {
		rs, err := c.WebhookResources(ctx, company)
		out := make([]events.CatalogResource, len(rs))
		for i, r := range rs {
			out[i] = events.CatalogResource{Name: r.Name, Except: r.Except}
		}
		return out, err
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	o := events.RegisterOptions{DestinationURL: "http://127.0.0.1:1/webhooks/procore", Authorization: "Bearer s1",
		Catalog: catalogOf(w.client)}
	first, err := events.Register(ctx, w.client, w.conn.CompanyID, o)
	if err != nil {
		t.Fatal(err)
	}
	if !first.CreatedHook || len(first.CreatedTriggers) != len(events.WatchedItems)*3 || !first.Hook.HasAuthorization ||
		len(first.Missing) != 0 {
		t.Fatalf("first registration %+v", first)
	}
	o.Authorization = "Bearer s2" // rotated
	again, err := events.Register(ctx, w.client, w.conn.CompanyID, o)
	if err != nil {
		t.Fatal(err)
	}
	if again.CreatedHook || len(again.CreatedTriggers) != 0 || len(again.DeletedTriggers) != 0 || again.Hook.ID != first.Hook.ID {
		t.Fatalf("second registration %+v, want the same hook and nothing new", again)
	}
	if _, err := events.Register(ctx, w.client, w.conn.CompanyID, events.RegisterOptions{Namespace: "Bad_NS",
		DestinationURL: o.DestinationURL, Authorization: "x", Catalog: o.Catalog}); err == nil {
		t.Fatal("an invalid namespace was accepted")
	}
	if _, err := events.Register(ctx, w.client, w.conn.CompanyID, events.RegisterOptions{
		DestinationURL: o.DestinationURL, Authorization: "x"}); err == nil {
		t.Fatal("a registration without the catalog was accepted")
	}
}

func TestRegisterUsesTheSandboxCatalogNames(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	o := events.RegisterOptions{DestinationURL: "http://127.0.0.1:1/webhooks/procore", Authorization: "Bearer s1",
		Catalog: catalogOf(w.client)}
	reg, err := events.Register(ctx, w.client, w.conn.CompanyID, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Resources[events.ItemInvoice]; len(got) != 1 || got[0] != events.ResourceRequisitions {
		t.Fatalf("subcontractor invoices registered as %v, want [Requisitions]", got)
	}
	var names []string
	for _, tr := range reg.CreatedTriggers {
		names = append(names, tr.ResourceName+"/"+tr.EventType)
	}
	slices.Sort(names)
	want := []string{"Change Events/create", "Change Events/delete", "Change Events/update",
		"Change Order Packages/create", "Change Order Packages/delete", "Change Order Packages/update",
		"Payment Applications/create", "Payment Applications/delete", "Payment Applications/update",
		"Potential Change Orders/create", "Potential Change Orders/delete", "Potential Change Orders/update",
		"Punch Items/create", "Punch Items/delete", "Punch Items/update",
		"Purchase Order Contracts/create", "Purchase Order Contracts/delete", "Purchase Order Contracts/update",
		"RFIs/create", "RFIs/delete", "RFIs/update", "Requisitions/create", "Requisitions/delete", "Requisitions/update",
		"Submittals/create", "Submittals/delete", "Submittals/update",
		"Work Order Contracts/create", "Work Order Contracts/delete", "Work Order Contracts/update"}
	if !slices.Equal(names, want) {
		t.Fatalf("triggers %v\nwant %v", names, want)
	}

	t.Run("StaleDrawRequestsTriggerIsRemoved", func(t *testing.T) {
		stale, err := w.client.CreateWebhookTrigger(ctx, w.conn.CompanyID, reg.Hook.ID, "Draw Requests", "update")
		if err != nil {
			t.Fatal(err)
		}
		again, err := events.Register(ctx, w.client, w.conn.CompanyID, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.DeletedTriggers) != 1 || again.DeletedTriggers[0].ID != stale.ID || len(again.CreatedTriggers) != 0 {
			t.Fatalf("re-registration %+v, want only the Draw Requests trigger removed", again)
		}
		left, _ := w.client.WebhookTriggers(ctx, w.conn.CompanyID, reg.Hook.ID)
		if len(left) != len(want) {
			t.Fatalf("%d triggers left, want %d", len(left), len(want))
		}
	})
}

// fakeWebhooks is an in-memory Procore Webhooks API that, like Procore,
// refuses triggers on resource names outside its catalog.
type fakeWebhooks struct {
	catalog  []events.CatalogResource
	hooks    []adapter.WebhookHook
	triggers []adapter.WebhookTrigger
	next     int64
}

func (f *fakeWebhooks) WebhookHooks(context.Context, int64, string) ([]adapter.WebhookHook, error) {
	return f.hooks, nil
}

func (f *fakeWebhooks) CreateWebhookHook(_ context.Context, company int64, in adapter.WebhookHookInput) (adapter.WebhookHook, error) {
	f.next++
	h := adapter.WebhookHook{ID: f.next, Namespace: in.Namespace, DestinationURL: in.DestinationURL, CompanyID: company}
	f.hooks = append(f.hooks, h)
	return h, nil
}

func (f *fakeWebhooks) UpdateWebhookHook(_ context.Context, _, id int64, _ adapter.WebhookHookInput) (adapter.WebhookHook, error) {
	for _, h := range f.hooks {
		if h.ID == id {
			return h, nil
		}
	}
	return adapter.WebhookHook{}, adapter.Errorf(adapter.CodeNotFound, "hook %d", id)
}

func (f *fakeWebhooks) WebhookTriggers(context.Context, int64, int64) ([]adapter.WebhookTrigger, error) {
	return slices.Clone(f.triggers), nil
}

func (f *fakeWebhooks) CreateWebhookTrigger(_ context.Context, _, hook int64, name, event string) (adapter.WebhookTrigger, error) {
	if !slices.ContainsFunc(f.catalog, func(r events.CatalogResource) bool { return r.Name == name && r.Allows(event) }) {
		return adapter.WebhookTrigger{}, adapter.Errorf(adapter.CodeBadUserInput, "resource_name %q is not included in the list", name)
	}
	f.next++
	t := adapter.WebhookTrigger{ID: f.next, HookID: hook, ResourceName: name, EventType: event}
	f.triggers = append(f.triggers, t)
	return t, nil
}

func (f *fakeWebhooks) DeleteWebhookTrigger(_ context.Context, _, _, id int64) error {
	f.triggers = slices.DeleteFunc(f.triggers, func(t adapter.WebhookTrigger) bool { return t.ID == id })
	return nil
}

// racingWebhooks is a Procore where another replica registers every
// trigger between our listing and our first create, which is refused as
// taken; the triggers exist when listed again.
type racingWebhooks struct {
	*fakeWebhooks
	refusals int
}

func (r *racingWebhooks) CreateWebhookTrigger(ctx context.Context, company, hook int64, name, event string) (adapter.WebhookTrigger, error) {
	if r.refusals > 0 {
		return r.fakeWebhooks.CreateWebhookTrigger(ctx, company, hook, name, event)
	}
	for _, res := range r.catalog { // the other replica
		for _, ev := range []string{"create", "update", "delete"} {
			if _, err := r.fakeWebhooks.CreateWebhookTrigger(ctx, company, hook, res.Name, ev); err != nil {
				return adapter.WebhookTrigger{}, err
			}
		}
	}
	r.refusals++
	return adapter.WebhookTrigger{}, adapter.Errorf(adapter.CodeBadUserInput, "event_type has already been taken")
}

func TestRegisterToleratesTriggersAnotherReplicaJustCreated(t *testing.T) {
	catalog := []events.CatalogResource{{Name: "RFIs"}, {Name: "Submittals"}}
	r := &racingWebhooks{fakeWebhooks: &fakeWebhooks{catalog: catalog}}
	_, err := events.Register(context.Background(), r, 1, events.RegisterOptions{DestinationURL: "https://gw.test/webhooks/procore",
		Authorization: "Bearer x", Catalog: func(context.Context, int64) ([]events.CatalogResource, error) { return catalog, nil }})
	if err != nil {
		t.Fatalf("Register: %v, want the triggers another replica created to count as registered", err)
	}
	if r.refusals != 1 || len(r.triggers) != 6 {
		t.Fatalf("%d refused creates and %d triggers, want 1 refusal (then the list shows all six) and 6 triggers", r.refusals, len(r.triggers))
	}
}

func TestRegisterStillFailsWhenACreateIsRefusedForGood(t *testing.T) {
	catalog := []events.CatalogResource{{Name: "RFIs"}}
	f := &fakeWebhooks{catalog: nil} // refuses every trigger
	_, err := events.Register(context.Background(), f, 1, events.RegisterOptions{DestinationURL: "https://gw.test/webhooks/procore",
		Authorization: "Bearer x", Catalog: func(context.Context, int64) ([]events.CatalogResource, error) { return catalog, nil }})
	if err == nil || !strings.Contains(err.Error(), "create webhook trigger RFIs/") {
		t.Fatalf("Register: %v, want the refused create's error", err)
	}
}

func TestRegisterFollowsTheCatalog(t *testing.T) {
	ctx := context.Background()
	register := func(t *testing.T, catalog ...events.CatalogResource) (events.Registration, *fakeWebhooks) {
		t.Helper()
		f := &fakeWebhooks{catalog: catalog}
		reg, err := events.Register(ctx, f, 1, events.RegisterOptions{DestinationURL: "https://gw.test/webhooks/procore",
			Authorization: "Bearer x", Catalog: func(context.Context, int64) ([]events.CatalogResource, error) { return catalog, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return reg, f
	}
	triggers := func(f *fakeWebhooks) []string {
		var out []string
		for _, tr := range f.triggers {
			out = append(out, tr.ResourceName+"/"+tr.EventType)
		}
		slices.Sort(out)
		return out
	}

	t.Run("PaymentApplicationsIsNeverTakenForSubcontractorInvoices", func(t *testing.T) {
		reg, f := register(t, events.CatalogResource{Name: "RFIs"}, events.CatalogResource{Name: "Payment Applications"})
		want := []string{"Payment Applications/create", "Payment Applications/delete", "Payment Applications/update",
			"RFIs/create", "RFIs/delete", "RFIs/update"}
		if got := triggers(f); !slices.Equal(got, want) {
			t.Fatalf("triggers %v, want %v", got, want)
		}
		if got := reg.Resources[events.ItemPaymentApplication]; !slices.Equal(got, []string{"Payment Applications"}) {
			t.Fatalf("payment applications registered as %v, want the owner invoices' resource", got)
		}
		var missing []events.ItemKind
		for _, m := range reg.Missing {
			missing = append(missing, m.Kind)
		}
		if !slices.Contains(missing, events.ItemInvoice) || len(reg.Missing) != len(events.WatchedItems)-2 {
			t.Fatalf("missing %v, want every item but RFIs and owner invoices (subcontractor invoices included)", missing)
		}
	})
	t.Run("SubcontractorInvoicesNameIsUsedWhenTheCatalogHasIt", func(t *testing.T) {
		reg, f := register(t, events.CatalogResource{Name: "subcontractor invoices"})
		if got := triggers(f); !slices.Equal(got, []string{"subcontractor invoices/create", "subcontractor invoices/delete", "subcontractor invoices/update"}) {
			t.Fatalf("triggers %v, want the catalog's spelling", got)
		}
		if got := reg.Resources[events.ItemInvoice]; !slices.Equal(got, []string{"subcontractor invoices"}) {
			t.Fatalf("invoice resources %v", got)
		}
	})
	t.Run("RequisitionsIsPreferred", func(t *testing.T) {
		_, f := register(t, events.CatalogResource{Name: "Subcontractor Invoices"}, events.CatalogResource{Name: "Requisitions"})
		if got := triggers(f); !slices.Equal(got, []string{"Requisitions/create", "Requisitions/delete", "Requisitions/update"}) {
			t.Fatalf("triggers %v", got)
		}
	})
	t.Run("EventTypesTheResourceDoesNotFireAreSkipped", func(t *testing.T) {
		_, f := register(t, events.CatalogResource{Name: "Submittals", Except: []string{"create"}})
		if got := triggers(f); !slices.Equal(got, []string{"Submittals/delete", "Submittals/update"}) {
			t.Fatalf("triggers %v", got)
		}
	})
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
	t.Cleanup(func() { _ = h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	t.Run("DuplicatedDeliveriesAnnounceOnce", func(t *testing.T) {
		if _, err := events.Register(context.Background(), w.client, w.conn.CompanyID,
			events.RegisterOptions{DestinationURL: srv.URL, Authorization: "Bearer right", Catalog: catalogOf(w.client)}); err != nil {
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
		// Deliveries are processed after they are acknowledged: let the
		// earlier ones finish reading Procore before counting.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			st := h.Queue().Stats()
			if st.Processed+st.DeadLettered >= st.Accepted {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("earlier deliveries still queued: %+v", st)
			}
		}
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
