package persisted

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
)

// Defaults of the APQ caches.
const (
	// DefaultMaxValueBytes bounds one stored query (1 MiB).
	DefaultMaxValueBytes = 1 << 20
	// DefaultTTL is how long Redis keeps a registered query.
	DefaultTTL = 24 * time.Hour
	// DefaultRedisPrefix is the key prefix of RedisCache.
	DefaultRedisPrefix = "pg:apq:"
	// DefaultRedisTimeout bounds one Redis round trip of RedisCache.
	DefaultRedisTimeout = 200 * time.Millisecond
	// DefaultMaxEntries bounds the number of queries MemoryCache keeps.
	DefaultMaxEntries = 1000
	// DefaultMaxTotalBytes bounds the bytes MemoryCache keeps (keys and values).
	DefaultMaxTotalBytes = 32 << 20
)

// Errors reported to the caches' OnError (the cache itself never fails a
// request: a query it cannot store or read is simply a miss, and APQ clients
// then send the full query).
var (
	// ErrValueTooLarge: Add was given a query over MaxValueBytes; it is not stored.
	ErrValueTooLarge = errors.New("persisted: APQ query is larger than the limit")
	// ErrInvalidKey: Add was given a key that is not a lowercase sha256 hex digest.
	ErrInvalidKey = errors.New("persisted: APQ key is not a sha256 hex digest")
	// ErrCorruptValue: Redis held a value whose sha256 is not its key; it is
	// ignored (a miss).
	ErrCorruptValue = errors.New("persisted: APQ value in Redis does not match its key")
)

var (
	_ graphql.Cache[string] = (*RedisCache)(nil)
	_ graphql.Cache[string] = (*MemoryCache)(nil)
)

// isAPQKey reports whether key can be an APQ key: gqlgen stores a query only
// under the lowercase sha256 hex it computed for it, so any other key (a
// client's malformed or oversized sha256Hash) misses without a look-up.
func isAPQKey(key string) bool {
	if len(key) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// RedisOptions configure NewRedisCache.
type RedisOptions struct {
	// Client is the Redis connection (required): a *redis.Client, a
	// *redis.ClusterClient or a failover client (cache.ParseRedisURL).
	Client redis.UniversalClient
	// Prefix is prepended to every key. Default DefaultRedisPrefix
	// ("pg:apq:"). Tests use a random one.
	Prefix string
	// TTL is how long a registered query is kept (fixed from its last
	// registration, not refreshed by reads). Default DefaultTTL (24 h).
	TTL time.Duration
	// MaxValueBytes refuses (does not store) longer queries. Default
	// DefaultMaxValueBytes (1 MiB).
	MaxValueBytes int
	// Timeout bounds each round trip (a slow Redis makes a miss, not a slow
	// request). Default DefaultRedisTimeout (200 ms).
	Timeout time.Duration
	// OnError, if set, is told of every failure: Redis errors (a miss is
	// not one), ErrValueTooLarge, ErrInvalidKey and ErrCorruptValue. op is
	// "get" or "add". Nil: failures are only misses.
	OnError func(ctx context.Context, op string, err error)
}

// RedisCache is a graphql.Cache[string] for extension.AutomaticPersistedQuery
// shared by every replica through Redis: Add is one SET with expiry, Get one
// GET. A value read back is used only if its sha256 is its key, so a stale or
// foreign value under the prefix can never run as another query.
type RedisCache struct {
	rdb      redis.UniversalClient
	prefix   string
	ttl      time.Duration
	maxValue int
	timeout  time.Duration
	onError  func(ctx context.Context, op string, err error)
}

// NewRedisCache returns a RedisCache, or an error for a missing client or a
// negative option.
func NewRedisCache(o RedisOptions) (*RedisCache, error) {
	if o.Client == nil {
		return nil, errors.New("persisted: RedisOptions.Client is required")
	}
	if o.TTL < 0 || o.MaxValueBytes < 0 || o.Timeout < 0 {
		return nil, fmt.Errorf("persisted: RedisOptions TTL (%v), MaxValueBytes (%d) and Timeout (%v) must not be negative", o.TTL, o.MaxValueBytes, o.Timeout)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultRedisTimeout
	}
	return &RedisCache{rdb: o.Client, prefix: o.Prefix, ttl: o.TTL, maxValue: o.MaxValueBytes,
		timeout: o.Timeout, onError: o.OnError}, nil
}

// Key returns the Redis key a query hash is stored under.
func (c *RedisCache) Key(hash string) string { return c.prefix + hash }

// Get looks a query up by its sha256 hex.
func (c *RedisCache) Get(ctx context.Context, key string) (string, bool) {
	if !isAPQKey(key) {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.report(ctx, "get", err)
		}
		return "", false
	}
	if len(v) > c.maxValue {
		c.report(ctx, "get", ErrValueTooLarge)
		return "", false
	}
	if sha256Hex(v) != key {
		c.report(ctx, "get", ErrCorruptValue)
		return "", false
	}
	return v, true
}

// Add stores a query under its sha256 hex for TTL, unless it is larger than
// MaxValueBytes or the key is not a sha256 hex digest.
func (c *RedisCache) Add(ctx context.Context, key, value string) {
	if !isAPQKey(key) {
		c.report(ctx, "add", ErrInvalidKey)
		return
	}
	if len(value) > c.maxValue {
		c.report(ctx, "add", ErrValueTooLarge)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.rdb.Set(ctx, c.prefix+key, value, c.ttl).Err(); err != nil {
		c.report(ctx, "add", err)
	}
}

func (c *RedisCache) report(ctx context.Context, op string, err error) {
	if c.onError != nil {
		c.onError(ctx, op, err)
	}
}

// MemoryOptions configure NewMemoryCache.
type MemoryOptions struct {
	// MaxEntries bounds the number of queries kept. Default
	// DefaultMaxEntries (1000).
	MaxEntries int
	// MaxTotalBytes bounds the bytes of the keys and queries kept. Default
	// DefaultMaxTotalBytes (32 MiB).
	MaxTotalBytes int64
	// MaxValueBytes refuses (does not store) longer queries. Default
	// DefaultMaxValueBytes (1 MiB).
	MaxValueBytes int
	// OnError, if set, is told of refused Adds (ErrValueTooLarge,
	// ErrInvalidKey).
	OnError func(ctx context.Context, op string, err error)
}

// MemoryCache is a graphql.Cache[string] for extension.AutomaticPersistedQuery
// in one process (deployments without Redis): a least-recently-used cache
// bounded both by entries and by bytes. Safe for concurrent use.
type MemoryCache struct {
	maxEntries int
	maxBytes   int64
	maxValue   int
	onError    func(ctx context.Context, op string, err error)

	mu    sync.Mutex
	ll    *list.List // front: most recently used; values are *memEntry
	items map[string]*list.Element
	bytes int64
}

type memEntry struct{ key, value string }

// NewMemoryCache returns a MemoryCache, or an error for a negative option or
// a MaxValueBytes over MaxTotalBytes.
func NewMemoryCache(o MemoryOptions) (*MemoryCache, error) {
	if o.MaxEntries < 0 || o.MaxTotalBytes < 0 || o.MaxValueBytes < 0 {
		return nil, fmt.Errorf("persisted: MemoryOptions MaxEntries (%d), MaxTotalBytes (%d) and MaxValueBytes (%d) must not be negative", o.MaxEntries, o.MaxTotalBytes, o.MaxValueBytes)
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxTotalBytes == 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if int64(o.MaxValueBytes) > o.MaxTotalBytes {
		return nil, fmt.Errorf("persisted: MemoryOptions.MaxValueBytes (%d) is larger than MaxTotalBytes (%d)", o.MaxValueBytes, o.MaxTotalBytes)
	}
	return &MemoryCache{maxEntries: o.MaxEntries, maxBytes: o.MaxTotalBytes, maxValue: o.MaxValueBytes,
		onError: o.OnError, ll: list.New(), items: make(map[string]*list.Element)}, nil
}

// Get looks a query up by its sha256 hex, marking it recently used.
func (c *MemoryCache) Get(_ context.Context, key string) (string, bool) {
	if !isAPQKey(key) {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return "", false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*memEntry).value, true
}

// Add stores a query under its sha256 hex (unless it is larger than
// MaxValueBytes or the key is not a sha256 hex digest), evicting the least
// recently used queries beyond MaxEntries or MaxTotalBytes.
func (c *MemoryCache) Add(ctx context.Context, key, value string) {
	if !isAPQKey(key) {
		c.report(ctx, ErrInvalidKey)
		return
	}
	if len(value) > c.maxValue {
		c.report(ctx, ErrValueTooLarge)
		return
	}
	size := int64(len(key) + len(value))
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*memEntry)
		c.bytes += int64(len(value) - len(e.value))
		e.value = value
		c.ll.MoveToFront(el)
	} else {
		c.items[key] = c.ll.PushFront(&memEntry{key: key, value: value})
		c.bytes += size
	}
	for c.ll.Len() > 0 && (c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes) {
		oldest := c.ll.Back()
		e := oldest.Value.(*memEntry)
		c.ll.Remove(oldest)
		delete(c.items, e.key)
		c.bytes -= int64(len(e.key) + len(e.value))
	}
}

// Len returns the number of queries kept.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func (c *MemoryCache) report(ctx context.Context, err error) {
	if c.onError != nil {
		c.onError(ctx, "add", err)
	}
}
