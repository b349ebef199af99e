package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"procoregraph/adapter"
	"procoregraph/cache"
)

// Limits bound login attempts (createSession, POST /sessions), so the
// gateway cannot be used to guess Procore passwords or second factors.
// Zero values mean the defaults.
type Limits struct {
	// PerAddress is the sustained rate of attempts from one client address
	// (a token bucket per replica). Default 10 a minute.
	PerAddress rate.Limit
	// AddressBurst is the bucket's size. Default 5.
	AddressBurst int
	// PerUsername is the sustained rate of attempts for one username.
	// Default 5 a minute.
	PerUsername rate.Limit
	// UsernameBurst is the bucket's size. Default 3.
	UsernameBurst int
	// MaxFailures consecutive refused logins of one username, or from one
	// address, lock it out for Lockout. Counted in the store, so every
	// replica sees them. Default 5.
	MaxFailures int
	// Lockout is how long a lock lasts, and the window failures are counted
	// in. Default 15 minutes.
	Lockout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (l Limits) withDefaults() Limits {
	if l.PerAddress == 0 {
		l.PerAddress = rate.Every(6 * time.Second)
	}
	if l.AddressBurst <= 0 {
		l.AddressBurst = 5
	}
	if l.PerUsername == 0 {
		l.PerUsername = rate.Every(12 * time.Second)
	}
	if l.UsernameBurst <= 0 {
		l.UsernameBurst = 3
	}
	if l.MaxFailures <= 0 {
		l.MaxFailures = 5
	}
	if l.Lockout <= 0 {
		l.Lockout = 15 * time.Minute
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return l
}

// limiter applies Limits: local token buckets (bounded maps) and failure
// counters in the shared store.
type limiter struct {
	l     Limits
	store cache.Store
	mu    sync.Mutex
	addrs *expirable.LRU[string, *rate.Limiter]
	users *expirable.LRU[string, *rate.Limiter]
}

func newLimiter(l Limits, store cache.Store) *limiter {
	l = l.withDefaults()
	return &limiter{l: l, store: store,
		addrs: expirable.NewLRU[string, *rate.Limiter](10_000, nil, time.Hour),
		users: expirable.NewLRU[string, *rate.Limiter](10_000, nil, time.Hour)}
}

// failures is one username's or address's run of refused logins.
type failures struct {
	N     int       `json:"n"`
	Until time.Time `json:"until,omitzero"` // locked until
}

func failureKey(kind, value string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(value))))
	return cache.AuxKey("sessions", "login-failures", kind, hex.EncodeToString(h[:16]))
}

func (lm *limiter) bucket(m *expirable.LRU[string, *rate.Limiter], key string, r rate.Limit, burst int) *rate.Limiter {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	b, ok := m.Get(key)
	if !ok {
		b = rate.NewLimiter(r, burst)
		m.Add(key, b)
	}
	return b
}

// allow decides whether a login of username from addr may be attempted now:
// RATE_LIMITED (with RetryAfter) when a bucket is empty or a lock holds;
// UPSTREAM_UNAVAILABLE when the store cannot be read (fail closed).
func (lm *limiter) allow(ctx context.Context, username, addr string) error {
	now := lm.l.Now()
	for _, k := range []struct{ kind, value string }{{"username", username}, {"address", addr}} {
		if k.value == "" {
			continue
		}
		it, ok, err := lm.store.Get(ctx, failureKey(k.kind, k.value))
		if err != nil {
			return &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "login attempts cannot be checked right now; try again", Err: err}
		}
		var f failures
		if ok && json.Unmarshal(it.Value, &f) == nil && now.Before(f.Until) {
			wait := f.Until.Sub(now)
			return &adapter.Error{Code: adapter.CodeRateLimited, RetryAfter: wait,
				Message: "too many failed logins for this " + k.kind + "; try again in " + wait.Round(time.Second).String()}
		}
	}
	if addr != "" && !lm.bucket(lm.addrs, addr, lm.l.PerAddress, lm.l.AddressBurst).AllowN(now, 1) {
		return &adapter.Error{Code: adapter.CodeRateLimited, RetryAfter: time.Duration(float64(time.Second) / float64(lm.l.PerAddress)),
			Message: "too many login attempts from this address; slow down"}
	}
	if username != "" && !lm.bucket(lm.users, strings.ToLower(username), lm.l.PerUsername, lm.l.UsernameBurst).AllowN(now, 1) {
		return &adapter.Error{Code: adapter.CodeRateLimited, RetryAfter: time.Duration(float64(time.Second) / float64(lm.l.PerUsername)),
			Message: "too many login attempts for this username; slow down"}
	}
	return nil
}

// failed counts a refused login against username and addr, locking each
// out when it reaches MaxFailures.
func (lm *limiter) failed(ctx context.Context, username, addr string) {
	for _, k := range []struct{ kind, value string }{{"username", username}, {"address", addr}} {
		if k.value == "" {
			continue
		}
		key := failureKey(k.kind, k.value)
		for range 8 {
			now := lm.l.Now()
			it, ok, err := lm.store.Get(ctx, key)
			if err != nil {
				break
			}
			var f failures
			if ok {
				_ = json.Unmarshal(it.Value, &f)
			}
			f.N++
			if f.N >= lm.l.MaxFailures {
				f.Until = now.Add(lm.l.Lockout)
			}
			b, _ := json.Marshal(f)
			var done bool
			if ok {
				done, err = lm.store.CompareAndSwap(ctx, key, it.Value, b, lm.l.Lockout)
			} else {
				done, err = lm.store.SetNX(ctx, key, b, lm.l.Lockout)
			}
			if err != nil || done {
				break
			}
		}
	}
}

// succeeded clears username's failures.
func (lm *limiter) succeeded(ctx context.Context, username string) {
	_ = lm.store.Delete(ctx, failureKey("username", username))
}
