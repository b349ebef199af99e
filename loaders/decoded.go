package loaders

import (
	"crypto/sha256"
	"fmt"

	json "github.com/goccy/go-json"
	"github.com/maypok86/otter/v2"
)

// DecodeCache keeps recently decoded cache values, so a warm query does not
// decode the same JSON again and again. An entry is found by the connection
// and Procore user it was decoded for (the scope), the SHA-256 of its bytes
// and the Go type it was decoded into: tenants never share a decoded value,
// and two different payloads never meet under one key (a 64-bit hash, which
// an attacker who controls a payload could collide, is not enough). The same
// bytes always decode to the same value, so it needs no invalidation. Decoded
// values are shared by the requests of one scope and must be treated as
// read-only.
type DecodeCache struct {
	c *otter.Cache[decodeKey, any]
}

type decodeKey struct {
	scope string   // connection and Procore user
	sum   [32]byte // SHA-256 of the encoded bytes
	size  int      // their length, for the weigher
	kind  string   // the Go type, so equal bytes decoded as different types never mix
}

// DefaultDecodeCacheBytes is NewDecodeCache's bound when given none.
const DefaultDecodeCacheBytes = 64 << 20

// NewDecodeCache returns a DecodeCache bounded to about maxBytes of encoded
// size plus a fixed overhead per entry (default DefaultDecodeCacheBytes when
// maxBytes <= 0). Decoded Go values are typically 2 to 4 times their JSON
// size, so the memory it holds is a small multiple of maxBytes.
func NewDecodeCache(maxBytes int64) (*DecodeCache, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultDecodeCacheBytes
	}
	c, err := otter.New(&otter.Options[decodeKey, any]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(k decodeKey, _ any) uint32 {
			return uint32(min(k.size+len(k.scope)+len(k.kind)+96, 1<<31))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("decode cache: %w", err)
	}
	return &DecodeCache{c: c}, nil
}

// decode unmarshals b into a V, through the cache when dc is not nil; scope
// names the connection and user the value is decoded for.
func decode[V any](dc *DecodeCache, scope string, b []byte) (V, error) {
	var v V
	if dc == nil {
		err := json.Unmarshal(b, &v)
		return v, err
	}
	k := decodeKey{scope: scope, sum: sha256.Sum256(b), size: len(b), kind: fmt.Sprintf("%T", v)}
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
