package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// ErrClosed is returned by a store used after Close.
var ErrClosed = errors.New("cache: store closed")

// MemoryOptions configures NewMemory. Zero values mean the defaults.
type MemoryOptions struct {
	// MaxBytes bounds the memory the entries may use: their keys, values and
	// a fixed per-entry overhead. Default: 64 MiB.
	MaxBytes int64
	// Now is the clock for expiry and Item.StoredAt. Default: time.Now.
	// Tests pass a fake clock to expire entries without sleeping.
	Now func() time.Time
}

const (
	defaultMaxBytes = 64 << 20
	// entryOverhead approximates the bookkeeping otter and this store keep
	// per entry, so that many tiny entries still count against MaxBytes.
	entryOverhead = 96
	// noExpiry is what otter is told for entries without a TTL.
	noExpiry = 100 * 365 * 24 * time.Hour
)

// MemoryStore is the in-process Store: an otter cache bounded by weight
// (bytes) with per-entry expiry, evicting by frequency and recency (W-TinyLFU)
// when full. It is the default for a single replica; it cannot share entries
// or invalidations between replicas (use RedisStore for that).
type MemoryStore struct {
	c      *otter.Cache[string, memEntry]
	now    func() time.Time
	closed atomic.Bool
}

type memEntry struct {
	value     []byte
	storedAt  int64 // unix nanoseconds
	expiresAt int64 // unix nanoseconds; 0 = never
}

// NewMemory returns a MemoryStore. It fails only on a negative MaxBytes.
func NewMemory(o MemoryOptions) (*MemoryStore, error) {
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("cache: MemoryOptions.MaxBytes %d is negative", o.MaxBytes)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMaxBytes
	}
	customClock := o.Now != nil
	if !customClock {
		o.Now = time.Now
	}
	opts := &otter.Options[string, memEntry]{
		MaximumWeight: uint64(o.MaxBytes),
		Weigher: func(k string, e memEntry) uint32 {
			w := int64(len(k)) + int64(len(e.value)) + entryOverhead
			return uint32(min(w, math.MaxUint32))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, memEntry]) time.Duration {
			if e.Value.expiresAt == 0 {
				return noExpiry
			}
			return time.Duration(e.Value.expiresAt - e.Value.storedAt)
		}),
	}
	if customClock {
		opts.Clock = otterClock{now: o.Now}
	}
	c, err := otter.New(opts)
	if err != nil {
		return nil, fmt.Errorf("cache: memory store: %w", err)
	}
	return &MemoryStore{c: c, now: o.Now}, nil
}

// otterClock adapts an injected clock to otter. It never ticks, so otter
// drops expired entries on access and during maintenance after writes rather
// than from a periodic goroutine; expired entries are never visible either way.
type otterClock struct{ now func() time.Time }

func (c otterClock) NowNano() int64                      { return c.now().UnixNano() }
func (c otterClock) Tick(time.Duration) <-chan time.Time { return nil }

func (s *MemoryStore) entry(value []byte, ttl time.Duration) memEntry {
	now := s.now().UnixNano()
	e := memEntry{value: value, storedAt: now}
	if ttl > 0 {
		e.expiresAt = now + int64(ttl)
	}
	return e
}

func (s *MemoryStore) live(e memEntry) bool {
	return e.expiresAt == 0 || s.now().UnixNano() < e.expiresAt
}

func (e memEntry) item() Item {
	it := Item{Value: e.value, StoredAt: time.Unix(0, e.storedAt)}
	if e.expiresAt != 0 {
		it.ExpiresAt = time.Unix(0, e.expiresAt)
	}
	return it
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, key string) (Item, bool, error) {
	if s.closed.Load() {
		return Item{}, false, ErrClosed
	}
	e, ok := s.c.GetIfPresent(key)
	if !ok || !s.live(e) {
		return Item{}, false, nil
	}
	return e.item(), true, nil
}

// GetMany implements Store.
func (s *MemoryStore) GetMany(_ context.Context, keys []string) (map[string]Item, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	out := make(map[string]Item, len(keys))
	for _, k := range keys {
		if e, ok := s.c.GetIfPresent(k); ok && s.live(e) {
			out[k] = e.item()
		}
	}
	return out, nil
}

// Set implements Store.
func (s *MemoryStore) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.c.Set(key, s.entry(value, ttl))
	return nil
}

// SetMany implements Store.
func (s *MemoryStore) SetMany(_ context.Context, entries []Entry) error {
	if s.closed.Load() {
		return ErrClosed
	}
	for _, e := range entries {
		s.c.Set(e.Key, s.entry(e.Value, e.TTL))
	}
	return nil
}

// SetNX implements Store.
func (s *MemoryStore) SetNX(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	stored := false
	s.c.Compute(key, func(old memEntry, found bool) (memEntry, otter.ComputeOp) {
		if found && s.live(old) {
			return old, otter.CancelOp
		}
		stored = true
		return s.entry(value, ttl), otter.WriteOp
	})
	return stored, nil
}

// GetOrSetMany implements Store.
func (s *MemoryStore) GetOrSetMany(_ context.Context, entries []Entry) (map[string]Item, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	out := make(map[string]Item, len(entries))
	for _, en := range entries {
		var held memEntry
		s.c.Compute(en.Key, func(old memEntry, found bool) (memEntry, otter.ComputeOp) {
			if found && s.live(old) {
				held = old
				return old, otter.CancelOp
			}
			held = s.entry(en.Value, en.TTL)
			return held, otter.WriteOp
		})
		out[en.Key] = held.item()
	}
	return out, nil
}

// CompareAndSwap implements Store.
func (s *MemoryStore) CompareAndSwap(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	swapped := false
	s.c.Compute(key, func(cur memEntry, found bool) (memEntry, otter.ComputeOp) {
		if !found || !s.live(cur) || !bytes.Equal(cur.value, old) {
			return cur, otter.CancelOp
		}
		swapped = true
		return s.entry(value, ttl), otter.WriteOp
	})
	return swapped, nil
}

// CompareAndDelete implements Store.
func (s *MemoryStore) CompareAndDelete(_ context.Context, key string, old []byte) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	deleted := false
	s.c.Compute(key, func(cur memEntry, found bool) (memEntry, otter.ComputeOp) {
		if !found || !s.live(cur) || !bytes.Equal(cur.value, old) {
			return cur, otter.CancelOp
		}
		deleted = true
		return cur, otter.InvalidateOp
	})
	return deleted, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, keys ...string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	for _, k := range keys {
		s.c.Invalidate(k)
	}
	return nil
}

// Close drops every entry and stops otter's goroutines. Later calls fail
// with ErrClosed.
func (s *MemoryStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.c.InvalidateAll()
	s.c.StopAllGoroutines()
	return nil
}

// WeightedSize reports the bytes the entries are estimated to use.
func (s *MemoryStore) WeightedSize() uint64 { return s.c.WeightedSize() }
