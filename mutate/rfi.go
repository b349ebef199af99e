package mutate

import (
	"context"
	"strconv"

	"procoregraph/adapter"
	"procoregraph/events"
)

func rfiSnapshot(conn string) func(adapter.RFI) (events.Snapshot, bool) {
	return func(r adapter.RFI) (events.Snapshot, bool) { return events.RFISnapshot(conn, r), r.ID != 0 }
}

func checkImpact(c *checker, in *ImpactInput, days bool, path string) {
	if in == nil {
		return
	}
	if in.Status == adapter.ImpactUnknown {
		c.add(CodeInvalidValue, "UNKNOWN cannot be set", path, "status")
	}
	if in.Value == nil {
		return
	}
	if in.Status != adapter.ImpactYesKnown {
		c.add(CodeInconsistent, "a value needs status YES_KNOWN", path, "value")
		return
	}
	if days {
		if !in.Value.IsInteger() || in.Value.IsNegative() {
			c.add(CodeOutOfRange, "must be a whole number of days, 0 or more", path, "value")
		}
		return
	}
	c.nonNegative(*in.Value, path, "value")
}

func impactOf(in *ImpactInput) *adapter.Impact {
	if in == nil {
		return nil
	}
	return &adapter.Impact{Status: in.Status, Value: in.Value}
}

// CreateRFI creates an RFI (a draft when input.draft is true).
func (s *Runner) CreateRFI(ctx context.Context, in CreateRFIInput) (*CreateRFIPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	c.required(in.Subject, "subject")
	c.maxLen(in.Subject, 255, "subject")
	c.required(in.Question, "question")
	c.distinct(in.AssigneeIDs, "assigneeIds")
	c.date(in.DueDate, "dueDate")
	checkImpact(&c, in.CostImpact, false, "costImpact")
	checkImpact(&c, in.ScheduleImpact, true, "scheduleImpact")
	c.attachments(in.AttachmentIDs)
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreateRFIPayload{UserErrors: c.result()}, nil
	}
	hashed := in
	hashed.IdempotencyKey = nil
	rfi, uerrs, err := create(ctx, s, e, createOp[adapter.RFI]{
		name: "createRFI", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			if err := checkPeople(ctx, e, c, in.ProjectID, []int64{in.ManagerID}, false, "managerId"); err != nil {
				return err
			}
			return checkPeople(ctx, e, c, in.ProjectID, in.AssigneeIDs, true, "assigneeIds")
		},
		do: func(ctx context.Context) (adapter.RFI, error) {
			return e.p.CreateRFI(ctx, in.ProjectID, adapter.RFICreate{
				Subject: in.Subject, Question: in.Question, ManagerID: in.ManagerID, AssigneeIDs: in.AssigneeIDs,
				DueDate: in.DueDate, CostImpact: impactOf(in.CostImpact), ScheduleImpact: impactOf(in.ScheduleImpact),
				UploadIDs: in.AttachmentIDs, Draft: in.Draft != nil && *in.Draft,
			})
		},
		exists:   func(r adapter.RFI) bool { return r.ID != 0 },
		snapshot: rfiSnapshot(e.conn.ID),
	})
	return &CreateRFIPayload{RFI: rfi, UserErrors: uerrs}, err
}

// ReplyToRFI posts a reply (official or not) to an RFI's question.
func (s *Runner) ReplyToRFI(ctx context.Context, in ReplyToRFIInput) (*ReplyToRFIPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	c.required(in.Body, "body")
	c.attachments(in.AttachmentIDs)
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &ReplyToRFIPayload{UserErrors: c.result()}, nil
	}
	hashed := in
	hashed.IdempotencyKey = nil
	var before adapter.RFI
	rfi, uerrs, err := create(ctx, s, e, createOp[adapter.RFI]{
		name: "replyToRFI", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			cur, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.RFI, error) { return e.p.RFI(ctx, in.ProjectID, in.RfiID) }, "rfiId")
			if err != nil || nf != nil {
				c.errs = append(c.errs, nf...)
				return err
			}
			switch cur.Status {
			case adapter.RFIStatusDraft:
				c.add(CodeInvalidTransition, "a draft RFI cannot be answered; open it first", "rfiId")
			case adapter.RFIStatusRecycled:
				c.add(CodeInvalidTransition, "a recycled RFI cannot be answered", "rfiId")
			}
			before = cur
			s.observe(ctx, events.RFISnapshot(e.conn.ID, cur))
			return nil
		},
		do: func(ctx context.Context) (adapter.RFI, error) {
			return e.p.ReplyToRFI(ctx, in.ProjectID, in.RfiID, adapter.RFIReply{Body: in.Body, Official: in.Official != nil && *in.Official, UploadIDs: in.AttachmentIDs})
		},
		exists: func(r adapter.RFI) bool { return r.ID != 0 },
		snapshot: func(r adapter.RFI) (events.Snapshot, bool) {
			// A reply changes the RFI; it is not a new RFI.
			return events.RFISnapshot(e.conn.ID, r), false
		},
	})
	if rfi != nil && rfi.ID != 0 && before.ID != 0 {
		s.observe(context.WithoutCancel(ctx), events.RFISnapshot(e.conn.ID, *rfi))
	}
	return &ReplyToRFIPayload{RFI: rfi, UserErrors: uerrs}, err
}

// rfiUpdate reads the RFI fresh, lets decide judge the change (UserErrors,
// or done=true when it is already in the wanted state), then writes.
func (s *Runner) rfiUpdate(ctx context.Context, projectID, rfiID int64, decide func(c *checker, cur adapter.RFI) (done bool),
	extra func(ctx context.Context, e env, c *checker) error, do func(ctx context.Context, p adapter.Procore) (adapter.RFI, error)) (*adapter.RFI, []UserError, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, nil, err
	}
	cur, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.RFI, error) { return e.p.RFI(ctx, projectID, rfiID) }, "rfiId")
	if err != nil || nf != nil {
		return nil, nf, err
	}
	var c checker
	if decide(&c, cur) {
		return &cur, []UserError{}, nil
	}
	if extra != nil && c.ok() {
		if err := extra(ctx, e, &c); err != nil {
			return nil, nil, err
		}
	}
	if !c.ok() {
		return nil, c.result(), nil
	}
	return update(ctx, s, e, updateOp[adapter.RFI]{
		projectID: projectID, target: []string{"rfiId"},
		before:   []events.Snapshot{events.RFISnapshot(e.conn.ID, cur)},
		do:       func(ctx context.Context) (adapter.RFI, error) { return do(ctx, e.p) },
		snapshot: rfiSnapshot(e.conn.ID),
	})
}

// CloseRFI closes an open RFI (Procore's accepted flag). Closing a closed
// RFI changes nothing and returns it; a draft cannot be closed.
func (s *Runner) CloseRFI(ctx context.Context, in CloseRFIInput) (*CloseRFIPayload, error) {
	rfi, uerrs, err := s.rfiUpdate(ctx, in.ProjectID, in.RfiID, func(c *checker, cur adapter.RFI) bool {
		switch cur.Status {
		case adapter.RFIStatusClosed:
			return true
		case adapter.RFIStatusDraft:
			c.add(CodeInvalidTransition, "a draft RFI cannot be closed; open it first", "rfiId")
		case adapter.RFIStatusRecycled:
			c.add(CodeInvalidTransition, "a recycled RFI cannot be closed", "rfiId")
		}
		return false
	}, nil, func(ctx context.Context, p adapter.Procore) (adapter.RFI, error) {
		return p.SetRFIAccepted(ctx, in.ProjectID, in.RfiID, true)
	})
	return &CloseRFIPayload{RFI: rfi, UserErrors: uerrs}, err
}

// ReopenRFI reopens a closed RFI. Reopening an open RFI changes nothing.
func (s *Runner) ReopenRFI(ctx context.Context, in ReopenRFIInput) (*ReopenRFIPayload, error) {
	rfi, uerrs, err := s.rfiUpdate(ctx, in.ProjectID, in.RfiID, func(c *checker, cur adapter.RFI) bool {
		switch cur.Status {
		case adapter.RFIStatusOpen:
			return true
		case adapter.RFIStatusClosed:
		default:
			c.add(CodeInvalidTransition, "only a closed RFI can be reopened (this one is "+string(cur.Status)+")", "rfiId")
		}
		return false
	}, nil, func(ctx context.Context, p adapter.Procore) (adapter.RFI, error) {
		return p.SetRFIAccepted(ctx, in.ProjectID, in.RfiID, false)
	})
	return &ReopenRFIPayload{RFI: rfi, UserErrors: uerrs}, err
}

// ForwardRFI forwards an open RFI to one reviewer, who gets the ball in court.
func (s *Runner) ForwardRFI(ctx context.Context, in ForwardRFIInput) (*ForwardRFIPayload, error) {
	rfi, uerrs, err := s.rfiUpdate(ctx, in.ProjectID, in.RfiID, func(c *checker, cur adapter.RFI) bool {
		if cur.Status != adapter.RFIStatusOpen {
			c.add(CodeInvalidTransition, "only an open RFI can be forwarded (this one is "+string(cur.Status)+")", "rfiId")
		}
		return false
	}, func(ctx context.Context, e env, c *checker) error {
		return checkPeople(ctx, e, c, in.ProjectID, []int64{in.ForwardeeID}, false, "forwardeeId")
	}, func(ctx context.Context, p adapter.Procore) (adapter.RFI, error) {
		return p.ForwardRFI(ctx, in.ProjectID, in.RfiID, in.ForwardeeID)
	})
	return &ForwardRFIPayload{RFI: rfi, UserErrors: uerrs}, err
}

// AdvanceRFIBallInCourt moves an open RFI's ball in court between its
// manager and its assignees.
func (s *Runner) AdvanceRFIBallInCourt(ctx context.Context, in AdvanceRFIBallInCourtInput) (*AdvanceRFIBallInCourtPayload, error) {
	rfi, uerrs, err := s.rfiUpdate(ctx, in.ProjectID, in.RfiID, func(c *checker, cur adapter.RFI) bool {
		switch {
		case cur.Status != adapter.RFIStatusOpen:
			c.add(CodeInvalidTransition, "the ball in court can only be advanced on an open RFI (this one is "+string(cur.Status)+")", "rfiId")
		case (cur.BallInCourtRole == nil || *cur.BallInCourtRole != adapter.BallInCourtAssignees) && len(cur.Assignees) == 0:
			c.add(CodeInvalidTransition, "the RFI has no assignees to hand the ball in court to", "rfiId")
		}
		return false
	}, nil, func(ctx context.Context, p adapter.Procore) (adapter.RFI, error) {
		return p.AdvanceRFIBallInCourt(ctx, in.ProjectID, in.RfiID)
	})
	return &AdvanceRFIBallInCourtPayload{RFI: rfi, UserErrors: uerrs}, err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
