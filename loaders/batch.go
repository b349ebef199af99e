package loaders

import (
	"context"
	"strconv"
	"sync"

	json "github.com/goccy/go-json"
	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/safe"
	"procoregraph/telemetry/spans"
)

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func projectScope(id int64) string { return "project:" + itoa(id) }
func companyScope(id int64) string { return "company:" + itoa(id) }

// loaderOptions are the dataloader options for the mode: memoized batches
// normally; in Naive mode one key per batch and no memoization.
func loaderOptions[K comparable, V any](l *Loaders) []dataloader.Option[K, V] {
	if l.opt.Naive {
		return []dataloader.Option[K, V]{
			dataloader.WithBatchCapacity[K, V](1),
			dataloader.WithInputCapacity[K, V](1),
			dataloader.WithCache[K, V](&dataloader.NoCache[K, V]{}),
		}
	}
	return []dataloader.Option[K, V]{dataloader.WithWait[K, V](l.opt.Wait)}
}

// singleOptions are the dataloader options of single's loaders: one key per
// batch, dispatched at once, unless a remote cache makes grouping the
// cache reads worth the window (Options.RemoteCache). A batch of one key
// needs an input queue of one: the dataloader's default of 1,000 allocated
// 8 KB per key (640 KB of a cold dashboard's 80 list loads).
func singleOptions[K comparable, V any](l *Loaders) []dataloader.Option[K, V] {
	if l.opt.Naive || l.opt.RemoteCache {
		return loaderOptions[K, V](l)
	}
	return []dataloader.Option[K, V]{dataloader.WithBatchCapacity[K, V](1), dataloader.WithInputCapacity[K, V](1)}
}

// fetchMissing fetches the values at the given indexes of a batch. It returns
// the values it found and an error for each index it could not answer.
type fetchMissing[V any] func(ctx context.Context, idx []int) (map[int]V, map[int]error)

// resolveBatch answers n keys: one cache multi-get, then fetch for the misses.
// keyOf names key i in the cache (scope and params). Without a cache it
// fetches everything. In a traced request the batch is a "loader.batch"
// span (kind, keys), parent of its cache reads and Procore calls.
func resolveBatch[V any](ctx context.Context, l *Loaders, kind string, n int, keyOf func(i int) (string, string), fetch fetchMissing[V]) []*dataloader.Result[V] {
	if spans.Recording(ctx) {
		var span trace.Span
		ctx, span = spans.Start(ctx, "loader.batch "+kind, trace.SpanKindInternal, spans.LoaderKind.String(kind), spans.LoaderKeys.Int(n))
		defer span.End()
	}
	out := make([]*dataloader.Result[V], n)
	if l.opt.Cache == nil {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		vals, errs := fetch(ctx, idx)
		for i := range out {
			out[i] = result(vals, errs, i)
		}
		return out
	}

	decodeScope := l.conn.ID + "\x00" + l.conn.UserKey
	keys := make([]cache.Key, n)
	pos := make(map[cache.Key]int, n)
	for i := range keys {
		scope, params := keyOf(i)
		keys[i] = cache.Key{Conn: l.conn.ID, User: l.conn.UserKey, Kind: kind, Scope: scope, Params: params}
		pos[keys[i]] = i
	}
	// Values fetched (by this call or a concurrent one it joined) come back
	// as they are; the cache encodes and stores them after the request moves
	// on (write-behind). A key's own failure goes to the cache as a
	// cache.KeyErrors, so that the callers sharing the fetch get it too
	// (rather than "not found"), and the cache returns those of every key of
	// the call. fetchErrs also remembers this call's own failures, which hold
	// when the request ended (the cache then returns only the context's
	// error); mu guards it because a stale-while-revalidate refresh may run
	// fetch again in the background after this call returned.
	var mu sync.Mutex
	fetchErrs := map[cache.Key]error{}
	got, err := l.opt.Cache.GetOrFetchManyValues(ctx, keys, func(ctx context.Context, missing []cache.Key) (map[cache.Key]any, error) {
		idx := make([]int, 0, len(missing))
		for _, k := range missing {
			idx = append(idx, pos[k])
		}
		vals, errs := fetch(ctx, idx)
		res := make(map[cache.Key]any, len(vals))
		var failed cache.KeyErrors
		mu.Lock()
		defer mu.Unlock()
		for _, i := range idx {
			if e, bad := errs[i]; bad {
				fetchErrs[keys[i]] = e
				if failed == nil {
					failed = make(cache.KeyErrors, len(errs))
				}
				failed[keys[i]] = e
				continue
			}
			if v, ok := vals[i]; ok {
				res[keys[i]] = v
			}
		}
		if failed == nil {
			return res, nil // not a nil KeyErrors in a non-nil error
		}
		return res, failed
	}, encodeJSON)
	keyErrs, _ := err.(cache.KeyErrors)
	mu.Lock()
	defer mu.Unlock()
	for i, k := range keys {
		if g, ok := got[k]; ok {
			if v, ok := g.Value.(V); ok {
				out[i] = &dataloader.Result[V]{Data: v}
				continue
			}
			v, derr := decode[V](l.opt.Decoded, decodeScope, g.Bytes, !l.opt.RemoteCache)
			if derr != nil {
				out[i] = &dataloader.Result[V]{Error: adapter.Errorf(adapter.CodeInternal, "decode cached %s: %v", kind, derr)}
				continue
			}
			out[i] = &dataloader.Result[V]{Data: v}
			continue
		}
		e := fetchErrs[k]
		switch {
		case e != nil:
		case keyErrs != nil:
			e = keyErrs[k] // nil: not found
		default:
			e = err
		}
		if e == nil {
			e = adapter.Errorf(adapter.CodeNotFound, "%s not found", kind)
		}
		out[i] = &dataloader.Result[V]{Error: e}
	}
	return out
}

// encodeJSON is how loaders' values are stored in the cache.
func encodeJSON(v any) ([]byte, error) { return json.Marshal(v) }

func result[V any](vals map[int]V, errs map[int]error, i int) *dataloader.Result[V] {
	if e, ok := errs[i]; ok {
		return &dataloader.Result[V]{Error: e}
	}
	if v, ok := vals[i]; ok {
		return &dataloader.Result[V]{Data: v}
	}
	return &dataloader.Result[V]{Error: adapter.Errorf(adapter.CodeNotFound, "not found")}
}

// eachConcurrently turns a one-key fetch into a fetchMissing that runs the
// keys concurrently under the connection's bound.
func eachConcurrently[K comparable, V any](l *Loaders, keys []K, one func(ctx context.Context, k K) (V, error)) fetchMissing[V] {
	return func(ctx context.Context, idx []int) (map[int]V, map[int]error) {
		var mu sync.Mutex
		vals := make(map[int]V, len(idx))
		errs := map[int]error{}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(l.opt.MaxConcurrency)
		for _, i := range idx {
			g.Go(safe.Func(func() error {
				v, err := one(gctx, keys[i])
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs[i] = err
				} else {
					vals[i] = v
				}
				return nil
			}))
		}
		_ = g.Wait()
		return vals, errs
	}
}

// single makes a loader whose keys are each answered by one upstream fetch
// (which may itself walk several pages).
func single[K comparable, V any](l *Loaders, kind string, one func(ctx context.Context, k K) (V, error), keyOf func(K) (scope, params string)) *Loader[K, V] {
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		return resolveBatch(ctx, l, kind, len(keys), func(i int) (string, string) { return keyOf(keys[i]) },
			eachConcurrently(l, keys, one))
	}
	ld := batched(func() *dataloader.Loader[K, V] { return dataloader.NewBatchedLoader(batch, singleOptions[K, V](l)...) })
	ld.read = cacheRead[K, V](l, kind, keyOf)
	return ld
}

// list makes a loader of list windows scoped by project or company.
func list[T any](l *Loaders, kind string, scopeOf func(int64) string, fetch func(ctx context.Context, scope int64, opt adapter.ListOptions) (adapter.Page[T], error)) *Loader[ListKey, adapter.Page[T]] {
	return single(l, kind, func(ctx context.Context, k ListKey) (adapter.Page[T], error) {
		return fetch(ctx, k.Scope, k.Options())
	}, func(k ListKey) (string, string) { return scopeOf(k.Scope), k.params() })
}

// byIDs makes an entity loader: every id missing from the cache is fetched in
// one call (filters[id][]); an id Procore does not return is NOT_FOUND.
func byIDs[V any](l *Loaders, kind string, scopeOf func(int64) string, fetch func(ctx context.Context, ids []int64) ([]V, error), idOf func(V) int64) *Loader[int64, V] {
	batch := func(ctx context.Context, ids []int64) []*dataloader.Result[V] {
		return resolveBatch(ctx, l, kind, len(ids), func(i int) (string, string) { return scopeOf(ids[i]), itoa(ids[i]) },
			func(ctx context.Context, idx []int) (map[int]V, map[int]error) {
				want := make([]int64, len(idx))
				for j, i := range idx {
					want[j] = ids[i]
				}
				items, err := fetch(ctx, want)
				errs := map[int]error{}
				if err != nil {
					for _, i := range idx {
						errs[i] = err
					}
					return nil, errs
				}
				byID := make(map[int64]V, len(items))
				for _, it := range items {
					byID[idOf(it)] = it
				}
				vals := make(map[int]V, len(idx))
				for _, i := range idx {
					if v, ok := byID[ids[i]]; ok {
						vals[i] = v
					} else {
						errs[i] = adapter.Errorf(adapter.CodeNotFound, "%s %d not found", kind, ids[i])
					}
				}
				return vals, errs
			})
	}
	return batched(func() *dataloader.Loader[int64, V] {
		return dataloader.NewBatchedLoader(batch, loaderOptions[int64, V](l)...)
	})
}
