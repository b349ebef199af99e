package resolvers

import (
	"context"

	"procoregraph/adapter"
	"procoregraph/loaders"
)

// loadMany loads ids through an entity loader in one batch, keeping order;
// an id that does not exist (or cannot be seen) yields nil, as federation expects.
func loadMany[V any](ctx context.Context, ld *loaders.Loader[int64, V], ids []int64) ([]*V, error) {
	vals, errs := ld.LoadMany(ctx, ids)()
	out := make([]*V, len(ids))
	for i := range ids {
		if i < len(errs) && errs[i] != nil {
			if adapter.IsNotFound(errs[i]) {
				continue
			}
			return nil, errs[i]
		}
		v := vals[i]
		out[i] = &v
	}
	return out, nil
}

// findInProjects resolves project-scoped entities by id alone, in the order of ids.
func findInProjects[T any](ctx context.Context, ids []int64, fetchOf func(*loaders.Loaders) func(context.Context, int64, adapter.ListOptions) (adapter.Page[T], error), idOf func(T) int64) ([]*T, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	found, err := loaders.FindInProjects(ctx, l, ids, fetchOf(l), idOf)
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(ids))
	for i, id := range ids {
		if v, ok := found[id]; ok {
			out[i] = &v
		}
	}
	return out, nil
}

// projectByID loads a project through the batch entity loader.
func projectByID(ctx context.Context, id int64) (*adapter.Project, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	p, err := l.ProjectsByID.Load(ctx, id)()
	if err != nil {
		return nil, err
	}
	return &p, nil
}
