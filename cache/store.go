package cache

import (
	"context"
	"time"
)

// Item is a value held by a Store, with the times the read-through layer needs
// for stale-while-revalidate.
type Item struct {
	// Value is the stored bytes. It belongs to the store: callers must not
	// modify it.
	Value []byte
	// StoredAt is when the value was written, by the writing store's clock.
	StoredAt time.Time
	// ExpiresAt is when the store drops the value; zero means never.
	ExpiresAt time.Time
}

// Entry is a value to store under Key for TTL. A TTL of zero or less means
// the value does not expire.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// Store is the byte-level backend of the cache: a key-value store with
// per-entry expiry and a few atomic operations for idempotency records, locks
// and generation tokens. MemoryStore (one process) and RedisStore (shared by
// every replica) implement it with the same observable behaviour, checked by
// one contract test suite.
//
// A missing or expired key is never an error: reads leave it out of their
// result. Errors mean the backend failed (Redis unreachable, timed out); the
// memory store never fails except after Close. Stores do not copy values they
// return, so callers must treat Item.Value as read-only; stores copy nothing
// they are given either, so callers must not modify a value after storing it.
//
// Keys are opaque to a store. Cache renders its own keys (see Key); other
// features build theirs with AuxKey so that every key carries a connection.
type Store interface {
	// Get returns the item under key; ok is false when the key holds nothing.
	Get(ctx context.Context, key string) (item Item, ok bool, err error)
	// GetMany returns the items under keys in one round trip. Keys that hold
	// nothing are absent from the map.
	GetMany(ctx context.Context, keys []string) (map[string]Item, error)
	// Set stores value under key for ttl, replacing what was there.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetMany stores every entry in one round trip (not atomically: after an
	// error some entries may be stored).
	SetMany(ctx context.Context, entries []Entry) error
	// SetNX stores value under key for ttl only if the key holds nothing, and
	// reports whether it did. Of concurrent callers (on any replica sharing
	// the backend) exactly one gets true.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// GetOrSetMany stores each entry whose key holds nothing and returns, for
	// every entry's key, the item the key holds afterwards: the existing one,
	// or the entry just stored. Each key is decided atomically (SET NX GET on
	// Redis); the batch is one round trip but not one transaction.
	GetOrSetMany(ctx context.Context, entries []Entry) (map[string]Item, error)
	// CompareAndSwap replaces the value under key with value (and its expiry
	// with ttl) only if the key currently holds exactly old, and reports
	// whether it did. Locks use it to extend their lease.
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error)
	// CompareAndDelete deletes key only if it currently holds exactly old, and
	// reports whether it did. Locks use it to release only their own lease.
	CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error)
	// Delete removes keys; keys that hold nothing are ignored.
	Delete(ctx context.Context, keys ...string) error
	// Close releases the store's own resources. It does not close a Redis
	// client passed in by the caller.
	Close() error
}
