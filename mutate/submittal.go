package mutate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"procoregraph/adapter"
	"procoregraph/events"
)

func submittalSnapshot(conn string) func(adapter.Submittal) (events.Snapshot, bool) {
	return func(s adapter.Submittal) (events.Snapshot, bool) { return events.SubmittalSnapshot(conn, s), s.ID != 0 }
}

// CreateSubmittal creates a submittal with its approval workflow.
func (s *Runner) CreateSubmittal(ctx context.Context, in CreateSubmittalInput) (*CreateSubmittalPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	c.required(in.Number, "number")
	c.maxLen(in.Number, 50, "number")
	if in.Title != nil {
		c.maxLen(*in.Title, 255, "title")
	}
	c.date(in.DueDate, "dueDate")
	var approvers []int64
	for i, step := range in.Workflow {
		si := strconv.Itoa(i)
		if len(step.ApproverIDs) == 0 {
			c.add(CodeRequired, "a workflow step needs at least one approver", "workflow", si, "approverIds")
		}
		c.distinct(step.ApproverIDs, "workflow", si, "approverIds")
		if step.DaysToRespond != nil && (*step.DaysToRespond < 0 || *step.DaysToRespond > 365) {
			c.add(CodeOutOfRange, "must be between 0 and 365 days", "workflow", si, "daysToRespond")
		}
		approvers = append(approvers, step.ApproverIDs...)
	}
	c.distinct(in.DistributionIDs, "distributionIds")
	c.attachments(in.AttachmentIDs)
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &CreateSubmittalPayload{UserErrors: c.result()}, nil
	}
	hashed := in
	hashed.IdempotencyKey = nil
	sub, uerrs, err := create(ctx, s, e, createOp[adapter.Submittal]{
		name: "createSubmittal", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		check: func(ctx context.Context, c *checker) error {
			missing, err := missingProjectUsers(ctx, e, in.ProjectID, append(append([]int64{}, approvers...), in.DistributionIDs...))
			if err != nil {
				return err
			}
			for i, step := range in.Workflow {
				for j, id := range step.ApproverIDs {
					if contains(missing, id) {
						c.add(CodeNotFound, fmt.Sprintf("user %d is not in the project directory", id), "workflow", strconv.Itoa(i), "approverIds", strconv.Itoa(j))
					}
				}
			}
			for i, id := range in.DistributionIDs {
				if contains(missing, id) {
					c.add(CodeNotFound, fmt.Sprintf("user %d is not in the project directory", id), "distributionIds", strconv.Itoa(i))
				}
			}
			return nil
		},
		do: func(ctx context.Context) (adapter.Submittal, error) {
			in2 := adapter.SubmittalCreate{Number: strings.TrimSpace(in.Number), Title: deref(in.Title), Type: deref(in.Type),
				Description: deref(in.Description), DueDate: in.DueDate, DistributionIDs: in.DistributionIDs, UploadIDs: in.AttachmentIDs}
			if in.SpecSectionID != nil {
				in2.SpecSection = strconv.FormatInt(*in.SpecSectionID, 10)
			}
			for _, st := range in.Workflow {
				step := adapter.SubmittalStep{ApproverIDs: st.ApproverIDs}
				if st.DaysToRespond != nil {
					step.DaysToRespond = *st.DaysToRespond
				}
				in2.Steps = append(in2.Steps, step)
			}
			return e.p.CreateSubmittal(ctx, in.ProjectID, in2)
		},
		exists:   func(s adapter.Submittal) bool { return s.ID != 0 },
		snapshot: submittalSnapshot(e.conn.ID),
	})
	return &CreateSubmittalPayload{Submittal: sub, UserErrors: uerrs}, err
}

// RespondToSubmittal records an approver's response on an open submittal.
func (s *Runner) RespondToSubmittal(ctx context.Context, in RespondToSubmittalInput) (*RespondToSubmittalPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	cur, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.Submittal, error) {
		return e.p.Submittal(ctx, in.ProjectID, in.SubmittalID)
	}, "submittalId")
	if err != nil || nf != nil {
		return &RespondToSubmittalPayload{UserErrors: nf}, err
	}
	var c checker
	found := false
	for _, a := range cur.Approvers {
		found = found || a.ID == in.ApproverID
	}
	if !found {
		c.add(CodeNotFound, fmt.Sprintf("approver %d is not in this submittal's workflow", in.ApproverID), "approverId")
	}
	if cur.Status != nil && !strings.EqualFold(cur.Status.Status, "Open") {
		c.add(CodeInvalidTransition, fmt.Sprintf("responses can only be given while the submittal is open (it is %s)", cur.Status.Name), "submittalId")
	}
	if !c.ok() {
		return &RespondToSubmittalPayload{UserErrors: c.result()}, nil
	}
	sub, uerrs, err := update(ctx, s, e, updateOp[adapter.Submittal]{
		projectID: in.ProjectID, target: []string{"approverId"},
		before: []events.Snapshot{events.SubmittalSnapshot(e.conn.ID, cur)},
		do: func(ctx context.Context) (adapter.Submittal, error) {
			return e.p.RespondToSubmittal(ctx, in.ProjectID, in.SubmittalID, in.ApproverID, in.ResponseID, deref(in.Comment))
		},
		snapshot: submittalSnapshot(e.conn.ID),
	})
	return &RespondToSubmittalPayload{Submittal: sub, UserErrors: uerrs}, err
}

// UpdateSubmittalStatus sets a submittal's company-configured status.
// Setting the status it already has changes nothing.
func (s *Runner) UpdateSubmittalStatus(ctx context.Context, in UpdateSubmittalStatusInput) (*UpdateSubmittalStatusPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	if known, err := s.knownSubmittalStatus(ctx, e, in.StatusID); err != nil || !known {
		if err != nil {
			return nil, err
		}
		return &UpdateSubmittalStatusPayload{UserErrors: []UserError{{Field: inputPath("statusId"), Code: CodeNotFound,
			Message: fmt.Sprintf("status %d is not one of the company's submittal statuses", in.StatusID)}}}, nil
	}
	cur, nf, err := readFresh(ctx, func(ctx context.Context) (adapter.Submittal, error) {
		return e.p.Submittal(ctx, in.ProjectID, in.SubmittalID)
	}, "submittalId")
	if err != nil || nf != nil {
		return &UpdateSubmittalStatusPayload{UserErrors: nf}, err
	}
	if cur.Status != nil && cur.Status.ID == in.StatusID {
		return &UpdateSubmittalStatusPayload{Submittal: &cur, UserErrors: []UserError{}}, nil
	}
	sub, uerrs, err := update(ctx, s, e, updateOp[adapter.Submittal]{
		projectID: in.ProjectID, target: []string{"submittalId"},
		before: []events.Snapshot{events.SubmittalSnapshot(e.conn.ID, cur)},
		do: func(ctx context.Context) (adapter.Submittal, error) {
			return e.p.UpdateSubmittalStatus(ctx, in.ProjectID, in.SubmittalID, in.StatusID)
		},
		snapshot: submittalSnapshot(e.conn.ID),
	})
	return &UpdateSubmittalStatusPayload{Submittal: sub, UserErrors: uerrs}, err
}

func (s *Runner) knownSubmittalStatus(ctx context.Context, e env, id int64) (bool, error) {
	for _, fresh := range []bool{false, true} {
		if fresh && s.cache == nil {
			break // the first read was already fresh
		}
		all, err := s.submittalStatuses(ctx, e, fresh)
		if err != nil {
			return false, err
		}
		for _, st := range all {
			if st.ID == id {
				return true, nil
			}
		}
	}
	return false, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
