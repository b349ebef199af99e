package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"procoregraph/telemetry/spans"
)

// RedisOptions configures NewRedis. Zero values mean the defaults.
type RedisOptions struct {
	// Client is the Redis connection (required): a *redis.Client, a
	// *redis.ClusterClient or a failover client, as ParseRedisURL returns.
	// Build it with ContextTimeoutEnabled, or go-redis ignores Timeout below
	// and a dead Redis stalls callers for the client's ReadTimeout (3 s).
	// The store does not close it.
	Client redis.UniversalClient
	// Prefix is prepended to every key, to share one Redis between
	// environments or tests. It must not contain '{' or '}' (the key's
	// connection is its Redis Cluster hash tag). Default: none.
	Prefix string
	// Timeout bounds each operation (one round trip). Default: 200 ms.
	Timeout time.Duration
	// Now is the clock for Item.StoredAt and Item.ExpiresAt. Redis expires
	// keys by its own clock. Default: time.Now.
	Now func() time.Time
	// Logger receives configuration warnings. Default: slog.Default().
	Logger *slog.Logger
}

const defaultRedisTimeout = 200 * time.Millisecond

// RedisStore is the Store shared by every replica: plain Redis string keys
// (Redis Cluster through UniversalClient), one MGET per GetMany, one pipeline
// per SetMany, SET NX / SET NX GET / Lua for the atomic operations.
//
// Each value is stored behind a 17-byte header (a format byte, then StoredAt
// and ExpiresAt as big-endian Unix nanoseconds) so that one MGET returns
// everything stale-while-revalidate needs, without a PTTL per key. Keys that
// hold something else (written by another program) read as missing.
type RedisStore struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
	// Scripts run by SHA and fall back to EVAL when Redis lacks them.
	cas, cad *redis.Script
}

// NewRedis returns a RedisStore over o.Client.
func NewRedis(o RedisOptions) (*RedisStore, error) {
	if o.Client == nil {
		return nil, errors.New("cache: RedisOptions.Client is required")
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("cache: RedisOptions.Prefix %q must not contain '{' or '}'", o.Prefix)
	}
	if o.Timeout == 0 {
		o.Timeout = defaultRedisTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if !contextTimeoutEnabled(o.Client) {
		o.Logger.Warn("cache: the Redis client was built without ContextTimeoutEnabled; per-operation timeouts will not interrupt a stalled Redis")
	}
	return &RedisStore{rdb: o.Client, prefix: o.Prefix, timeout: o.Timeout, now: o.Now,
		cas: redis.NewScript(casScript), cad: redis.NewScript(cadScript)}, nil
}

func contextTimeoutEnabled(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return true // unknown implementation: nothing to check
}

// ParseRedisURL builds a client from a REDIS_URL, with ContextTimeoutEnabled
// set so that RedisStore's per-operation timeouts hold:
//
//	redis://[user:password@]host:port/db?dial_timeout=1s   one node (go-redis ParseURL)
//	rediss://...                                           the same over TLS
//	redis://host:port?addr=host2:port2&addr=host3:port3     Redis Cluster (go-redis ParseClusterURL)
//	redis://host:port?cluster=true                          Redis Cluster from one seed node
//
// Query parameters are go-redis's (dial_timeout, read_timeout, pool_size,
// max_retries ...). Errors never repeat the URL, which may hold a password.
//
// The client is traced (redisotel): a command run under a recording span
// is a child span of it (command name only: no statement, whose values may
// be tokens or sealed sessions); other commands make no span.
func ParseRedisURL(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cache: invalid Redis URL: %v", err)
	}
	q := u.Query()
	cluster := q.Has("addr")
	if q.Has("cluster") {
		b, err := strconv.ParseBool(q.Get("cluster"))
		if err != nil {
			return nil, fmt.Errorf("cache: invalid Redis URL: cluster=%q is not a boolean", q.Get("cluster"))
		}
		cluster = cluster || b
		q.Del("cluster")
		u.RawQuery = q.Encode()
	}
	if cluster {
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("cache: invalid Redis Cluster URL: %w", err)
		}
		o.ContextTimeoutEnabled = true
		return traced(redis.NewClusterClient(o)), nil
	}
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("cache: invalid Redis URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	return traced(redis.NewClient(o)), nil
}

// traced adds redisotel's tracing hook to rdb, starting spans only under a
// recording parent span (spans.ChildOnly).
func traced(rdb redis.UniversalClient) redis.UniversalClient {
	_ = redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(spans.ChildOnly()),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false), redisotel.WithDialFilter(true))
	return rdb
}

const (
	envFormat = 0xC1
	envHeader = 17
	casScript = `local v = redis.call('GET', KEYS[1])
if v and #v >= 17 and string.byte(v, 1) == 193 and string.sub(v, 18) == ARGV[1] then
  local ms = tonumber(ARGV[3])
  if ms > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ms) else redis.call('SET', KEYS[1], ARGV[2]) end
  return 1
end
return 0`
	cadScript = `local v = redis.call('GET', KEYS[1])
if v and #v >= 17 and string.byte(v, 1) == 193 and string.sub(v, 18) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`
)

func (s *RedisStore) envelope(value []byte, ttl time.Duration) ([]byte, Item) {
	now := s.now()
	it := Item{Value: value, StoredAt: now}
	var exp int64
	if ttl > 0 {
		it.ExpiresAt = now.Add(ttl)
		exp = it.ExpiresAt.UnixNano()
	}
	b := make([]byte, envHeader+len(value))
	b[0] = envFormat
	binary.BigEndian.PutUint64(b[1:9], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(b[9:17], uint64(exp))
	copy(b[envHeader:], value)
	return b, it
}

func openEnvelope(raw string) (Item, bool) {
	if len(raw) < envHeader || raw[0] != envFormat {
		return Item{}, false
	}
	stored, exp := beInt64(raw[1:9]), beInt64(raw[9:17])
	it := Item{Value: []byte(raw[envHeader:]), StoredAt: time.Unix(0, stored)}
	if exp != 0 {
		it.ExpiresAt = time.Unix(0, exp)
	}
	return it, true
}

func beInt64(s string) int64 {
	var n uint64
	for i := 0; i < 8; i++ {
		n = n<<8 | uint64(s[i])
	}
	return int64(n)
}

func redisTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0 // no expiry (go-redis reads -1 as KEEPTTL)
	}
	return ttl
}

func (s *RedisStore) op(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, key string) (Item, bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	raw, err := s.rdb.Get(ctx, s.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return Item{}, false, nil
	}
	if err != nil {
		return Item{}, false, fmt.Errorf("cache: redis GET: %w", err)
	}
	it, ok := openEnvelope(raw)
	return it, ok, nil
}

// GetMany implements Store with one MGET (go-redis splits it by hash slot on
// a cluster; Cache's keys of one connection share a slot).
func (s *RedisStore) GetMany(ctx context.Context, keys []string) (map[string]Item, error) {
	out := make(map[string]Item, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.prefix + k
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	vals, err := s.rdb.MGet(ctx, full...).Result()
	if err != nil {
		return nil, fmt.Errorf("cache: redis MGET: %w", err)
	}
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok || i >= len(keys) {
			continue
		}
		if it, ok := openEnvelope(raw); ok {
			out[keys[i]] = it
		}
	}
	return out, nil
}

// Set implements Store.
func (s *RedisStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	env, _ := s.envelope(value, ttl)
	if err := s.rdb.Set(ctx, s.prefix+key, env, redisTTL(ttl)).Err(); err != nil {
		return fmt.Errorf("cache: redis SET: %w", err)
	}
	return nil
}

// SetMany implements Store with one pipeline of SET ... PX.
func (s *RedisStore) SetMany(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if len(entries) == 1 {
		e := entries[0]
		return s.Set(ctx, e.Key, e.Value, e.TTL)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	for _, e := range entries {
		env, _ := s.envelope(e.Value, e.TTL)
		pipe.Set(ctx, s.prefix+e.Key, env, redisTTL(e.TTL))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cache: redis pipelined SET: %w", err)
	}
	return nil
}

// SetNX implements Store with SET NX PX.
func (s *RedisStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	env, _ := s.envelope(value, ttl)
	ok, err := s.rdb.SetNX(ctx, s.prefix+key, env, redisTTL(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("cache: redis SET NX: %w", err)
	}
	return ok, nil
}

// GetOrSetMany implements Store with one pipeline of SET NX GET (Redis 7.0
// or later). A key holding a value this store cannot read is left out.
func (s *RedisStore) GetOrSetMany(ctx context.Context, entries []Entry) (map[string]Item, error) {
	out := make(map[string]Item, len(entries))
	if len(entries) == 0 {
		return out, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(entries))
	items := make([]Item, len(entries))
	for i, e := range entries {
		var env []byte
		env, items[i] = s.envelope(e.Value, e.TTL)
		cmds[i] = pipe.SetArgs(ctx, s.prefix+e.Key, env, redis.SetArgs{Mode: "NX", TTL: redisTTL(e.TTL), Get: true})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("cache: redis pipelined SET NX GET: %w", err)
	}
	for i, cmd := range cmds {
		old, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
			out[entries[i].Key] = items[i] // stored ours
		case err != nil:
			return nil, fmt.Errorf("cache: redis SET NX GET: %w", err)
		default:
			if it, ok := openEnvelope(old); ok {
				out[entries[i].Key] = it
			}
		}
	}
	return out, nil
}

// CompareAndSwap implements Store with a Lua script.
func (s *RedisStore) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	env, _ := s.envelope(value, ttl)
	n, err := s.cas.Run(ctx, s.rdb, []string{s.prefix + key}, old, env, redisTTL(ttl).Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("cache: redis compare-and-swap: %w", err)
	}
	return n == 1, nil
}

// CompareAndDelete implements Store with a Lua script.
func (s *RedisStore) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := s.cad.Run(ctx, s.rdb, []string{s.prefix + key}, old).Int()
	if err != nil {
		return false, fmt.Errorf("cache: redis compare-and-delete: %w", err)
	}
	return n == 1, nil
}

// Delete implements Store (one DEL; go-redis splits it by slot on a cluster).
func (s *RedisStore) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.prefix + k
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.rdb.Del(ctx, full...).Err(); err != nil {
		return fmt.Errorf("cache: redis DEL: %w", err)
	}
	return nil
}

// Close is a no-op: the Redis client belongs to the caller, who closes it.
func (s *RedisStore) Close() error { return nil }
