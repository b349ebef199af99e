package persisted_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/redis/go-redis/v9"

	"procoregraph/cache/cachetest"
	"procoregraph/persisted"
)

// errLog collects what a cache reports to OnError.
type errLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errLog) onError(_ context.Context, op string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Errorf("%s: %w", op, err))
}

func (l *errLog) has(target error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

func (l *errLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

// redisCache returns a RedisCache on REDIS_URL under a random prefix whose
// keys are deleted at cleanup (skipped without REDIS_URL unless CI=true).
func redisCache(t *testing.T, o persisted.RedisOptions) (*persisted.RedisCache, redis.UniversalClient) {
	t.Helper()
	rdb := cachetest.Client(t)
	o.Client = rdb
	o.Prefix = cachetest.Prefix(t, rdb, "apq")
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second // a busy test machine is not an outage
	}
	c, err := persisted.NewRedisCache(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, rdb
}

// The APQ protocol through a real gqlgen server, over each cache: a hash
// the server has never seen is PersistedQueryNotFound; the query sent with
// its hash registers it; the hash alone then runs, over GET as over POST.
func TestAPQRoundTrip(t *testing.T) {
	caches := []struct {
		name  string
		cache func(t *testing.T) graphql.Cache[string]
	}{
		{"memory cache", func(t *testing.T) graphql.Cache[string] {
			c, err := persisted.NewMemoryCache(persisted.MemoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"redis cache", func(t *testing.T) graphql.Cache[string] {
			c, _ := redisCache(t, persisted.RedisOptions{})
			return c
		}},
	}
	hash := sha(qTypename)
	steps := []struct {
		name  string
		rq    request
		check func(t *testing.T, r response)
	}{
		{"hash alone before registration is PersistedQueryNotFound over GET",
			request{get: true, extensions: apq(hash)},
			func(t *testing.T, r response) {
				wantCode(t, r, "PERSISTED_QUERY_NOT_FOUND")
				if r.message() != "PersistedQueryNotFound" {
					t.Fatalf("message %q, want PersistedQueryNotFound (what APQ clients look for)", r.message())
				}
			}},
		{"query with a hash that is not its own is refused and not stored",
			request{query: qTypename, extensions: apq(sha(qAgain))},
			func(t *testing.T, r response) {
				if len(r.Errors) == 0 || !strings.Contains(r.message(), "hash does not match") {
					t.Fatalf("want a hash mismatch, got %+v", r)
				}
			}},
		{"the mismatched hash is still unknown",
			request{get: true, extensions: apq(sha(qAgain))},
			func(t *testing.T, r response) { wantCode(t, r, "PERSISTED_QUERY_NOT_FOUND") }},
		{"query with its hash registers it and runs",
			request{query: qTypename, extensions: apq(hash)},
			func(t *testing.T, r response) { wantData(t, r, "__typename", `"Query"`) }},
		{"hash alone after registration runs over GET",
			request{get: true, extensions: apq(hash)},
			func(t *testing.T, r response) { wantData(t, r, "__typename", `"Query"`) }},
		{"hash alone after registration runs over POST",
			request{extensions: apq(hash)},
			func(t *testing.T, r response) { wantData(t, r, "__typename", `"Query"`) }},
		{"a malformed hash is a miss",
			request{get: true, extensions: apq(strings.Repeat("z", 5000))},
			func(t *testing.T, r response) { wantCode(t, r, "PERSISTED_QUERY_NOT_FOUND") }},
	}
	for _, cc := range caches {
		t.Run(cc.name, func(t *testing.T) {
			ts := newServer(t, extension.AutomaticPersistedQuery{Cache: cc.cache(t)})
			for _, st := range steps {
				t.Run(st.name, func(t *testing.T) { st.check(t, do(t, ts, st.rq)) })
			}
		})
	}
}

func TestRedisCacheStoresUnderPrefixWithTTL(t *testing.T) {
	c, rdb := redisCache(t, persisted.RedisOptions{TTL: 10 * time.Minute})
	ctx := context.Background()
	hash := sha(qTypename)
	c.Add(ctx, hash, qTypename)

	got, err := rdb.Get(ctx, c.Key(hash)).Result()
	if err != nil || got != qTypename {
		t.Fatalf("Redis holds %q (%v) under %s, want the query", got, err, c.Key(hash))
	}
	ttl, err := rdb.PTTL(ctx, c.Key(hash)).Result()
	if err != nil || ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("TTL %v (%v), want about 10m", ttl, err)
	}
	if v, ok := c.Get(ctx, hash); !ok || v != qTypename {
		t.Fatalf("Get = %q, %v", v, ok)
	}
}

func TestRedisCacheRefusals(t *testing.T) {
	ctx := context.Background()
	big := "query Big { __typename }" + strings.Repeat(" ", 200)
	cases := []struct {
		name    string
		run     func(t *testing.T, c *persisted.RedisCache, rdb redis.UniversalClient) (string, bool)
		wantErr error
	}{
		{"a query over MaxValueBytes is not stored", func(t *testing.T, c *persisted.RedisCache, rdb redis.UniversalClient) (string, bool) {
			c.Add(ctx, sha(big), big)
			if n, _ := rdb.Exists(ctx, c.Key(sha(big))).Result(); n != 0 {
				t.Fatal("the oversized query reached Redis")
			}
			return c.Get(ctx, sha(big))
		}, persisted.ErrValueTooLarge},
		{"an oversized value found in Redis is a miss", func(t *testing.T, c *persisted.RedisCache, rdb redis.UniversalClient) (string, bool) {
			rdb.Set(ctx, c.Key(sha(big)), big, time.Minute)
			return c.Get(ctx, sha(big))
		}, persisted.ErrValueTooLarge},
		{"a value that is not its key's query is a miss", func(t *testing.T, c *persisted.RedisCache, rdb redis.UniversalClient) (string, bool) {
			rdb.Set(ctx, c.Key(sha(qTypename)), "query Evil { __schema { types { name } } }", time.Minute)
			return c.Get(ctx, sha(qTypename))
		}, persisted.ErrCorruptValue},
		{"a key that is not a sha256 is neither stored nor looked up", func(t *testing.T, c *persisted.RedisCache, rdb redis.UniversalClient) (string, bool) {
			c.Add(ctx, "not-a-hash", qTypename)
			if n, _ := rdb.Exists(ctx, c.Key("not-a-hash")).Result(); n != 0 {
				t.Fatal("an invalid key reached Redis")
			}
			rdb.Set(ctx, c.Key("not-a-hash"), qTypename, time.Minute)
			return c.Get(ctx, "not-a-hash")
		}, persisted.ErrInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log errLog
			c, rdb := redisCache(t, persisted.RedisOptions{MaxValueBytes: 100, OnError: log.onError})
			if v, ok := tc.run(t, c, rdb); ok {
				t.Fatalf("Get found %q, want a miss", v)
			}
			if !log.has(tc.wantErr) {
				t.Fatalf("OnError got %v, want %v", log.errs, tc.wantErr)
			}
		})
	}
}

// A Redis that does not answer makes misses (APQ clients then send the
// query), reported to OnError, never a failed request or a hang.
func TestRedisCacheUnreachableIsAMiss(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	var log errLog
	c, err := persisted.NewRedisCache(persisted.RedisOptions{Client: rdb, Timeout: 500 * time.Millisecond, OnError: log.onError})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, extension.AutomaticPersistedQuery{Cache: c})
	wantCode(t, do(t, ts, request{get: true, extensions: apq(sha(qTypename))}), "PERSISTED_QUERY_NOT_FOUND")
	wantData(t, do(t, ts, request{query: qTypename, extensions: apq(sha(qTypename))}), "__typename", `"Query"`)
	if log.count() != 2 {
		t.Fatalf("OnError got %v, want the failed get and add", log.errs)
	}
}

func TestNewRedisCacheRejectsBadOptions(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	cases := map[string]persisted.RedisOptions{
		"without a client":        {},
		"with a negative TTL":     {Client: rdb, TTL: -time.Second},
		"with a negative bound":   {Client: rdb, MaxValueBytes: -1},
		"with a negative timeout": {Client: rdb, Timeout: -time.Second},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := persisted.NewRedisCache(o); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	c, err := persisted.NewRedisCache(persisted.RedisOptions{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Key("h"); got != persisted.DefaultRedisPrefix+"h" {
		t.Fatalf("default key %q", got)
	}
}

// query returns a distinct valid query of about n bytes and its hash.
func query(i, n int) (string, string) {
	q := fmt.Sprintf("query Q%d { __typename }", i)
	if len(q) < n {
		q += strings.Repeat(" ", n-len(q))
	}
	return q, sha(q)
}

func TestMemoryCacheBounds(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		opts    persisted.MemoryOptions
		run     func(c *persisted.MemoryCache)
		present []int // indexes of query(i, 100) expected present
		absent  []int
		wantErr error
	}{
		{"beyond MaxEntries the least recently used query is evicted",
			persisted.MemoryOptions{MaxEntries: 2},
			func(c *persisted.MemoryCache) {
				for i := range 2 {
					q, h := query(i, 100)
					c.Add(ctx, h, q)
				}
				_, h0 := query(0, 100)
				c.Get(ctx, h0) // 0 is now more recent than 1
				q, h := query(2, 100)
				c.Add(ctx, h, q)
			}, []int{0, 2}, []int{1}, nil},
		{"beyond MaxTotalBytes the oldest queries are evicted",
			persisted.MemoryOptions{MaxTotalBytes: 3 * (64 + 100), MaxValueBytes: 100},
			func(c *persisted.MemoryCache) {
				for i := range 5 {
					q, h := query(i, 100)
					c.Add(ctx, h, q)
				}
			}, []int{2, 3, 4}, []int{0, 1}, nil},
		{"a query over MaxValueBytes is refused",
			persisted.MemoryOptions{MaxValueBytes: 50},
			func(c *persisted.MemoryCache) {
				q, h := query(0, 100)
				c.Add(ctx, h, q)
			}, nil, []int{0}, persisted.ErrValueTooLarge},
		{"a key that is not a sha256 is refused",
			persisted.MemoryOptions{},
			func(c *persisted.MemoryCache) {
				q, _ := query(0, 100)
				c.Add(ctx, "not-a-hash", q)
				if _, ok := c.Get(ctx, "not-a-hash"); ok {
					panic("found an invalid key")
				}
			}, nil, []int{0}, persisted.ErrInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log errLog
			tc.opts.OnError = log.onError
			c, err := persisted.NewMemoryCache(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.run(c)
			for _, i := range tc.present {
				q, h := query(i, 100)
				if v, ok := c.Get(ctx, h); !ok || v != q {
					t.Errorf("query %d missing", i)
				}
			}
			for _, i := range tc.absent {
				if _, h := query(i, 100); func() bool { _, ok := c.Get(ctx, h); return ok }() {
					t.Errorf("query %d still present", i)
				}
			}
			if tc.wantErr != nil && !log.has(tc.wantErr) {
				t.Errorf("OnError got %v, want %v", log.errs, tc.wantErr)
			}
		})
	}
}

func TestMemoryCacheConcurrentUseStaysBounded(t *testing.T) {
	ctx := context.Background()
	c, err := persisted.NewMemoryCache(persisted.MemoryOptions{MaxEntries: 16})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				q, h := query(g*1000+i%40, 0)
				c.Add(ctx, h, q)
				if v, ok := c.Get(ctx, h); ok && v != q {
					t.Errorf("Get returned another query")
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 16 {
		t.Fatalf("Len %d over MaxEntries 16", c.Len())
	}
}

func TestNewMemoryCacheRejectsBadOptions(t *testing.T) {
	cases := map[string]persisted.MemoryOptions{
		"with negative entries":                 {MaxEntries: -1},
		"with negative total bytes":             {MaxTotalBytes: -1},
		"with a value bound over the total one": {MaxTotalBytes: 10, MaxValueBytes: 11},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := persisted.NewMemoryCache(o); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}
