package main

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// changeChainQuery reads every project's change management in one query:
// change events with line items, the 3-tier chain package → change order
// requests → PCOs (with line items) → change events, prime change orders
// with their PCOs, and every PCO's package and prime change order.
const changeChainQuery = `{ projects(first: 10) { nodes { id
  changeEvents(first: 20) { totalCount nodes { id number status scope rfiId lineItems { id estimatedCost } } }
  potentialChangeOrders(first: 20) { totalCount nodes { id grandTotal changeOrderRequestId package { id } primeChangeOrder { id } } }
  changeOrderPackages(first: 20) { totalCount nodes { id grandTotal
    changeOrderRequests { id grandTotal packageId }
    potentialChangeOrders { id grandTotal lineItems { id amount changeEventId changeEventLineId } changeEvents { id lineItems { id estimatedCost } } } } }
  primeChangeOrders(first: 20) { totalCount nodes { id grandTotal potentialChangeOrders { id } } }
} } }`

type cmLine struct {
	ID                string
	EstimatedCost     string
	Amount            string
	ChangeEventID     *string
	ChangeEventLineID *string
}

type cmEvent struct {
	ID, Number, Status, Scope string
	RfiID                     *string
	LineItems                 []cmLine
}

type cmRef struct{ ID string }

type cmChainAnswer struct {
	Projects struct {
		Nodes []struct {
			ID           string
			ChangeEvents struct {
				TotalCount int
				Nodes      []cmEvent
			}
			PotentialChangeOrders struct {
				TotalCount int
				Nodes      []struct {
					ID, GrandTotal       string
					ChangeOrderRequestID *string
					Package              *cmRef
					PrimeChangeOrder     *cmRef
				}
			}
			ChangeOrderPackages struct {
				TotalCount int
				Nodes      []struct {
					ID, GrandTotal      string
					ChangeOrderRequests []struct {
						ID, GrandTotal string
						PackageID      *string
					}
					PotentialChangeOrders []struct {
						ID, GrandTotal string
						LineItems      []cmLine
						ChangeEvents   []cmEvent
					}
				}
			}
			PrimeChangeOrders struct {
				TotalCount int
				Nodes      []struct {
					ID, GrandTotal        string
					PotentialChangeOrders []cmRef
				}
			}
		}
	}
}

// cents is a sandbox amount (hundredths) as an exact decimal.
func cmCents(f data.Fixed) decimal.Decimal { return decimal.New(int64(f), -2) }

func cmSameMoney(t *testing.T, what, got string, want decimal.Decimal) {
	t.Helper()
	d, err := decimal.NewFromString(got)
	if err != nil || !d.Equal(want) {
		t.Errorf("%s = %q, want %s", what, got, want.StringFixed(2))
	}
}

// TestChangeManagementChain: one query reads the change management of five
// projects (1-, 2- and 3-tier), including the 3-tier chain change event →
// PCO → change order request → package; every figure matches the sandbox's
// rows to the cent, each tier returns what it has (documented on the
// fields), and the upstream calls are exactly the minimum:
//
//	1 (projects list) + Σ projects [4 (change events, PCOs, packages, prime
//	change orders: one whole list each) + on a 3-tier project with PCOs,
//	1 (change order requests) + 1 per PCO (its line items, which name the
//	change events: Procore has no batch read of them) + on a 3-tier project
//	with packages, 1 (the prime contracts: Procore's package list also holds
//	the commitments' change orders, which changeOrderPackages leaves out)].
//
// The prime change order list is asked on 3-tier projects too (the gateway
// does not know the tier) and answers Procore's refusal: an empty list.
// Warm, the same query (response cache) and a variant (value cache) cost 0.
func TestChangeManagementChain(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 3},
		HourlyLimit: -1, SpikeLimit: -1})
	projects := map[string]*data.Project{}
	minimum := 1
	tiers := map[int]int{}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if !p.Active {
				continue
			}
			projects[id64(p.ID)] = p
			tiers[p.ChangeOrderTiers]++
			minimum += 4
			if p.ChangeOrderTiers == 3 && len(p.ChangeMgmt.PCOs) > 0 {
				minimum += 1 + len(p.ChangeMgmt.PCOs)
			}
			if p.ChangeOrderTiers == 3 && len(p.ChangeMgmt.Packages) > 0 {
				minimum++
			}
		}
	})
	if tiers[1] == 0 || tiers[2] == 0 || tiers[3] == 0 {
		t.Fatalf("the dataset needs active projects of every tier: %v", tiers)
	}
	// The estimate is a worst case (20 packages × their PCOs × line items per
	// project): above the default limit of 1,000, which is not what this
	// test is about.
	g := startGateway(t, copyEnv(env), "-max-cost", "100000")
	sb.ResetStats()
	r := g.query(t, changeChainQuery, nil)
	st := sb.Stats()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var a cmChainAnswer
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Projects.Nodes) != len(projects) {
		t.Fatalf("%d projects answered, want %d", len(a.Projects.Nodes), len(projects))
	}
	chains := 0
	for _, pn := range a.Projects.Nodes {
		p := projects[pn.ID]
		cm := p.ChangeMgmt
		// Change events, every tier.
		if pn.ChangeEvents.TotalCount != len(cm.Events) || len(pn.ChangeEvents.Nodes) != len(cm.Events) {
			t.Fatalf("project %s: %d change events, want %d", pn.ID, len(pn.ChangeEvents.Nodes), len(cm.Events))
		}
		events := map[int64]*data.ChangeEvent{}
		for i, ev := range cm.Events {
			events[ev.ID] = ev
			cmCheckEvent(t, pn.ChangeEvents.Nodes[i], ev)
		}
		// PCOs: none on 1 tier.
		if wantPCOs := len(cm.PCOs); pn.PotentialChangeOrders.TotalCount != wantPCOs || (p.ChangeOrderTiers == 1 && wantPCOs != 0) {
			t.Fatalf("project %s (%d tiers): %d PCOs, want %d", pn.ID, p.ChangeOrderTiers, pn.PotentialChangeOrders.TotalCount, wantPCOs)
		}
		for i, pco := range cm.PCOs {
			got := pn.PotentialChangeOrders.Nodes[i]
			var total decimal.Decimal
			for _, l := range pco.Lines {
				total = total.Add(cmCents(l.Amount))
			}
			cmSameMoney(t, "PCO "+got.ID+" grandTotal", got.GrandTotal, total)
			if p.ChangeOrderTiers == 3 {
				if got.ChangeOrderRequestID == nil || *got.ChangeOrderRequestID != id64(pco.CORID) || got.Package == nil || got.PrimeChangeOrder != nil {
					t.Errorf("3-tier PCO %s: cor %v package %v prime %v, want cor %d and a package", got.ID, got.ChangeOrderRequestID, got.Package, got.PrimeChangeOrder, pco.CORID)
				}
			} else if got.ChangeOrderRequestID != nil || got.Package != nil || got.PrimeChangeOrder == nil {
				t.Errorf("2-tier PCO %s: cor %v package %v prime %v, want only a prime change order", got.ID, got.ChangeOrderRequestID, got.Package, got.PrimeChangeOrder)
			}
		}
		// Packages: 3 tiers only; the chain.
		if pn.ChangeOrderPackages.TotalCount != len(cm.Packages) || (p.ChangeOrderTiers != 3 && len(cm.Packages) != 0) {
			t.Fatalf("project %s (%d tiers): %d packages, want %d", pn.ID, p.ChangeOrderTiers, pn.ChangeOrderPackages.TotalCount, len(cm.Packages))
		}
		for i, pk := range cm.Packages {
			got := pn.ChangeOrderPackages.Nodes[i]
			cmSameMoney(t, "package "+got.ID+" grandTotal", got.GrandTotal, cmCents(pk.GrandTotal))
			var corIDs []int64
			for _, cor := range cm.CORs {
				if cor.PackageID == pk.ID {
					corIDs = append(corIDs, cor.ID)
				}
			}
			if len(got.ChangeOrderRequests) != len(corIDs) {
				t.Fatalf("package %s: %d change order requests, want %d", got.ID, len(got.ChangeOrderRequests), len(corIDs))
			}
			var pcos []*data.PotentialChangeOrder
			for _, pco := range cm.PCOs {
				if slices.Contains(corIDs, pco.CORID) {
					pcos = append(pcos, pco)
				}
			}
			if len(got.PotentialChangeOrders) != len(pcos) {
				t.Fatalf("package %s: %d PCOs, want %d", got.ID, len(got.PotentialChangeOrders), len(pcos))
			}
			var sum decimal.Decimal
			for j, pco := range pcos {
				gp := got.PotentialChangeOrders[j]
				if gp.ID != id64(pco.ID) || len(gp.LineItems) != len(pco.Lines) {
					t.Fatalf("package %s PCO %d: %s with %d lines, want %d with %d", got.ID, j, gp.ID, len(gp.LineItems), pco.ID, len(pco.Lines))
				}
				// The chain back to the change event: the PCO's amount is its
				// change event lines' estimated costs.
				var fromEvents decimal.Decimal
				var evIDs []string
				for k, l := range pco.Lines {
					gl := gp.LineItems[k]
					cmSameMoney(t, "PCO line "+gl.ID, gl.Amount, cmCents(l.Amount))
					if gl.ChangeEventID == nil || *gl.ChangeEventID != id64(l.ChangeEventID) || gl.ChangeEventLineID == nil || *gl.ChangeEventLineID != id64(l.ChangeEventLineID) {
						t.Errorf("PCO line %s: change event %v line %v, want %d %d", gl.ID, gl.ChangeEventID, gl.ChangeEventLineID, l.ChangeEventID, l.ChangeEventLineID)
					}
					if !slices.Contains(evIDs, id64(l.ChangeEventID)) {
						evIDs = append(evIDs, id64(l.ChangeEventID))
						for _, el := range events[l.ChangeEventID].Lines {
							fromEvents = fromEvents.Add(cmCents(el.Amount))
						}
					}
				}
				if len(gp.ChangeEvents) != len(evIDs) {
					t.Fatalf("PCO %s: %d change events, want %v", gp.ID, len(gp.ChangeEvents), evIDs)
				}
				for k, ev := range gp.ChangeEvents {
					if ev.ID != evIDs[k] {
						t.Errorf("PCO %s change event %d: %s, want %s", gp.ID, k, ev.ID, evIDs[k])
					}
				}
				cmSameMoney(t, "PCO "+gp.ID+" grandTotal (chain)", gp.GrandTotal, fromEvents)
				sum = sum.Add(fromEvents)
				chains++
			}
			// Package total = Σ its PCOs = Σ their change events' lines.
			cmSameMoney(t, "package "+got.ID+" from its change events", got.GrandTotal, sum)
		}
		// Prime change orders: 1 and 2 tiers; empty on 3 tiers.
		if pn.PrimeChangeOrders.TotalCount != len(cm.PrimeChangeOrders) || (p.ChangeOrderTiers == 3 && len(cm.PrimeChangeOrders) != 0) {
			t.Fatalf("project %s (%d tiers): %d prime change orders, want %d", pn.ID, p.ChangeOrderTiers, pn.PrimeChangeOrders.TotalCount, len(cm.PrimeChangeOrders))
		}
		for i, pc := range cm.PrimeChangeOrders {
			got := pn.PrimeChangeOrders.Nodes[i]
			want := cmCents(pc.GrandTotal)
			if p.ChangeOrderTiers == 2 {
				want = decimal.Zero
				for _, pco := range cm.PCOs {
					if slices.Contains(pc.PCOIDs, pco.ID) {
						for _, l := range pco.Lines {
							want = want.Add(cmCents(l.Amount))
						}
					}
				}
			}
			cmSameMoney(t, "prime change order "+got.ID, got.GrandTotal, want)
			if len(got.PotentialChangeOrders) != len(pc.PCOIDs) {
				t.Errorf("prime change order %s: %d PCOs, want %d", got.ID, len(got.PotentialChangeOrders), len(pc.PCOIDs))
			}
		}
	}
	if chains == 0 {
		t.Fatal("no 3-tier chain was read: the dataset has no packaged PCO")
	}
	if got := int(st.Total); got != minimum {
		t.Fatalf("cold: %d Procore calls, want the minimum %d (by route: %v)", got, minimum, st.ByRoute)
	}
	t.Logf("%d projects (tiers %v), %d 3-tier chains, %d Procore calls cold", len(projects), tiers, chains, st.Total)

	sb.ResetStats()
	if r := g.query(t, changeChainQuery, nil); len(r.Errors) > 0 || sb.Stats().Total != 0 {
		t.Fatalf("warm (response cache): %d calls, errors %+v", sb.Stats().Total, r.Errors)
	}
	sb.ResetStats()
	if r := g.query(t, "# value cache\n"+changeChainQuery, nil); len(r.Errors) > 0 || sb.Stats().Total != 0 {
		t.Fatalf("warm (value cache): %d calls (by route: %v), errors %+v", sb.Stats().Total, sb.Stats().ByRoute, r.Errors)
	}

	// updatedSince: the gateway filters the whole list it read, inclusive,
	// in whole seconds (the median event's instant keeps about half).
	for _, p := range projects {
		evs := p.ChangeMgmt.Events
		since := evs[len(evs)/2].UpdatedAt.Truncate(time.Second)
		want := 0
		for _, ev := range evs {
			if !ev.UpdatedAt.Before(since) {
				want++
			}
		}
		r := g.query(t, `query($id: ID!, $since: DateTime) { project(id: $id) { changeEvents(updatedSince: $since) { totalCount } } }`,
			map[string]any{"id": id64(p.ID), "since": since.Format(time.RFC3339)})
		var d struct {
			Project struct{ ChangeEvents struct{ TotalCount int } }
		}
		if err := json.Unmarshal(r.Data, &d); err != nil || len(r.Errors) > 0 {
			t.Fatalf("updatedSince: %s %+v", r.Data, r.Errors)
		}
		if d.Project.ChangeEvents.TotalCount != want {
			t.Errorf("project %d: %d change events updated since %s, want %d", p.ID, d.Project.ChangeEvents.TotalCount, since, want)
		}
	}
}

func cmCheckEvent(t *testing.T, got cmEvent, ev *data.ChangeEvent) {
	t.Helper()
	if got.ID != id64(ev.ID) || got.Number != strconv.Itoa(ev.Number) || len(got.LineItems) != len(ev.Lines) {
		t.Fatalf("change event %s #%s with %d lines, want %d #%d with %d", got.ID, got.Number, len(got.LineItems), ev.ID, ev.Number, len(ev.Lines))
	}
	if got.Status != map[string]string{"open": "OPEN", "pending": "PENDING", "closed": "CLOSED", "void": "VOID"}[ev.Status] ||
		got.Scope != map[string]string{"tbd": "TBD", "in_scope": "IN_SCOPE", "out_of_scope": "OUT_OF_SCOPE"}[ev.Scope] {
		t.Errorf("change event %s: status %s scope %s, want %s %s", got.ID, got.Status, got.Scope, ev.Status, ev.Scope)
	}
	if (ev.RFIID == 0) != (got.RfiID == nil) || (got.RfiID != nil && *got.RfiID != id64(ev.RFIID)) {
		t.Errorf("change event %s: rfiId %v, want %d", got.ID, got.RfiID, ev.RFIID)
	}
	for i, l := range ev.Lines {
		cmSameMoney(t, "change event line "+got.LineItems[i].ID, got.LineItems[i].EstimatedCost, cmCents(l.Amount))
	}
}

// TestChangeManagementEnumDriftGivesUnknown injects values Procore does not
// publish into the statuses of change events, PCOs, change order requests,
// packages and prime change orders, and into change event scopes: each reads
// as UNKNOWN, without an error, and every item is still listed.
func TestChangeManagementEnumDriftGivesUnknown(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 2},
		HourlyLimit: -1, SpikeLimit: -1})
	want := map[string]int{}
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if !p.Active {
				continue
			}
			cm := p.ChangeMgmt
			want["events"] += len(cm.Events)
			want["pcos"] += len(cm.PCOs)
			want["cors"] += len(cm.CORs)
			want["packages"] += len(cm.Packages)
			want["prime"] += len(cm.PrimeChangeOrders)
		}
	})
	for kind, n := range want {
		if n == 0 {
			t.Fatalf("no %s in the dataset to drift (%v)", kind, want)
		}
	}
	rule := func(resource, field, value string) sandbox.DriftRule {
		return sandbox.DriftRule{Resource: resource, Kind: sandbox.DriftUnknownEnum, Field: field, Value: json.RawMessage(`"` + value + `"`)}
	}
	sb.SetFaults(sandbox.Faults{Drift: sandbox.Drift{Rules: []sandbox.DriftRule{
		rule("change_events", "status", "on_hold"),
		rule("change_events", "event_scope", "partially_in_scope"),
		rule("potential_change_orders", "status", "awaiting_owner"),
		rule("change_order_requests", "status", "awaiting_owner"),
		rule("change_order_packages", "status", "awaiting_owner"),
		rule("prime_change_orders", "status", "awaiting_owner"),
	}}})
	g := startGateway(t, copyEnv(env), "-no-cache", "-no-response-cache")
	r := g.query(t, `{ projects(first: 10) { nodes {
  changeEvents(first: 1000) { nodes { status scope } }
  potentialChangeOrders(first: 1000) { nodes { status } }
  changeOrderPackages(first: 1000) { nodes { status changeOrderRequests { status } } }
  primeChangeOrders(first: 1000) { nodes { status } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	type st struct{ Status, Scope string }
	var a struct {
		Projects struct {
			Nodes []struct {
				ChangeEvents          struct{ Nodes []st }
				PotentialChangeOrders struct{ Nodes []st }
				ChangeOrderPackages   struct {
					Nodes []struct {
						Status              string
						ChangeOrderRequests []st
					}
				}
				PrimeChangeOrders struct{ Nodes []st }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &a); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	check := func(kind, value string) {
		got[kind]++
		if value != "UNKNOWN" {
			t.Errorf("%s: %q, want UNKNOWN", kind, value)
		}
	}
	for _, p := range a.Projects.Nodes {
		for _, x := range p.ChangeEvents.Nodes {
			check("events", x.Status)
			check("event scopes", x.Scope)
		}
		for _, x := range p.PotentialChangeOrders.Nodes {
			check("pcos", x.Status)
		}
		for _, x := range p.ChangeOrderPackages.Nodes {
			check("packages", x.Status)
			for _, c := range x.ChangeOrderRequests {
				check("cors", c.Status)
			}
		}
		for _, x := range p.PrimeChangeOrders.Nodes {
			check("prime", x.Status)
		}
	}
	want["event scopes"] = want["events"]
	for kind, n := range want {
		if got[kind] != n {
			t.Errorf("%d %s read, want %d", got[kind], kind, n)
		}
	}
}
