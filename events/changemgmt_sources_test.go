package events_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/events"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
	"procoregraph/tenant"
)

// TestChangeOrderPackagesDeliveriesFindTheirKind: Procore sends prime change
// orders, commitment change orders and 3-tier packages all as "Change Order
// Packages"; the webhook handler reads the lists in turn and reports each
// change under its own kind. PCOs and change events come under their own
// names.
func TestChangeOrderPackagesDeliveriesFindTheirKind(t *testing.T) {
	// Five projects: the first is 1-tier, the fifth 3-tier (sandbox/data).
	sb, err := sandbox.Start(context.Background(), sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 3},
		WebhookMinBackoff: 20 * time.Millisecond}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	type item struct {
		mutate  string
		kind    events.ItemKind
		project int64
		id      int64
	}
	var company int64
	var items []item
	sb.ReadDataset(func(d *data.Dataset) {
		company = d.Companies[0].ID
		one, three := d.Projects[0], d.Projects[4]
		if one.ChangeOrderTiers != 1 || three.ChangeOrderTiers != 3 {
			t.Fatalf("tiers %d and %d, want 1 and 3", one.ChangeOrderTiers, three.ChangeOrderTiers)
		}
		items = []item{
			{"prime_change_order", events.ItemPrimeChangeOrder, one.ID, one.ChangeMgmt.PrimeChangeOrders[0].ID},
			{"change_order", events.ItemCommitmentChangeOrder, one.ID, one.ChangeOrders[0].ID},
			{"change_event", events.ItemChangeEvent, one.ID, one.ChangeMgmt.Events[0].ID},
			{"change_order_package", events.ItemChangeOrderPackage, three.ID, three.ChangeMgmt.Packages[0].ID},
			{"potential_change_order", events.ItemPotentialChangeOrder, three.ID, three.ChangeMgmt.PCOs[0].ID},
		}
	})
	client, err := rest.New(rest.Config{APIURL: sb.URL, LoginURL: sb.URL, ClientID: sandbox.DefaultClientID,
		ClientSecret: sandbox.DefaultClientSecret, CompanyID: company})
	if err != nil {
		t.Fatal(err)
	}
	conn := &tenant.Connection{ID: "c1", CompanyID: company, UserKey: "u", Procore: client}
	store, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	bus := events.NewMemoryBus(events.MemoryOptions{})
	t.Cleanup(func() { _ = bus.Close() })
	differ := events.NewDiffer(store, bus, events.DifferOptions{})
	h, err := events.NewWebhookHandler(events.WebhookOptions{Authorization: "Bearer right",
		Connection: func(_ context.Context, c int64) (*tenant.Connection, bool) { return conn, c == company },
		Observer:   differ, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if _, err := events.Register(context.Background(), client, company,
		events.RegisterOptions{DestinationURL: srv.URL, Authorization: "Bearer right", Catalog: catalogOf(client)}); err != nil {
		t.Fatal(err)
	}
	p, _ := events.NewPrimer(events.PrimerOptions{Store: store, Observer: differ})
	for _, it := range items {
		if err := p.Prime(context.Background(), conn, it.project, events.ChangeMgmtItemKinds); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sub, err := bus.Subscribe(ctx, events.Filter{Conn: "c1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		t.Run(string(it.kind), func(t *testing.T) {
			if _, err := sb.Mutate(sandbox.Mutation{Kind: it.mutate, ProjectID: it.project, ID: it.id,
				Set: map[string]json.RawMessage{"status": json.RawMessage(`"void"`)}}); err != nil {
				t.Fatal(err)
			}
			e := receive(t, sub)
			if e.ItemKind != it.kind || e.ItemID != it.id || e.ProjectID != it.project || e.Kind != events.KindStatusChanged ||
				e.NewStatus != "VOID" || e.Source != events.SourceWebhook {
				t.Fatalf("event %+v, want %s %d VOID from the webhook", e, it.kind, it.id)
			}
		})
	}
	expectNothing(t, sub, 300*time.Millisecond)
}

// TestPollerFollowsOnDemandKindsOnlyWhileWanted: an OnDemand kind is listed
// only in polls during which Wanted says it is subscribed to in that project
// (or in every project); Demand keeps a held kind wanted until some time
// after its release, and ignores kinds it does not track.
func TestPollerFollowsOnDemandKindsOnlyWhileWanted(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	d, err := events.NewDemand(events.DemandOptions{Store: w.store, TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	p, _ := events.NewPoller(w.conn, events.PollerOptions{Store: w.store, Observer: w.differ, Interval: time.Hour, Lease: time.Minute,
		ProjectIDs: []int64{w.project}, OnDemand: []events.ItemKind{events.ItemChangeEvent}, Wanted: d.Wanted})
	const route = "GET /rest/v1.0/change_events"
	poll := func() int64 {
		t.Helper()
		before := w.sb.Stats().ByRoute[route]
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		return w.sb.Stats().ByRoute[route] - before
	}
	if n := poll(); n != 0 {
		t.Fatalf("unwanted: %d change event lists", n)
	}
	release := d.Hold(ctx, w.conn, 0, []events.ItemKind{events.ItemRFI}) // not tracked
	if ok, _ := d.Wanted(ctx, w.conn.ID, events.ItemRFI, 0); ok {
		t.Fatal("a kind Demand does not track was recorded")
	}
	release()
	other := d.Hold(ctx, w.conn, w.project+1, []events.ItemKind{events.ItemChangeEvent}) // another project
	if n := poll(); n != 0 {
		t.Fatalf("wanted in another project only: %d change event lists", n)
	}
	other()
	release = d.Hold(ctx, w.conn, w.project, []events.ItemKind{events.ItemChangeEvent})
	if n := poll(); n != 1 {
		t.Fatalf("wanted: %d change event lists, want 1", n)
	}
	time.Sleep(500 * time.Millisecond) // past the TTL: renewed while held
	if n := poll(); n != 1 {
		t.Fatalf("still held: %d change event lists, want 1", n)
	}
	release()
	waitFor(t, func() bool { ok, _ := d.Wanted(ctx, w.conn.ID, events.ItemChangeEvent, w.project); return !ok })
	if n := poll(); n != 0 {
		t.Fatalf("released: %d change event lists", n)
	}
	release = d.Hold(ctx, w.conn, 0, []events.ItemKind{events.ItemChangeEvent}) // every project
	defer release()
	if n := poll(); n != 1 {
		t.Fatalf("wanted in every project: %d change event lists, want 1", n)
	}
}
