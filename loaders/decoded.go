package loaders

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"reflect"
	"unsafe"

	json "github.com/goccy/go-json"
	"github.com/maypok86/otter/v2"
)

// DecodeCache keeps recently decoded cache values, so a warm query does not
// decode the same JSON again and again. An entry is found by the connection
// and Procore user it was decoded for (the scope), a hash of its bytes and
// the Go type it was decoded into, and it keeps the bytes it was decoded
// from: a value is returned only for exactly equal bytes, so tenants never
// share a decoded value and two different payloads never meet even when
// their hashes collide (the hash, maphash with a per-process random seed,
// only finds the candidate; it was SHA-256, which cost more than a third of
// the cache read). The same bytes always decode to the same value, so it
// needs no invalidation. Decoded values are shared by the requests of one
// scope and must be treated as read-only; so are the bytes given to it.
type DecodeCache struct {
	c    *otter.Cache[decodeKey, decoded]
	seed maphash.Seed
}

type decodeKey struct {
	scope string       // connection and Procore user
	sum   uint64       // maphash of the encoded bytes (0 for a key by address)
	at    uintptr      // the address of the store's own bytes (0 for a key by hash)
	size  int          // their length
	kind  reflect.Type // the Go type, so equal bytes decoded as different types never mix
}

// decoded is a cached value and the bytes it was decoded from.
type decoded struct {
	from  []byte
	value any
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
	c, err := otter.New(&otter.Options[decodeKey, decoded]{
		MaximumWeight: uint64(maxBytes),
		Weigher: func(k decodeKey, _ decoded) uint32 {
			return uint32(min(k.size+len(k.scope)+128, 1<<31))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("decode cache: %w", err)
	}
	return &DecodeCache{c: c, seed: maphash.MakeSeed()}, nil
}

// decode unmarshals b into a V, through the cache when dc is not nil; scope
// names the connection and user the value is decoded for.
//
// stable says that b is the store's own slice, the same one for every read
// of the value it stores (the memory store: values are shared, never
// copied, and read-only). Its entry is then found by the address of b,
// without hashing or comparing the bytes: the entry keeps those bytes
// alive, so no other bytes can take that address while it exists. Bytes
// read from Redis are new for every read and are found by their hash.
func decode[V any](dc *DecodeCache, scope string, b []byte, stable bool) (V, error) {
	var v V
	if dc == nil {
		err := json.Unmarshal(b, &v)
		return v, err
	}
	k := decodeKey{scope: scope, size: len(b), kind: reflect.TypeFor[V]()}
	if stable && len(b) > 0 {
		k.at = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	} else {
		k.sum = maphash.Bytes(dc.seed, b)
	}
	if got, ok := dc.c.GetIfPresent(k); ok && sameBytes(got.from, b, k.at != 0) {
		if typed, ok := got.value.(V); ok {
			return typed, nil
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, err
	}
	dc.c.Set(k, decoded{from: b, value: v})
	return v, nil
}

// sameBytes reports whether the bytes an entry was decoded from are b: the
// same slice for an entry found by address, equal bytes otherwise.
func sameBytes(from, b []byte, byAddress bool) bool {
	if byAddress {
		return len(from) == len(b) && unsafe.SliceData(from) == unsafe.SliceData(b)
	}
	return bytes.Equal(from, b)
}
