package oauthstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/oauthstore"
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
