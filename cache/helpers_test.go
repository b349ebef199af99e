package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// fakeClock is a manually advanced clock shared by a store and a cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// redisURL returns REDIS_URL, skipping the test without it (failing under CI).
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REDIS_URL is not set, and CI=true requires the Redis tests to run")
		}
		t.Skip("REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6379/5); skipping Redis test")
	}
	return u
}

// redisClient returns a client on REDIS_URL, closed at cleanup.
func redisClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	rdb, err := ParseRedisURL(redisURL(t))
	if err != nil {
		t.Fatalf("ParseRedisURL: %v", err)
	}
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at REDIS_URL does not answer: %v", err)
		}
		t.Skipf("Redis at REDIS_URL does not answer (%v); skipping Redis test", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// testPrefix is a key prefix unique to this test run, whose keys are
// deleted at cleanup.
func testPrefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	name := strings.NewReplacer("/", ".", " ", "_", "{", "(", "}", ")").Replace(t.Name())
	p := fmt.Sprintf("pgtest:%s:%08x:", name, rand.Uint32())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
	})
	return p
}

type storeKind struct {
	name string
	// open returns a store with the given clock for StoredAt/ExpiresAt.
	// Stores opened twice in one test share their data when the backend is
	// shared (Redis), as two replicas do.
	open func(t *testing.T, clock *fakeClock) Store
	// physical reports whether Store expiry follows the fake clock (memory)
	// or the backend's real clock (Redis).
	realExpiry bool
}

func storeKinds() []storeKind {
	return []storeKind{
		{name: "Memory", open: func(t *testing.T, clock *fakeClock) Store {
			s, err := NewMemory(MemoryOptions{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{name: "Redis", realExpiry: true, open: openSharedRedis()},
	}
}

// openSharedRedis opens Redis stores that share one prefix per test, so a
// second open in the same test is a second replica on the same data.
func openSharedRedis() func(t *testing.T, clock *fakeClock) Store {
	var mu sync.Mutex
	prefixes := map[*testing.T]string{}
	return func(t *testing.T, clock *fakeClock) Store {
		rdb := redisClient(t)
		mu.Lock()
		p, ok := prefixes[t]
		if !ok {
			p = testPrefix(t, rdb)
			prefixes[t] = p
		}
		mu.Unlock()
		s, err := NewRedis(RedisOptions{Client: rdb, Prefix: p, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// countingStore wraps a Store and counts calls per method.
type countingStore struct {
	Store
	getMany, setMany, getOrSetMany, set atomic.Int64
}

func (s *countingStore) GetMany(ctx context.Context, keys []string) (map[string]Item, error) {
	s.getMany.Add(1)
	return s.Store.GetMany(ctx, keys)
}

func (s *countingStore) SetMany(ctx context.Context, e []Entry) error {
	s.setMany.Add(1)
	return s.Store.SetMany(ctx, e)
}

func (s *countingStore) GetOrSetMany(ctx context.Context, e []Entry) (map[string]Item, error) {
	s.getOrSetMany.Add(1)
	return s.Store.GetOrSetMany(ctx, e)
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	s.set.Add(1)
	return s.Store.Set(ctx, key, v, ttl)
}

// fetcher is a FetchFunc that answers "<key>@<version>" for every key and
// records the keys of every call.
// gatedFetch is f.fetch held until gate is closed.
func gatedFetch(f *fetcher) (FetchFunc, chan struct{}) {
	gate := make(chan struct{})
	return func(ctx context.Context, m []Key) (map[Key][]byte, error) {
		<-gate
		return f.fetch(ctx, m)
	}, gate
}

type fetcher struct {
	mu      sync.Mutex
	calls   [][]Key
	version int
	err     error
	skip    map[Key]bool // keys reported as not found
}

func (f *fetcher) fetch(_ context.Context, missing []Key) (map[Key][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append([]Key(nil), missing...))
	out := make(map[Key][]byte, len(missing))
	for _, k := range missing {
		if !f.skip[k] {
			out[k] = []byte(fmt.Sprintf("%s@%d", k.Params, f.version))
		}
	}
	return out, f.err
}

func (f *fetcher) setVersion(v int) {
	f.mu.Lock()
	f.version = v
	f.mu.Unlock()
}

func (f *fetcher) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fetcher) fetchedKeys() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += len(c)
	}
	return n
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestCache returns a Cache over store on clock with its own registry.
func newTestCache(t *testing.T, store Store, clock *fakeClock, o Options) (*Cache, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	o.Now = clock.Now
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	c, err := New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, reg
}

// counterValue reads one counter of a registry; 0 when it has no such series.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// keysOf returns n keys of conn/user/kind under scope with params p0..pn-1.
func keysOf(conn, user, kind, scope string, n int) []Key {
	ks := make([]Key, n)
	for i := range ks {
		ks[i] = Key{Conn: conn, User: user, Kind: kind, Scope: scope, Params: fmt.Sprintf("p%d", i)}
	}
	return ks
}

func mustGet(t *testing.T, c *Cache, keys []Key, f FetchFunc) map[Key][]byte {
	t.Helper()
	got, err := c.GetOrFetchMany(context.Background(), keys, f)
	if err != nil {
		t.Fatalf("GetOrFetchMany: %v", err)
	}
	return got
}

// proxy is a loopback TCP proxy to Redis that a test can stop and restart,
// to cut the cache off from a real Redis as a crash or a partition would.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
}

// stop closes the listener and every connection: Redis is "down".
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Wait()
}

// restart listens again on the same address: Redis is back.
func (p *proxy) restart() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("restart proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// blackhole accepts connections and never answers, as a hung Redis does.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// redisAddrOf returns host:port of REDIS_URL and its DB number.
func redisAddrOf(t *testing.T) (string, int) {
	t.Helper()
	o, err := redis.ParseURL(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return o.Addr, o.DB
}

var errBoom = errors.New("boom")
