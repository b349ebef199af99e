package mutate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"procoregraph/adapter"
	"procoregraph/events"
)

// Statuses each commitment kind has in Procore (work order contracts and
// purchase order contracts have different enums).
var (
	subcontractStatuses = []adapter.CommitmentStatus{adapter.CommitmentDraft, adapter.CommitmentOutForBid,
		adapter.CommitmentOutForSignature, adapter.CommitmentApproved, adapter.CommitmentComplete,
		adapter.CommitmentTerminated, adapter.CommitmentVoid}
	purchaseOrderStatuses = []adapter.CommitmentStatus{adapter.CommitmentDraft, adapter.CommitmentProcessing,
		adapter.CommitmentSubmitted, adapter.CommitmentPartiallyReceived, adapter.CommitmentReceived,
		adapter.CommitmentApproved, adapter.CommitmentClosed}
	// invoiceableStatuses are the statuses in which Procore accepts
	// subcontractor invoices against a commitment.
	invoiceableStatuses = map[adapter.CommitmentKind][]adapter.CommitmentStatus{
		adapter.CommitmentSubcontract:   {adapter.CommitmentApproved, adapter.CommitmentComplete},
		adapter.CommitmentPurchaseOrder: {adapter.CommitmentApproved, adapter.CommitmentReceived, adapter.CommitmentPartiallyReceived},
	}
)

func statusesOf(kind adapter.CommitmentKind) []adapter.CommitmentStatus {
	if kind == adapter.CommitmentPurchaseOrder {
		return purchaseOrderStatuses
	}
	return subcontractStatuses
}

func kindName(kind adapter.CommitmentKind) string {
	return strings.ToLower(strings.ReplaceAll(string(kind), "_", " "))
}

func commitmentSnapshot(conn string) func(adapter.Commitment) (events.Snapshot, bool) {
	return func(c adapter.Commitment) (events.Snapshot, bool) {
		return events.CommitmentSnapshot(conn, c), c.ID != 0
	}
}

// CreateCommitment creates a subcontract or purchase order with its schedule
// of values.
func (s *Runner) CreateCommitment(ctx context.Context, in CreateCommitmentInput) (*CreateCommitmentPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	status := adapter.CommitmentDraft
	if in.Status != nil {
		status = *in.Status
	}
	if !contains(statusesOf(in.Kind), status) {
		c.add(CodeInvalidValue, fmt.Sprintf("status %s does not apply to a %s", status, kindName(in.Kind)), "status")
	}
	if in.Title != nil {
		c.maxLen(*in.Title, 255, "title")
	}
	if in.Number != nil {
		c.required(*in.Number, "number")
		c.maxLen(*in.Number, 50, "number")
	}
	if in.RetainagePercent != nil {
		c.percent(*in.RetainagePercent, "retainagePercent")
	}
	for i, li := range in.LineItems {
		p := []string{"lineItems", strconv.Itoa(i)}
		c.positive(li.Amount, append(p, "amount")...)
		if li.Quantity != nil {
			c.nonNegative(*li.Quantity, append(p, "quantity")...)
		}
		if li.UnitCost != nil {
			c.nonNegative(*li.UnitCost, append(p, "unitCost")...)
		}
		if li.Quantity != nil && li.UnitCost != nil && !li.Quantity.Mul(*li.UnitCost).Round(2).Equal(li.Amount) {
			c.add(CodeInconsistent, fmt.Sprintf("amount %s is not quantity × unit cost (%s)", li.Amount, li.Quantity.Mul(*li.UnitCost).Round(2)), append(p, "amount")...)
		}
	}
	c.attachments(in.AttachmentIDs)
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreateCommitmentPayload{UserErrors: c.result()}, nil
	}
	hashed := in
	hashed.IdempotencyKey = nil
	cm, uerrs, err := create(ctx, s, e, createOp[adapter.Commitment]{
		name: "createCommitment", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			if in.VendorID == nil || e.ld == nil {
				return nil
			}
			_, err := e.ld.VendorsByID.Load(ctx, *in.VendorID)()
			if adapter.IsNotFound(err) {
				c.add(CodeNotFound, fmt.Sprintf("vendor %d is not in the company directory", *in.VendorID), "vendorId")
				return nil
			}
			return err
		},
		do: func(ctx context.Context) (adapter.Commitment, error) {
			in2 := adapter.CommitmentCreate{Kind: in.Kind, Number: strings.TrimSpace(deref(in.Number)), Title: deref(in.Title),
				VendorID: in.VendorID, Status: status, RetainagePercent: in.RetainagePercent, Description: deref(in.Description),
				UploadIDs: in.AttachmentIDs}
			for _, li := range in.LineItems {
				in2.LineItems = append(in2.LineItems, adapter.CommitmentLineItemInput{Description: li.Description, Amount: li.Amount,
					CostCodeID: li.CostCodeID, Quantity: li.Quantity, UnitCost: li.UnitCost, UOM: deref(li.Uom)})
			}
			return e.p.CreateCommitment(ctx, in.ProjectID, in2)
		},
		exists:   func(c adapter.Commitment) bool { return c.ID != 0 },
		snapshot: commitmentSnapshot(e.conn.ID),
	})
	return &CreateCommitmentPayload{Commitment: cm, UserErrors: uerrs}, err
}

// UpdateCommitmentStatus sets a commitment's status. Its kind is looked up
// when not given. Setting the status it already has changes nothing.
func (s *Runner) UpdateCommitmentStatus(ctx context.Context, in UpdateCommitmentStatusInput) (*UpdateCommitmentStatusPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	if in.Status == adapter.CommitmentUnknown {
		return &UpdateCommitmentStatusPayload{UserErrors: []UserError{{Field: inputPath("status"), Code: CodeInvalidValue, Message: "UNKNOWN cannot be set"}}}, nil
	}
	var kind adapter.CommitmentKind
	if in.Kind != nil {
		kind = *in.Kind
	} else {
		k, found, err := commitmentKind(ctx, e, in.ProjectID, in.CommitmentID)
		if err != nil {
			return nil, err
		}
		if !found {
			return &UpdateCommitmentStatusPayload{UserErrors: []UserError{{Field: inputPath("commitmentId"), Code: CodeNotFound,
				Message: "not found (or not visible to this connection)"}}}, nil
		}
		kind = k
	}
	if !contains(statusesOf(kind), in.Status) {
		return &UpdateCommitmentStatusPayload{UserErrors: []UserError{{Field: inputPath("status"), Code: CodeInvalidValue,
			Message: fmt.Sprintf("status %s does not apply to a %s", in.Status, kindName(kind))}}}, nil
	}
	cur, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.Commitment, error) {
		return e.p.Commitment(ctx, in.ProjectID, kind, in.CommitmentID)
	}, "commitmentId")
	if err != nil || nf != nil {
		return &UpdateCommitmentStatusPayload{UserErrors: nf}, err
	}
	if cur.Status == in.Status {
		return &UpdateCommitmentStatusPayload{Commitment: &cur, UserErrors: []UserError{}}, nil
	}
	cm, uerrs, err := update(ctx, s, e, updateOp[adapter.Commitment]{
		projectID: in.ProjectID, target: []string{"commitmentId"},
		before: []events.Snapshot{events.CommitmentSnapshot(e.conn.ID, cur)},
		do: func(ctx context.Context) (adapter.Commitment, error) {
			return e.p.UpdateCommitmentStatus(ctx, in.ProjectID, kind, in.CommitmentID, in.Status)
		},
		snapshot: commitmentSnapshot(e.conn.ID),
	})
	return &UpdateCommitmentStatusPayload{Commitment: cm, UserErrors: uerrs}, err
}

// CreateCommitmentChangeOrder creates a change order on a commitment, with
// one line for its amount (negative for a deductive change). Procore takes
// the change order and its line in separate calls (the adapter's
// CreateChangeOrder): when the line (or the final status) fails after the
// change order was created, the adapter deletes it again and the payload has
// no change order and a userError (on amount or status when Procore refused
// it). Only when that delete fails too does the payload carry the left-over
// change order with its userError (INCOMPLETE when Procore did not refuse
// the step) rather than hiding it. On a project with 3-tier change
// management Procore serves no commitment change orders: a REJECTED
// userError says so and nothing is created.
func (s *Runner) CreateCommitmentChangeOrder(ctx context.Context, in CreateCommitmentChangeOrderInput) (*CreateCommitmentChangeOrderPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	if in.Title != nil {
		c.maxLen(*in.Title, 255, "title")
	}
	if in.Number != nil {
		c.required(*in.Number, "number")
	}
	c.money(in.Amount, "amount")
	if in.Amount.IsZero() {
		c.add(CodeMustBePositive, "a change order must change the amount (positive, or negative for a deduction)", "amount")
	}
	if in.Status != nil && *in.Status == adapter.ChangeOrderUnknown {
		c.add(CodeInvalidValue, "UNKNOWN cannot be set", "status")
	}
	c.date(in.DueDate, "dueDate")
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreateCommitmentChangeOrderPayload{UserErrors: c.result()}, nil
	}
	hashed := in
	hashed.IdempotencyKey = nil
	co, uerrs, err := create(ctx, s, e, createOp[adapter.ChangeOrder]{
		name: "createCommitmentChangeOrder", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			_, found, err := commitmentKind(ctx, e, in.ProjectID, in.CommitmentID)
			if err == nil && !found {
				c.add(CodeNotFound, "not found (or not visible to this connection)", "commitmentId")
			}
			return err
		},
		do: func(ctx context.Context) (adapter.ChangeOrder, error) {
			return e.p.CreateChangeOrder(ctx, in.ProjectID, adapter.ChangeOrderCreate{CommitmentID: in.CommitmentID,
				Number: strings.TrimSpace(deref(in.Number)), Title: deref(in.Title), Status: deref(in.Status),
				Description: deref(in.Description), DueDate: in.DueDate, Amount: in.Amount})
		},
		exists: func(c adapter.ChangeOrder) bool { return c.ID != 0 },
	})
	return &CreateCommitmentChangeOrderPayload{ChangeOrder: co, UserErrors: uerrs}, err
}
