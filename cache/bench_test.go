package cache

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkGetOrFetchManyWarm measures a warm loader batch: 50 RFI-list
// sized values (2 KiB each) over 10 projects, all served from the cache.
func BenchmarkGetOrFetchManyWarm(b *testing.B) {
	for _, sk := range storeKinds() {
		b.Run(sk.name, func(b *testing.B) {
			clock := newFakeClock()
			var store Store
			switch sk.name {
			case "Memory":
				s, err := NewMemory(MemoryOptions{Now: clock.Now})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			default:
				rdb := redisClient(b)
				s, err := NewRedis(RedisOptions{Client: rdb, Prefix: testPrefix(b, rdb), Now: clock.Now})
				if err != nil {
					b.Fatal(err)
				}
				store = s
			}
			c, err := New(store, Options{Now: clock.Now, Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var keys []Key
			for p := range 10 {
				keys = append(keys, keysOf("conn1", "u1", "rfis", fmt.Sprintf("project:%d:rfis", p), 5)...)
			}
			value := bytes.Repeat([]byte(`{"ID":4294967297,"Subject":"x"},`), 64)
			fetch := func(_ context.Context, missing []Key) (map[Key][]byte, error) {
				out := make(map[Key][]byte, len(missing))
				for _, k := range missing {
					out[k] = value
				}
				return out, nil
			}
			ctx := context.Background()
			if got, err := c.GetOrFetchMany(ctx, keys, fetch); err != nil || len(got) != len(keys) {
				b.Fatalf("warm-up: %d values, %v", len(got), err)
			}
			misses := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := c.GetOrFetchMany(ctx, keys, func(ctx context.Context, m []Key) (map[Key][]byte, error) {
					misses += len(m)
					return fetch(ctx, m)
				})
				if err != nil || len(got) != len(keys) {
					b.Fatalf("%d values, %v", len(got), err)
				}
			}
			if misses != 0 {
				b.Fatalf("%d misses in a warm benchmark", misses)
			}
		})
	}
}
