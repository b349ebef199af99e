package cache

import (
	"context"
	"fmt"
	"sync"

	json "github.com/goccy/go-json"
)

// GetOrFetchManyJSON is GetOrFetchMany for values of type T, stored as JSON
// (encoding/json). Adapter domain types round-trip exactly: shopspring
// decimals are JSON strings, int64 ids are JSON integers decoded into int64
// fields, times are RFC 3339 with nanoseconds. Values this call fetched are
// returned as fetch returned them, without a JSON round trip.
//
// A cached value that no longer decodes as T (the type changed without a key
// version bump) is deleted, counted as procoregraph_cache_errors_total
// {op="decode"}, and refetched in the same call. A fetched value that does
// not encode is returned but not cached.
func GetOrFetchManyJSON[T any](ctx context.Context, c *Cache, keys []Key, fetch func(ctx context.Context, missing []Key) (map[Key]T, error)) (map[Key]T, error) {
	var mu sync.Mutex
	fetched := make(map[Key]T)
	raw, err := c.GetOrFetchMany(ctx, keys, func(ctx context.Context, missing []Key) (map[Key][]byte, error) {
		vals, ferr := fetch(ctx, missing)
		enc := make(map[Key][]byte, len(vals))
		for k, v := range vals {
			if b, err := json.Marshal(v); err == nil {
				enc[k] = b
			}
		}
		mu.Lock()
		for k, v := range vals {
			fetched[k] = v
		}
		mu.Unlock()
		return enc, ferr
	})
	out := make(map[Key]T, len(raw))
	var bad []Key
	mu.Lock()
	for k, b := range raw {
		if v, ok := fetched[k]; ok {
			out[k] = v
			continue
		}
		var v T
		if json.Unmarshal(b, &v) != nil {
			bad = append(bad, k)
			continue
		}
		out[k] = v
	}
	for _, k := range keys { // fetched but not encodable
		if _, ok := out[k]; !ok {
			if v, ok := fetched[k]; ok {
				out[k] = v
			}
		}
	}
	mu.Unlock()
	if len(bad) == 0 {
		return out, err
	}
	c.dropUndecodable(ctx, bad)
	vals, ferr := fetch(ctx, bad)
	for _, k := range bad {
		if v, ok := vals[k]; ok {
			out[k] = v
		}
	}
	if err == nil {
		err = ferr
	}
	return out, err
}

// GetOrFetchJSON is GetOrFetchManyJSON for one key. fetch's error is
// returned as is; a key that failed in a fetch reporting KeyErrors returns
// its own error.
func GetOrFetchJSON[T any](ctx context.Context, c *Cache, key Key, fetch func(ctx context.Context) (T, error)) (T, error) {
	got, err := GetOrFetchManyJSON(ctx, c, []Key{key}, func(ctx context.Context, _ []Key) (map[Key]T, error) {
		v, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		return map[Key]T{key: v}, nil
	})
	if v, ok := got[key]; ok {
		return v, nil
	}
	var zero T
	if ke, ok := err.(KeyErrors); ok {
		err = ke[key]
	}
	if err != nil {
		return zero, err
	}
	return zero, fmt.Errorf("cache: no value for a key of kind %q", key.Kind)
}

func (c *Cache) dropUndecodable(ctx context.Context, keys []Key) {
	if c == nil {
		return
	}
	c.m.errors.WithLabelValues(opDecode).Add(float64(len(keys)))
	sks := make([]string, len(keys))
	for i, k := range keys {
		sks[i] = k.String()
	}
	if err := c.store.Delete(context.WithoutCancel(ctx), sks...); err != nil {
		c.storeFailed(ctx, opSet, err)
	}
	c.log.Warn("cache: cached values did not decode; refetched them", "kinds", kindsOf(keys))
}
