package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBudgetOptions configure a RedisBudget. Zero values mean the defaults.
type RedisBudgetOptions struct {
	// ReservationTTL is how long a reserved call counts in flight when its
	// replica never releases it (it died, or lost Redis mid-call); a call
	// outliving it simply stops being counted. Default: 2 minutes (the
	// default transport's response-header timeout).
	ReservationTTL time.Duration
	// Retain is how long the learned window is kept after its reset, and
	// the reservations' set after its last reservation expires, before the
	// keys expire; an idle connection then starts over, as a fresh client
	// does. Default: 1 minute.
	Retain time.Duration
	// Timeout bounds each Redis operation; past it the call uses the local
	// budget. Default: 500ms.
	Timeout time.Duration
}

func (o RedisBudgetOptions) withDefaults() RedisBudgetOptions {
	if o.ReservationTTL <= 0 {
		o.ReservationTTL = 2 * time.Minute
	}
	if o.Retain <= 0 {
		o.Retain = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	return o
}

// RedisBudget is a BudgetStore in Redis: one per Procore connection (one
// token), shared by every replica that uses the same key. It keeps two keys
// in one hash slot (Redis Cluster): "<key>:window", a hash of the learned
// window (limit, remaining, reset and next, the earliest next call while
// spreading, as Unix milliseconds), and "<key>:inflight", a sorted set of
// reservation ids scored by their expiry. The key is wrapped in {} unless it
// has a hash tag already. Both are changed only by Lua scripts, atomically;
// expired reservations are pruned by every acquire, and the keys expire
// Retain after the window's reset (or after the last reservation's expiry),
// so a dead replica leaks nothing.
type RedisBudget struct {
	rdb      redis.UniversalClient
	window   string
	inflight string
	o        RedisBudgetOptions
	idPrefix string
	seq      atomic.Uint64
}

var _ BudgetStore = (*RedisBudget)(nil)

// NewRedisBudget returns the budget of the connection named key (e.g.
// "procoregraph:ratelimit:<connection>") in client.
func NewRedisBudget(client redis.UniversalClient, key string, o RedisBudgetOptions) (*RedisBudget, error) {
	if client == nil {
		return nil, errors.New("rest: NewRedisBudget: nil Redis client")
	}
	if key == "" {
		return nil, errors.New("rest: NewRedisBudget: empty key")
	}
	if !hasHashTag(key) {
		key = "{" + key + "}"
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &RedisBudget{rdb: client, window: key + ":window", inflight: key + ":inflight",
		o: o.withDefaults(), idPrefix: hex.EncodeToString(b) + ":"}, nil
}

// hasHashTag reports whether key has a non-empty {tag}, which Redis Cluster
// hashes instead of the whole key.
func hasHashTag(key string) bool {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(key[i+1:], '}')
	return j > 0
}

// Keys returns the Redis keys of the budget (the window hash and the
// reservations' sorted set).
func (b *RedisBudget) Keys() []string { return []string{b.window, b.inflight} }

// acquireScript runs budget.try over the shared state.
// KEYS: window, inflight. ARGV: now (ms), reservation id, reservation TTL
// (ms), low water (fraction), reset margin (ms), retain (ms).
// Returns {1, 0} reserved, {0, wait ms} wait, {2, 0} ask again shortly.
var acquireScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local resTTL = tonumber(ARGV[3])
local lowWater = tonumber(ARGV[4])
local margin = tonumber(ARGV[5])
local retain = tonumber(ARGV[6])
local function ms(x) return string.format('%.0f', x) end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms(now))
local inflight = redis.call('ZCARD', KEYS[2])

local function admit()
  redis.call('ZADD', KEYS[2], ms(now + resTTL), ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ms(resTTL + retain))
  return {1, 0}
end

local st = redis.call('HMGET', KEYS[1], 'limit', 'remaining', 'reset', 'next')
local limit = tonumber(st[1])
if not limit then
  return admit() -- nothing learned yet: no reason to wait
end
local remaining = tonumber(st[2]) or limit
local reset = tonumber(st[3]) or 0
local nextAt = tonumber(st[4]) or 0
if reset > 0 and now >= reset then
  -- The window rolled over: a fresh budget whose reset a response will tell.
  remaining, reset, nextAt = limit, 0, 0
  local seen = math.max(now, tonumber(redis.call('HGET', KEYS[1], 'seen')) or 0)
  redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset', 0, 'next', 0, 'seen', ms(seen))
  redis.call('PEXPIRE', KEYS[1], ms(resTTL + retain))
end
local left = remaining - inflight
if left <= 0 then
  if reset == 0 then
    if inflight == 0 then
      return admit()
    end
    return {2, 0}
  end
  return {0, reset - now + margin}
end
if reset > 0 and limit > 0 and left <= lowWater * limit then
  if now < nextAt then
    return {0, nextAt - now}
  end
  redis.call('HSET', KEYS[1], 'next', ms(now + math.floor((reset - now) / left)))
end
return admit()
`)

// releaseScript ends a reservation and learns the window from a response.
// KEYS: window, inflight. ARGV: now (ms), reservation id ("" for none),
// learned ("1" or "0"), limit, remaining, reset (ms), retain (ms).
var releaseScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
end
if ARGV[3] == '1' then
  local limit, rem, reset = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local retain = tonumber(ARGV[7])
  local st = redis.call('HMGET', KEYS[1], 'limit', 'remaining', 'reset', 'seen')
  -- seen: the latest client time a release reported. A replica whose
  -- clock is behind, or whose release was delayed, must not revive a window
  -- another replica has already seen end.
  local seen = math.max(now, tonumber(st[4]) or 0)
  if reset <= seen then
    -- An answer of a window that has ended (it was in flight across the
    -- reset): it says nothing of the current one.
    return 1
  end
  if st[1] and tonumber(st[3]) == reset then
    -- Same window: responses may arrive out of order; the lower count is newer.
    rem = math.min(tonumber(st[2]) or rem, rem)
  end
  redis.call('HSET', KEYS[1], 'limit', limit, 'remaining', rem, 'reset', string.format('%.0f', reset), 'seen', string.format('%.0f', seen))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(reset - now, 0) + retain))
end
return 1
`)

func (b *RedisBudget) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.o.Timeout)
}

// Acquire implements BudgetStore.
func (b *RedisBudget) Acquire(ctx context.Context, now time.Time, lowWater float64) (string, time.Duration, bool, error) {
	id := b.idPrefix + strconv.FormatUint(b.seq.Add(1), 36)
	rctx, cancel := b.ctx(ctx)
	defer cancel()
	res, err := acquireScript.Run(rctx, b.rdb, b.Keys(),
		now.UnixMilli(), id, b.o.ReservationTTL.Milliseconds(),
		strconv.FormatFloat(lowWater, 'g', -1, 64), resetMargin.Milliseconds(), b.o.Retain.Milliseconds(),
	).Int64Slice()
	if err != nil {
		// The script may have run with its reply lost: end the reservation
		// rather than let it count until it expires.
		go b.forget(id)
		return "", 0, false, fmt.Errorf("shared rate-limit budget: acquire: %w", err)
	}
	if len(res) != 2 {
		return "", 0, false, fmt.Errorf("shared rate-limit budget: acquire: unexpected reply %v", res)
	}
	switch res[0] {
	case 1:
		return id, 0, true, nil
	case 0:
		return "", max(time.Duration(res[1])*time.Millisecond, time.Millisecond), false, nil
	default:
		return "", 0, false, nil
	}
}

func (b *RedisBudget) forget(id string) {
	ctx, cancel := b.ctx(context.Background())
	defer cancel()
	_ = b.rdb.ZRem(ctx, b.inflight, id).Err()
}

// Release implements BudgetStore.
func (b *RedisBudget) Release(ctx context.Context, now time.Time, id string, learned *RateLimitStatus) error {
	args := []any{now.UnixMilli(), id, "0", 0, 0, 0, b.o.Retain.Milliseconds()}
	if learned != nil {
		args[2], args[3], args[4], args[5] = "1", learned.Limit, learned.Remaining, learned.ResetAt.UnixMilli()
	}
	rctx, cancel := b.ctx(ctx)
	defer cancel()
	if err := releaseScript.Run(rctx, b.rdb, b.Keys(), args...).Err(); err != nil {
		return fmt.Errorf("shared rate-limit budget: release: %w", err)
	}
	return nil
}

// Status implements BudgetStore.
func (b *RedisBudget) Status(ctx context.Context, now time.Time) (RateLimitStatus, bool, error) {
	rctx, cancel := b.ctx(ctx)
	defer cancel()
	v, err := b.rdb.HMGet(rctx, b.window, "limit", "remaining", "reset").Result()
	if err != nil {
		return RateLimitStatus{}, false, fmt.Errorf("shared rate-limit budget: status: %w", err)
	}
	num := func(x any) (int64, bool) {
		s, ok := x.(string)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	limit, ok := num(v[0])
	if !ok {
		return RateLimitStatus{}, false, nil
	}
	st := RateLimitStatus{Limit: int(limit), Remaining: int(limit)}
	if rem, ok := num(v[1]); ok {
		st.Remaining = int(rem)
	}
	if reset, ok := num(v[2]); ok && reset > 0 {
		st.ResetAt = time.UnixMilli(reset)
		if !now.Before(st.ResetAt) {
			st.Remaining, st.ResetAt = st.Limit, time.Time{}
		}
	}
	return st, true, nil
}
