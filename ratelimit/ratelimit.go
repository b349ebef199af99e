// Package ratelimit bounds how often each principal may ask, in requests and
// in estimated Procore calls (the cost analysis' estimate), so that one noisy
// client cannot spend the budget every other integration of the company
// shares, nor slow another client down. With Redis the counts are shared by
// every replica (GCRA, github.com/go-redis/redis_rate); without it each
// replica counts alone (golang.org/x/time/rate). A failing Redis lets
// requests through (and logs): rate limiting protects the service, it must
// not take it down.
package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Policy is one limit: Limit units per Window, in bursts of at most Burst.
type Policy struct {
	// Name names the policy in the RateLimit headers ("requests", "calls").
	Name   string
	Limit  int
	Window time.Duration
	// Burst is how many units may be spent at once. Default Limit.
	Burst int
}

func (p Policy) burst() int {
	if p.Burst > 0 {
		return p.Burst
	}
	return p.Limit
}

// Result is the outcome of one Allow.
type Result struct {
	Allowed bool
	// Remaining is what may still be spent at once.
	Remaining int
	// RetryAfter is how long to wait before the refused units fit (0 when
	// allowed).
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// Store counts units per key.
type Store interface {
	// Allow spends n units of key under p, or refuses them all.
	Allow(ctx context.Context, key string, p Policy, n int) (Result, error)
}

// Redis is a Store shared by replicas (GCRA in Redis).
type Redis struct {
	l      *redis_rate.Limiter
	prefix string
}

// NewRedis returns a Store over rdb, its keys under prefix.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{l: redis_rate.NewLimiter(rdb), prefix: prefix + "procoregraph:rate:"}
}

// Allow implements Store.
func (r *Redis) Allow(ctx context.Context, key string, p Policy, n int) (Result, error) {
	res, err := r.l.AllowN(ctx, r.prefix+p.Name+":"+key, redis_rate.Limit{Rate: p.Limit, Burst: p.burst(), Period: p.Window}, n)
	if err != nil {
		return Result{}, err
	}
	return Result{Allowed: res.Allowed > 0, Remaining: res.Remaining, RetryAfter: max(res.RetryAfter, 0), ResetAfter: max(res.ResetAfter, 0)}, nil
}

// Memory is a Store of this process (token buckets in a bounded map).
type Memory struct {
	mu      sync.Mutex
	buckets *expirable.LRU[string, *rate.Limiter]
	now     func() time.Time
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{buckets: expirable.NewLRU[string, *rate.Limiter](100_000, nil, time.Hour), now: time.Now}
}

// Allow implements Store.
func (m *Memory) Allow(_ context.Context, key string, p Policy, n int) (Result, error) {
	every := rate.Limit(float64(p.Limit) / p.Window.Seconds())
	m.mu.Lock()
	b, ok := m.buckets.Get(p.Name + ":" + key)
	if !ok {
		b = rate.NewLimiter(every, p.burst())
		m.buckets.Add(p.Name+":"+key, b)
	}
	m.mu.Unlock()
	now := m.now()
	r := b.ReserveN(now, n)
	if !r.OK() {
		return Result{Allowed: false, RetryAfter: p.Window}, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return Result{Allowed: false, Remaining: int(math.Max(0, b.TokensAt(now))), RetryAfter: d}, nil
	}
	left := b.TokensAt(now)
	return Result{Allowed: true, Remaining: int(math.Max(0, left)),
		ResetAfter: time.Duration((float64(p.burst()) - left) / float64(every) * float64(time.Second))}, nil
}

// Options configure a Limiter. Zero values mean the defaults.
type Options struct {
	// Requests bounds requests per principal. Default 600 a minute, bursts
	// of 100.
	Requests Policy
	// Calls bounds estimated Procore calls per principal. Default 20,000 a
	// minute, bursts of 5,000 (answers served from cache still count: the
	// estimate is what the request could have cost).
	Calls Policy
	// Logger receives store failures (at most once a minute). Default
	// slog.Default().
	Logger *slog.Logger
}

// Limiter applies the policies. It is safe for concurrent use.
type Limiter struct {
	store Store
	o     Options
	mu    sync.Mutex
	last  time.Time
}

// New returns a Limiter over store.
func New(store Store, o Options) *Limiter {
	if o.Requests.Limit <= 0 {
		o.Requests = Policy{Limit: 600, Window: time.Minute, Burst: 100}
	}
	if o.Calls.Limit <= 0 {
		o.Calls = Policy{Limit: 20_000, Window: time.Minute, Burst: 5_000}
	}
	if o.Requests.Window <= 0 {
		o.Requests.Window = time.Minute
	}
	if o.Calls.Window <= 0 {
		o.Calls.Window = time.Minute
	}
	o.Requests.Name, o.Calls.Name = "requests", "calls"
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Limiter{store: store, o: o}
}

// Policies are the limiter's request and call policies.
func (l *Limiter) Policies() (requests, calls Policy) { return l.o.Requests, l.o.Calls }

// Request spends one request of key; perMinute, when > 0, replaces the
// default rate (an API key's rpm=).
func (l *Limiter) Request(ctx context.Context, key string, perMinute int) (Result, Policy) {
	p := l.o.Requests
	if perMinute > 0 {
		p = Policy{Name: p.Name, Limit: perMinute, Window: time.Minute, Burst: max(1, perMinute/6)}
	}
	return l.allow(ctx, key, p, 1), p
}

// Calls spends n estimated Procore calls of key; perMinute, when > 0,
// replaces the default rate (an API key's cpm=).
func (l *Limiter) Calls(ctx context.Context, key string, n, perMinute int) (Result, Policy) {
	p := l.o.Calls
	if perMinute > 0 {
		p = Policy{Name: p.Name, Limit: perMinute, Window: time.Minute, Burst: max(1, perMinute/4)}
	}
	if n <= 0 {
		return Result{Allowed: true}, p
	}
	if n > p.burst() {
		// More than a whole burst can never fit: refuse now, not after waits.
		return Result{Allowed: false, RetryAfter: p.Window}, p
	}
	return l.allow(ctx, key, p, n), p
}

func (l *Limiter) allow(ctx context.Context, key string, p Policy, n int) Result {
	res, err := l.store.Allow(ctx, key, p, n)
	if err != nil {
		l.mu.Lock()
		if time.Since(l.last) > time.Minute {
			l.last = time.Now()
			l.o.Logger.WarnContext(ctx, "rate limits cannot be counted (store failing): letting requests through", "err", err)
		}
		l.mu.Unlock()
		return Result{Allowed: true, Remaining: p.burst()}
	}
	return res
}

// SetHeaders writes the IETF RateLimit-Policy and RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers), and Retry-After when refused.
func SetHeaders(h http.Header, p Policy, r Result) {
	h.Add("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", p.Name, p.Limit, int(p.Window.Seconds())))
	h.Add("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", p.Name, r.Remaining, int(math.Ceil(r.ResetAfter.Seconds()))))
	if !r.Allowed {
		h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(r.RetryAfter.Seconds())))))
	}
}
