package loaders

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel/trace"

	"procoregraph/adapter"
	"procoregraph/telemetry/spans"
)

// Lookups by id alone of items Procore serves only under a project (RFIs,
// submittals, commitments, invoices): Query.rfi(id:) and the like without
// projectId. Every id asked in one batch window goes to Procore together:
// one filtered list call per project the connection can see (FindInProjects),
// however many ids. An id no project holds is NOT_FOUND.
//
// These results are not cached (the item's project, which scopes the cache
// and its invalidation, is known only once it is found): they are fresh on
// every request, and an answer built from them is not kept by the response
// cache (its upstream calls bypass the value cache).
func searchByIDs[T any](l *Loaders, fetch func(ctx context.Context, projectID int64, opt adapter.ListOptions) (adapter.Page[T], error), idOf func(T) int64) *Loader[int64, T] {
	batch := func(ctx context.Context, ids []int64) []*dataloader.Result[T] {
		if spans.Recording(ctx) {
			var span trace.Span
			ctx, span = spans.Start(ctx, "loader.batch lookup", trace.SpanKindInternal, spans.LoaderKind.String("lookup"), spans.LoaderKeys.Int(len(ids)))
			defer span.End()
		}
		out := make([]*dataloader.Result[T], len(ids))
		found, err := FindInProjects(ctx, l, ids, fetch, idOf)
		for i, id := range ids {
			switch v, ok := found[id]; {
			case err != nil:
				out[i] = &dataloader.Result[T]{Error: err}
			case ok:
				out[i] = &dataloader.Result[T]{Data: v}
			default:
				out[i] = &dataloader.Result[T]{Error: adapter.Errorf(adapter.CodeNotFound, "%d not found in any visible project", id)}
			}
		}
		return out
	}
	return batched(func() *dataloader.Loader[int64, T] {
		return dataloader.NewBatchedLoader(batch, loaderOptions[int64, T](l)...)
	})
}
