package mutate

import (
	"context"
	"fmt"
	"strconv"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/events"
)

// UpdateChangeOrderStatusInput is updateChangeOrderStatus's input.
type UpdateChangeOrderStatusInput struct {
	ProjectID        int64
	ChangeOrderID    int64
	Type             adapter.ChangeOrderType
	Status           adapter.ChangeOrderStatus
	ClientMutationID *string
}

// UpdateChangeOrderStatusPayload is updateChangeOrderStatus's result: the
// item in the field of its type.
type UpdateChangeOrderStatusPayload struct {
	PrimeChangeOrder      *adapter.PrimeChangeOrder
	ChangeOrderPackage    *adapter.ChangeOrderPackage
	CommitmentChangeOrder *adapter.ChangeOrder
	UserErrors            []UserError
	ClientMutationID      *string
}

// ChangeOrderTransitionAllowed reports whether the gateway lets a change
// order (prime, package or commitment) move from one status to another.
// VOID is final, and an APPROVED change order (whose amount is in the
// contract's revised value and whose schedule of values Procore locks) can
// only be voided. An UNKNOWN current status is let through (Procore decides).
// Setting the current status is not a transition (callers answer it as a
// no-op first).
func ChangeOrderTransitionAllowed(from, to adapter.ChangeOrderStatus) bool {
	switch from {
	case adapter.ChangeOrderVoid:
		return false
	case adapter.ChangeOrderApproved:
		return to == adapter.ChangeOrderVoid
	}
	return true
}

// statusTarget is one change order type's reads, write and snapshot.
type statusTarget[T any] struct {
	what     string // "prime change order", for messages
	read     func(ctx context.Context) (T, error)
	write    func(ctx context.Context) (T, error)
	status   func(T) adapter.ChangeOrderStatus
	snapshot func(T) events.Snapshot
	id       func(T) int64
	// wrongTierProbe, when set, is asked after read answered NOT_FOUND:
	// true means the project's tier does not use this type at all.
	wrongTierProbe func(ctx context.Context) bool
	// tierMessage explains a type the project's tier does not use.
	tierMessage string
}

// UpdateChangeOrderStatus sets the status of a prime change order, a change
// order package or a commitment change order (input.Type). Steps: static
// checks (no upstream call); a fresh read of the item (a type the project's
// tier does not serve, or a missing item, is a userError); the same status
// again is a no-op; a transition ChangeOrderTransitionAllowed refuses is a
// userError; then the PATCH, invalidation of the project's cached data (the
// prime contract's approved change orders included) and the observation of
// the item's state before and after.
func (s *Runner) UpdateChangeOrderStatus(ctx context.Context, in UpdateChangeOrderStatusInput) (*UpdateChangeOrderStatusPayload, error) {
	out := &UpdateChangeOrderStatusPayload{ClientMutationID: in.ClientMutationID, UserErrors: []UserError{}}
	var c checker
	checkStatusClientMutationID(&c, in.ClientMutationID)
	checkStatusID(&c, in.ProjectID, "projectId")
	checkStatusID(&c, in.ChangeOrderID, "changeOrderId")
	switch {
	case in.Type == adapter.ChangeOrderTypePotential:
		c.add(CodeInvalidValue, "a potential change order's status is not written here: update a prime change order, a change order package or a commitment change order", "type")
	case !contains(adapter.StatusWritableChangeOrderTypes, in.Type):
		c.add(CodeInvalidValue, fmt.Sprintf("unknown change order type %q", in.Type), "type")
	}
	switch {
	case in.Status == adapter.ChangeOrderUnknown || in.Status == "":
		c.add(CodeInvalidValue, "UNKNOWN cannot be set", "status")
	case in.Type == adapter.ChangeOrderTypePackage && in.Status == adapter.ChangeOrderPendingBillable:
		c.add(CodeInvalidValue, "PENDING_BILLABLE does not apply to a change order package", "status")
	}
	if !c.ok() {
		out.UserErrors = c.result()
		return out, nil
	}
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	conn, pid, id, st := e.conn.ID, in.ProjectID, in.ChangeOrderID, in.Status
	threeTier := "this project uses 3-tier change management, where the prime contract change orders are change order packages: use CHANGE_ORDER_PACKAGE"
	switch in.Type {
	case adapter.ChangeOrderTypePrime:
		v, uerrs, err := changeOrderStatus(ctx, s, e, in, statusTarget[adapter.PrimeChangeOrder]{
			what: "prime change order",
			read: func(ctx context.Context) (adapter.PrimeChangeOrder, error) { return e.p.PrimeChangeOrder(ctx, pid, id) },
			write: func(ctx context.Context) (adapter.PrimeChangeOrder, error) {
				return e.p.UpdatePrimeChangeOrderStatus(ctx, pid, id, st)
			},
			status:      func(x adapter.PrimeChangeOrder) adapter.ChangeOrderStatus { return x.Status },
			snapshot:    func(x adapter.PrimeChangeOrder) events.Snapshot { return events.PrimeChangeOrderSnapshot(conn, x) },
			id:          func(x adapter.PrimeChangeOrder) int64 { return x.ID },
			tierMessage: threeTier,
		})
		out.PrimeChangeOrder, out.UserErrors = v, uerrs
		return out, err
	case adapter.ChangeOrderTypePackage:
		v, uerrs, err := changeOrderStatus(ctx, s, e, in, statusTarget[adapter.ChangeOrderPackage]{
			what: "change order package",
			read: func(ctx context.Context) (adapter.ChangeOrderPackage, error) {
				return e.p.ChangeOrderPackage(ctx, pid, id)
			},
			write: func(ctx context.Context) (adapter.ChangeOrderPackage, error) {
				return e.p.UpdateChangeOrderPackageStatus(ctx, pid, id, st)
			},
			status:   func(x adapter.ChangeOrderPackage) adapter.ChangeOrderStatus { return x.Status },
			snapshot: func(x adapter.ChangeOrderPackage) events.Snapshot { return events.ChangeOrderPackageSnapshot(conn, x) },
			id:       func(x adapter.ChangeOrderPackage) int64 { return x.ID },
			// Procore's package list does not refuse a 1- or 2-tier project:
			// the prime change order list (which refuses 3-tier projects)
			// tells whether the project has packages at all.
			wrongTierProbe: func(ctx context.Context) bool {
				_, err := e.p.PrimeChangeOrder(ctx, pid, id)
				return err == nil || adapter.IsNotFound(err)
			},
			tierMessage: "this project uses 1- or 2-tier change management, which has no change order packages: use PRIME_CHANGE_ORDER",
		})
		out.ChangeOrderPackage, out.UserErrors = v, uerrs
		return out, err
	default:
		v, uerrs, err := changeOrderStatus(ctx, s, e, in, statusTarget[adapter.ChangeOrder]{
			what: "commitment change order",
			read: func(ctx context.Context) (adapter.ChangeOrder, error) { return e.p.CommitmentChangeOrder(ctx, pid, id) },
			write: func(ctx context.Context) (adapter.ChangeOrder, error) {
				return e.p.UpdateCommitmentChangeOrderStatus(ctx, pid, id, st)
			},
			status:      func(x adapter.ChangeOrder) adapter.ChangeOrderStatus { return x.Status },
			snapshot:    func(x adapter.ChangeOrder) events.Snapshot { return events.CommitmentChangeOrderSnapshot(conn, x) },
			id:          func(x adapter.ChangeOrder) int64 { return x.ID },
			tierMessage: "this project uses 3-tier change management, where Procore serves no commitment change orders",
		})
		out.CommitmentChangeOrder, out.UserErrors = v, uerrs
		return out, err
	}
}

// changeOrderStatus runs steps 3 to 5 for one change order type.
func changeOrderStatus[T any](ctx context.Context, s *Runner, e env, in UpdateChangeOrderStatusInput, t statusTarget[T]) (*T, []UserError, error) {
	cur, err := t.read(ctx)
	switch {
	case adapter.IsWrongChangeOrderTier(err):
		return nil, []UserError{{Field: inputPath("type"), Code: CodeInvalidValue, Message: t.tierMessage}}, nil
	case adapter.IsNotFound(err):
		if t.wrongTierProbe != nil && t.wrongTierProbe(ctx) {
			return nil, []UserError{{Field: inputPath("type"), Code: CodeInvalidValue, Message: t.tierMessage}}, nil
		}
		return nil, []UserError{{Field: inputPath("changeOrderId"), Code: CodeNotFound,
			Message: fmt.Sprintf("%s %d not found in project %d (or not visible to this connection)", t.what, in.ChangeOrderID, in.ProjectID)}}, nil
	case err != nil:
		return nil, nil, err
	}
	from := t.status(cur)
	if from == in.Status {
		return &cur, []UserError{}, nil
	}
	if !ChangeOrderTransitionAllowed(from, in.Status) {
		msg := fmt.Sprintf("a %s cannot go from %s to %s", t.what, from, in.Status)
		if from == adapter.ChangeOrderApproved {
			msg += " (an approved change order can only be voided)"
		} else if from == adapter.ChangeOrderVoid {
			msg += " (VOID is final)"
		}
		return nil, []UserError{{Field: inputPath("status"), Code: CodeInvalidTransition, Message: msg}}, nil
	}
	return update(ctx, s, e, updateOp[T]{
		projectID: in.ProjectID, target: []string{"changeOrderId"},
		before: []events.Snapshot{t.snapshot(cur)},
		do: func(ctx context.Context) (T, error) {
			v, err := t.write(ctx)
			// update's auditWrite knows commitment change orders
			// (adapter.ChangeOrder) but not prime change orders and packages.
			if err == nil && t.id(v) != 0 && in.Type != adapter.ChangeOrderTypeCommitment {
				audit.Wrote(ctx, auditKind(in.Type), strconv.FormatInt(t.id(v), 10))
			}
			return v, err
		},
		snapshot: func(v T) (events.Snapshot, bool) { return t.snapshot(v), t.id(v) != 0 },
	})
}

// auditKind is the audit log's item kind of a change order type.
func auditKind(t adapter.ChangeOrderType) string {
	switch t {
	case adapter.ChangeOrderTypePrime:
		return "prime_change_order"
	case adapter.ChangeOrderTypePackage:
		return "change_order_package"
	}
	return "commitment_change_order"
}

// checkStatusClientMutationID checks a Relay clientMutationId's length.
func checkStatusClientMutationID(c *checker, v *string) {
	if v != nil {
		c.maxLen(*v, 255, "clientMutationId")
	}
}

// checkStatusID checks an id is positive.
func checkStatusID(c *checker, v int64, path ...string) {
	if v <= 0 {
		c.add(CodeOutOfRange, "must be a positive id", path...)
	}
}
