package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
)

func newTestMemory(t *testing.T, o MemoryOptions) (*Memory, *cachetest.Clock) {
	t.Helper()
	clock := cachetest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	o.Now = clock.Now
	s, err := NewMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clock
}

// assertFull holds err to the documented refusal: ErrFull inside an
// *adapter.Error with code STATE_FULL and a RetryAfter within [1 s, 5 min].
func assertFull(t *testing.T, err error) {
	t.Helper()
	var ae *adapter.Error
	if !errors.Is(err, ErrFull) || !errors.As(err, &ae) || ae.Code != adapter.CodeStateFull {
		t.Fatalf("err = %v, want STATE_FULL wrapping ErrFull", err)
	}
	if ae.RetryAfter < time.Second || ae.RetryAfter > 5*time.Minute {
		t.Fatalf("RetryAfter = %v, want within [1s, 5m]", ae.RetryAfter)
	}
}

// fillEntries stores n keys k0..k(n-1) with ttl.
func fillEntries(t *testing.T, s cache.Store, n int, ttl time.Duration) {
	t.Helper()
	for i := range n {
		if err := s.Set(context.Background(), fmt.Sprintf("k%d", i), []byte("v"), ttl); err != nil {
			t.Fatalf("Set k%d: %v", i, err)
		}
	}
}

func assertAllLive(t *testing.T, s cache.Store, n int) {
	t.Helper()
	for i := range n {
		if _, ok, err := s.Get(context.Background(), fmt.Sprintf("k%d", i)); err != nil || !ok {
			t.Fatalf("k%d: ok %v err %v; a live entry was lost", i, ok, err)
		}
	}
}

func TestMemory(t *testing.T) {
	ctx := context.Background()

	t.Run("FullByEntriesRefusesEveryKindOfNewEntryAndKeepsEveryLiveOne", func(t *testing.T) {
		s, _ := newTestMemory(t, MemoryOptions{MaxEntries: 8})
		fillEntries(t, s, 8, time.Hour)
		assertFull(t, s.Set(ctx, "new", []byte("v"), time.Hour))
		won, err := s.SetNX(ctx, "new", []byte("v"), time.Hour)
		if won {
			t.Fatal("SetNX stored into a full store")
		}
		assertFull(t, err)
		_, err = s.GetOrSetMany(ctx, []cache.Entry{{Key: "new", Value: []byte("v"), TTL: time.Hour}})
		assertFull(t, err)
		assertFull(t, s.SetMany(ctx, []cache.Entry{{Key: "new", Value: []byte("v"), TTL: time.Hour}}))
		if _, ok, _ := s.Get(ctx, "new"); ok {
			t.Fatal("a refused entry is readable")
		}
		assertAllLive(t, s, 8)
		if n, _, refused := s.Stats(); n != 8 || refused != 4 {
			t.Fatalf("Stats = %d entries, %d refused; want 8, 4", n, refused)
		}
	})

	t.Run("FullByBytesRefusesALargerValueAndKeepsTheOldOne", func(t *testing.T) {
		per := weight("k0", []byte("v"))
		s, _ := newTestMemory(t, MemoryOptions{MaxBytes: 4 * per})
		fillEntries(t, s, 4, time.Hour)
		assertFull(t, s.Set(ctx, "k0", []byte("a much longer value"), time.Hour))
		swapped, err := s.CompareAndSwap(ctx, "k1", []byte("v"), []byte("a much longer value"), time.Hour)
		if swapped {
			t.Fatal("CompareAndSwap grew a value past MaxBytes")
		}
		assertFull(t, err)
		for _, k := range []string{"k0", "k1"} {
			if it, ok, _ := s.Get(ctx, k); !ok || string(it.Value) != "v" {
				t.Fatalf("%s = %q (ok %v) after a refused write, want the old value", k, it.Value, ok)
			}
		}
		assertAllLive(t, s, 4)
	})

	t.Run("FullStoreStillReplacesDeletesAndLocks", func(t *testing.T) {
		s, _ := newTestMemory(t, MemoryOptions{MaxEntries: 4})
		fillEntries(t, s, 4, time.Hour)
		if err := s.Set(ctx, "k0", []byte("w"), time.Hour); err != nil {
			t.Fatalf("same-size replace refused: %v", err)
		}
		if ok, err := s.CompareAndSwap(ctx, "k1", []byte("v"), []byte("w"), time.Hour); !ok || err != nil {
			t.Fatalf("lease extension refused: %v %v", ok, err)
		}
		if won, err := s.SetNX(ctx, "k2", []byte("x"), time.Hour); won || err != nil {
			t.Fatalf("SetNX on a held key = %v, %v; want false, nil (held, not full)", won, err)
		}
		if ok, err := s.CompareAndDelete(ctx, "k3", []byte("v")); !ok || err != nil {
			t.Fatalf("CompareAndDelete = %v, %v", ok, err)
		}
		if err := s.Set(ctx, "new", []byte("v"), time.Hour); err != nil {
			t.Fatalf("a deleted entry's room was not freed: %v", err)
		}
	})

	t.Run("ExpiredEntriesFreeRoom", func(t *testing.T) {
		s, clock := newTestMemory(t, MemoryOptions{MaxEntries: 4})
		ctx := context.Background()
		_ = s.Set(ctx, "short1", []byte("v"), time.Minute)
		_ = s.Set(ctx, "short2", []byte("v"), 2*time.Minute)
		fillEntries(t, s, 2, time.Hour)
		err := s.Set(ctx, "new1", []byte("v"), time.Hour)
		assertFull(t, err)
		var ae *adapter.Error
		_ = errors.As(err, &ae)
		if ae.RetryAfter != time.Minute {
			t.Fatalf("RetryAfter = %v, want 1m (when the earliest entry expires)", ae.RetryAfter)
		}
		clock.Advance(time.Minute)
		if err := s.Set(ctx, "new1", []byte("v"), time.Hour); err != nil {
			t.Fatalf("after short1 expired: %v", err)
		}
		assertFull(t, s.Set(ctx, "new2", []byte("v"), time.Hour))
		clock.Advance(time.Minute)
		if won, err := s.SetNX(ctx, "new2", []byte("v"), time.Hour); !won || err != nil {
			t.Fatalf("after short2 expired: %v %v", won, err)
		}
		for _, k := range []string{"short1", "short2"} {
			if _, ok, _ := s.Get(ctx, k); ok {
				t.Fatalf("%s outlived its TTL", k)
			}
		}
		assertAllLive(t, s, 2)
	})

	t.Run("AnyWriteDropsExpiredEntries", func(t *testing.T) {
		s, clock := newTestMemory(t, MemoryOptions{})
		fillEntries(t, s, 3, time.Minute)
		clock.Advance(time.Minute)
		if err := s.Set(ctx, "live", []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if n, b, _ := s.Stats(); n != 1 || b != weight("live", []byte("v")) {
			t.Fatalf("Stats = %d entries, %d bytes; want only the live entry", n, b)
		}
	})

	t.Run("EntryWithoutTTLGetsTheDefaultTTL", func(t *testing.T) {
		s, clock := newTestMemory(t, MemoryOptions{DefaultTTL: time.Hour})
		if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		it, _, _ := s.Get(ctx, "k")
		if got := it.ExpiresAt.Sub(it.StoredAt); got != time.Hour {
			t.Fatalf("expiry %v after storing, want 1h", got)
		}
		clock.Advance(time.Hour)
		if _, ok, _ := s.Get(ctx, "k"); ok {
			t.Fatal("an entry without TTL never expired")
		}
		if n, b, _ := s.Stats(); n != 0 || b != 0 {
			t.Fatalf("Stats after expiry = %d entries, %d bytes; want 0, 0", n, b)
		}
	})

	t.Run("AtomicOperationsFollowTheStoreContract", func(t *testing.T) {
		s, _ := newTestMemory(t, MemoryOptions{})
		if won, _ := s.SetNX(ctx, "lock", []byte("a"), time.Minute); !won {
			t.Fatal("SetNX on a free key lost")
		}
		if won, _ := s.SetNX(ctx, "lock", []byte("b"), time.Minute); won {
			t.Fatal("SetNX on a held key won")
		}
		if ok, _ := s.CompareAndSwap(ctx, "lock", []byte("b"), []byte("c"), time.Minute); ok {
			t.Fatal("CompareAndSwap with the wrong old value swapped")
		}
		if ok, _ := s.CompareAndDelete(ctx, "lock", []byte("b")); ok {
			t.Fatal("CompareAndDelete with the wrong old value deleted")
		}
		got, err := s.GetOrSetMany(ctx, []cache.Entry{{Key: "lock", Value: []byte("x"), TTL: time.Minute}, {Key: "free", Value: []byte("y"), TTL: time.Minute}})
		if err != nil || string(got["lock"].Value) != "a" || string(got["free"].Value) != "y" {
			t.Fatalf("GetOrSetMany = %v, %v; want the held a and the stored y", got, err)
		}
		many, _ := s.GetMany(ctx, []string{"lock", "free", "none"})
		if len(many) != 2 {
			t.Fatalf("GetMany = %v, want 2 items", many)
		}
		_ = s.Delete(ctx, "lock", "free", "none")
		if n, b, _ := s.Stats(); n != 0 || b != 0 {
			t.Fatalf("Stats after Delete = %d, %d; want empty", n, b)
		}
	})

	t.Run("ConcurrentSetNXHasExactlyOneWinnerEvenWhenNearlyFull", func(t *testing.T) {
		s, _ := newTestMemory(t, MemoryOptions{MaxEntries: 3})
		fillEntries(t, s, 2, time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, fulls := 0, 0
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won, err := s.SetNX(ctx, fmt.Sprintf("race%d", i%2), []byte("v"), time.Hour)
				mu.Lock()
				defer mu.Unlock()
				if won {
					wins++
				}
				if errors.Is(err, ErrFull) {
					fulls++
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d winners, want 1 (room for one more entry)", wins)
		}
		if fulls == 0 {
			t.Fatal("the other key was never refused")
		}
		assertAllLive(t, s, 2)
	})

	t.Run("ClosedStoreFails", func(t *testing.T) {
		s, _ := newTestMemory(t, MemoryOptions{})
		_ = s.Close()
		if _, _, err := s.Get(ctx, "k"); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("Get after Close: %v", err)
		}
		if err := s.Set(ctx, "k", nil, time.Minute); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("Set after Close: %v", err)
		}
	})
}

// TestMemoryUnderPressureKeepsEveryLiveEntry: four times its byte bound in
// one-shot writes after a record (what a busy cache sees) leave the record
// and every entry stored before the bound was reached readable; the rest are
// refused.
func TestMemoryUnderPressureKeepsEveryLiveEntry(t *testing.T) {
	ctx := context.Background()
	const bound = 64 << 10
	s, _ := newTestMemory(t, MemoryOptions{MaxBytes: bound})
	if won, err := s.SetNX(ctx, "idem-record", []byte("done"), time.Hour); !won || err != nil {
		t.Fatalf("first record: %v %v", won, err)
	}
	value := make([]byte, 512)
	var stored []string
	refused := 0
	for i := range 4 * bound / len(value) {
		k := fmt.Sprintf("answer%d", i)
		switch err := s.Set(ctx, k, value, time.Hour); {
		case err == nil:
			stored = append(stored, k)
		case errors.Is(err, ErrFull):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if refused == 0 || len(stored) == 0 {
		t.Fatalf("%d stored, %d refused; want both", len(stored), refused)
	}
	for _, k := range append(stored, "idem-record") {
		if _, ok, _ := s.Get(ctx, k); !ok {
			t.Fatalf("%s was lost under pressure", k)
		}
	}
	if _, b, _ := s.Stats(); b > bound {
		t.Fatalf("%d bytes held, bound %d", b, bound)
	}
}
