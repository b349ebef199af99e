package cache

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"sync"
	"time"
)

// Deps records what one request's answer was built from: the generation
// tokens of every scope whose values it read (the tokens that make those
// values valid) and the earliest time one of those values stops being fresh.
// A response cache stores an answer together with its Deps and serves it only
// while Deps.Valid holds: every token unchanged (no Invalidate on any of the
// scopes, on any replica) and no value past its TTL. So a cached answer is
// never fresher-looking than the values it was made of.
//
// GetOrFetchMany records into the Deps found in its context (WithDeps). An
// answer is not cacheable when any value it read was stale (served within the
// stale-while-revalidate window), missing or failed, written without a
// token, or read while the store was failing; nor when the caller marks it
// with Uncacheable. Deps is safe for concurrent use.
type Deps struct {
	mu      sync.Mutex
	tokens  map[string][]byte // token key -> token
	expires time.Time
	reason  string // why the answer cannot be cached; "" while it can
	reads   int
}

type depsKey struct{}

// WithDeps returns a context carrying a fresh Deps, and that Deps.
func WithDeps(ctx context.Context) (context.Context, *Deps) {
	d := &Deps{tokens: make(map[string][]byte)}
	return context.WithValue(ctx, depsKey{}, d), d
}

func depsFrom(ctx context.Context) *Deps {
	d, _ := ctx.Value(depsKey{}).(*Deps)
	return d
}

// Uncacheable marks the answer as not cacheable, keeping the first reason.
func (d *Deps) Uncacheable(reason string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	if d.reason == "" {
		d.reason = reason
	}
	d.mu.Unlock()
}

// Cacheable reports whether the answer may be cached, and if not, why. An
// answer that read nothing through the cache is not cacheable: nothing would
// tell when it goes stale.
func (d *Deps) Cacheable() (bool, string) {
	if d == nil {
		return false, "no dependency record"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.reason != "":
		return false, d.reason
	case d.reads == 0:
		return false, "read nothing through the cache"
	}
	return true, ""
}

// Expires returns when the first value the answer read stops being fresh.
func (d *Deps) Expires() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expires
}

// record adds one value read with the tokens of its scope chain, fresh until
// expires.
func (d *Deps) record(chain []string, tokens map[string][]byte, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range chain {
		tok, ok := tokens[g]
		if !ok {
			if d.reason == "" {
				d.reason = "a value has no generation token"
			}
			return
		}
		if old, seen := d.tokens[g]; seen && !bytes.Equal(old, tok) {
			// Two reads saw different generations of one scope: an
			// invalidation happened during the request.
			if d.reason == "" {
				d.reason = "a scope was invalidated during the request"
			}
			return
		}
		d.tokens[g] = tok
	}
	d.reads++
	if d.expires.IsZero() || expires.Before(d.expires) {
		d.expires = expires
	}
}

// recordBatch records the outcome of one GetOrFetchMany: fresh hits at
// their stored time, fetched values at now, and the answer as uncacheable if
// anything was stale, missing or read without the store.
func (c *Cache) recordBatch(d *Deps, b *batch, storeOK bool, now time.Time, has func(Key) bool, missing, stale []int) {
	switch {
	case !storeOK:
		d.Uncacheable("the cache store was unavailable")
		return
	case len(stale) > 0:
		d.Uncacheable("served a stale value")
		return
	}
	fetched := make(map[int]bool, len(missing))
	for _, i := range missing {
		fetched[i] = true
	}
	for i, k := range b.keys {
		if !has(k) {
			d.Uncacheable("a value was not found or failed")
			return
		}
		at := now
		if !fetched[i] {
			at = b.items[b.sks[i]].StoredAt
		}
		d.record(b.chains[i], b.tokens, at.Add(c.TTL(k.Kind)))
	}
}

// Snapshot encoding: format byte, expiry (unix ns), token count, then per
// token its key length, key and 8-byte token.
const depsFormat = 0x01

// ErrBadDeps is returned by DecodeDeps for bytes EncodeDeps did not make.
var ErrBadDeps = errors.New("cache: malformed dependency record")

// DepsSnapshot is a Deps frozen for storage next to a cached answer.
type DepsSnapshot struct {
	Expires time.Time
	Tokens  map[string][]byte
}

// Snapshot freezes d.
func (d *Deps) Snapshot() DepsSnapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	toks := make(map[string][]byte, len(d.tokens))
	for k, v := range d.tokens {
		toks[k] = v
	}
	return DepsSnapshot{Expires: d.expires, Tokens: toks}
}

// AppendEncoded appends s's binary form to dst (keys sorted, so equal
// snapshots encode equally).
func (s DepsSnapshot) AppendEncoded(dst []byte) []byte {
	keys := make([]string, 0, len(s.Tokens))
	for k := range s.Tokens {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, depsFormat)
	dst = binary.BigEndian.AppendUint64(dst, uint64(s.Expires.UnixNano()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = append(dst, s.Tokens[k]...)
	}
	return dst
}

// DecodeDeps reads a snapshot written by AppendEncoded from the front of b
// and returns it with the rest of b.
func DecodeDeps(b []byte) (DepsSnapshot, []byte, error) {
	if len(b) < 13 || b[0] != depsFormat {
		return DepsSnapshot{}, nil, ErrBadDeps
	}
	s := DepsSnapshot{Expires: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9])))}
	n := int(binary.BigEndian.Uint32(b[9:13]))
	b = b[13:]
	s.Tokens = make(map[string][]byte, n)
	for range n {
		if len(b) < 2 {
			return DepsSnapshot{}, nil, ErrBadDeps
		}
		kl := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+kl+tokenLen {
			return DepsSnapshot{}, nil, ErrBadDeps
		}
		s.Tokens[string(b[2:2+kl])] = b[2+kl : 2+kl+tokenLen]
		b = b[2+kl+tokenLen:]
	}
	return s, b, nil
}

// Valid reports whether an answer recorded in s may still be served: it is
// before s.Expires and every token is still current in the store (one
// multi-get). A store failure is reported as an error and means "not valid".
func (c *Cache) Valid(ctx context.Context, s DepsSnapshot) (bool, error) {
	if c == nil || len(s.Tokens) == 0 || !c.now().Before(s.Expires) {
		return false, nil
	}
	if !c.storeAvailable() {
		return false, nil
	}
	keys := make([]string, 0, len(s.Tokens))
	for k := range s.Tokens {
		keys = append(keys, k)
	}
	got, err := c.store.GetMany(ctx, keys)
	if err != nil {
		c.storeFailed(ctx, opGet, err)
		return false, err
	}
	for k, tok := range s.Tokens {
		it, ok := got[k]
		if !ok || !bytes.Equal(it.Value, tok) {
			return false, nil
		}
	}
	return true, nil
}
