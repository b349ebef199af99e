package loaders

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"

	"procoregraph/adapter"
	"procoregraph/safe"
)

// FindInProjects resolves federation entities that Procore only serves under a
// project (RFIs, submittals, commitments, invoices) when the representation
// carries nothing but the id: it asks every project of the connection's
// company, concurrently under the connection's bound, for those ids
// (filters[id][]). That costs one call per project, so the cached project
// list is used and callers batch all ids of a request into one call.
// The result maps id to item; ids not found are absent.
func FindInProjects[T any](ctx context.Context, l *Loaders, ids []int64, fetch func(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[T], error), idOf func(T) int64) (map[int64]T, error) {
	found := map[int64]T{}
	if len(ids) == 0 {
		return found, nil
	}
	projects, err := l.ProjectList.Load(ctx, ProjectListKey{Status: adapter.ProjectStatusAll})()
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opt.MaxConcurrency)
	for _, p := range projects.Items {
		g.Go(safe.Func(func() error {
			page, err := fetch(gctx, p.ID, adapter.ListOptions{IDs: ids})
			if adapter.IsNotFound(err) || adapter.ErrorCode(err) == adapter.CodeForbidden {
				return nil // a project whose tool we cannot see holds none of them
			}
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, it := range page.Items {
				found[idOf(it)] = it
			}
			return nil
		}))
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return found, nil
}
