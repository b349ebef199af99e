package resolvers

import (
	"context"
	"errors"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
	"procoregraph/events"
	"procoregraph/graph/model"
)

const (
	// MaxChangesPage caps Query.changes(first:).
	MaxChangesPage = 500
	// changesScan caps the log entries one Query.changes call reads, matching
	// its filters or not, so a narrow filter over a long log stays bounded.
	changesScan = 5000
)

// changes reads one page of the change log for the request's connection,
// narrowed to the projects its credential may see.
func changes(ctx context.Context, since *string, kinds []model.ChangeKind, itemKinds []model.ChangeItemKind,
	projectIDs []int64, first *int) (*model.ChangeFeedPage, error) {
	limit := 100
	if first != nil {
		limit = *first
	}
	if limit < 1 || limit > MaxChangesPage {
		return nil, adapter.Errorf(adapter.CodeBadUserInput, "first must be between 1 and %d", MaxChangesPage)
	}
	if len(projectIDs) > MaxChangesPage {
		return nil, adapter.Errorf(adapter.CodeBadUserInput, "projectIds takes at most %d projects", MaxChangesPage)
	}
	c, err := conn(ctx)
	if err != nil {
		return nil, err
	}
	live := events.LiveFrom(ctx)
	log, ok := live.LogOf()
	if !ok {
		return nil, adapter.Errorf(adapter.CodeInternal, "the change feed is not configured")
	}
	f := events.Filter{Conn: c.ID}
	for _, k := range kinds {
		f.Kinds = append(f.Kinds, events.Kind(k))
	}
	for _, k := range itemKinds {
		f.ItemKinds = append(f.ItemKinds, events.ItemKind(k))
	}
	for _, id := range projectIDs {
		// A project this credential cannot see is refused, as a
		// subscription to it is, rather than silently empty.
		if !c.Sees(ctx, id) {
			return nil, adapter.Errorf(adapter.CodeNotFound, "project %d not found", id)
		}
		f.ProjectIDs = append(f.ProjectIDs, id)
	}
	after := ""
	if since != nil {
		after = *since
	} else if live.Prime != nil {
		// Taking a watermark records the differ's baseline of the items it
		// covers (once per priming TTL), so that the first change of an item
		// the gateway never saw is reported, not taken as its baseline. A
		// failed priming is logged by the primer; the watermark stands.
		projects := f.ProjectIDs
		if len(projects) == 0 {
			projects = []int64{0} // every project the credential sees
		}
		for _, pid := range projects {
			_ = live.Prime(ctx, c, pid, f.ItemKinds)
		}
	}
	page, err := log.ReadPage(ctx, f, after, limit, changesScan)
	switch {
	case errors.Is(err, events.ErrBadCursor):
		return nil, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "since is not a change cursor of this gateway", Err: err}
	case errors.Is(err, events.ErrCursorExpired):
		return nil, &gqlerror.Error{
			Message:    "since is older than the change log's retention (EVENT_RETENTION): changes after it may be lost; do a full sync, then resume from a new watermark",
			Extensions: map[string]any{"code": "CURSOR_EXPIRED"},
		}
	case err != nil:
		return nil, err
	}
	out := &model.ChangeFeedPage{Nodes: make([]model.Change, 0, len(page.Events)), EndCursor: page.End, HasNextPage: page.More}
	seen := map[int64]bool{}
	for _, e := range page.Events {
		if e.ProjectID != 0 && len(projectIDs) == 0 {
			v, ok := seen[e.ProjectID]
			if !ok {
				v = c.Sees(ctx, e.ProjectID)
				seen[e.ProjectID] = v
			}
			if !v {
				continue
			}
		}
		out.Nodes = append(out.Nodes, model.Change{Cursor: e.ID, Kind: model.ChangeKind(e.Kind),
			ItemKind: model.ChangeItemKind(e.ItemKind), ItemID: e.ItemID, ProjectID: e.ProjectID, Title: e.Title,
			PreviousStatus: optional(e.PreviousStatus), Status: optional(e.NewStatus),
			PreviousBallInCourt: people(e.PreviousBallInCourt), BallInCourt: people(e.NewBallInCourt),
			At: e.At, Source: model.ChangeSource(e.Source)})
	}
	return out, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
