package cache

import "context"

type freshKey struct{}

// WithFresh returns ctx marking its reads as fresh-only: GetOrFetchMany and
// GetOrFetchManyValues under it serve no stored value (every key is a miss,
// fetched and written back as usual), so a request can force Procore reads
// (Cache-Control: max-age=0) and still refresh the cache for others. A fetch
// of the same key already in flight for another request is shared.
func WithFresh(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

// Fresh reports whether ctx asks for fresh reads (WithFresh).
func Fresh(ctx context.Context) bool {
	v, _ := ctx.Value(freshKey{}).(bool)
	return v
}
