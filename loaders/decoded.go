package loaders

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
	json "github.com/goccy/go-json"
	"github.com/maypok86/otter/v2"
)

// DecodeCache keeps recently decoded cache values, keyed by a hash of their
// bytes, so a warm query does not decode the same JSON again and again. It is
// content-addressed: the same bytes always decode to the same value, so it
// needs no invalidation and is safe to share across requests and tenants (a
// value is found only by someone who already holds its bytes). Decoded values
// are shared and must be treated as read-only.
type DecodeCache struct {
	c *otter.Cache[decodeKey, any]
}

type decodeKey struct {
	hash uint64
	size int
	kind string // the Go type, so equal bytes decoded as different types never mix
}

// NewDecodeCache returns a DecodeCache bounded to about maxBytes of encoded
// size (default 64 MiB when maxBytes <= 0).
func NewDecodeCache(maxBytes int64) (*DecodeCache, error) {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	c, err := otter.New(&otter.Options[decodeKey, any]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(k decodeKey, _ any) uint32 { return uint32(min(k.size+64, 1<<31)) },
	})
	if err != nil {
		return nil, fmt.Errorf("decode cache: %w", err)
	}
	return &DecodeCache{c: c}, nil
}

// decode unmarshals b into a V, through the cache when dc is not nil.
func decode[V any](dc *DecodeCache, b []byte) (V, error) {
	var v V
	if dc == nil {
		err := json.Unmarshal(b, &v)
		return v, err
	}
	k := decodeKey{hash: xxhash.Sum64(b), size: len(b), kind: fmt.Sprintf("%T", v)}
	if got, ok := dc.c.GetIfPresent(k); ok {
		if typed, ok := got.(V); ok {
			return typed, nil
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, err
	}
	dc.c.Set(k, v)
	return v, nil
}
