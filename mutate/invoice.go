package mutate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/events"
)

// invoiceTransitions are the status changes Procore allows on a
// subcontractor invoice; approved and approved-as-noted invoices are final.
var invoiceTransitions = map[adapter.InvoiceStatus][]adapter.InvoiceStatus{
	adapter.InvoiceDraft: {adapter.InvoiceUnderReview, adapter.InvoiceReviseAndResubmit, adapter.InvoiceApproved,
		adapter.InvoiceApprovedAsNoted, adapter.InvoicePendingOwnerApproval},
	adapter.InvoiceUnderReview: {adapter.InvoiceDraft, adapter.InvoiceReviseAndResubmit, adapter.InvoiceApproved,
		adapter.InvoiceApprovedAsNoted, adapter.InvoicePendingOwnerApproval},
	adapter.InvoiceReviseAndResubmit:    {adapter.InvoiceDraft, adapter.InvoiceUnderReview},
	adapter.InvoicePendingOwnerApproval: {adapter.InvoiceUnderReview, adapter.InvoiceReviseAndResubmit, adapter.InvoiceApproved, adapter.InvoiceApprovedAsNoted},
	adapter.InvoiceApproved:             {},
	adapter.InvoiceApprovedAsNoted:      {},
}

// InvoiceTransitionAllowed reports whether Procore allows an invoice to move
// from one status to another. Unknown current statuses are allowed through
// (Procore decides).
func InvoiceTransitionAllowed(from, to adapter.InvoiceStatus) bool {
	next, known := invoiceTransitions[from]
	if !known {
		return true
	}
	return contains(next, to)
}

func invoiceSnapshot(conn string) func(adapter.Invoice) (events.Snapshot, bool) {
	return func(inv adapter.Invoice) (events.Snapshot, bool) {
		return events.InvoiceSnapshot(conn, inv), inv.ID != 0
	}
}

// CreateInvoice creates a subcontractor invoice (pay application) against an
// approved commitment for a billing period (the open one when not given).
// Items bill schedule-of-values lines; lines not given bill nothing.
func (s *Runner) CreateInvoice(ctx context.Context, in CreateInvoiceInput) (*CreateInvoicePayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	if in.InvoiceNumber != nil {
		c.required(*in.InvoiceNumber, "invoiceNumber")
		c.maxLen(*in.InvoiceNumber, 50, "invoiceNumber")
	}
	c.date(in.BillingDate, "billingDate")
	lines := make([]int64, 0, len(in.Items))
	for i, it := range in.Items {
		p := []string{"items", strconv.Itoa(i)}
		lines = append(lines, it.LineItemID)
		if it.WorkCompletedThisPeriod != nil {
			c.money(*it.WorkCompletedThisPeriod, append(p, "workCompletedThisPeriod")...)
		}
		if it.MaterialsPresentlyStored != nil {
			c.nonNegative(*it.MaterialsPresentlyStored, append(p, "materialsPresentlyStored")...)
		}
		if it.WorkCompletedRetainageReleased != nil {
			c.nonNegative(*it.WorkCompletedRetainageReleased, append(p, "workCompletedRetainageReleased")...)
		}
		if it.WorkCompletedRetainagePercent != nil {
			c.percent(*it.WorkCompletedRetainagePercent, append(p, "workCompletedRetainagePercent")...)
		}
		if it.MaterialsStoredRetainagePercent != nil {
			c.percent(*it.MaterialsStoredRetainagePercent, append(p, "materialsStoredRetainagePercent")...)
		}
	}
	for i, id := range lines {
		if contains(lines[:i], id) {
			c.add(CodeDuplicate, fmt.Sprintf("line item %d is billed twice", id), "items", strconv.Itoa(i), "lineItemId")
		}
	}
	c.attachments(in.AttachmentIDs)
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreateInvoicePayload{UserErrors: c.result()}, nil
	}
	hashed := in
	hashed.IdempotencyKey = nil

	var create2 adapter.InvoiceCreate // filled by check
	inv, uerrs, err := create(ctx, s, e, createOp[adapter.Invoice]{
		name: "createInvoice", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			var err error
			create2, err = s.prepareInvoice(ctx, e, c, in)
			return err
		},
		do: func(ctx context.Context) (adapter.Invoice, error) {
			return e.p.CreateInvoice(ctx, in.ProjectID, create2)
		},
		exists:   func(inv adapter.Invoice) bool { return inv.ID != 0 },
		snapshot: invoiceSnapshot(e.conn.ID),
	})
	return &CreateInvoicePayload{Invoice: inv, UserErrors: uerrs}, err
}

// prepareInvoice checks an invoice against the commitment and the billing
// periods as Procore has them now and builds the adapter's input, filling
// default retainage percents from the commitment.
func (s *Runner) prepareInvoice(ctx context.Context, e env, c *checker, in CreateInvoiceInput) (adapter.InvoiceCreate, error) {
	out := adapter.InvoiceCreate{CommitmentID: in.CommitmentID, InvoiceNumber: strings.TrimSpace(deref(in.InvoiceNumber)),
		BillingDate: in.BillingDate, UploadIDs: in.AttachmentIDs}
	kind, found, err := commitmentKind(ctx, e, in.ProjectID, in.CommitmentID)
	if err != nil {
		return out, err
	}
	if !found {
		c.add(CodeNotFound, "not found (or not visible to this connection)", "commitmentId")
		return out, nil
	}
	cm, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.Commitment, error) {
		return e.p.Commitment(ctx, in.ProjectID, kind, in.CommitmentID)
	}, "commitmentId")
	if err != nil || nf != nil {
		c.errs = append(c.errs, nf...)
		return out, err
	}
	if !contains(invoiceableStatuses[kind], cm.Status) {
		c.add(CodeInvalidTransition, fmt.Sprintf("invoices can only be created for an approved %s; %s is %s", kindName(kind), cm.Number, cm.Status), "commitmentId")
	}
	sov := map[int64]bool{}
	for _, li := range cm.LineItems {
		sov[li.ID] = true
	}
	retainage := decimal.Zero
	if cm.RetainagePercent != nil {
		retainage = *cm.RetainagePercent
	}
	for i, it := range in.Items {
		if !sov[it.LineItemID] {
			c.add(CodeNotFound, fmt.Sprintf("line item %d is not on %s's schedule of values", it.LineItemID, cm.Number), "items", strconv.Itoa(i), "lineItemId")
			continue
		}
		row := adapter.InvoiceItemInput{LineItemID: it.LineItemID,
			WorkCompletedThisPeriod: or(it.WorkCompletedThisPeriod, decimal.Zero), MaterialsPresentlyStored: or(it.MaterialsPresentlyStored, decimal.Zero),
			WorkCompletedRetainagePercent: or(it.WorkCompletedRetainagePercent, retainage), WorkCompletedRetainageReleased: or(it.WorkCompletedRetainageReleased, decimal.Zero),
			MaterialsStoredRetainagePercent: or(it.MaterialsStoredRetainagePercent, retainage)}
		out.Items = append(out.Items, row)
	}
	period, perr := s.invoicePeriod(ctx, e, c, in)
	if perr != nil {
		return out, perr
	}
	out.PeriodID = period
	return out, nil
}

// invoicePeriod returns the billing period to bill: the given one if the
// project has it, else the latest open one.
func (s *Runner) invoicePeriod(ctx context.Context, e env, c *checker, in CreateInvoiceInput) (int64, error) {
	for _, fresh := range []bool{false, true} {
		periods, err := billingPeriods(ctx, e, in.ProjectID, fresh)
		if err != nil {
			return 0, err
		}
		if in.PeriodID != nil {
			for _, p := range periods {
				if p.ID == *in.PeriodID {
					return p.ID, nil
				}
			}
			continue
		}
		var open *adapter.BillingPeriod
		for i, p := range periods {
			if strings.EqualFold(p.Status, "open") && (open == nil || p.Position > open.Position) {
				open = &periods[i]
			}
		}
		if open != nil {
			return open.ID, nil
		}
	}
	if in.PeriodID != nil {
		c.add(CodeNotFound, fmt.Sprintf("billing period %d is not one of the project's", *in.PeriodID), "periodId")
	} else {
		c.add(CodeRequired, "the project has no open billing period; give periodId", "periodId")
	}
	return 0, nil
}

func or(p *decimal.Decimal, def decimal.Decimal) decimal.Decimal {
	if p == nil {
		return def
	}
	return *p
}

// UpdateInvoiceStatus moves an invoice through Procore's workflow (submit
// for review, approve, revise and resubmit). Only the latest invoice of its
// commitment can change, and approved invoices are final. Setting the status
// it already has changes nothing.
func (s *Runner) UpdateInvoiceStatus(ctx context.Context, in UpdateInvoiceStatusInput) (*UpdateInvoiceStatusPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	if in.Status == adapter.InvoiceUnknown {
		return &UpdateInvoiceStatusPayload{UserErrors: []UserError{{Field: inputPath("status"), Code: CodeInvalidValue, Message: "UNKNOWN cannot be set"}}}, nil
	}
	cur, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.Invoice, error) {
		return e.p.Invoice(ctx, in.ProjectID, in.InvoiceID)
	}, "invoiceId")
	if err != nil || nf != nil {
		return &UpdateInvoiceStatusPayload{UserErrors: nf}, err
	}
	if cur.Status == in.Status {
		return &UpdateInvoiceStatusPayload{Invoice: &cur, UserErrors: []UserError{}}, nil
	}
	if !InvoiceTransitionAllowed(cur.Status, in.Status) {
		return &UpdateInvoiceStatusPayload{UserErrors: []UserError{{Field: inputPath("status"), Code: CodeInvalidTransition,
			Message: fmt.Sprintf("an invoice cannot go from %s to %s", cur.Status, in.Status)}}}, nil
	}
	commitment := cur.CommitmentID
	siblings, err := e.p.Invoices(ctx, in.ProjectID, adapter.InvoiceFilter{CommitmentID: &commitment}, adapter.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range siblings.Items {
		if o.Number > cur.Number {
			return &UpdateInvoiceStatusPayload{UserErrors: []UserError{{Field: inputPath("invoiceId"), Code: CodeInvalidTransition,
				Message: fmt.Sprintf("only the latest invoice of a commitment can change; invoice #%d follows #%d", o.Number, cur.Number)}}}, nil
		}
	}
	inv, uerrs, err := update(ctx, s, e, updateOp[adapter.Invoice]{
		projectID: in.ProjectID, target: []string{"invoiceId"},
		before: []events.Snapshot{events.InvoiceSnapshot(e.conn.ID, cur)},
		do: func(ctx context.Context) (adapter.Invoice, error) {
			return e.p.UpdateInvoiceStatus(ctx, in.ProjectID, in.InvoiceID, in.Status)
		},
		snapshot: invoiceSnapshot(e.conn.ID),
	})
	return &UpdateInvoiceStatusPayload{Invoice: inv, UserErrors: uerrs}, err
}
