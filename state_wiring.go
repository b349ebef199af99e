package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

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
//
// reg, when not nil, receives the in-memory store's gauges:
// procoregraph_state_entries, procoregraph_state_bytes (against
// procoregraph_state_max_bytes) and procoregraph_state_refused_total.
func newStateStore(cfg config, reg prometheus.Registerer) (cache.Store, func(), error) {
	u := stateRedisURL(cfg)
	if u == "" {
		m, err := state.NewMemory(state.MemoryOptions{MaxBytes: cfg.StateMaxBytes})
		if err != nil {
			return nil, nil, err
		}
		if reg != nil {
			registerStateMetrics(reg, m, cfg.StateMaxBytes)
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

func registerStateMetrics(reg prometheus.Registerer, m *state.Memory, maxBytes int64) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "procoregraph_state_entries",
			Help: "Entries in the in-memory correctness-state store (expired ones not yet dropped included)."},
			func() float64 { n, _, _ := m.Stats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "procoregraph_state_bytes",
			Help: "Bytes the in-memory correctness-state store's entries are counted for."},
			func() float64 { _, b, _ := m.Stats(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "procoregraph_state_max_bytes",
			Help: "STATE_MAX_BYTES: when procoregraph_state_bytes reaches it, new entries are refused (STATE_FULL)."},
			func() float64 { return float64(maxBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "procoregraph_state_refused_total",
			Help: "Writes the full in-memory correctness-state store refused (STATE_FULL) rather than evict a live entry."},
			func() float64 { _, _, r := m.Stats(); return float64(r) }),
	)
}
