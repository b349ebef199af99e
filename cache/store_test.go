package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStoreContract runs one behavioural suite against every Store.
func TestStoreContract(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			runStoreContract(t, sk)
		})
	}
}

func runStoreContract(t *testing.T, sk storeKind) {
	ctx := context.Background()
	// expire makes entries with a TTL of d expire: the memory store follows
	// the fake clock; Redis expires by its own clock, so the test waits.
	expire := func(clock *fakeClock, d time.Duration) {
		clock.Advance(d + time.Millisecond)
		if sk.realExpiry {
			time.Sleep(d + 5*time.Millisecond)
		}
	}
	shortTTL := 30 * time.Millisecond

	t.Run("MissingKeyIsAbsentNotAnError", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		_, ok, err := s.Get(ctx, "nope")
		if err != nil || ok {
			t.Fatalf("Get(missing) = ok %v, err %v; want absent, nil", ok, err)
		}
		got, err := s.GetMany(ctx, []string{"nope", "nada"})
		if err != nil || len(got) != 0 {
			t.Fatalf("GetMany(missing) = %v, %v; want empty, nil", got, err)
		}
	})

	t.Run("SetThenGetReturnsValueWithItsTimes", func(t *testing.T) {
		clock := newFakeClock()
		s := sk.open(t, clock)
		if err := s.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
			t.Fatal(err)
		}
		it, ok, err := s.Get(ctx, "k")
		if err != nil || !ok {
			t.Fatalf("Get = ok %v, err %v", ok, err)
		}
		if string(it.Value) != "v1" || !it.StoredAt.Equal(clock.Now()) || !it.ExpiresAt.Equal(clock.Now().Add(time.Minute)) {
			t.Fatalf("Get = %q stored %v expires %v; want v1 stored %v expires +1m", it.Value, it.StoredAt, it.ExpiresAt, clock.Now())
		}
	})

	t.Run("ZeroTTLNeverExpires", func(t *testing.T) {
		clock := newFakeClock()
		s := sk.open(t, clock)
		if err := s.Set(ctx, "forever", []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		clock.Advance(1000 * time.Hour)
		it, ok, err := s.Get(ctx, "forever")
		if err != nil || !ok || !it.ExpiresAt.IsZero() {
			t.Fatalf("Get = %+v ok %v err %v; want present without ExpiresAt", it, ok, err)
		}
	})

	t.Run("SetReplacesTheValue", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		_ = s.Set(ctx, "k", []byte("old"), time.Minute)
		_ = s.Set(ctx, "k", []byte("new"), time.Minute)
		it, _, _ := s.Get(ctx, "k")
		if string(it.Value) != "new" {
			t.Fatalf("value = %q, want new", it.Value)
		}
	})

	t.Run("BinaryValuesRoundTrip", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		v := []byte{0, 0xC1, 0xff, '\n', 0, 'x'}
		_ = s.Set(ctx, "bin", v, time.Minute)
		it, ok, err := s.Get(ctx, "bin")
		if err != nil || !ok || !bytes.Equal(it.Value, v) {
			t.Fatalf("Get = %v ok %v err %v; want %v", it.Value, ok, err, v)
		}
	})

	t.Run("SetManyThenGetManyReturnsOnlyPresentKeys", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		var entries []Entry
		for i := range 10 {
			entries = append(entries, Entry{Key: fmt.Sprintf("k%d", i), Value: []byte(fmt.Sprintf("v%d", i)), TTL: time.Minute})
		}
		if err := s.SetMany(ctx, entries); err != nil {
			t.Fatal(err)
		}
		keys := []string{"k0", "k3", "absent", "k9"}
		got, err := s.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || string(got["k0"].Value) != "v0" || string(got["k3"].Value) != "v3" || string(got["k9"].Value) != "v9" {
			t.Fatalf("GetMany = %v; want k0, k3, k9 only", got)
		}
		if _, ok := got["absent"]; ok {
			t.Fatal("GetMany returned a key that was never set")
		}
	})

	t.Run("EmptyBatchesAreNoOps", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		if got, err := s.GetMany(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("GetMany(nil) = %v, %v", got, err)
		}
		if err := s.SetMany(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetOrSetMany(ctx, nil); err != nil || len(got) != 0 {
			t.Fatalf("GetOrSetMany(nil) = %v, %v", got, err)
		}
	})

	t.Run("ExpiredEntryIsAbsent", func(t *testing.T) {
		clock := newFakeClock()
		s := sk.open(t, clock)
		_ = s.Set(ctx, "short", []byte("x"), shortTTL)
		_ = s.Set(ctx, "long", []byte("y"), time.Hour)
		expire(clock, shortTTL)
		if _, ok, _ := s.Get(ctx, "short"); ok {
			t.Fatal("entry is still present after its TTL")
		}
		got, _ := s.GetMany(ctx, []string{"short", "long"})
		if _, ok := got["short"]; ok || len(got) != 1 {
			t.Fatalf("GetMany after expiry = %v; want only long", got)
		}
	})

	t.Run("SetNXOnlyTheFirstWins", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		ok1, err1 := s.SetNX(ctx, "idem", []byte("first"), time.Minute)
		ok2, err2 := s.SetNX(ctx, "idem", []byte("second"), time.Minute)
		if err1 != nil || err2 != nil || !ok1 || ok2 {
			t.Fatalf("SetNX twice = %v/%v, %v/%v; want true then false", ok1, err1, ok2, err2)
		}
		it, _, _ := s.Get(ctx, "idem")
		if string(it.Value) != "first" {
			t.Fatalf("value = %q, want first", it.Value)
		}
	})

	t.Run("SetNXSucceedsAfterExpiry", func(t *testing.T) {
		clock := newFakeClock()
		s := sk.open(t, clock)
		if ok, _ := s.SetNX(ctx, "lock", []byte("a"), shortTTL); !ok {
			t.Fatal("first SetNX failed")
		}
		expire(clock, shortTTL)
		if ok, err := s.SetNX(ctx, "lock", []byte("b"), time.Minute); !ok || err != nil {
			t.Fatalf("SetNX after expiry = %v, %v; want true", ok, err)
		}
	})

	t.Run("ConcurrentSetNXHasExactlyOneWinner", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, errs := 0, 0
		for i := range 20 {
			wg.Go(func() {
				ok, err := s.SetNX(ctx, "race", []byte(fmt.Sprint(i)), time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
				}
				if ok {
					wins++
				}
			})
		}
		wg.Wait()
		if wins != 1 || errs != 0 {
			t.Fatalf("wins = %d, errors = %d; want exactly 1 winner", wins, errs)
		}
	})

	t.Run("GetOrSetManyKeepsExistingAndStoresNew", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		_ = s.Set(ctx, "have", []byte("existing"), time.Minute)
		got, err := s.GetOrSetMany(ctx, []Entry{
			{Key: "have", Value: []byte("mine"), TTL: time.Minute},
			{Key: "new", Value: []byte("mine"), TTL: time.Minute},
		})
		if err != nil {
			t.Fatal(err)
		}
		if string(got["have"].Value) != "existing" || string(got["new"].Value) != "mine" {
			t.Fatalf("GetOrSetMany = have %q new %q; want existing, mine", got["have"].Value, got["new"].Value)
		}
		it, _, _ := s.Get(ctx, "new")
		if string(it.Value) != "mine" {
			t.Fatalf("stored new = %q, want mine", it.Value)
		}
		it, _, _ = s.Get(ctx, "have")
		if string(it.Value) != "existing" {
			t.Fatalf("existing key was overwritten with %q", it.Value)
		}
	})

	t.Run("CompareAndSwapOnlyWithTheCurrentValue", func(t *testing.T) {
		clock := newFakeClock()
		s := sk.open(t, clock)
		_ = s.Set(ctx, "lease", []byte("token-a"), time.Minute)
		if ok, err := s.CompareAndSwap(ctx, "lease", []byte("token-b"), []byte("x"), time.Minute); ok || err != nil {
			t.Fatalf("CAS with a wrong old value = %v, %v; want false", ok, err)
		}
		if ok, err := s.CompareAndSwap(ctx, "lease", []byte("token-a"), []byte("token-a2"), time.Hour); !ok || err != nil {
			t.Fatalf("CAS with the current value = %v, %v; want true", ok, err)
		}
		it, _, _ := s.Get(ctx, "lease")
		if string(it.Value) != "token-a2" || !it.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
			t.Fatalf("after CAS = %q expires %v; want token-a2 with the new TTL", it.Value, it.ExpiresAt)
		}
		if ok, _ := s.CompareAndSwap(ctx, "absent", nil, []byte("x"), time.Minute); ok {
			t.Fatal("CAS on an absent key succeeded")
		}
	})

	t.Run("CompareAndDeleteOnlyWithTheCurrentValue", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		_ = s.Set(ctx, "lease", []byte("mine"), time.Minute)
		if ok, _ := s.CompareAndDelete(ctx, "lease", []byte("theirs")); ok {
			t.Fatal("CompareAndDelete with a wrong value deleted")
		}
		if _, ok, _ := s.Get(ctx, "lease"); !ok {
			t.Fatal("lease vanished after a refused CompareAndDelete")
		}
		if ok, err := s.CompareAndDelete(ctx, "lease", []byte("mine")); !ok || err != nil {
			t.Fatalf("CompareAndDelete with the current value = %v, %v", ok, err)
		}
		if _, ok, _ := s.Get(ctx, "lease"); ok {
			t.Fatal("lease still present after CompareAndDelete")
		}
	})

	t.Run("DeleteRemovesKeysAndIgnoresMissingOnes", func(t *testing.T) {
		s := sk.open(t, newFakeClock())
		_ = s.SetMany(ctx, []Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}})
		if err := s.Delete(ctx, "a", "b", "never"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetMany(ctx, []string{"a", "b", "c"})
		if len(got) != 1 || string(got["c"].Value) != "3" {
			t.Fatalf("after Delete = %v; want only c", got)
		}
	})
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	t.Run("StaysWithinMaxBytes", func(t *testing.T) {
		const maxBytes = 256 << 10
		s, err := NewMemory(MemoryOptions{MaxBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		v := bytes.Repeat([]byte("x"), 4<<10)
		for i := range 1000 { // ~4 MiB written into 256 KiB
			_ = s.Set(ctx, fmt.Sprintf("k%04d", i), v, time.Hour)
		}
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%04d", i)
		}
		// otter evicts asynchronously and may briefly exceed its bound;
		// reads drive its maintenance.
		live := func() int { got, _ := s.GetMany(ctx, keys); return len(got) }
		deadline := time.Now().Add(5 * time.Second)
		for (s.WeightedSize() > maxBytes || live() > maxBytes/len(v)) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if w := s.WeightedSize(); w > maxBytes {
			t.Fatalf("weighted size %d exceeds MaxBytes %d", w, maxBytes)
		}
		if n := live(); n == 0 || n > maxBytes/len(v) {
			t.Fatalf("%d entries remain; want some, and at most %d", n, maxBytes/len(v))
		}
	})

	t.Run("RefusesNegativeMaxBytes", func(t *testing.T) {
		if _, err := NewMemory(MemoryOptions{MaxBytes: -1}); err == nil {
			t.Fatal("NewMemory accepted MaxBytes -1")
		}
	})

	t.Run("FailsWithErrClosedAfterClose", func(t *testing.T) {
		s, _ := NewMemory(MemoryOptions{})
		_ = s.Close()
		if _, err := s.GetMany(ctx, []string{"a"}); !errors.Is(err, ErrClosed) {
			t.Fatalf("GetMany after Close = %v; want ErrClosed", err)
		}
		if err := s.Set(ctx, "a", nil, 0); !errors.Is(err, ErrClosed) {
			t.Fatalf("Set after Close = %v; want ErrClosed", err)
		}
	})
}

func TestRedisStore(t *testing.T) {
	ctx := context.Background()
	t.Run("ForeignValuesReadAsMissing", func(t *testing.T) {
		rdb := redisClient(t)
		p := testPrefix(t, rdb)
		s, _ := NewRedis(RedisOptions{Client: rdb, Prefix: p})
		if err := rdb.Set(ctx, p+"foreign", "written by someone else", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.Get(ctx, "foreign"); ok || err != nil {
			t.Fatalf("Get(foreign) = ok %v err %v; want absent", ok, err)
		}
	})

	t.Run("PrefixIsolatesStores", func(t *testing.T) {
		rdb := redisClient(t)
		a, _ := NewRedis(RedisOptions{Client: rdb, Prefix: testPrefix(t, rdb)})
		b, _ := NewRedis(RedisOptions{Client: rdb, Prefix: testPrefix(t, rdb)})
		_ = a.Set(ctx, "k", []byte("a"), time.Minute)
		if _, ok, _ := b.Get(ctx, "k"); ok {
			t.Fatal("a store with another prefix read the key")
		}
	})

	t.Run("RefusesPrefixWithBraces", func(t *testing.T) {
		if _, err := NewRedis(RedisOptions{Client: redisClient(t), Prefix: "a{b}"}); err == nil {
			t.Fatal("NewRedis accepted a prefix with braces")
		}
	})

	t.Run("FailsFastWhenNothingListens", func(t *testing.T) {
		rdb, err := ParseRedisURL("redis://" + deadAddr(t) + "/0?max_retries=-1")
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		s, _ := NewRedis(RedisOptions{Client: rdb})
		if _, err := s.GetMany(ctx, []string{"a"}); err == nil {
			t.Fatal("GetMany against a dead address succeeded")
		}
	})

	t.Run("TimeoutInterruptsAHungRedis", func(t *testing.T) {
		// read_timeout=60s: without the store's own Timeout the call would
		// hang for a minute; the bound below only proves the timeout applied.
		rdb, err := ParseRedisURL("redis://" + blackhole(t) + "/0?read_timeout=60s&write_timeout=60s&max_retries=-1")
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		s, _ := NewRedis(RedisOptions{Client: rdb, Timeout: 50 * time.Millisecond})
		start := time.Now()
		_, err = s.GetMany(ctx, []string{"a"})
		if err == nil {
			t.Fatal("GetMany against a hung Redis succeeded")
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("GetMany returned after %v; the 50 ms Timeout did not interrupt it", d)
		}
	})
}

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		cluster bool
		wantErr string
	}{
		{name: "OneNodeWithDB", url: "redis://127.0.0.1:6379/5"},
		{name: "TLS", url: "rediss://user:pw@redis.example:6380/0"},
		{name: "ClusterFromSeveralAddrs", url: "redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379", cluster: true},
		{name: "ClusterFromOneSeed", url: "redis://10.0.0.1:6379?cluster=true", cluster: true},
		{name: "RefusesOtherSchemes", url: "http://127.0.0.1:6379", wantErr: "scheme"},
		{name: "RefusesBadClusterFlag", url: "redis://127.0.0.1?cluster=maybe", wantErr: "boolean"},
		{name: "ErrorsDoNotLeakThePassword", url: "redis://user:s3cret@127.0.0.1:6379/x\x7f", wantErr: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseRedisURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, isCluster := c.(*redis.ClusterClient)
			if isCluster != tt.cluster {
				t.Fatalf("client %T: cluster = %v, want %v", c, isCluster, tt.cluster)
			}
			if !contextTimeoutEnabled(c) {
				t.Fatal("client built without ContextTimeoutEnabled")
			}
		})
	}
}
