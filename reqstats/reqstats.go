// Package reqstats counts, per GraphQL request, the upstream Procore calls and
// the cache hits and misses it caused. The server returns them in the
// response's extensions when the client asks with the debug header.
package reqstats

import (
	"context"
	"sync"
)

// Stats are one request's counters; safe for concurrent use.
type Stats struct {
	mu          sync.Mutex
	upstream    int
	byRoute     map[string]int
	cacheHits   int
	cacheMisses int
	outside     int    // upstream calls made outside a cache fetch
	response    string // response cache outcome
	estimate    int    // estimated Procore calls of the operation (-1: not analyzed)
}

// Snapshot is a copy of Stats for reporting.
type Snapshot struct {
	UpstreamCalls   int            `json:"upstreamCalls"`
	UpstreamByRoute map[string]int `json:"upstreamByRoute"`
	CacheHits       int            `json:"cacheHits"`
	CacheMisses     int            `json:"cacheMisses"`
	// UncachedCalls counts upstream calls made outside a cache fetch (such
	// an answer is not put in the response cache).
	UncachedCalls int `json:"uncachedCalls"`
	// ResponseCache is the response cache's outcome: "hit", "miss",
	// "bypass" (not a cacheable operation) or "" when it is off.
	ResponseCache string `json:"responseCache,omitempty"`
	// EstimatedCalls is the cost analysis' estimate of the operation's
	// Procore calls (an upper bound of UpstreamCalls with a cold cache).
	EstimatedCalls int `json:"estimatedCalls"`
}

type ctxKey struct{}

type fetchKey struct{}

// InCacheFetch marks ctx as a cache's fetch of missing values: upstream calls
// made under it are cached reads, the others are counted as UncachedCalls.
func InCacheFetch(ctx context.Context) context.Context {
	return context.WithValue(ctx, fetchKey{}, true)
}

func inCacheFetch(ctx context.Context) bool {
	v, _ := ctx.Value(fetchKey{}).(bool)
	return v
}

// With returns a context carrying fresh Stats, and those Stats.
func With(ctx context.Context) (context.Context, *Stats) {
	s := &Stats{byRoute: map[string]int{}}
	return context.WithValue(ctx, ctxKey{}, s), s
}

// From returns the Stats in ctx, or nil. Every method of a nil *Stats is a no-op.
func From(ctx context.Context) *Stats {
	s, _ := ctx.Value(ctxKey{}).(*Stats)
	return s
}

// AddUpstream counts one upstream call to route (e.g. "GET /rest/v1.0/projects/{id}/rfis").
// inCache tells whether the call was a cache's fetch (InCacheFetch).
func (s *Stats) AddUpstream(route string, inCache bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if !inCache {
		s.outside++
	}
	s.upstream++
	s.byRoute[route]++
	s.mu.Unlock()
}

// AddCache counts cache hits and misses.
func (s *Stats) AddCache(hits, misses int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.cacheHits += hits
	s.cacheMisses += misses
	s.mu.Unlock()
}

// SetResponseCache records the response cache's outcome for the request.
func (s *Stats) SetResponseCache(outcome string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.response = outcome
	s.mu.Unlock()
}

// SetEstimate records the operation's estimated Procore calls.
func (s *Stats) SetEstimate(n int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.estimate = n
	s.mu.Unlock()
}

// UncachedCalls returns how many upstream calls were made outside a cache
// fetch so far.
func (s *Stats) UncachedCalls() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outside
}

// Snapshot returns a copy of the counters.
func (s *Stats) Snapshot() Snapshot {
	if s == nil {
		return Snapshot{UpstreamByRoute: map[string]int{}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	by := make(map[string]int, len(s.byRoute))
	for k, v := range s.byRoute {
		by[k] = v
	}
	return Snapshot{UpstreamCalls: s.upstream, UpstreamByRoute: by, CacheHits: s.cacheHits, CacheMisses: s.cacheMisses,
		UncachedCalls: s.outside, ResponseCache: s.response, EstimatedCalls: s.estimate}
}

// Estimate returns the operation's estimated Procore calls (SetEstimate); 0
// when it was not analyzed.
func (s *Stats) Estimate() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.estimate
}

// Upstream returns the upstream calls counted so far.
func (s *Stats) Upstream() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upstream
}
