package state

import (
	"context"
	"testing"
	"time"

	"procoregraph/cache"
	"procoregraph/cache/cachetest"
)

// TestWithDefaultTTLGivesEveryRedisKeyAnExpiry: through WithDefaultTTL, a
// write without TTL (each kind of write) leaves a key with a TTL in Redis,
// and a write with one keeps it.
func TestWithDefaultTTLGivesEveryRedisKeyAnExpiry(t *testing.T) {
	ctx := context.Background()
	inner, rdb, prefix := cachetest.Redis(t, "state-ttl")
	s := WithDefaultTTL(inner, time.Hour)
	if err := s.Set(ctx, "set", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetNX(ctx, "setnx", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMany(ctx, []cache.Entry{{Key: "many1", Value: []byte("v")}, {Key: "many2", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOrSetMany(ctx, []cache.Entry{{Key: "getorset", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSwap(ctx, "set", []byte("v"), []byte("w"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "own", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"set": time.Hour, "setnx": time.Hour, "many1": time.Hour, "many2": time.Hour,
		"getorset": time.Hour, "own": time.Minute}
	for k, ttl := range want {
		got, err := rdb.PTTL(ctx, prefix+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got <= ttl-time.Minute/2 || got > ttl {
			t.Errorf("%s: PTTL %v, want about %v", k, got, ttl)
		}
	}
}
