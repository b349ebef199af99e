package main

import (
	"fmt"

	"procoregraph/cache"
	"procoregraph/state"
)

// stateRedisURL is where correctness state lives in Redis: STATE_REDIS_URL,
// else REDIS_URL; "" means in memory.
func stateRedisURL(cfg config) string {
	if cfg.StateRedisURL != "" {
		return cfg.StateRedisURL
	}
	return cfg.RedisURL
}

// newStateStore returns the store of correctness state (idempotency
// records, sessions, login lockouts, pending sign-ins, differ state, poller
// locks and watermarks, webhook dedupe ids, the OAuth token pair) and its
// closer. It is never the evicting cache of Procore data and answers:
//
//   - without Redis, a state.Memory bounded by STATE_MAX_BYTES that refuses
//     new entries with STATE_FULL instead of evicting live ones;
//   - with Redis (STATE_REDIS_URL, else REDIS_URL), a RedisStore under
//     CACHE_PREFIX + state.RedisPrefix in which every key carries a TTL,
//     with a patient per-operation timeout (controlStoreTimeout: the data
//     cache's 200 ms would make a busy Redis look down and turn locks into
//     fail-open).
func newStateStore(cfg config) (cache.Store, func(), error) {
	u := stateRedisURL(cfg)
	if u == "" {
		m, err := state.NewMemory(state.MemoryOptions{MaxBytes: cfg.StateMaxBytes})
		if err != nil {
			return nil, nil, err
		}
		return m, func() { _ = m.Close() }, nil
	}
	rdb, err := cache.ParseRedisURL(u)
	if err != nil {
		return nil, nil, fmt.Errorf("STATE_REDIS_URL or REDIS_URL: %w", err)
	}
	s, err := cache.NewRedis(cache.RedisOptions{Client: rdb, Prefix: cfg.CachePrefix + state.RedisPrefix, Timeout: controlStoreTimeout})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis state store: %w", err)
	}
	return state.WithDefaultTTL(s, 0), func() { _ = rdb.Close() }, nil
}
