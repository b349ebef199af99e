package mutate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"procoregraph/adapter"
	"procoregraph/events"
)

// OneTierPCOMessage is createPotentialChangeOrder's REJECTED userError on a
// project whose change management has one tier.
const OneTierPCOMessage = "this project uses 1-tier change management, which has no potential change orders; " +
	"create the change order on the contract instead"

// CreatePCOLineItemInput is one line of a new PCO.
type CreatePCOLineItemInput struct {
	ChangeEventLineItemID int64
	Amount                *adapter.Decimal
}

// CreatePotentialChangeOrderInput is createPotentialChangeOrder's input.
type CreatePotentialChangeOrderInput struct {
	ProjectID        int64
	Title            string
	ContractID       *int64
	LineItems        []CreatePCOLineItemInput
	IdempotencyKey   *string
	ClientMutationID *string
}

// CreatePotentialChangeOrderPayload is createPotentialChangeOrder's result.
type CreatePotentialChangeOrderPayload struct {
	PotentialChangeOrder *adapter.PotentialChangeOrder
	UserErrors           []UserError
	ClientMutationID     *string
}

// CreatePotentialChangeOrder creates a PCO from change event line items on a
// prime contract (the project's only one when not given). Before any write
// it reads the project's change order tiers (1 tier: REJECTED), its change
// events (every line must be the project's) and its prime contracts.
func (s *Runner) CreatePotentialChangeOrder(ctx context.Context, in CreatePotentialChangeOrderInput) (*CreatePotentialChangeOrderPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	c.required(in.Title, "title")
	c.maxLen(in.Title, 255, "title")
	switch {
	case len(in.LineItems) == 0:
		c.add(CodeRequired, "a potential change order needs at least one line item", "lineItems")
	case len(in.LineItems) > maxChangeMgmtLines:
		c.add(CodeOutOfRange, fmt.Sprintf("%d line items; at most %d", len(in.LineItems), maxChangeMgmtLines), "lineItems")
	default:
		seen := map[int64]bool{}
		for i, li := range in.LineItems {
			p := []string{"lineItems", strconv.Itoa(i)}
			if seen[li.ChangeEventLineItemID] {
				c.add(CodeDuplicate, fmt.Sprintf("change event line item %d is given twice", li.ChangeEventLineItemID), append(p, "changeEventLineItemId")...)
			}
			seen[li.ChangeEventLineItemID] = true
			if li.Amount != nil {
				c.money(*li.Amount, append(p, "amount")...)
			}
		}
	}
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreatePotentialChangeOrderPayload{UserErrors: c.result(), ClientMutationID: in.ClientMutationID}, nil
	}
	hashed := in
	hashed.IdempotencyKey, hashed.ClientMutationID = nil, nil
	var create2 adapter.PotentialChangeOrderCreate // filled by check
	pco, uerrs, err := create(ctx, s, e, createOp[adapter.PotentialChangeOrder]{
		name: "createPotentialChangeOrder", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			var err error
			create2, err = preparePCO(ctx, e, c, in)
			return err
		},
		do: func(ctx context.Context) (adapter.PotentialChangeOrder, error) {
			return e.p.CreatePotentialChangeOrder(ctx, in.ProjectID, create2)
		},
		exists: func(p adapter.PotentialChangeOrder) bool { return p.ID != 0 },
		snapshot: func(p adapter.PotentialChangeOrder) (events.Snapshot, bool) {
			return events.PotentialChangeOrderSnapshot(e.conn.ID, p), p.ID != 0
		},
	})
	if pco == nil && (err != nil || len(uerrs) > 0) && s.cache != nil {
		// A line that failed after the PCO was created leaves it voided in
		// Procore (no PCO delete is published): drop the cached lists so the
		// next query shows it as it is. Refusals before any write drop them
		// too, which costs no upstream call.
		if ierr := s.cache.Invalidate(ctx, e.conn.ID, ProjectScope(in.ProjectID)); ierr != nil {
			s.log.WarnContext(ctx, "mutation: cache invalidation failed; reads may be stale until the TTL", "project", in.ProjectID, "err", ierr)
		}
	}
	return &CreatePotentialChangeOrderPayload{PotentialChangeOrder: pco, UserErrors: uerrs, ClientMutationID: in.ClientMutationID}, err
}

// preparePCO runs the read-only checks of a PCO create and builds the
// adapter's input.
func preparePCO(ctx context.Context, e env, c *checker, in CreatePotentialChangeOrderInput) (adapter.PotentialChangeOrderCreate, error) {
	out := adapter.PotentialChangeOrderCreate{Title: strings.TrimSpace(in.Title)}
	tiers, err := e.p.ChangeOrderTiers(ctx, in.ProjectID)
	if err != nil {
		return out, err
	}
	if tiers == 1 {
		c.add(CodeRejected, OneTierPCOMessage, "projectId")
		return out, nil
	}
	lines, err := changeEventLines(ctx, e, in)
	if err != nil {
		return out, err
	}
	for i, li := range in.LineItems {
		l, ok := lines[li.ChangeEventLineItemID]
		if !ok {
			c.add(CodeNotFound, fmt.Sprintf("change event line item %d is not on a change event of the project", li.ChangeEventLineItemID),
				"lineItems", strconv.Itoa(i), "changeEventLineItemId")
			continue
		}
		amount := l.EstimatedCost
		if li.Amount != nil {
			amount = *li.Amount
		}
		out.LineItems = append(out.LineItems, adapter.PCOLineCreate{ChangeEventLineID: l.ID, Description: l.Description,
			CostCodeID: l.CostCodeID, Amount: amount})
	}
	contract, err := pcoContract(ctx, e, c, in)
	out.ContractID = contract
	return out, err
}

// changeEventLines returns the project's change event line items by id,
// read through the cache and again fresh when one asked for is missing.
func changeEventLines(ctx context.Context, e env, in CreatePotentialChangeOrderInput) (map[int64]adapter.ChangeEventLineItem, error) {
	out := map[int64]adapter.ChangeEventLineItem{}
	add := func(evs []adapter.ChangeEvent) {
		for _, ev := range evs {
			for _, l := range ev.LineItems {
				out[l.ID] = l
			}
		}
	}
	missing := func() bool {
		for _, li := range in.LineItems {
			if _, ok := out[li.ChangeEventLineItemID]; !ok {
				return true
			}
		}
		return false
	}
	if e.ld != nil {
		evs, err := e.ld.ChangeMgmt.Events.Load(ctx, in.ProjectID)()
		if err != nil {
			return nil, err
		}
		add(evs)
		if !missing() {
			return out, nil
		}
	}
	evs, err := e.p.ChangeEvents(ctx, in.ProjectID)
	if err != nil {
		return nil, err
	}
	add(evs)
	return out, nil
}

// pcoContract returns the prime contract the PCO goes on: the given one if
// the project has it, else the project's only one.
func pcoContract(ctx context.Context, e env, c *checker, in CreatePotentialChangeOrderInput) (int64, error) {
	for _, fresh := range []bool{false, true} {
		var contracts []adapter.PrimeContract
		var err error
		if !fresh && e.ld != nil {
			contracts, err = e.ld.PrimeContracts.Load(ctx, in.ProjectID)()
		} else if fresh {
			contracts, err = e.p.PrimeContracts(ctx, in.ProjectID)
		} else {
			continue
		}
		if err != nil {
			return 0, err
		}
		if in.ContractID == nil {
			if len(contracts) == 1 {
				return contracts[0].ID, nil
			}
			switch {
			case fresh && len(contracts) == 0:
				c.add(CodeRequired, "the project has no prime contract, which a potential change order changes", "contractId")
			case fresh:
				c.add(CodeRequired, fmt.Sprintf("the project has %d prime contracts; give contractId", len(contracts)), "contractId")
			}
			continue
		}
		for _, pc := range contracts {
			if pc.ID == *in.ContractID {
				return pc.ID, nil
			}
		}
	}
	if in.ContractID != nil {
		c.add(CodeNotFound, fmt.Sprintf("prime contract %d is not one of the project's", *in.ContractID), "contractId")
	}
	return 0, nil
}
