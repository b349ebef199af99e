package events

import (
	"context"
	"fmt"
	"strings"

	"procoregraph/adapter"
)

// AllItemKinds are the kinds of item the sources watch.
var AllItemKinds = []ItemKind{ItemRFI, ItemSubmittal, ItemPunchItem, ItemInvoice, ItemCommitment}

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
)

// WatchedItem is one kind of item the gateway follows by webhook, with the
// catalog resource names that carry it, preferred first.
type WatchedItem struct {
	Kind       ItemKind
	Commitment adapter.CommitmentKind // for ItemCommitment: which kind
	Names      []string
}

// WatchedItems are the items events follow by webhook; Register creates
// triggers for the first name of each that Procore's catalog lists.
var WatchedItems = []WatchedItem{
	{Kind: ItemRFI, Names: []string{ResourceRFIs}},
	{Kind: ItemSubmittal, Names: []string{ResourceSubmittals}},
	{Kind: ItemPunchItem, Names: []string{ResourcePunchItems}},
	{Kind: ItemCommitment, Commitment: adapter.CommitmentSubcontract, Names: []string{ResourceWorkOrderContracts}},
	{Kind: ItemCommitment, Commitment: adapter.CommitmentPurchaseOrder, Names: []string{ResourcePurchaseOrderContracts}},
	{Kind: ItemInvoice, Names: []string{ResourceRequisitions, ResourceSubcontractorInvoices}},
}

// itemOfResource maps a webhook resource name to the item kind it carries
// (and, for commitments, the commitment kind). ok is false for resources
// events do not follow (replies, line items, owner invoices ...).
func itemOfResource(name string) (ItemKind, adapter.CommitmentKind, bool) {
	for _, w := range WatchedItems {
		for _, n := range w.Names {
			if strings.EqualFold(n, name) {
				return w.Kind, w.Commitment, true
			}
		}
	}
	return "", "", false
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
	return nil, fmt.Errorf("events: unknown item kind %q", kind)
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
