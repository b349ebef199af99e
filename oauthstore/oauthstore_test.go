package oauthstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/oauthstore"
	"procoregraph/sealbox"
)

var (
	_ rest.TokenStore  = (*oauthstore.Store)(nil)
	_ rest.TokenLocker = (*oauthstore.Store)(nil)
)

func newMemory(t *testing.T) cache.Store {
	m, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSavedPairIsLoadedByAnotherReplica(t *testing.T) {
	shared := newMemory(t)
	a, b := oauthstore.New(shared, "conn1", oauthstore.Options{}), oauthstore.New(shared, "conn1", oauthstore.Options{})
	ctx := context.Background()
	if tok, err := b.Load(ctx); err != nil || tok != nil {
		t.Fatalf("empty store: %v %v", tok, err)
	}
	want := &oauth2.Token{AccessToken: "a1", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour).Round(time.Second)}
	if err := a.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx)
	if err != nil || got.AccessToken != "a1" || got.RefreshToken != "r1" || !got.Expiry.Equal(want.Expiry) {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	other := oauthstore.New(shared, "conn2", oauthstore.Options{})
	if tok, _ := other.Load(ctx); tok != nil {
		t.Fatal("another connection sees this connection's token")
	}
}

func TestRefreshLockIsHeldByOneReplicaAtATime(t *testing.T) {
	shared := newMemory(t)
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := oauthstore.New(shared, "conn1", oauthstore.Options{Poll: time.Millisecond})
			unlock, err := s.LockRefresh(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := maxInside.Load()
				if n <= m || maxInside.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders at once, want 1", maxInside.Load())
	}
}

func TestLockWaitEndsWithTheContext(t *testing.T) {
	shared := newMemory(t)
	s := oauthstore.New(shared, "conn1", oauthstore.Options{Poll: time.Millisecond})
	unlock, err := s.LockRefresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.LockRefresh(ctx); err == nil {
		t.Fatal("second holder got the lock while the first held it")
	}
}

func newBox(t *testing.T) *sealbox.Box {
	t.Helper()
	box, err := sealbox.New(bytes.Repeat([]byte{7}, sealbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// TestPairInRedisIsSealedWithATTL: with a Box and a TTL, the pair stored in
// a real Redis names no token in the clear, is not JSON, expires, and loads
// back on another replica with the same key.
func TestPairInRedisIsSealedWithATTL(t *testing.T) {
	ctx := context.Background()
	store, rdb, prefix := cachetest.Redis(t, "oauthstore-sealed")
	o := oauthstore.Options{Box: newBox(t), TTL: time.Hour}
	want := &oauth2.Token{AccessToken: "access-secret-1", RefreshToken: "refresh-secret-1", Expiry: time.Now().Add(time.Hour).Round(time.Second)}
	if err := oauthstore.New(store, "conn1", o).Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	key := prefix + cache.AuxKey("conn1", "oauth-token")
	raw, err := rdb.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret-1")) || bytes.Contains(raw, []byte("access_token")) || json.Valid(raw[min(len(raw), 17):]) {
		t.Fatalf("stored pair is readable: %q", raw)
	}
	if ttl, err := rdb.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("PTTL %v (%v), want within (0, 1h]", ttl, err)
	}
	got, err := oauthstore.New(store, "conn1", o).Load(ctx)
	if err != nil || got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

// TestPlaintextPair: a pair an earlier version stored as plain JSON is read
// once and sealed when MigratePlaintext allows it, and refused otherwise.
func TestPlaintextPair(t *testing.T) {
	ctx := context.Background()
	plain, _ := json.Marshal(&oauth2.Token{AccessToken: "old-access", RefreshToken: "old-refresh"})
	key := cache.AuxKey("conn1", "oauth-token")

	t.Run("MigratedToSealedWhenAllowed", func(t *testing.T) {
		store := newMemory(t)
		_ = store.Set(ctx, key, plain, 0)
		s := oauthstore.New(store, "conn1", oauthstore.Options{Box: newBox(t), MigratePlaintext: true})
		got, err := s.Load(ctx)
		if err != nil || got.RefreshToken != "old-refresh" {
			t.Fatalf("Load = %+v, %v; want the old pair", got, err)
		}
		it, _, _ := store.Get(ctx, key)
		if bytes.Contains(it.Value, []byte("old-refresh")) {
			t.Fatal("the migrated pair is still stored in the clear")
		}
		if got, err := s.Load(ctx); err != nil || got.RefreshToken != "old-refresh" {
			t.Fatalf("Load after migration = %+v, %v", got, err)
		}
	})

	t.Run("MovedSealedFromTheLegacyStore", func(t *testing.T) {
		legacy, store := newMemory(t), newMemory(t)
		_ = legacy.Set(ctx, key, plain, 0)
		s := oauthstore.New(store, "conn1", oauthstore.Options{Box: newBox(t), MigratePlaintext: true, Legacy: legacy})
		got, err := s.Load(ctx)
		if err != nil || got.RefreshToken != "old-refresh" {
			t.Fatalf("Load = %+v, %v; want the legacy pair", got, err)
		}
		if _, ok, _ := legacy.Get(ctx, key); ok {
			t.Fatal("the legacy pair is still in the legacy store")
		}
		it, ok, _ := store.Get(ctx, key)
		if !ok || bytes.Contains(it.Value, []byte("old-refresh")) {
			t.Fatalf("moved pair %q (ok %v), want it sealed", it.Value, ok)
		}
	})

	t.Run("LegacyPairNeverReplacesANewerOne", func(t *testing.T) {
		legacy, store := newMemory(t), newMemory(t)
		_ = legacy.Set(ctx, key, plain, 0)
		box := newBox(t)
		_ = oauthstore.New(store, "conn1", oauthstore.Options{Box: box}).Save(ctx, &oauth2.Token{AccessToken: "new", RefreshToken: "new-refresh"})
		got, err := oauthstore.New(store, "conn1", oauthstore.Options{Box: box, MigratePlaintext: true, Legacy: legacy}).Load(ctx)
		if err != nil || got.RefreshToken != "new-refresh" {
			t.Fatalf("Load = %+v, %v; want the newer pair", got, err)
		}
	})

	t.Run("RefusedWithoutMigratePlaintext", func(t *testing.T) {
		store := newMemory(t)
		_ = store.Set(ctx, key, plain, 0)
		if got, err := oauthstore.New(store, "conn1", oauthstore.Options{Box: newBox(t)}).Load(ctx); err == nil {
			t.Fatalf("Load = %+v, want an error", got)
		}
	})
}
