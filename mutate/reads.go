package mutate

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/loaders"
)

// Reads that state checks make. Checks that could refuse a valid write when
// the cache is stale confirm a miss with a fresh upstream read; transition
// checks always read the item fresh (a write must not be refused, or
// allowed, on old data).

// missingProjectUsers returns the ids that are not people of the project's
// directory.
func missingProjectUsers(ctx context.Context, e env, projectID int64, ids []int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	known := map[int64]bool{}
	if e.ld != nil {
		page, err := e.ld.ProjectUsers.Load(ctx, loaders.NewListKey(projectID, 0, nil))()
		if err != nil {
			return nil, err
		}
		for _, u := range page.Items {
			known[u.ID] = true
		}
	}
	var unsure []int64
	for _, id := range ids {
		if !known[id] && !slices.Contains(unsure, id) {
			unsure = append(unsure, id)
		}
	}
	if len(unsure) == 0 {
		return nil, nil
	}
	page, err := e.p.ProjectUsers(ctx, projectID, adapter.ListOptions{IDs: unsure})
	if err != nil {
		return nil, err
	}
	for _, u := range page.Items {
		known[u.ID] = true
	}
	var missing []int64
	for _, id := range unsure {
		if !known[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// checkPeople adds NOT_FOUND for each id of ids (at path, indexed when
// indexed is true) that is not a project user.
func checkPeople(ctx context.Context, e env, c *checker, projectID int64, ids []int64, indexed bool, path ...string) error {
	missing, err := missingProjectUsers(ctx, e, projectID, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if !slices.Contains(missing, id) {
			continue
		}
		p := path
		if indexed {
			p = append(slices.Clone(path), strconv.Itoa(i))
		}
		c.add(CodeNotFound, fmt.Sprintf("user %d is not in the project directory", id), p...)
	}
	return nil
}

// readFresh reads the item a mutation acts on, mapping NOT_FOUND to a
// UserError on target.
func readFresh[T any](ctx context.Context, read func(ctx context.Context) (T, error), target ...string) (T, []UserError, error) {
	v, err := read(ctx)
	if err != nil {
		if adapter.IsNotFound(err) {
			return v, []UserError{{Field: inputPath(target...), Code: CodeNotFound, Message: "not found (or not visible to this connection)"}}, nil
		}
		return v, nil, err
	}
	return v, nil, nil
}

// commitmentKind finds whether commitment id is a subcontract or a purchase
// order (the kind never changes, so the cached list answers when it has it).
func commitmentKind(ctx context.Context, e env, projectID, id int64) (adapter.CommitmentKind, bool, error) {
	if e.ld != nil {
		page, err := e.ld.Commitments.Load(ctx, loaders.NewListKey(projectID, 0, nil))()
		if err != nil {
			return "", false, err
		}
		for _, c := range page.Items {
			if c.ID == id {
				return c.Kind, true, nil
			}
		}
	}
	page, err := e.p.Commitments(ctx, projectID, adapter.ListOptions{IDs: []int64{id}})
	if err != nil {
		return "", false, err
	}
	for _, c := range page.Items {
		if c.ID == id {
			return c.Kind, true, nil
		}
	}
	return "", false, nil
}

// billingPeriods returns the project's billing periods; fresh says whether
// to skip the cache.
func billingPeriods(ctx context.Context, e env, projectID int64, fresh bool) ([]adapter.BillingPeriod, error) {
	if !fresh && e.ld != nil {
		return e.ld.BillingPeriods.Load(ctx, projectID)()
	}
	return e.p.BillingPeriods(ctx, projectID)
}

// submittalStatuses returns the company's submittal statuses, through the
// cache when there is one (they change rarely); fresh skips it.
func (s *Runner) submittalStatuses(ctx context.Context, e env, fresh bool) ([]adapter.SubmittalStatus, error) {
	fetch := func(ctx context.Context) ([]adapter.SubmittalStatus, error) {
		return e.p.SubmittalStatuses(ctx, e.conn.CompanyID)
	}
	if fresh || s.cache == nil {
		return fetch(ctx)
	}
	key := cache.Key{Conn: e.conn.ID, User: e.conn.UserKey, Kind: kindSubmittalStatuses,
		Scope: "company:" + strconv.FormatInt(e.conn.CompanyID, 10)}
	return cache.GetOrFetchJSON(ctx, s.cache, key, fetch)
}

// SubmittalStatuses lists the connection company's submittal statuses (for
// clients choosing updateSubmittalStatus's statusId).
func (s *Runner) SubmittalStatuses(ctx context.Context) ([]adapter.SubmittalStatus, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	return s.submittalStatuses(ctx, e, false)
}

// SubmittalResponses lists the responses a project's submittal approvers can
// give (for clients choosing respondToSubmittal's responseId), through the
// cache when there is one (they change rarely).
func (s *Runner) SubmittalResponses(ctx context.Context, projectID int64) ([]adapter.SubmittalResponse, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context) ([]adapter.SubmittalResponse, error) {
		return e.p.SubmittalResponses(ctx, projectID)
	}
	if s.cache == nil {
		return fetch(ctx)
	}
	key := cache.Key{Conn: e.conn.ID, User: e.conn.UserKey, Kind: kindSubmittalResponses,
		Scope: "project:" + strconv.FormatInt(projectID, 10) + ":submittal_responses"}
	return cache.GetOrFetchJSON(ctx, s.cache, key, fetch)
}

// Cache kinds of the lists the runner reads through the cache.
const (
	kindSubmittalStatuses  = "submittal_statuses"
	kindSubmittalResponses = "submittal_responses"
)

// Kinds are the cache kinds the runner reads through (see loaders.Kinds).
var Kinds = []string{kindSubmittalStatuses, kindSubmittalResponses}
