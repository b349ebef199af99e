package cache

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the cache's Prometheus counters. They exist even when no
// Registerer is given, so the code never checks for nil.
type metrics struct {
	requests *prometheus.CounterVec // kind, result = hit|miss|stale
	errors   *prometheus.CounterVec // op
}

// Store operations as counted by procoregraph_cache_errors_total{op}.
const (
	opGet        = "get"        // the batch multi-get failed: the batch was fetched upstream
	opSet        = "set"        // writing fetched values failed: they were served, not cached
	opMint       = "mint"       // creating generation tokens failed: values were not cached
	opInvalidate = "invalidate" // Invalidate failed: the caller got the error
	opBypass     = "bypass"     // a batch skipped the store because it failed moments ago
	opDecode     = "decode"     // a cached value did not decode as its type and was refetched
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procoregraph_cache_requests_total",
			Help: "Cache lookups by resource kind and result: hit (fresh), stale (served, refreshed in the background) or miss (fetched upstream).",
		}, []string{"kind", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procoregraph_cache_errors_total",
			Help: "Cache store failures by operation; on get, the batch was answered from upstream instead.",
		}, []string{"op"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers cv, or returns the identical collector another Cache
// registered first, so several caches can share one registry.
func register(reg prometheus.Registerer, cv *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(cv)
	if err == nil {
		return cv, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, err
}
