// Package state holds the gateway's correctness state: idempotency records,
// browser and sign-in sessions, login lockouts, pending logins, the differ's
// last-known item states, poller locks and watermarks, webhook dedupe ids and
// the OAuth token pair. Losing any of these is a bug, not a cache miss (a
// retried create writes twice, people are signed out, a change is never
// announced), so they never share the evicting cache of Procore data and
// whole answers (package cache's MemoryStore, package respcache).
//
// Both implementations are cache.Store, so every user keeps its code:
//
//   - Memory, one process: a bounded map (entries and bytes) with per-entry
//     expiry. When full it first drops expired entries and then REFUSES the
//     new entry with ErrFull (an *adapter.Error with code STATE_FULL and a
//     RetryAfter), never evicting a live one.
//   - Redis, shared by replicas: cache.RedisStore under its own key prefix
//     (RedisPrefix), optionally on its own instance (STATE_REDIS_URL), wrapped
//     by WithDefaultTTL so that every key carries a TTL. That instance must
//     not evict live keys: maxmemory-policy noeviction (writes fail when full,
//     which callers report as UPSTREAM_UNAVAILABLE), or a volatile-* policy,
//     which here can evict any key since every key has a TTL, and so is only
//     safe with maxmemory large enough never to be reached.
package state

import (
	"context"
	"errors"
	"time"

	"procoregraph/cache"
)

// RedisPrefix goes after the configured CACHE_PREFIX and before every key of
// the state store in Redis, so state keys are told apart from cached data at
// a glance (and by SCAN pattern): <CACHE_PREFIX>pg:state:pg:aux:{conn}:...
const RedisPrefix = "pg:state:"

// DefaultTTL is the expiry given to an entry stored without one (ttl <= 0):
// the service's OAuth token pair is such an entry. It is rewritten at every
// token refresh, so only a pair unused for this long expires.
const DefaultTTL = 90 * 24 * time.Hour

// ErrFull is the sentinel inside every refusal of a full Memory store:
// errors.Is(err, ErrFull) holds for them, and errors.As finds the
// *adapter.Error (code STATE_FULL) that the GraphQL error presenter shows.
var ErrFull = errors.New("state: correctness-state store is full")

// WithDefaultTTL returns s with every write that carries no TTL (ttl <= 0)
// given ttl instead (DefaultTTL when ttl <= 0), so that no key of the state
// store lives forever. Everything else passes through unchanged.
func WithDefaultTTL(s cache.Store, ttl time.Duration) cache.Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return ttlStore{Store: s, def: ttl}
}

type ttlStore struct {
	cache.Store
	def time.Duration
}

func (s ttlStore) ttl(d time.Duration) time.Duration {
	if d <= 0 {
		return s.def
	}
	return d
}

func (s ttlStore) entries(es []cache.Entry) []cache.Entry {
	out := make([]cache.Entry, len(es))
	for i, e := range es {
		e.TTL = s.ttl(e.TTL)
		out[i] = e
	}
	return out
}

// Set implements cache.Store.
func (s ttlStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.Store.Set(ctx, key, value, s.ttl(ttl))
}

// SetMany implements cache.Store.
func (s ttlStore) SetMany(ctx context.Context, entries []cache.Entry) error {
	return s.Store.SetMany(ctx, s.entries(entries))
}

// SetNX implements cache.Store.
func (s ttlStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	return s.Store.SetNX(ctx, key, value, s.ttl(ttl))
}

// GetOrSetMany implements cache.Store.
func (s ttlStore) GetOrSetMany(ctx context.Context, entries []cache.Entry) (map[string]cache.Item, error) {
	return s.Store.GetOrSetMany(ctx, s.entries(entries))
}

// CompareAndSwap implements cache.Store.
func (s ttlStore) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	return s.Store.CompareAndSwap(ctx, key, old, value, s.ttl(ttl))
}
