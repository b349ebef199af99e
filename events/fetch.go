package events

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"procoregraph/adapter"
)

// AllItemKinds are the kinds of item the poller follows on every poll and
// the primer primes by default.
var AllItemKinds = []ItemKind{ItemRFI, ItemSubmittal, ItemPunchItem, ItemInvoice, ItemCommitment}

// ChangeMgmtItemKinds are the change management and owner billing kinds
// (issue 16): webhooks and mutations report them always; the poller follows
// them only while someone subscribes to them (see Demand), because Procore
// lists them whole (no updated_at filter) and owner invoices cost one list
// per prime contract.
var ChangeMgmtItemKinds = []ItemKind{ItemChangeEvent, ItemPotentialChangeOrder, ItemChangeOrderPackage,
	ItemPrimeChangeOrder, ItemCommitmentChangeOrder, ItemPaymentApplication}

// Procore's webhook resource names for the items events are about. They are
// the names of GET /rest/v1.0/webhooks/resources (procore-api.md §6, Procore's
// webhook-resources.csv as copied in Pipedream's resource-names.mjs), which
// Register reads before creating triggers; the sandbox's catalog and its
// events use the same names.
//
// Subcontractor invoices are requisitions in the API (/rest/v1.1/requisitions;
// "Requisitions" were renamed "Subcontractor Invoices" in Procore's UI in
// 2018). "Payment Applications" is the owner side (prime contract payment
// applications, now "Owner Invoices": /rest/v1.0/payment_applications), not
// subcontractor invoices. The published CSV lists no requisition resource;
// webhook names follow the API's nouns ("Payment Applications" kept its
// pre-2018 name), so the gateway looks for "Requisitions" and, failing that,
// "Subcontractor Invoices", and registers whichever the live catalog has.
const (
	ResourceRFIs                   = "RFIs"
	ResourceSubmittals             = "Submittals"
	ResourcePunchItems             = "Punch Items"
	ResourceRequisitions           = "Requisitions"
	ResourceSubcontractorInvoices  = "Subcontractor Invoices"
	ResourceWorkOrderContracts     = "Work Order Contracts"
	ResourcePurchaseOrderContracts = "Purchase Order Contracts"
	// The change management and owner billing resources, as Procore's
	// published list (webhook-resources.csv) spells them. The list has no
	// "Prime Contract Change Orders" or "Commitment Change Orders": in
	// Procore both are change order packages (one table behind
	// /rest/v1.0/change_order_packages, whose contract_id names a prime
	// contract or a commitment), and so is a 3-tier project's package, so one
	// "Change Order Packages" event may be any of the three.
	ResourceChangeEvents          = "Change Events"
	ResourcePotentialChangeOrders = "Potential Change Orders"
	ResourceChangeOrderPackages   = "Change Order Packages"
	ResourcePaymentApplications   = "Payment Applications"
)

// WatchedItem is one kind of item the gateway follows by webhook, with the
// catalog resource names that carry it, preferred first.
type WatchedItem struct {
	Kind       ItemKind
	Commitment adapter.CommitmentKind // for ItemCommitment: which kind
	// Also are further kinds the same resource carries (a "Change Order
	// Packages" event may be a prime or a commitment change order): the
	// webhook looks the item up among Kind, then each of Also, in order.
	Also  []ItemKind
	Names []string
}

// Kinds is Kind followed by Also.
func (w WatchedItem) Kinds() []ItemKind { return append([]ItemKind{w.Kind}, w.Also...) }

// WatchedItems are the items events follow by webhook; Register creates
// triggers for the first name of each that Procore's catalog lists.
var WatchedItems = []WatchedItem{
	{Kind: ItemRFI, Names: []string{ResourceRFIs}},
	{Kind: ItemSubmittal, Names: []string{ResourceSubmittals}},
	{Kind: ItemPunchItem, Names: []string{ResourcePunchItems}},
	{Kind: ItemCommitment, Commitment: adapter.CommitmentSubcontract, Names: []string{ResourceWorkOrderContracts}},
	{Kind: ItemCommitment, Commitment: adapter.CommitmentPurchaseOrder, Names: []string{ResourcePurchaseOrderContracts}},
	{Kind: ItemInvoice, Names: []string{ResourceRequisitions, ResourceSubcontractorInvoices}},
	{Kind: ItemChangeEvent, Names: []string{ResourceChangeEvents}},
	{Kind: ItemPotentialChangeOrder, Names: []string{ResourcePotentialChangeOrders}},
	// Commitment change orders first: the most common kind, and the one the
	// gateway's own writes make.
	{Kind: ItemCommitmentChangeOrder, Also: []ItemKind{ItemPrimeChangeOrder, ItemChangeOrderPackage},
		Names: []string{ResourceChangeOrderPackages}},
	{Kind: ItemPaymentApplication, Names: []string{ResourcePaymentApplications}},
}

// ItemOfResource maps a webhook resource name (case-insensitively) to the
// watched item it carries. ok is false for resources events do not follow
// (replies, line items, change order requests ...).
func ItemOfResource(name string) (WatchedItem, bool) {
	for _, w := range WatchedItems {
		for _, n := range w.Names {
			if strings.EqualFold(n, name) {
				return w, true
			}
		}
	}
	return WatchedItem{}, false
}

// fetchWatched reads the item a webhook names: for a resource that carries
// several kinds, the first kind whose list holds the id (a "Change Order
// Packages" event costs up to three lists: commitment change orders, prime
// change orders, packages; on a project of another tier the lists that do
// not apply are empty). NOT_FOUND when none holds it.
func fetchWatched(ctx context.Context, p adapter.Reader, conn string, w WatchedItem, projectID, id int64) (Snapshot, error) {
	var err error
	for _, kind := range w.Kinds() {
		var s Snapshot
		s, err = fetchSnapshot(ctx, p, conn, kind, w.Commitment, projectID, id)
		if err == nil || !adapter.IsNotFound(err) {
			return s, err
		}
	}
	return Snapshot{}, err
}

// fetchSnapshot reads one item's current state from Procore. A punch item is
// read through a one-id list filter (the adapter has no single-item read).
func fetchSnapshot(ctx context.Context, p adapter.Reader, conn string, kind ItemKind, ck adapter.CommitmentKind, projectID, id int64) (Snapshot, error) {
	s, err := fetchSnapshotOf(ctx, p, conn, kind, ck, projectID, id)
	s.ProjectID = projectID
	return s, err
}

func fetchSnapshotOf(ctx context.Context, p adapter.Reader, conn string, kind ItemKind, ck adapter.CommitmentKind, projectID, id int64) (Snapshot, error) {
	switch kind {
	case ItemRFI:
		r, err := p.RFI(ctx, projectID, id)
		return RFISnapshot(conn, r), err
	case ItemSubmittal:
		s, err := p.Submittal(ctx, projectID, id)
		return SubmittalSnapshot(conn, s), err
	case ItemInvoice:
		inv, err := p.Invoice(ctx, projectID, id)
		return InvoiceSnapshot(conn, inv), err
	case ItemCommitment:
		c, err := p.Commitment(ctx, projectID, ck, id)
		return CommitmentSnapshot(conn, c), err
	case ItemPunchItem:
		page, err := p.PunchItems(ctx, projectID, adapter.ListOptions{IDs: []int64{id}})
		if err != nil {
			return Snapshot{}, err
		}
		for _, it := range page.Items {
			if it.ID == id {
				return PunchItemSnapshot(conn, it), nil
			}
		}
		return Snapshot{}, adapter.Errorf(adapter.CodeNotFound, "punch item %d not found in project %d", id, projectID)
	}
	if slices.Contains(ChangeMgmtItemKinds, kind) {
		// Procore offers no single read the adapter uses for these: the
		// project's list, whole (for owner invoices, each prime contract's).
		snaps, err := listSnapshots(ctx, p, conn, projectID, kind, adapter.ListOptions{})
		if err != nil {
			return Snapshot{}, err
		}
		for _, s := range snaps {
			if s.ItemID == id {
				return s, nil
			}
		}
		return Snapshot{}, adapter.Errorf(adapter.CodeNotFound, "%s %d not found in project %d", kind, id, projectID)
	}
	return Snapshot{}, fmt.Errorf("events: unknown item kind %q", kind)
}

// listSnapshots lists a project's items of one kind (within opt's
// updated_at window) as snapshots.
func listSnapshots(ctx context.Context, p adapter.Reader, conn string, projectID int64, kind ItemKind, opt adapter.ListOptions) ([]Snapshot, error) {
	switch kind {
	case ItemRFI:
		page, err := p.RFIs(ctx, projectID, opt)
		return mapSnapshots(conn, projectID, page.Items, err, RFISnapshot)
	case ItemSubmittal:
		page, err := p.Submittals(ctx, projectID, opt)
		return mapSnapshots(conn, projectID, page.Items, err, SubmittalSnapshot)
	case ItemPunchItem:
		page, err := p.PunchItems(ctx, projectID, opt)
		return mapSnapshots(conn, projectID, page.Items, err, PunchItemSnapshot)
	case ItemInvoice:
		page, err := p.Invoices(ctx, projectID, adapter.InvoiceFilter{}, opt)
		return mapSnapshots(conn, projectID, page.Items, err, InvoiceSnapshot)
	case ItemCommitment:
		page, err := p.Commitments(ctx, projectID, opt)
		return mapSnapshots(conn, projectID, page.Items, err, CommitmentSnapshot)
	}
	// The change management lists and owner invoices are read whole (Procore
	// filters them by nothing the adapter sends); opt's updated_at window is
	// applied here, so that the poller reports only what changed.
	var snaps []Snapshot
	var err error
	switch kind {
	case ItemChangeEvent:
		items, lerr := p.ChangeEvents(ctx, projectID)
		snaps, err = mapSnapshots(conn, projectID, items, lerr, ChangeEventSnapshot)
	case ItemPotentialChangeOrder:
		items, lerr := p.PotentialChangeOrders(ctx, projectID)
		snaps, err = mapSnapshots(conn, projectID, items, lerr, PotentialChangeOrderSnapshot)
	case ItemChangeOrderPackage:
		items, lerr := p.ChangeOrderPackages(ctx, projectID)
		snaps, err = mapSnapshots(conn, projectID, items, lerr, ChangeOrderPackageSnapshot)
	case ItemPrimeChangeOrder:
		items, lerr := p.PrimeChangeOrders(ctx, projectID)
		snaps, err = mapSnapshots(conn, projectID, items, lerr, PrimeChangeOrderSnapshot)
	case ItemCommitmentChangeOrder:
		items, lerr := p.ChangeOrders(ctx, projectID, nil)
		snaps, err = mapSnapshots(conn, projectID, items, lerr, CommitmentChangeOrderSnapshot)
	case ItemPaymentApplication:
		snaps, err = paymentApplicationSnapshots(ctx, p, conn, projectID)
	default:
		return nil, fmt.Errorf("events: unknown item kind %q", kind)
	}
	if err != nil || opt.UpdatedSince == nil {
		return snaps, err
	}
	since := *opt.UpdatedSince
	return slices.DeleteFunc(snaps, func(s Snapshot) bool { return s.UpdatedAt.Before(since) }), nil
}

// paymentApplicationSnapshots lists a project's owner invoices: its prime
// contracts (one call), then each contract's payment applications (one call
// each). A contract Procore refuses to list (not found, forbidden) is
// skipped.
func paymentApplicationSnapshots(ctx context.Context, p adapter.Reader, conn string, projectID int64) ([]Snapshot, error) {
	contracts, err := p.PrimeContracts(ctx, projectID)
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for _, pc := range contracts {
		apps, err := p.PaymentApplications(ctx, projectID, pc.ID)
		if adapter.IsNotFound(err) || adapter.ErrorCode(err) == adapter.CodeForbidden {
			continue
		}
		snaps, err := mapSnapshots(conn, projectID, apps, err, PaymentApplicationSnapshot)
		if err != nil {
			return nil, err
		}
		out = append(out, snaps...)
	}
	return out, nil
}

func mapSnapshots[T any](conn string, projectID int64, items []T, err error, f func(string, T) Snapshot) ([]Snapshot, error) {
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, len(items))
	for i, it := range items {
		out[i] = f(conn, it)
		out[i].ProjectID = projectID // list items may not echo their project
	}
	return out, nil
}
