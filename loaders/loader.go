package loaders

import (
	"context"
	"sync"

	"github.com/graph-gophers/dataloader/v7"

	"procoregraph/cache"
	"procoregraph/telemetry/spans"
)

// Loader loads one request's values of type V by key K. It is a dataloader
// (keys batched, each key fetched at most once per request), with a direct
// read in front for the loaders whose keys are each their own batch
// (single) over the in-memory data cache: a key whose value the cache
// holds valid and fresh is answered on the caller's goroutine, as the
// dataloader's batch would have answered it, without the dataloader's
// goroutine, channels and wait. Any other key (missing, stale, a fresh read
// asked for, a traced request) goes through the dataloader as before. A key
// keeps the way it was first answered for the rest of the request, so that
// a request sees one value per key, as with the dataloader alone; once the
// dataloader has answered a key, its value is kept too, and Peek tells it
// without waiting (the renderer's inline fields).
//
// The dataloader itself is made on first use: a request uses a few of its
// fifty-odd loaders.
type Loader[K comparable, V any] struct {
	mk     func() *dataloader.Loader[K, V]
	once   sync.Once
	loader *dataloader.Loader[K, V]                 // made by mk on first use
	read   func(ctx context.Context, k K) (V, bool) // nil: every key through the dataloader

	mu   sync.Mutex
	seen map[K]direct[V] // keys asked for so far, with read's, and keys the dataloader answered
}

// direct is how a key was first answered: by read (ok, with v) or by the
// dataloader.
type direct[V any] struct {
	v  V
	ok bool
}

// Load returns a thunk for k's value.
func (l *Loader[K, V]) Load(ctx context.Context, k K) dataloader.Thunk[V] {
	l.mu.Lock()
	d, asked := l.seen[k]
	l.mu.Unlock()
	if !asked && l.read != nil {
		d.v, d.ok = l.read(ctx, k)
		l.mu.Lock()
		if l.seen == nil {
			l.seen = make(map[K]direct[V])
		}
		if prev, raced := l.seen[k]; raced {
			d = prev // a concurrent Load answered first
		} else {
			l.seen[k] = d
		}
		l.mu.Unlock()
	}
	if d.ok {
		return func() (V, error) { return d.v, nil }
	}
	t := l.dl().Load(ctx, k)
	return func() (V, error) {
		v, err := t()
		if err == nil {
			l.answered(k, v)
		}
		return v, err
	}
}

// answered records v as k's value once the dataloader has answered it, so
// that Peek finds it and later Loads of k take it directly (the
// dataloader would answer them with the same value).
func (l *Loader[K, V]) answered(k K, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.seen[k]; d.ok {
		return
	}
	if l.seen == nil {
		l.seen = make(map[K]direct[V])
	}
	l.seen[k] = direct[V]{v: v, ok: true}
}

// Peek returns k's value when this request already has it: answered by
// the direct read, or by a batch whose answer a thunk of Load has
// returned. It never starts a load and never waits; false means the value
// is not at hand yet (or its load failed), and only Load tells which.
func (l *Loader[K, V]) Peek(k K) (V, bool) {
	l.mu.Lock()
	d := l.seen[k]
	l.mu.Unlock()
	return d.v, d.ok
}

// dl is the dataloader, made on first use.
func (l *Loader[K, V]) dl() *dataloader.Loader[K, V] {
	l.once.Do(func() { l.loader = l.mk() })
	return l.loader
}

// LoadMany returns a thunk for the values of ks, batched.
func (l *Loader[K, V]) LoadMany(ctx context.Context, ks []K) dataloader.ThunkMany[V] {
	return l.dl().LoadMany(ctx, ks)
}

// batched is a Loader over the dataloader mk makes.
func batched[K comparable, V any](mk func() *dataloader.Loader[K, V]) *Loader[K, V] {
	return &Loader[K, V]{mk: mk}
}

// cacheRead is the direct read of single's loaders, or nil where there is
// none: without a cache, in Naive mode, and over a remote cache (where a
// read is a round trip, which single's loaders batch instead).
func cacheRead[K comparable, V any](l *Loaders, kind string, keyOf func(K) (scope, params string)) func(ctx context.Context, k K) (V, bool) {
	if l.opt.Cache == nil || l.opt.Naive || l.opt.RemoteCache {
		return nil
	}
	decodeScope := l.conn.ID + "\x00" + l.conn.UserKey
	return func(ctx context.Context, k K) (V, bool) {
		var zero V
		if spans.Recording(ctx) {
			return zero, false // the batch's span tells the trace where the value came from
		}
		scope, params := keyOf(k)
		key := cache.Key{Conn: l.conn.ID, User: l.conn.UserKey, Kind: kind, Scope: scope, Params: params}
		b, ok := l.opt.Cache.GetFresh(ctx, key)
		if !ok {
			return zero, false
		}
		v, err := decode[V](l.opt.Decoded, decodeScope, b, true)
		if err != nil {
			return zero, false // the batch reports it
		}
		return v, true
	}
}
