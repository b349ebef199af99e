package signin

import (
	"context"
	"sync"
	"time"

	"procoregraph/adapter"
)

// visibilityTTL is how long a project's visibility to a person is trusted.
const visibilityTTL = time.Minute

// visibility answers tenant.Connection.CanSeeProject for a person: whether
// Procore shows them the project (it answers 404 otherwise), remembered for
// a minute per project. Entries are bounded by the company's projects.
func visibility(p adapter.Procore, companyID int64, now func() time.Time) func(ctx context.Context, projectID int64) bool {
	type seen struct {
		ok    bool
		until time.Time
	}
	var mu sync.Mutex
	memo := map[int64]seen{}
	return func(ctx context.Context, projectID int64) bool {
		t := now()
		mu.Lock()
		v, ok := memo[projectID]
		mu.Unlock()
		if ok && t.Before(v.until) {
			return v.ok
		}
		_, err := p.Project(ctx, companyID, projectID)
		visible := err == nil
		if err != nil && !adapter.IsNotFound(err) && adapter.ErrorCode(err) != adapter.CodeForbidden {
			return false // unknown now: do not deliver, do not remember
		}
		mu.Lock()
		if len(memo) > 100_000 {
			clear(memo)
		}
		memo[projectID] = seen{visible, t.Add(visibilityTTL)}
		mu.Unlock()
		return visible
	}
}
