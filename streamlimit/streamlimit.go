// Package streamlimit bounds the long-lived things open at once on one
// replica (subscriptions, websockets): in all, and per principal. A
// subscription holds a goroutine, a buffer of unread events and a share of
// every event's fan-out for as long as its client keeps it, a websocket
// its goroutines and buffers, so the rate limits (which bound how often a
// client may start one) do not bound how many a client holds: over hours a
// client that never ends them would hold them all. Counts are per replica;
// a client spread over N replicas may hold N times its limit.
package streamlimit

import (
	"fmt"
	"sync"
)

// Defaults of Options.
const (
	// DefaultTotal is the default bound of the subscriptions open on one
	// replica: twice the 10,000 the gateway is measured with, about 200 MB
	// of subscriptions at their measured 8–15 KB each.
	DefaultTotal = 20_000
	// DefaultPerPrincipal is the default bound of the subscriptions one
	// principal holds open on one replica: far more than a dashboard or
	// an application's screens open, far fewer than would starve the rest.
	DefaultPerPrincipal = 1_000
)

// Options configure a Limiter.
type Options struct {
	// Total is the most subscriptions open at once on this replica.
	// 0: DefaultTotal; negative: no bound.
	Total int
	// PerPrincipal is the most subscriptions one principal (its rate key)
	// holds open at once on this replica. 0: DefaultPerPrincipal;
	// negative: no bound.
	PerPrincipal int
	// Noun names what is counted in refusals. Default "subscriptions".
	Noun string
}

// Scope says which bound refused a subscription.
type Scope string

// Scopes of a Refusal.
const (
	ScopePrincipal Scope = "principal"
	ScopeReplica   Scope = "replica"
)

// Refusal is the error of an Acquire over a bound.
type Refusal struct {
	Scope Scope
	// Limit is the bound that was reached.
	Limit int
	// Noun names what is counted (Options.Noun).
	Noun string
}

func (r *Refusal) Error() string {
	if r.Scope == ScopePrincipal {
		return fmt.Sprintf("this client already holds %d %s open, the most it may hold at once; end one before starting another", r.Limit, r.Noun)
	}
	return fmt.Sprintf("this server already holds %d %s open, the most it holds at once; retry later or on another server", r.Limit, r.Noun)
}

// Limiter counts open subscriptions per principal and in all. It holds one
// entry per principal with a subscription open (so its size is bounded by
// Total), and is safe for concurrent use.
type Limiter struct {
	total, perPrincipal int
	noun                string
	mu                  sync.Mutex
	open                map[string]int
	n                   int
}

// New returns a Limiter with o's bounds.
func New(o Options) *Limiter {
	if o.Total == 0 {
		o.Total = DefaultTotal
	}
	if o.PerPrincipal == 0 {
		o.PerPrincipal = DefaultPerPrincipal
	}
	if o.Noun == "" {
		o.Noun = "subscriptions"
	}
	return &Limiter{total: o.Total, perPrincipal: o.PerPrincipal, noun: o.Noun, open: make(map[string]int)}
}

// Acquire counts one more subscription (or what Noun names) of the
// principal key, or refuses it with a Refusal when the principal or the
// replica holds its bound; a refusal counts nothing. own, when > 0, is the
// principal's own bound (an API key's), in place of PerPrincipal. release
// uncounts the subscription; it may be called any number of times and
// counts it down once.
func (l *Limiter) Acquire(key string, own int) (release func(), refused *Refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.perPrincipal
	if own > 0 {
		limit = own
	}
	if limit > 0 && l.open[key] >= limit {
		return nil, &Refusal{Scope: ScopePrincipal, Limit: limit, Noun: l.noun}
	}
	if l.total > 0 && l.n >= l.total {
		return nil, &Refusal{Scope: ScopeReplica, Limit: l.total, Noun: l.noun}
	}
	l.open[key]++
	l.n++
	var once sync.Once
	return func() { once.Do(func() { l.release(key) }) }, nil
}

func (l *Limiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.open[key] <= 1 {
		delete(l.open, key)
		return
	}
	l.open[key]--
}

// Open reports the subscriptions counted: of the principal key, and in all.
func (l *Limiter) Open(key string) (principal, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[key], l.n
}
