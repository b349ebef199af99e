// Package respcache caches whole GraphQL query answers. An answer is stored
// with the generation tokens of every cache scope it was built from and the
// time its first value goes stale (cache.Deps), and served again only while
// all those tokens are unchanged and that time has not come, so it is exactly
// as fresh as the per-value cache under it: any mutation, webhook, poller
// change or Invalidate on any replica sharing the store retires it at once.
//
// A warm dashboard answered this way costs two store round trips and a copy
// of the answer's bytes instead of executing thousands of fields.
package respcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"

	"procoregraph/cache"
)

// Options configures New.
type Options struct {
	// MaxBytes bounds one stored answer; larger answers are not cached.
	// Default 8 MiB.
	MaxBytes int
	// Version is mixed into every key, so that replicas running different
	// builds or schemas never serve each other's answers. Required.
	Version string
	// Registerer receives procoregraph_response_cache_total{result}. Nil:
	// counted but not registered.
	Registerer prometheus.Registerer
	// Logger receives store failures at debug level. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for answer lifetimes; give it the value cache's
	// clock. Default time.Now.
	Now func() time.Time
	// LocalBytes, when positive, keeps copies of recent answers in process
	// memory, up to about this many bytes, for a store across the network
	// (Redis): a hit then reads only the answer's generation tokens from
	// the store instead of the whole answer. The tokens still decide, so a
	// local copy is never served after an invalidation on any replica.
	// Zero: no local copies (right for the in-memory store).
	LocalBytes int64
	// Store, when set, keeps the answers instead of the value cache's store;
	// the generation tokens that decide whether an answer is still valid
	// are always read from the value cache. With an in-memory value cache
	// the server gives answers a MemoryStore of their own, so answers and
	// values each stay within their own byte bound and a burst of large
	// answers cannot evict the data they were built from. Default: the
	// value cache's store.
	Store cache.Store
}

// Cache stores answers in the per-value cache's store, next to the
// generation tokens it checks them against.
type Cache struct {
	local    *otter.Cache[string, []byte] // nil without Options.LocalBytes
	values   *cache.Cache
	store    cache.Store
	maxBytes int
	version  string
	now      func() time.Time
	log      *slog.Logger
	results  *prometheus.CounterVec
}

// Results counted by procoregraph_response_cache_total{result}.
const (
	ResultHit    = "hit"    // served from the response cache
	ResultMiss   = "miss"   // executed; stored if it was cacheable
	ResultBypass = "bypass" // not a cacheable operation, or the client asked for a fresh answer
	ResultStored = "stored" // a miss whose answer was stored
)

// New returns a Cache over the store of values, whose tokens and TTLs the
// answers depend on.
func New(values *cache.Cache, o Options) (*Cache, error) {
	if values == nil {
		return nil, errors.New("respcache: New needs the value cache")
	}
	if o.Version == "" {
		return nil, errors.New("respcache: New needs a Version")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 8 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store == nil {
		o.Store = values.Store()
	}
	c := &Cache{values: values, store: o.Store, maxBytes: o.MaxBytes, version: o.Version, now: o.Now, log: o.Logger,
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procoregraph_response_cache_total",
			Help: "Whole-response cache outcomes for GraphQL queries: hit, miss, stored (a miss whose answer was kept) or bypass.",
		}, []string{"result"}),
	}
	if o.LocalBytes > 0 {
		local, err := otter.New(&otter.Options[string, []byte]{
			MaximumWeight: uint64(o.LocalBytes),
			Weigher:       func(k string, v []byte) uint32 { return uint32(min(len(k)+len(v)+64, 1<<31)) },
		})
		if err != nil {
			return nil, fmt.Errorf("respcache: local copies: %w", err)
		}
		c.local = local
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(c.results); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("respcache: register metrics: %w", err)
			}
			c.results = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return c, nil
}

// Request names one answer: the same connection, Procore user, document,
// operation and variables give the same answer while the data is unchanged.
type Request struct {
	Conn, User    string
	Query         string
	OperationName string
	Variables     map[string]any
}

// Key renders the store key of r. Variables are encoded as JSON with sorted
// map keys, so their order in the request does not matter.
func (c *Cache) Key(r Request) (string, error) {
	vars, err := json.Marshal(r.Variables)
	if err != nil {
		return "", fmt.Errorf("respcache: variables: %w", err)
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(c.version), []byte(r.OperationName), []byte(r.Query), vars} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return cache.AuxKey(r.Conn, "resp", r.User, hex.EncodeToString(h.Sum(nil))), nil
}

// Get returns the stored answer under key if every scope it was built from is
// unchanged and none of its values is past its TTL. A store failure is a miss.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool) {
	if c.local != nil {
		if v, ok := c.local.GetIfPresent(key); ok {
			if data, ok := c.validate(ctx, v); ok {
				return data, true
			}
			c.local.Invalidate(key) // another replica may have stored a newer answer
		}
	}
	it, ok, err := c.store.Get(ctx, key)
	if err != nil {
		c.log.Debug("respcache: get failed", "err", err)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	data, ok := c.validate(ctx, it.Value)
	if ok && c.local != nil {
		c.local.Set(key, it.Value)
	}
	return data, ok
}

// validate returns the answer in a stored entry if its dependencies hold.
func (c *Cache) validate(ctx context.Context, entry []byte) ([]byte, bool) {
	deps, data, err := cache.DecodeDeps(entry)
	if err != nil {
		return nil, false
	}
	if valid, _ := c.values.Valid(ctx, deps); !valid {
		return nil, false
	}
	return data, true
}

// Put stores data under key if deps say the answer is cacheable, until its
// first value goes stale. It reports whether it stored.
func (c *Cache) Put(ctx context.Context, key string, data []byte, deps *cache.Deps) bool {
	if ok, _ := deps.Cacheable(); !ok || len(data) > c.maxBytes {
		return false
	}
	snap := deps.Snapshot()
	ttl := snap.Expires.Sub(c.now())
	if ttl <= 0 {
		return false
	}
	v := snap.AppendEncoded(make([]byte, 0, 64+len(data)+40*len(snap.Tokens)))
	v = append(v, data...)
	if err := c.store.Set(context.WithoutCancel(ctx), key, v, ttl); err != nil {
		c.log.Debug("respcache: set failed", "err", err)
		return false
	}
	if c.local != nil {
		c.local.Set(key, v)
	}
	return true
}

// Count adds one outcome to the metrics.
func (c *Cache) Count(result string) { c.results.WithLabelValues(result).Inc() }
