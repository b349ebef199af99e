package events

import (
	"context"
	"fmt"

	"procoregraph/adapter"
)

// AllItemKinds are the kinds of item the sources watch.
var AllItemKinds = []ItemKind{ItemRFI, ItemSubmittal, ItemPunchItem, ItemInvoice, ItemCommitment}

// Procore's webhook resource names for the items events are about (the
// resources catalog of procore-api.md §6; the sandbox emits the same).
const (
	ResourceRFIs                   = "RFIs"
	ResourceSubmittals             = "Submittals"
	ResourcePunchItems             = "Punch Items"
	ResourcePaymentApplications    = "Payment Applications"
	ResourceWorkOrderContracts     = "Work Order Contracts"
	ResourcePurchaseOrderContracts = "Purchase Order Contracts"
)

// WatchedResources are the webhook resources that carry the items events are
// about; register.go creates triggers for them.
var WatchedResources = []string{ResourceRFIs, ResourceSubmittals, ResourcePunchItems, ResourcePaymentApplications,
	ResourceWorkOrderContracts, ResourcePurchaseOrderContracts}

// itemOfResource maps a webhook resource name to the item kind it carries
// (and, for commitments, the commitment kind). ok is false for resources
// events do not follow (replies, line items ...).
func itemOfResource(name string) (ItemKind, adapter.CommitmentKind, bool) {
	switch name {
	case ResourceRFIs:
		return ItemRFI, "", true
	case ResourceSubmittals:
		return ItemSubmittal, "", true
	case ResourcePunchItems, "Punch List Items":
		return ItemPunchItem, "", true
	case ResourcePaymentApplications, "Requisitions", "Subcontractor Invoices":
		return ItemInvoice, "", true
	case ResourceWorkOrderContracts:
		return ItemCommitment, adapter.CommitmentSubcontract, true
	case ResourcePurchaseOrderContracts:
		return ItemCommitment, adapter.CommitmentPurchaseOrder, true
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
