package mutate

import (
	"context"
	"fmt"
	"strconv"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/events"
)

// UpdatePaymentApplicationStatusInput is updatePaymentApplicationStatus's input.
type UpdatePaymentApplicationStatusInput struct {
	ProjectID            int64
	PrimeContractID      int64
	PaymentApplicationID int64
	Status               adapter.PaymentApplicationStatus
	ClientMutationID     *string
}

// UpdatePaymentApplicationStatusPayload is updatePaymentApplicationStatus's result.
type UpdatePaymentApplicationStatusPayload struct {
	PaymentApplication *adapter.PaymentApplication
	UserErrors         []UserError
	ClientMutationID   *string
}

// paymentApplicationTransitions are the status changes the gateway lets an
// owner invoice make, as for subcontractor invoices: approved payment
// applications are final.
var paymentApplicationTransitions = map[adapter.PaymentApplicationStatus][]adapter.PaymentApplicationStatus{
	adapter.PaymentApplicationDraft:             {adapter.PaymentApplicationUnderReview, adapter.PaymentApplicationReviseAndResubmit, adapter.PaymentApplicationApproved},
	adapter.PaymentApplicationUnderReview:       {adapter.PaymentApplicationDraft, adapter.PaymentApplicationReviseAndResubmit, adapter.PaymentApplicationApproved},
	adapter.PaymentApplicationReviseAndResubmit: {adapter.PaymentApplicationDraft, adapter.PaymentApplicationUnderReview},
	adapter.PaymentApplicationApproved:          {},
}

// PaymentApplicationTransitionAllowed reports whether a payment application
// may move from one status to another. Unknown current statuses are let
// through (Procore decides).
func PaymentApplicationTransitionAllowed(from, to adapter.PaymentApplicationStatus) bool {
	next, known := paymentApplicationTransitions[from]
	if !known {
		return true
	}
	return contains(next, to)
}

// UpdatePaymentApplicationStatus moves a payment application (owner invoice)
// through Procore's workflow. Steps: static checks (no upstream call); a
// fresh read of the prime contract's payment applications (one list call);
// the same status again is a no-op; a transition out of APPROVED, or of any
// application but the contract's latest, is a userError; then the PATCH,
// invalidation of the project's cached data and the observation of the
// state before and after.
func (s *Runner) UpdatePaymentApplicationStatus(ctx context.Context, in UpdatePaymentApplicationStatusInput) (*UpdatePaymentApplicationStatusPayload, error) {
	out := &UpdatePaymentApplicationStatusPayload{ClientMutationID: in.ClientMutationID, UserErrors: []UserError{}}
	var c checker
	checkStatusClientMutationID(&c, in.ClientMutationID)
	checkStatusID(&c, in.ProjectID, "projectId")
	checkStatusID(&c, in.PrimeContractID, "primeContractId")
	checkStatusID(&c, in.PaymentApplicationID, "paymentApplicationId")
	if !contains(adapter.PaymentApplicationStatuses, in.Status) {
		c.add(CodeInvalidValue, fmt.Sprintf("%s cannot be set", orUnknown(string(in.Status))), "status")
	}
	if !c.ok() {
		out.UserErrors = c.result()
		return out, nil
	}
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := e.p.PaymentApplications(ctx, in.ProjectID, in.PrimeContractID)
	if adapter.IsNotFound(err) {
		out.UserErrors = []UserError{{Field: inputPath("primeContractId"), Code: CodeNotFound,
			Message: fmt.Sprintf("prime contract %d not found in project %d (or not visible to this connection)", in.PrimeContractID, in.ProjectID)}}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var cur *adapter.PaymentApplication
	for i := range apps {
		if apps[i].ID == in.PaymentApplicationID {
			cur = &apps[i]
		}
	}
	if cur == nil {
		out.UserErrors = []UserError{{Field: inputPath("paymentApplicationId"), Code: CodeNotFound,
			Message: fmt.Sprintf("payment application %d is not on prime contract %d", in.PaymentApplicationID, in.PrimeContractID)}}
		return out, nil
	}
	if cur.Status == in.Status {
		out.PaymentApplication = cur
		return out, nil
	}
	if !PaymentApplicationTransitionAllowed(cur.Status, in.Status) {
		out.UserErrors = []UserError{{Field: inputPath("status"), Code: CodeInvalidTransition,
			Message: fmt.Sprintf("a payment application cannot go from %s to %s (approved payment applications are final)", cur.Status, in.Status)}}
		return out, nil
	}
	for _, o := range apps {
		if o.Number > cur.Number {
			out.UserErrors = []UserError{{Field: inputPath("paymentApplicationId"), Code: CodeInvalidTransition,
				Message: fmt.Sprintf("only the latest payment application of a prime contract can change; #%d follows #%d", o.Number, cur.Number)}}
			return out, nil
		}
	}
	conn := e.conn.ID
	before := *cur
	app, uerrs, err := update(ctx, s, e, updateOp[adapter.PaymentApplication]{
		projectID: in.ProjectID, target: []string{"paymentApplicationId"},
		before: []events.Snapshot{events.PaymentApplicationSnapshot(conn, before)},
		do: func(ctx context.Context) (adapter.PaymentApplication, error) {
			v, err := e.p.UpdatePaymentApplicationStatus(ctx, in.ProjectID, in.PrimeContractID, in.PaymentApplicationID, in.Status)
			if err == nil && v.ID != 0 {
				audit.Wrote(ctx, "payment_application", strconv.FormatInt(v.ID, 10))
			}
			return v, err
		},
		snapshot: func(v adapter.PaymentApplication) (events.Snapshot, bool) {
			return events.PaymentApplicationSnapshot(conn, v), v.ID != 0
		},
	})
	out.PaymentApplication, out.UserErrors = app, uerrs
	return out, err
}

func orUnknown(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	return s
}
