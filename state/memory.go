package state

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache"
)

// MemoryOptions configures NewMemory. Zero values mean the defaults.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries, expired ones included until
	// they are dropped. Default: 500,000.
	MaxEntries int
	// MaxBytes bounds the memory the entries may use: their keys, values and
	// a fixed per-entry overhead (EntryOverhead). Default: 64 MiB.
	MaxBytes int64
	// DefaultTTL is the expiry of an entry written without one (ttl <= 0).
	// Default: DefaultTTL (90 days).
	DefaultTTL time.Duration
	// Now is the clock for expiry. Default: time.Now. Tests pass a fake
	// clock to expire entries without sleeping.
	Now func() time.Time
}

const (
	defaultMaxEntries = 500_000
	defaultMaxBytes   = 64 << 20
	// EntryOverhead is what one entry is counted for besides its key and
	// value: the map slot, the entry struct and its place in the expiry heap.
	EntryOverhead = 128
	// minRetryAfter and maxRetryAfter bound the RetryAfter of a refusal.
	minRetryAfter = time.Second
	maxRetryAfter = 5 * time.Minute
)

// Memory is the in-process correctness-state store: a map bounded by
// MaxEntries and MaxBytes, every entry with an expiry. It never evicts a live
// entry. Every write drops the expired entries (earliest expiry first, from a
// heap); a write that then needs room the bounds do not leave (a new key, or
// a larger value) fails with an *adapter.Error of code STATE_FULL wrapping
// ErrFull, changing nothing. Replacing a value with one
// no larger, deleting, and reading always work.
//
// It implements cache.Store with the same observable behaviour as
// cache.MemoryStore apart from that refusal (the store contract tests of
// package cache hold for it). Like every cache.Store it neither copies values
// it is given nor values it returns. Safe for concurrent use; one mutex,
// which is enough for correctness state (a few operations per request).
type Memory struct {
	mu      sync.Mutex
	m       map[string]*entry
	expiry  expiryHeap
	bytes   int64
	o       MemoryOptions
	closed  bool
	refused uint64
}

type entry struct {
	key       string
	value     []byte
	storedAt  int64 // unix nanoseconds
	expiresAt int64 // unix nanoseconds; always set
	index     int   // position in the expiry heap
}

func weight(key string, value []byte) int64 {
	return int64(len(key)) + int64(len(value)) + EntryOverhead
}

// NewMemory returns an empty Memory. It fails only on negative options.
func NewMemory(o MemoryOptions) (*Memory, error) {
	if o.MaxEntries < 0 || o.MaxBytes < 0 || o.DefaultTTL < 0 {
		return nil, fmt.Errorf("state: MemoryOptions %+v: negative bound", o)
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = defaultMaxEntries
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.DefaultTTL == 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{m: map[string]*entry{}, o: o}, nil
}

// Stats reports the entries held (expired ones not yet dropped included),
// the bytes they are counted for, and how many writes were refused.
func (s *Memory) Stats() (entries int, bytes int64, refused uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m), s.bytes, s.refused
}

// lookup returns the live entry under key, dropping it when it has expired.
// s.mu must be held.
func (s *Memory) lookup(key string, now int64) *entry {
	e := s.m[key]
	if e == nil {
		return nil
	}
	if now >= e.expiresAt {
		s.remove(e)
		return nil
	}
	return e
}

func (s *Memory) remove(e *entry) {
	heap.Remove(&s.expiry, e.index)
	delete(s.m, e.key)
	s.bytes -= weight(e.key, e.value)
}

// dropExpired removes every expired entry. s.mu must be held.
func (s *Memory) dropExpired(now int64) {
	for len(s.expiry) > 0 && s.expiry[0].expiresAt <= now {
		s.remove(s.expiry[0])
	}
}

// put stores value under key (replacing cur, the live entry there, if any)
// when the bounds allow, after dropping expired entries. s.mu must be held.
func (s *Memory) put(key string, cur *entry, value []byte, ttl time.Duration, now int64) error {
	if ttl <= 0 {
		ttl = s.o.DefaultTTL
	}
	w := weight(key, value)
	fits := func() bool {
		n, b := len(s.m), s.bytes+w
		if cur != nil {
			b -= weight(cur.key, cur.value)
		} else {
			n++
		}
		return n <= s.o.MaxEntries && b <= s.o.MaxBytes
	}
	// Every write first drops what has expired (cur is live, so it stays):
	// each entry is dropped once, so this costs O(log n) per entry over
	// time, and the gauges show live state only.
	s.dropExpired(now)
	if !fits() {
		s.refused++
		return s.full(now)
	}
	if cur != nil {
		s.bytes += w - weight(cur.key, cur.value)
		cur.value, cur.storedAt, cur.expiresAt = value, now, now+int64(ttl)
		heap.Fix(&s.expiry, cur.index)
		return nil
	}
	e := &entry{key: key, value: value, storedAt: now, expiresAt: now + int64(ttl)}
	s.m[key] = e
	heap.Push(&s.expiry, e)
	s.bytes += w
	return nil
}

// full is the refusal: STATE_FULL, retry when the earliest entry expires
// (within [1 s, 5 min]).
func (s *Memory) full(now int64) error {
	retry := maxRetryAfter
	if len(s.expiry) > 0 {
		retry = min(max(time.Duration(s.expiry[0].expiresAt-now), minRetryAfter), maxRetryAfter)
	}
	return &adapter.Error{Code: adapter.CodeStateFull, RetryAfter: retry, Err: ErrFull,
		Message: fmt.Sprintf("the gateway's state store is full (%d entries, %d of %d bytes) and keeps what it holds rather than forget it; nothing was changed, retry later",
			len(s.m), s.bytes, s.o.MaxBytes)}
}

func (e *entry) item() cache.Item {
	return cache.Item{Value: e.value, StoredAt: time.Unix(0, e.storedAt), ExpiresAt: time.Unix(0, e.expiresAt)}
}

func (s *Memory) begin() (int64, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, cache.ErrClosed
	}
	return s.o.Now().UnixNano(), nil
}

// Get implements cache.Store.
func (s *Memory) Get(_ context.Context, key string) (cache.Item, bool, error) {
	now, err := s.begin()
	if err != nil {
		return cache.Item{}, false, err
	}
	defer s.mu.Unlock()
	if e := s.lookup(key, now); e != nil {
		return e.item(), true, nil
	}
	return cache.Item{}, false, nil
}

// GetMany implements cache.Store.
func (s *Memory) GetMany(_ context.Context, keys []string) (map[string]cache.Item, error) {
	now, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]cache.Item, len(keys))
	for _, k := range keys {
		if e := s.lookup(k, now); e != nil {
			out[k] = e.item()
		}
	}
	return out, nil
}

// Set implements cache.Store. It fails with STATE_FULL (ErrFull) when the
// value needs room the bounds do not leave; the key then keeps what it held.
func (s *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now, err := s.begin()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	return s.put(key, s.lookup(key, now), value, ttl, now)
}

// SetMany implements cache.Store; it stops at the first refusal (entries
// before it are stored).
func (s *Memory) SetMany(_ context.Context, entries []cache.Entry) error {
	now, err := s.begin()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, e := range entries {
		if err := s.put(e.Key, s.lookup(e.Key, now), e.Value, e.TTL, now); err != nil {
			return err
		}
	}
	return nil
}

// SetNX implements cache.Store. A key that holds a live value reports false
// even when the store is full; storing into a free key may fail with
// STATE_FULL.
func (s *Memory) SetNX(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	now, err := s.begin()
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if s.lookup(key, now) != nil {
		return false, nil
	}
	if err := s.put(key, nil, value, ttl, now); err != nil {
		return false, err
	}
	return true, nil
}

// GetOrSetMany implements cache.Store; it fails with STATE_FULL at the first
// free key it cannot fill (keys before it are decided).
func (s *Memory) GetOrSetMany(_ context.Context, entries []cache.Entry) (map[string]cache.Item, error) {
	now, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string]cache.Item, len(entries))
	for _, en := range entries {
		if e := s.lookup(en.Key, now); e != nil {
			out[en.Key] = e.item()
			continue
		}
		if err := s.put(en.Key, nil, en.Value, en.TTL, now); err != nil {
			return nil, err
		}
		out[en.Key] = s.m[en.Key].item()
	}
	return out, nil
}

// CompareAndSwap implements cache.Store; a larger value may be refused with
// STATE_FULL (the old value is kept).
func (s *Memory) CompareAndSwap(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	now, err := s.begin()
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	e := s.lookup(key, now)
	if e == nil || !bytes.Equal(e.value, old) {
		return false, nil
	}
	if err := s.put(key, e, value, ttl, now); err != nil {
		return false, err
	}
	return true, nil
}

// CompareAndDelete implements cache.Store.
func (s *Memory) CompareAndDelete(_ context.Context, key string, old []byte) (bool, error) {
	now, err := s.begin()
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	e := s.lookup(key, now)
	if e == nil || !bytes.Equal(e.value, old) {
		return false, nil
	}
	s.remove(e)
	return true, nil
}

// Delete implements cache.Store.
func (s *Memory) Delete(_ context.Context, keys ...string) error {
	if _, err := s.begin(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, k := range keys {
		if e := s.m[k]; e != nil {
			s.remove(e)
		}
	}
	return nil
}

// Close drops every entry. Later calls fail with cache.ErrClosed.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.m, s.expiry, s.bytes = map[string]*entry{}, nil, 0
	return nil
}

// expiryHeap orders entries by expiry, earliest first (container/heap).
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiresAt < h[j].expiresAt }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
