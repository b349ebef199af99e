package mutate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"procoregraph/adapter"
	"procoregraph/events"
)

// maxChangeMgmtLines bounds the line items of one change event or PCO
// create (each PCO line is one Procore call).
const maxChangeMgmtLines = 100

// CreateChangeEventLineItemInput is one line item of a new change event.
type CreateChangeEventLineItemInput struct {
	Description   string
	CostCodeID    *int64
	EstimatedCost adapter.Decimal
}

// CreateChangeEventInput is createChangeEvent's input.
type CreateChangeEventInput struct {
	ProjectID        int64
	Title            string
	Description      *string
	Status           *adapter.ChangeEventStatus
	Scope            *adapter.ChangeEventScope
	RfiID            *int64
	LineItems        []CreateChangeEventLineItemInput
	IdempotencyKey   *string
	ClientMutationID *string
}

// CreateChangeEventPayload is createChangeEvent's result.
type CreateChangeEventPayload struct {
	ChangeEvent      *adapter.ChangeEvent
	UserErrors       []UserError
	ClientMutationID *string
}

func changeEventSnapshot(conn string) func(adapter.ChangeEvent) (events.Snapshot, bool) {
	return func(c adapter.ChangeEvent) (events.Snapshot, bool) {
		return events.ChangeEventSnapshot(conn, c), c.ID != 0
	}
}

// CreateChangeEvent creates a change event with its line items (one Procore
// call), then its description (a second call; when it fails the change
// event is deleted again). A change event is created OPEN, PENDING or CLOSED.
func (s *Runner) CreateChangeEvent(ctx context.Context, in CreateChangeEventInput) (*CreateChangeEventPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	c.required(in.Title, "title")
	c.maxLen(in.Title, 255, "title")
	if in.Description != nil {
		c.maxLen(*in.Description, 10000, "description")
	}
	status := adapter.ChangeEventOpen
	if in.Status != nil {
		status = *in.Status
	}
	if !slices.Contains([]adapter.ChangeEventStatus{adapter.ChangeEventOpen, adapter.ChangeEventPending, adapter.ChangeEventClosed}, status) {
		c.add(CodeInvalidValue, fmt.Sprintf("a change event is created OPEN, PENDING or CLOSED, not %s", status), "status")
	}
	scope := adapter.ScopeTBD
	if in.Scope != nil {
		scope = *in.Scope
	}
	if scope == adapter.ScopeUnknown {
		c.add(CodeInvalidValue, "UNKNOWN cannot be set", "scope")
	}
	if len(in.LineItems) > maxChangeMgmtLines {
		c.add(CodeOutOfRange, fmt.Sprintf("%d line items; at most %d", len(in.LineItems), maxChangeMgmtLines), "lineItems")
	}
	for i, li := range in.LineItems {
		if i >= maxChangeMgmtLines {
			break
		}
		p := []string{"lineItems", strconv.Itoa(i)}
		c.required(li.Description, append(p, "description")...)
		c.maxLen(li.Description, 255, append(p, "description")...)
		c.money(li.EstimatedCost, append(p, "estimatedCost")...)
	}
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreateChangeEventPayload{UserErrors: c.result(), ClientMutationID: in.ClientMutationID}, nil
	}
	hashed := in
	hashed.IdempotencyKey, hashed.ClientMutationID = nil, nil
	ev, uerrs, err := create(ctx, s, e, createOp[adapter.ChangeEvent]{
		name: "createChangeEvent", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			if in.RfiID != nil {
				_, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.RFI, error) {
					return e.p.RFI(ctx, in.ProjectID, *in.RfiID)
				}, "rfiId")
				if err != nil {
					return err
				}
				c.errs = append(c.errs, nf...)
			}
			return checkCostCodes(ctx, e, c, in)
		},
		do: func(ctx context.Context) (adapter.ChangeEvent, error) {
			in2 := adapter.ChangeEventCreate{Title: strings.TrimSpace(in.Title), Description: strings.TrimSpace(deref(in.Description)),
				Status: status, Scope: scope, RFIID: in.RfiID}
			for _, li := range in.LineItems {
				in2.LineItems = append(in2.LineItems, adapter.ChangeEventLineCreate{Description: li.Description,
					CostCodeID: li.CostCodeID, EstimatedCost: li.EstimatedCost})
			}
			return e.p.CreateChangeEvent(ctx, in.ProjectID, in2)
		},
		exists:   func(c adapter.ChangeEvent) bool { return c.ID != 0 },
		snapshot: changeEventSnapshot(e.conn.ID),
	})
	return &CreateChangeEventPayload{ChangeEvent: ev, UserErrors: uerrs, ClientMutationID: in.ClientMutationID}, err
}

// checkCostCodes adds NOT_FOUND for each line whose cost code is not one of
// the project's (one filtered read of the codes named).
func checkCostCodes(ctx context.Context, e env, c *checker, in CreateChangeEventInput) error {
	var want []int64
	for _, li := range in.LineItems {
		if li.CostCodeID != nil && !slices.Contains(want, *li.CostCodeID) {
			want = append(want, *li.CostCodeID)
		}
	}
	if len(want) == 0 {
		return nil
	}
	page, err := e.p.CostCodes(ctx, in.ProjectID, adapter.ListOptions{IDs: want})
	if err != nil {
		return err
	}
	known := map[int64]bool{}
	for _, cc := range page.Items {
		known[cc.ID] = true
	}
	for i, li := range in.LineItems {
		if li.CostCodeID != nil && !known[*li.CostCodeID] {
			c.add(CodeNotFound, fmt.Sprintf("cost code %d is not one of the project's", *li.CostCodeID), "lineItems", strconv.Itoa(i), "costCodeId")
		}
	}
	return nil
}
