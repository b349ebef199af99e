package cache

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"procoregraph/reqstats"
	"procoregraph/safe"
)

// Options configures New. Zero values mean the defaults.
type Options struct {
	// TTL is how long a value of a kind (Key.Kind) stays fresh. Kinds not in
	// the map, or mapped to zero or less, use DefaultTTL.
	TTL map[string]time.Duration
	// DefaultTTL is the freshness of kinds not in TTL. Default: 60 s.
	DefaultTTL time.Duration
	// StaleWhileRevalidate is how long after its TTL a value is still served,
	// while one background fetch refreshes it. Default: 30 s; negative
	// disables it (a value past its TTL is a miss).
	StaleWhileRevalidate time.Duration
	// GenerationTTL is how long an invalidation scope's generation token
	// lives; when it expires, the scope's values are dropped as if
	// invalidated. Default: 24 h; it is raised to at least twice the longest
	// TTL plus StaleWhileRevalidate.
	GenerationTTL time.Duration
	// RefreshTimeout bounds a background stale-while-revalidate fetch, which
	// no longer runs under the request's deadline. Default: 30 s.
	RefreshTimeout time.Duration
	// StoreRetryAfter is how long the cache leaves the store alone after it
	// failed (Redis down), answering from upstream meanwhile, so that each
	// query does not wait for another timeout. Default: 1 s; negative means
	// every batch tries the store.
	StoreRetryAfter time.Duration
	// Registerer receives procoregraph_cache_requests_total{kind,result} and
	// procoregraph_cache_errors_total{op}. Nil: the counters are kept but not
	// registered. Several caches may share one registry.
	Registerer prometheus.Registerer
	// OnResult, when set, is called at the end of each GetOrFetchMany once per
	// kind in the batch with the keys served from the cache (fresh or stale)
	// and the keys fetched (by this call or a concurrent one it waited for),
	// so the server can report per-request hits and misses. It runs on the
	// caller's goroutine and must be fast.
	OnResult func(ctx context.Context, kind string, hits, misses int)
	// Logger receives store failures (warn) and failed background refreshes
	// (info). Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock for freshness and StoreRetryAfter; give the Store the
	// same clock in tests. Default: time.Now.
	Now func() time.Time
}

const (
	defaultTTL            = 60 * time.Second
	defaultSWR            = 30 * time.Second
	defaultGenerationTTL  = 24 * time.Hour
	defaultRefreshTimeout = 30 * time.Second
	defaultRetryAfter     = time.Second
)

// FetchFunc fetches the values of missing keys from upstream, as one batch.
// It returns a value for each key that exists; a key left out of the map is
// "not found" and is not cached. A value is cached as returned (fetch must
// not modify it afterwards). When it returns an error, the values it did
// return are still used and cached. An error fails every key without a
// value, for this caller and for the callers sharing the fetch, unless it is
// a KeyErrors, which fails only the keys it names, each with its own error
// (the other keys without a value are not found).
//
// It is called with the caller's context for misses and, for a background
// stale-while-revalidate refresh, with a context that keeps the caller's
// values but not its cancellation, bounded by Options.RefreshTimeout. It must
// not wait on GetOrFetchMany for the keys it is fetching.
type FetchFunc func(ctx context.Context, missing []Key) (map[Key][]byte, error)

// Cache is the read-through layer the dataloaders use: per-kind TTLs,
// stale-while-revalidate, single-flight for concurrent misses, batch reads
// with one multi-get, scope invalidation that holds across replicas sharing
// a store, and a fallback to upstream when the store fails.
//
// # Invalidation: generation tokens
//
// Every (connection, scope) has a generation token, a random 8-byte value
// kept in the store under its own key. A value is written together with the
// tokens of its scope chain (the connection scope "", then each ':'-prefix of
// its scope, then the scope: "", "project", "project:123",
// "project:123:rfis") as they were read before the fetch, and it is valid only
// while all of them are unchanged. Invalidate(conn, scope) replaces that
// scope's token with a new random one, which orphans every value of the
// connection in that scope or below it, whatever the user, kind and params,
// in one store write. A missing token (never created, expired, or evicted
// from memory) counts as "nothing is valid", so an evicted token cannot
// resurrect old values. A missing token is created atomically (SET NX GET) by
// the first writer that needs it; tokens record whether a reader or
// Invalidate made them, so a fetch that raced an invalidation is not cached,
// while concurrent first uses of a scope all share the one token minted.
//
// The tokens are read in the same multi-get as the values (they share the
// connection's Redis Cluster slot), so a warm batch costs exactly one round
// trip, and Invalidate costs one write. Every replica sharing the store sees
// the same tokens, so an invalidation on one replica holds on all of them.
// Putting the tokens into the values rather than into the keys is what keeps
// reads to one round trip: tokens in the keys would need a read of the tokens
// before the values could be named. Tag sets (a set of keys per scope) were
// rejected because they cost a write per value and a read-and-delete of a set
// per invalidation, and grow without bound. Orphaned values are not deleted:
// they expire with their TTL.
//
// A nil *Cache caches nothing: every call goes to fetch.
type Cache struct {
	store      Store
	ttl        map[string]time.Duration
	defaultTTL time.Duration
	swr        time.Duration
	genTTL     time.Duration
	refreshTTL time.Duration
	retryAfter time.Duration
	onResult   func(ctx context.Context, kind string, hits, misses int)
	log        *slog.Logger
	now        func() time.Time
	m          *metrics

	// epoch counts this instance's invalidations, so that a request made
	// after one does not join a fetch that started before it.
	epoch       atomic.Uint64
	bypassUntil atomic.Int64 // unix nanoseconds; the store is skipped before it

	mu      sync.Mutex
	flights map[string]*flight // by rendered key
	// released is when (the releases count) each key's last flight was
	// released, its value written: a batch that read the store before that
	// and finds no flight to join reads the key again instead of fetching
	// it a second time (rereadReleased). At most maxReleased keys are
	// remembered; releasedFloor is the count when the map was last
	// emptied (a batch that read before it rereads its misses).
	released      map[string]uint64
	releases      uint64
	releasedFloor uint64
	closed        bool
	bg            sync.WaitGroup
}

// maxReleased bounds Cache.released.
const maxReleased = 4096

// flight is one fetch of one key that concurrent callers share.
type flight struct {
	done    chan struct{}
	epoch   uint64
	waiters int // callers that joined; for tests and debugging
	val     []byte
	ok      bool  // fetch returned a value
	err     error // fetch failed and returned no value
	keyErr  bool  // err is the key's own, from a KeyErrors
	// leaderEnded: the leader's request had ended when its fetch returned
	// no value, so err (or its absence) may say nothing of the item (a body
	// cut off by the cancellation need not wrap context.Canceled); a waiter
	// whose request goes on fetches it itself.
	leaderEnded bool

	// A flight led by GetOrFetchManyValues carries the fetched value as is
	// (obj); its bytes are encoded on first demand by a GetOrFetchMany
	// waiter.
	obj     any
	enc     Encoder
	encOnce sync.Once
}

// bytes returns the flight's value as bytes, encoding a typed value once.
func (f *flight) bytes() ([]byte, bool) {
	f.encOnce.Do(func() {
		if f.val == nil && f.obj != nil && f.enc != nil {
			if b, err := f.enc(f.obj); err == nil {
				f.val = b
			}
		}
	})
	return f.val, f.val != nil
}

// New returns a Cache over store. It fails when the metrics cannot be
// registered (another collector of the same name but another shape).
func New(store Store, o Options) (*Cache, error) {
	if store == nil {
		return nil, errors.New("cache: New needs a Store")
	}
	c := &Cache{
		store:      store,
		ttl:        make(map[string]time.Duration, len(o.TTL)),
		defaultTTL: o.DefaultTTL,
		swr:        o.StaleWhileRevalidate,
		genTTL:     o.GenerationTTL,
		refreshTTL: o.RefreshTimeout,
		retryAfter: o.StoreRetryAfter,
		onResult:   o.OnResult,
		log:        o.Logger,
		now:        o.Now,
		flights:    make(map[string]*flight),
		released:   make(map[string]uint64),
	}
	if c.defaultTTL <= 0 {
		c.defaultTTL = defaultTTL
	}
	switch {
	case c.swr == 0:
		c.swr = defaultSWR
	case c.swr < 0:
		c.swr = 0
	}
	longest := c.defaultTTL
	for k, d := range o.TTL {
		if d > 0 {
			c.ttl[k] = d
			longest = max(longest, d)
		}
	}
	if c.genTTL <= 0 {
		c.genTTL = defaultGenerationTTL
	}
	c.genTTL = max(c.genTTL, 2*(longest+c.swr))
	if c.refreshTTL <= 0 {
		c.refreshTTL = defaultRefreshTimeout
	}
	if c.retryAfter == 0 {
		c.retryAfter = defaultRetryAfter
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("cache: register metrics: %w", err)
	}
	c.m = m
	return c, nil
}

// TTL returns the freshness of kind.
func (c *Cache) TTL(kind string) time.Duration {
	if d, ok := c.ttl[kind]; ok {
		return d
	}
	return c.defaultTTL
}

// Store returns the store under the cache.
func (c *Cache) Store() Store { return c.store }

// Close waits for background refreshes to finish and stops new ones. It does
// not close the Store, which other features share. Later GetOrFetchMany calls
// still work but no longer refresh in the background.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.bg.Wait()
	return nil
}

// GetOrFetch is GetOrFetchMany for one key, for callers without a batch.
// fetch's error is returned as is; a key that failed in a fetch reporting
// KeyErrors returns its own error.
func (c *Cache) GetOrFetch(ctx context.Context, key Key, fetch func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	got, err := c.GetOrFetchMany(ctx, []Key{key}, func(ctx context.Context, _ []Key) (map[Key][]byte, error) {
		v, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		return map[Key][]byte{key: v}, nil
	})
	if v, ok := got[key]; ok {
		return v, nil
	}
	if ke, ok := err.(KeyErrors); ok {
		err = ke[key]
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("cache: no value for a key of kind %q", key.Kind)
}

// GetOrFetchMany returns the values of keys, reading all of them (and their
// generation tokens) with one Store.GetMany and calling fetch once with the
// keys that missed. Fresh values are served; values past their TTL but within
// StaleWhileRevalidate are served too and refreshed by one background fetch;
// misses are fetched now, written back with one Store.SetMany and returned.
// Concurrent calls missing the same key share one fetch of it.
//
// When the store fails (Redis down or slow), every key is fetched and nothing
// is written; the error is counted and logged, not returned: a failing cache
// never fails a query. Duplicate keys are fetched once.
//
// The map holds a value for every key that is cached or that fetch returned.
// The error is the context's when it ended; ErrInvalidKey for a key without
// a connection or kind (then nothing is fetched); a KeyErrors naming every
// failed key when some key failed with an error a fetch reported per key
// (this call's or the one it shared; see KeyErrors); otherwise the first
// failed fetch's error as is (this call's or the one it shared). The map
// then still holds what could be had. Callers must not modify the returned
// values.
func (c *Cache) GetOrFetchMany(ctx context.Context, keys []Key, fetch FetchFunc) (map[Key][]byte, error) {
	uniq, err := uniqueKeys(keys)
	if err != nil || len(uniq) == 0 {
		return map[Key][]byte{}, err
	}
	fetch = markFetch(fetch)
	if c == nil {
		vals, ferr := safeFetch(ctx, fetch, uniq)
		return vals, fetchErr(uniq, vals, ferr)
	}
	b := c.newBatch(uniq)
	storeOK := c.read(ctx, b)
	now := c.now()
	out, missing, stale, hits := c.classify(b, now, Fresh(ctx))
	if len(stale) > 0 {
		c.refreshInBackground(ctx, b, stale, fetch, storeOK)
	}
	if len(missing) > 0 {
		err = c.fetchShared(ctx, b, missing, fetch, storeOK, out)
	}
	c.finish(ctx, b, storeOK, now, func(k Key) bool { _, ok := out[k]; return ok }, missing, stale, hits)
	return out, err
}

// uniqueKeys validates keys and drops duplicates, keeping their order.
func uniqueKeys(keys []Key) ([]Key, error) {
	uniq := make([]Key, 0, len(keys))
	seen := make(map[Key]struct{}, len(keys))
	for _, k := range keys {
		if err := k.validate(); err != nil {
			return nil, err
		}
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			uniq = append(uniq, k)
		}
	}
	return uniq, nil
}

// markFetch marks the contexts fetch runs under, so that the request's
// statistics tell cached reads from upstream calls made around the cache.
func markFetch[V any, F ~func(context.Context, []Key) (map[Key]V, error)](fetch F) F {
	return func(ctx context.Context, missing []Key) (map[Key]V, error) {
		return fetch(reqstats.InCacheFetch(ctx), missing)
	}
}

// classify sorts a read batch into servable payloads (fresh or stale), the
// keys to fetch now and the stale keys to refresh, counting per kind. With
// freshOnly every key is to fetch now (see WithFresh).
func (c *Cache) classify(b *batch, now time.Time, freshOnly bool) (out map[Key][]byte, missing, stale []int, hits map[string]*[3]int) {
	out = make(map[Key][]byte, len(b.keys))
	hits = make(map[string]*[3]int) // kind -> hit, stale, miss
	count := func(kind string, i int) {
		h := hits[kind]
		if h == nil {
			h = new([3]int)
			hits[kind] = h
		}
		h[i]++
	}
	for i, k := range b.keys {
		payload, storedAt, ok := b.valid(i)
		if !ok || freshOnly {
			missing = append(missing, i)
			count(k.Kind, 2)
			continue
		}
		age, ttl := now.Sub(storedAt), c.TTL(k.Kind)
		switch {
		case age < ttl:
			out[k] = payload
			count(k.Kind, 0)
		case age < ttl+c.swr:
			out[k] = payload
			stale = append(stale, i)
			count(k.Kind, 1)
		default:
			missing = append(missing, i)
			count(k.Kind, 2)
		}
	}
	return out, missing, stale, hits
}

// finish records the batch in the request's Deps and counts its results.
func (c *Cache) finish(ctx context.Context, b *batch, storeOK bool, now time.Time, has func(Key) bool, missing, stale []int, hits map[string]*[3]int) {
	if d := depsFrom(ctx); d != nil {
		c.recordBatch(d, b, storeOK, now, has, missing, stale)
	}
	for kind, h := range hits {
		for i, result := range [3]string{"hit", "stale", "miss"} {
			if h[i] > 0 { // a counter's label lookup costs more than the add
				c.m.requests.WithLabelValues(kind, result).Add(float64(h[i]))
			}
		}
		if c.onResult != nil {
			c.onResult(ctx, kind, h[0]+h[1], h[2])
		}
	}
}

// batch is one GetOrFetchMany's keys with their rendered store keys, their
// scope chains' token keys, and what the multi-get returned.
type batch struct {
	keys   []Key
	sks    []string   // rendered keys, parallel to keys
	chains [][]string // token keys of each key's scope chain, coarse to fine
	tokens map[string][]byte
	items  map[string]Item
	readAt uint64 // Cache.releases when the store was read
}

func (c *Cache) newBatch(keys []Key) *batch {
	b := &batch{
		keys:   keys,
		sks:    make([]string, len(keys)),
		chains: make([][]string, len(keys)),
		tokens: make(map[string][]byte),
	}
	var chainOf map[[2]string][]string // (conn, scope) -> token keys; none for one key
	if len(keys) > 1 {
		chainOf = make(map[[2]string][]string)
	}
	for i, k := range keys {
		b.sks[i] = k.String()
		ck := [2]string{k.Conn, k.Scope}
		ch, ok := chainOf[ck]
		if !ok {
			scopes := scopeChain(k.Scope)
			ch = make([]string, len(scopes))
			for j, s := range scopes {
				ch[j] = genKey(k.Conn, s)
			}
			if chainOf != nil {
				chainOf[ck] = ch
			}
		}
		b.chains[i] = ch
	}
	return b
}

// read fills b.items and b.tokens with one multi-get, unless the store is
// being bypassed. It reports whether the store answered.
func (c *Cache) read(ctx context.Context, b *batch) bool {
	if !c.storeAvailable() {
		c.m.errors.WithLabelValues(opBypass).Inc()
		return false
	}
	if err := c.readStore(ctx, b); err != nil {
		c.storeFailed(ctx, opGet, err)
		return false
	}
	return true
}

// readStore is read without accounting: it fills b or returns the store's
// error.
func (c *Cache) readStore(ctx context.Context, b *batch) error {
	c.mu.Lock()
	b.readAt = c.releases
	c.mu.Unlock()
	keys := make([]string, 0, len(b.sks)+4)
	keys = append(keys, b.sks...)
	seen := make(map[string]struct{})
	for _, ch := range b.chains {
		for _, g := range ch {
			if _, ok := seen[g]; !ok {
				seen[g] = struct{}{}
				keys = append(keys, g)
			}
		}
	}
	items, err := c.store.GetMany(ctx, keys)
	if err != nil {
		return err
	}
	b.items = items
	for g := range seen {
		if it, ok := items[g]; ok && len(it.Value) == tokenLen {
			b.tokens[g] = it.Value
		}
	}
	return nil
}

// Value envelope: a format byte, the number of tokens, the tokens of the
// key's scope chain, then the payload.
const (
	valueFormat = 0x01
	tokenLen    = 8
)

// valid returns key i's payload and write time if it was read and written
// under the current tokens of its whole scope chain.
func (b *batch) valid(i int) ([]byte, time.Time, bool) {
	it, ok := b.items[b.sks[i]]
	if !ok {
		return nil, time.Time{}, false
	}
	v, chain := it.Value, b.chains[i]
	head := 2 + tokenLen*len(chain)
	if len(v) < head || v[0] != valueFormat || int(v[1]) != len(chain) {
		return nil, time.Time{}, false
	}
	for j, g := range chain {
		tok, ok := b.tokens[g]
		if !ok || !bytes.Equal(tok, v[2+tokenLen*j:2+tokenLen*(j+1)]) {
			return nil, time.Time{}, false
		}
	}
	return v[head:], it.StoredAt, true
}

// fetchShared fetches the keys at idx, sharing flights with concurrent
// callers, writes what it fetched itself, and adds the values to out.
func (c *Cache) fetchShared(ctx context.Context, b *batch, idx []int, fetch FetchFunc, storeOK bool, out map[Key][]byte) error {
	led, ledFlights, waits, waitFlights, reread := c.join(b, idx)
	if reread {
		led, ledFlights = c.rereadReleased(ctx, b, led, ledFlights, func(i int, p []byte) { out[b.keys[i]] = p })
	}
	var fs failures
	if len(led) > 0 {
		keys := pick(b.keys, led)
		vals, ferr := safeFetch(ctx, fetch, keys)
		c.land(b, led, ledFlights, vals, ferr, ctx.Err() != nil)
		for _, k := range keys {
			if v, ok := vals[k]; ok {
				out[k] = v
			}
		}
		recordFetch(&fs, keys, vals, ferr)
		if storeOK && len(vals) > 0 {
			c.write(context.WithoutCancel(ctx), b, led, vals)
		}
		c.release(b, led, ledFlights)
	}
	retry, err := awaitFlights(ctx, b.keys, waits, waitFlights, &fs, func(i int, f *flight) bool {
		v, ok := f.bytes()
		if ok {
			out[b.keys[i]] = v
		}
		return ok // a typed value that does not encode is fetched again
	})
	if err != nil {
		return err
	}
	if len(retry) > 0 {
		keys := pick(b.keys, retry)
		vals, ferr := safeFetch(ctx, fetch, keys)
		for _, k := range keys {
			if v, ok := vals[k]; ok {
				out[k] = v
			}
		}
		recordFetch(&fs, keys, vals, ferr)
	}
	return fs.err()
}

// awaitFlights waits for the flights a batch joined (at indexes waits of
// keys). For each that got a value it calls take, which reports whether it
// could use it; each that failed is recorded in fs with its key's error. It
// returns the indexes to fetch again (flights whose leader's request ended
// while ours did not, and values take refused), or the context's error when
// ours ended.
func awaitFlights(ctx context.Context, keys []Key, waits []int, flights []*flight, fs *failures, take func(i int, f *flight) bool) (retry []int, err error) {
	for j, i := range waits {
		f := flights[j]
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		switch {
		case f.ok:
			if !take(i, f) {
				retry = append(retry, i)
			}
		case (f.leaderEnded || isContextErr(f.err)) && ctx.Err() == nil:
			// The leader's request ended; ours has not, so fetch it ourselves.
			// First: a leader cut off may report no value and no error, or
			// an error of its own ending, which says nothing of the key.
			retry = append(retry, i)
		default: // failed, or not found (no error)
			fs.add(keys[i], f.err, f.keyErr)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return retry, nil
}

// join registers the calling batch as the leader of the keys at idx that no
// current flight covers, and returns the flights it must wait for.
func (c *Cache) join(b *batch, idx []int) (led []int, ledF []*flight, waits []int, waitF []*flight, reread bool) {
	epoch := c.epoch.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, i := range idx {
		if f, ok := c.flights[b.sks[i]]; ok && f.epoch == epoch {
			f.waiters++
			waits = append(waits, i)
			waitF = append(waitF, f)
			continue
		}
		f := &flight{done: make(chan struct{}), epoch: epoch}
		c.flights[b.sks[i]] = f
		led = append(led, i)
		ledF = append(ledF, f)
		if b.items != nil && (b.readAt < c.releasedFloor || c.released[b.sks[i]] > b.readAt) {
			reread = true
		}
	}
	return led, ledF, waits, waitF, reread
}

// rereadReleased answers from the store the keys a batch leads that a
// flight released after the batch read the store wrote meanwhile: without
// it, a caller whose read just missed a value being written (a request
// that follows the one that fetched it, say) would fetch it again. Keys
// now in the store, fresh and under current tokens, land their flights
// with the stored bytes, are released, and are passed to found; the rest
// are returned to be fetched.
func (c *Cache) rereadReleased(ctx context.Context, b *batch, led []int, ledF []*flight, found func(i int, payload []byte)) ([]int, []*flight) {
	rb := c.newBatch(pick(b.keys, led))
	if !c.read(ctx, rb) {
		return led, ledF
	}
	now := c.now()
	var keep, done []int
	var keepF, doneF []*flight
	for j, i := range led {
		payload, storedAt, ok := rb.valid(j)
		if !ok || now.Sub(storedAt) >= c.TTL(b.keys[i].Kind) {
			keep, keepF = append(keep, i), append(keepF, ledF[j])
			continue
		}
		f := ledF[j]
		f.val, f.ok = payload, true
		close(f.done)
		found(i, payload)
		done, doneF = append(done, i), append(doneF, f)
	}
	if len(done) > 0 {
		for g, t := range rb.tokens { // the tokens the found values were written under
			b.tokens[g] = t
		}
		c.release(b, done, doneF)
	}
	return keep, keepF
}

// land publishes a fetch's outcome to the waiters of its flights: each key's
// value, or why it has none (see keyError). ended reports that the leader's
// context had ended when the fetch returned.
func (c *Cache) land(b *batch, idx []int, fl []*flight, vals map[Key][]byte, err error, ended bool) {
	for j, i := range idx {
		f := fl[j]
		f.val, f.ok = vals[b.keys[i]]
		if !f.ok {
			f.fail(b.keys[i], err, ended)
		}
		close(f.done)
	}
}

// fail records why the flight of key k got no value from a fetch that
// returned err. Only before done is closed.
func (f *flight) fail(k Key, err error, ended bool) {
	f.err, f.keyErr = keyError(err, k)
	f.leaderEnded = ended
}

// release removes landed flights once their values are in the store, so that
// callers arriving in between still find the values in the flights.
func (c *Cache) release(b *batch, idx []int, fl []*flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releases++
	if len(c.released)+len(idx) > maxReleased {
		clear(c.released)
		c.releasedFloor = c.releases
	}
	for j, i := range idx {
		if c.flights[b.sks[i]] == fl[j] {
			delete(c.flights, b.sks[i])
			c.released[b.sks[i]] = c.releases
		}
	}
}

// refreshInBackground refetches stale keys once: keys already being fetched
// are left to that fetch, and the rest are fetched by one goroutine.
func (c *Cache) refreshInBackground(ctx context.Context, b *batch, idx []int, fetch FetchFunc, storeOK bool) {
	if !storeOK {
		return
	}
	epoch := c.epoch.Load()
	var led []int
	var ledF []*flight
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	for _, i := range idx {
		if _, ok := c.flights[b.sks[i]]; ok {
			continue
		}
		f := &flight{done: make(chan struct{}), epoch: epoch}
		c.flights[b.sks[i]] = f
		led = append(led, i)
		ledF = append(ledF, f)
	}
	if len(led) > 0 {
		c.bg.Add(1)
	}
	c.mu.Unlock()
	if len(led) == 0 {
		return
	}
	// The goroutine writes tokens it mints into its own copy of the batch.
	rb := &batch{keys: b.keys, sks: b.sks, chains: b.chains, items: b.items, tokens: make(map[string][]byte, len(b.tokens))}
	for k, v := range b.tokens {
		rb.tokens[k] = v
	}
	bctx := context.WithoutCancel(ctx)
	go func() {
		defer c.bg.Done()
		defer safe.Recover(nil)
		fctx, cancel := context.WithTimeout(bctx, c.refreshTTL)
		defer cancel()
		keys := pick(rb.keys, led)
		vals, err := safeFetch(fctx, fetch, keys)
		c.land(rb, led, ledF, vals, err, fctx.Err() != nil)
		if err != nil {
			c.log.Info("cache: background refresh failed; the stale values stay until they expire", "kinds", kindsOf(keys), "err", err)
		}
		if len(vals) > 0 {
			c.write(bctx, rb, led, vals)
		}
		c.release(rb, led, ledF)
	}()
}

// write stores fetched values with the tokens of their scope chains as read
// before the fetch. Tokens that were missing are created first (one
// GetOrSetMany). When another writer created one first, its token is used if
// it was minted by a reader (concurrent first use of a scope, the common case
// on a cold start); if it was set by Invalidate, the values depending on it
// are not cached, because the fetch may have read upstream before the change.
// A reader-minted token can only replace a missing one, so finding one means
// no invalidation happened since the read, unless the store lost the token in
// between (evicted within the fetch's few milliseconds), which is accepted.
func (c *Cache) write(ctx context.Context, b *batch, idx []int, vals map[Key][]byte) {
	if c.mint(ctx, b, idx, func(k Key) bool { _, ok := vals[k]; return ok }) {
		c.storeValues(ctx, b, idx, vals)
	}
}

// mint creates the missing tokens of the scope chains of the keys at idx
// that has reports (see write). It reports false when the store failed.
func (c *Cache) mint(ctx context.Context, b *batch, idx []int, has func(Key) bool) bool {
	var mint []Entry
	minting := make(map[string]bool)
	for _, i := range idx {
		if !has(b.keys[i]) {
			continue
		}
		for _, g := range b.chains[i] {
			if _, ok := b.tokens[g]; !ok && !minting[g] {
				minting[g] = true
				mint = append(mint, Entry{Key: g, Value: newToken(true), TTL: c.genTTL})
			}
		}
	}
	if len(mint) == 0 {
		return true
	}
	got, err := c.store.GetOrSetMany(ctx, mint)
	if err != nil {
		c.storeFailed(ctx, opMint, err)
		return false
	}
	for _, e := range mint {
		// Ours, or one another reader minted since our read: usable. One
		// set by Invalidate since our read: our fetch may predate it.
		if it, ok := got[e.Key]; ok && len(it.Value) == tokenLen && (bytes.Equal(it.Value, e.Value) || isMinted(it.Value)) {
			b.tokens[e.Key] = it.Value
		}
	}
	return true
}

// storeValues writes the values of the keys at idx under the tokens of
// their scope chains; a key whose chain lacks a token is not written.
func (c *Cache) storeValues(ctx context.Context, b *batch, idx []int, vals map[Key][]byte) {
	entries := make([]Entry, 0, len(idx))
outer:
	for _, i := range idx {
		k := b.keys[i]
		v, ok := vals[k]
		if !ok {
			continue
		}
		chain := b.chains[i]
		env := make([]byte, 2+tokenLen*len(chain)+len(v))
		env[0], env[1] = valueFormat, byte(len(chain))
		for j, g := range chain {
			tok, ok := b.tokens[g]
			if !ok {
				continue outer
			}
			copy(env[2+tokenLen*j:], tok)
		}
		copy(env[2+tokenLen*len(chain):], v)
		entries = append(entries, Entry{Key: b.sks[i], Value: env, TTL: c.TTL(k.Kind) + c.swr})
	}
	if len(entries) == 0 {
		return
	}
	if err := c.store.SetMany(ctx, entries); err != nil {
		c.storeFailed(ctx, opSet, err)
	}
}

// Invalidate drops every cached value of conn whose scope is scope or lies
// under it (scope "project:123" also drops "project:123:rfis"), whatever the
// user, kind and params, on every replica sharing the store. An empty scope
// drops all of conn's values. It is one store write; other connections are
// untouched. When the store fails, the error is returned (and counted): the
// values may then be served until their TTL and stale window pass.
func (c *Cache) Invalidate(ctx context.Context, conn, scope string) error {
	return c.InvalidateMany(ctx, conn, []string{scope})
}

// InvalidateMany is Invalidate for several scopes of one connection in one
// store round trip.
func (c *Cache) InvalidateMany(ctx context.Context, conn string, scopes []string) error {
	if c == nil || len(scopes) == 0 {
		return nil
	}
	if conn == "" {
		return fmt.Errorf("%w: Invalidate without a connection", ErrInvalidKey)
	}
	entries := make([]Entry, len(scopes))
	for i, s := range scopes {
		if err := validateScope(s); err != nil {
			return err
		}
		entries[i] = Entry{Key: genKey(conn, s), Value: newToken(false), TTL: c.genTTL}
	}
	// Bump the epoch first: a request arriving from now on must not join a
	// fetch that may have read upstream before the change being invalidated.
	c.epoch.Add(1)
	if err := c.store.SetMany(ctx, entries); err != nil {
		c.storeFailed(ctx, opInvalidate, err)
		return fmt.Errorf("cache: invalidate: %w", err)
	}
	return nil
}

func (c *Cache) storeAvailable() bool {
	until := c.bypassUntil.Load()
	return until == 0 || c.now().UnixNano() >= until
}

// storeFailed counts and logs a store failure and, unless the caller's own
// context ended (not the store's fault), leaves the store alone for
// StoreRetryAfter.
func (c *Cache) storeFailed(ctx context.Context, op string, err error) {
	c.m.errors.WithLabelValues(op).Inc()
	if ctx.Err() != nil {
		return
	}
	if c.retryAfter > 0 {
		c.bypassUntil.Store(c.now().Add(c.retryAfter).UnixNano())
	}
	c.log.Warn("cache: store failed; answering from upstream", "op", op, "err", err)
}

// safeFetch calls fetch (a FetchFunc or a ValueFetchFunc), turning a panic
// into an error so that a waiting caller is never left hanging and a
// background refresh never crashes the process. The map is never nil.
func safeFetch[V any, F ~func(context.Context, []Key) (map[Key]V, error)](ctx context.Context, fetch F, keys []Key) (vals map[Key]V, err error) {
	defer func() {
		if r := recover(); r != nil {
			vals, err = map[Key]V{}, fmt.Errorf("cache: fetch panicked: %v", r)
		}
	}()
	vals, err = fetch(ctx, keys)
	if vals == nil {
		vals = map[Key]V{}
	}
	return vals, err
}

// newToken returns a random generation token. Its lowest bit records who
// made it: 0 for a reader that found no token (minted), 1 for Invalidate.
func newToken(minted bool) []byte {
	n := rand.Uint64() | 1
	if minted {
		n &^= 1
	}
	return binary.BigEndian.AppendUint64(make([]byte, 0, tokenLen), n)
}

func isMinted(tok []byte) bool { return tok[tokenLen-1]&1 == 0 }

func pick(keys []Key, idx []int) []Key {
	out := make([]Key, len(idx))
	for j, i := range idx {
		out[j] = keys[i]
	}
	return out
}

func kindsOf(keys []Key) []string {
	var kinds []string
	seen := make(map[string]bool)
	for _, k := range keys {
		if !seen[k.Kind] {
			seen[k.Kind] = true
			kinds = append(kinds, k.Kind)
		}
	}
	return kinds
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
