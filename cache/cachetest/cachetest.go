// Package cachetest gives tests the cache stores they need: an in-memory
// store, or a real Redis on REDIS_URL under a key prefix of the test's own
// (its keys are deleted when the test ends). Without REDIS_URL a Redis test is
// skipped with a message; with CI=true a missing or silent Redis fails it.
package cachetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"procoregraph/cache"
)

// URL returns REDIS_URL, skipping the test without it (failing it when CI=true).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REDIS_URL is not set, and CI=true requires the Redis tests to run")
		}
		t.Skip("REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6379/5): skipping a Redis test")
	}
	return u
}

// Client returns a client on REDIS_URL that answers PING, closed at cleanup.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	rdb, err := cache.ParseRedisURL(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at REDIS_URL does not answer: %v", err)
		}
		t.Skipf("Redis at REDIS_URL does not answer (%v): skipping", err)
	}
	return rdb
}

// Prefix returns a key prefix unique to this test run ("test-<name>-<random>:")
// whose keys are deleted from rdb at cleanup.
func Prefix(t testing.TB, rdb redis.UniversalClient, name string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test-" + name + "-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() { DeletePrefix(rdb, prefix) })
	return prefix
}

// DeletePrefix removes every key under prefix.
func DeletePrefix(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		_ = rdb.Del(ctx, keys...).Err()
	}
}

// Memory returns an in-memory store closed at cleanup.
func Memory(t testing.TB) cache.Store {
	t.Helper()
	s, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Redis returns a RedisStore on REDIS_URL under a fresh prefix (with a 2 s
// operation timeout, so a busy machine does not fail the test), its client
// and the prefix.
func Redis(t testing.TB, name string) (cache.Store, redis.UniversalClient, string) {
	t.Helper()
	rdb := Client(t)
	prefix := Prefix(t, rdb, name)
	s, err := cache.NewRedis(cache.RedisOptions{Client: rdb, Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, rdb, prefix
}

// Clock is a manually advanced clock for stores and caches under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
