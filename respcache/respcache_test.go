package respcache_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/respcache"
)

type fixture struct {
	values *cache.Cache
	rc     *respcache.Cache
	clock  *cachetest.Clock
}

// stores runs f over the in-memory store and, with REDIS_URL, a real Redis
// with and without local copies of answers.
func stores(t *testing.T, f func(t *testing.T, fx fixture)) {
	for _, name := range []string{"memory", "redis", "redis+local"} {
		t.Run(name, func(t *testing.T) {
			clk := cachetest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
			var store cache.Store
			if name == "memory" {
				s, err := cache.NewMemory(cache.MemoryOptions{Now: clk.Now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				store = s
			} else {
				rdb := cachetest.Client(t)
				s, err := cache.NewRedis(cache.RedisOptions{Client: rdb, Prefix: cachetest.Prefix(t, rdb, "respcache"), Timeout: 2 * time.Second, Now: clk.Now})
				if err != nil {
					t.Fatal(err)
				}
				store = s
			}
			values, err := cache.New(store, cache.Options{Now: clk.Now, TTL: map[string]time.Duration{"rfis": time.Minute, "projects": 5 * time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			var local int64
			if name == "redis+local" {
				local = 1 << 20
			}
			rc, err := respcache.New(values, respcache.Options{Version: "test", Now: clk.Now, LocalBytes: local})
			if err != nil {
				t.Fatal(err)
			}
			f(t, fixture{values: values, rc: rc, clock: clk})
		})
	}
}

var (
	projects = cache.Key{Conn: "c1", User: "u1", Kind: "projects", Scope: "company:1", Params: "first=50"}
	rfis1    = cache.Key{Conn: "c1", User: "u1", Kind: "rfis", Scope: "project:1:rfis", Params: "first=200"}
	rfis2    = cache.Key{Conn: "c1", User: "u1", Kind: "rfis", Scope: "project:2:rfis", Params: "first=200"}
)

// answer reads keys through the value cache under a Deps, as one request
// would, and returns the Deps; fetch returns a value for every key unless
// missing lists it.
func answer(t *testing.T, fx fixture, keys []cache.Key, missing ...cache.Key) *cache.Deps {
	t.Helper()
	ctx, deps := cache.WithDeps(context.Background())
	_, err := fx.values.GetOrFetchMany(ctx, keys, func(_ context.Context, ks []cache.Key) (map[cache.Key][]byte, error) {
		out := map[cache.Key][]byte{}
	next:
		for _, k := range ks {
			for _, m := range missing {
				if m == k {
					continue next
				}
			}
			out[k] = []byte(`"` + k.Scope + `"`)
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return deps
}

func key(t *testing.T, fx fixture, r respcache.Request) string {
	t.Helper()
	k, err := fx.rc.Key(r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var dashboard = respcache.Request{Conn: "c1", User: "u1", Query: "{ projects { nodes { id } } }"}

func TestAnswerServedUntilAScopeItReadIsInvalidated(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		k := key(t, fx, dashboard)
		if !fx.rc.Put(ctx, k, []byte(`{"projects":1}`), answer(t, fx, []cache.Key{projects, rfis1, rfis2})) {
			t.Fatal("a cacheable answer was not stored")
		}
		got, ok := fx.rc.Get(ctx, k)
		if !ok || string(got) != `{"projects":1}` {
			t.Fatalf("Get = %q, %v; want the stored answer", got, ok)
		}
		// Another connection's invalidation and a scope the answer did not
		// read leave it alone.
		if err := fx.values.Invalidate(ctx, "c2", "project:2"); err != nil {
			t.Fatal(err)
		}
		if err := fx.values.Invalidate(ctx, "c1", "project:3"); err != nil {
			t.Fatal(err)
		}
		if _, ok := fx.rc.Get(ctx, k); !ok {
			t.Fatal("the answer was retired by an unrelated invalidation")
		}
		// Invalidating a parent of one scope it read retires it.
		if err := fx.values.Invalidate(ctx, "c1", "project:2"); err != nil {
			t.Fatal(err)
		}
		if _, ok := fx.rc.Get(ctx, k); ok {
			t.Fatal("the answer was served after project:2, which it read, was invalidated")
		}
	})
}

func TestAnswerExpiresWithItsShortestLivedValue(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		k := key(t, fx, dashboard)
		// projects lives 5 minutes, rfis 1 minute: the answer lives 1 minute.
		if !fx.rc.Put(ctx, k, []byte(`{}`), answer(t, fx, []cache.Key{projects, rfis1})) {
			t.Fatal("not stored")
		}
		fx.clock.Advance(59 * time.Second)
		if _, ok := fx.rc.Get(ctx, k); !ok {
			t.Fatal("the answer expired before its shortest-lived value")
		}
		fx.clock.Advance(2 * time.Second)
		if _, ok := fx.rc.Get(ctx, k); ok {
			t.Fatal("the answer outlived the RFIs it was made of (TTL 1 minute)")
		}
		// The RFIs are now stale (served within stale-while-revalidate): an
		// answer built on them is not stored.
		if fx.rc.Put(ctx, k, []byte(`{}`), answer(t, fx, []cache.Key{projects, rfis1})) {
			t.Fatal("an answer built on a stale value was stored")
		}
	})
}

func TestUncacheableAnswersAreNotStored(t *testing.T) {
	stores(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		k := key(t, fx, dashboard)
		notFound := answer(t, fx, []cache.Key{projects, rfis1}, rfis1)
		marked := answer(t, fx, []cache.Key{projects})
		marked.Uncacheable("an upstream call bypassed the cache")
		_, nothing := cache.WithDeps(ctx)
		for name, d := range map[string]*cache.Deps{"a value not found": notFound, "marked uncacheable": marked, "read nothing": nothing, "no record": nil} {
			if fx.rc.Put(ctx, k, []byte(`{}`), d) {
				t.Errorf("%s: stored", name)
			}
			if _, ok := fx.rc.Get(ctx, k); ok {
				t.Errorf("%s: served", name)
			}
		}
	})
}

func TestKeysSeparateUsersConnectionsDocumentsAndVariables(t *testing.T) {
	fx := fixture{}
	values, err := cache.New(cachetest.Memory(t), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fx.rc, err = respcache.New(values, respcache.Options{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	base := respcache.Request{Conn: "c1", User: "u1", Query: "query($p: ID!) { project(id: $p) { id } }", Variables: map[string]any{"p": "1", "q": []any{1, "x"}}}
	same := base
	same.Variables = map[string]any{"q": []any{1, "x"}, "p": "1"}
	if key(t, fx, base) != key(t, fx, same) {
		t.Fatal("equal variables gave different keys")
	}
	variants := map[string]func(r *respcache.Request){
		"user":      func(r *respcache.Request) { r.User = "u2" },
		"conn":      func(r *respcache.Request) { r.Conn = "c2" },
		"document":  func(r *respcache.Request) { r.Query += " " },
		"operation": func(r *respcache.Request) { r.OperationName = "Dash" },
		"variables": func(r *respcache.Request) { r.Variables = map[string]any{"p": "2", "q": []any{1, "x"}} },
	}
	for name, change := range variants {
		r := base
		change(&r)
		if key(t, fx, r) == key(t, fx, base) {
			t.Errorf("another %s gave the same key", name)
		}
	}
	other, err := respcache.New(values, respcache.Options{Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := other.Key(base); k == key(t, fx, base) {
		t.Error("another build version gave the same key")
	}
	if _, err := respcache.New(values, respcache.Options{}); err == nil {
		t.Error("New without a Version succeeded")
	}
	if _, err := respcache.New(nil, respcache.Options{Version: "v"}); err == nil || errors.Is(err, context.Canceled) {
		t.Error("New without a value cache succeeded")
	}
}

// countGets counts Store.Get calls (answers are read with Get, tokens with
// GetMany).
type countGets struct {
	cache.Store
	gets atomic.Int64
}

func (s *countGets) Get(ctx context.Context, key string) (cache.Item, bool, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

// TestLocalCopiesFollowOtherReplicas: with local copies over a shared Redis,
// a hit reads only the tokens (not the answer) from Redis, and once another
// replica invalidates and stores a newer answer, the local copy gives way to
// it.
func TestLocalCopiesFollowOtherReplicas(t *testing.T) {
	rdb := cachetest.Client(t)
	prefix := cachetest.Prefix(t, rdb, "respcache-local")
	replica := func() (*cache.Cache, *respcache.Cache, *countGets) {
		s, err := cache.NewRedis(cache.RedisOptions{Client: rdb, Prefix: prefix, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		counted := &countGets{Store: s}
		values, err := cache.New(counted, cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := respcache.New(values, respcache.Options{Version: "test", LocalBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return values, rc, counted
	}
	valuesA, a, storeA := replica()
	valuesB, b, _ := replica()
	fxA, fxB := fixture{values: valuesA, rc: a}, fixture{values: valuesB, rc: b}
	ctx := context.Background()
	k := key(t, fxA, dashboard)
	if !a.Put(ctx, k, []byte(`"v1"`), answer(t, fxA, []cache.Key{projects, rfis1})) {
		t.Fatal("not stored")
	}
	before := storeA.gets.Load()
	if got, ok := a.Get(ctx, k); !ok || string(got) != `"v1"` {
		t.Fatalf("A: %q %v", got, ok)
	}
	if n := storeA.gets.Load() - before; n != 0 {
		t.Fatalf("a local hit read the answer from Redis %d times", n)
	}
	if err := valuesB.Invalidate(ctx, "c1", "project:1"); err != nil {
		t.Fatal(err)
	}
	if !b.Put(ctx, k, []byte(`"v2"`), answer(t, fxB, []cache.Key{projects, rfis1})) {
		t.Fatal("B did not store its answer")
	}
	if got, ok := a.Get(ctx, k); !ok || string(got) != `"v2"` {
		t.Fatalf("A after B's invalidation and new answer: %q %v, want v2", got, ok)
	}
}

// TestAnswersStayWithinTheirByteBound fills a response cache whose answers
// live in a MemoryStore of their own (as the server wires it without Redis)
// with 64 answers of 64 KiB: the answers' store stays within its 1 MiB
// bound, the latest answer is still served, and none of them lands in the
// value cache's store.
func TestAnswersStayWithinTheirByteBound(t *testing.T) {
	ctx := context.Background()
	valueStore, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = valueStore.Close() })
	const maxBytes = 1 << 20
	answers, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = answers.Close() })
	values, err := cache.New(valueStore, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := respcache.New(values, respcache.Options{Version: "test", Store: answers})
	if err != nil {
		t.Fatal(err)
	}
	answer := make([]byte, 64<<10)
	var keys []string
	for i := range 64 {
		key, err := rc.Key(respcache.Request{Conn: "c1", User: "u", Query: "{ projects { id } }", Variables: map[string]any{"i": i}})
		if err != nil {
			t.Fatal(err)
		}
		dctx, deps := cache.WithDeps(ctx)
		if _, err := cache.GetOrFetchJSON(dctx, values, cache.Key{Conn: "c1", User: "u", Kind: "projects", Scope: "company:1", Params: strconv.Itoa(i)},
			func(context.Context) (int, error) { return i, nil }); err != nil {
			t.Fatal(err)
		}
		if !rc.Put(ctx, key, answer, deps) {
			t.Fatalf("answer %d was not stored", i)
		}
		keys = append(keys, key)
	}
	// otter settles its weight as reads and writes drive its maintenance.
	deadline := time.Now().Add(5 * time.Second)
	for answers.WeightedSize() > maxBytes && time.Now().Before(deadline) {
		_, _ = answers.GetMany(ctx, keys)
		time.Sleep(time.Millisecond)
	}
	if w := answers.WeightedSize(); w > maxBytes {
		t.Fatalf("answers' store holds %d bytes, bound %d", w, maxBytes)
	}
	// Which answers stay is the store's admission policy's choice (W-TinyLFU
	// may refuse the newest); what must hold is that it still serves some,
	// intact.
	served := 0
	for _, key := range keys {
		if got, ok := rc.Get(ctx, key); ok {
			served++
			if !bytes.Equal(got, answer) {
				t.Fatalf("a served answer has %d bytes, not the %d stored", len(got), len(answer))
			}
		}
	}
	if served == 0 {
		t.Fatal("no answer is served after the store reached its bound")
	}
	if got, _ := valueStore.GetMany(ctx, keys); len(got) != 0 {
		t.Fatalf("%d answers landed in the value cache's store", len(got))
	}
}
