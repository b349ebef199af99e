package cache

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type rfiValue struct {
	ID      int64
	Subject string
}

func encodeValue(v any) ([]byte, error) {
	if r, ok := v.(*rfiValue); ok && r.Subject == "unencodable" {
		return nil, errors.New("cannot encode")
	}
	return json.Marshal(v)
}

// TestValuesAreServedAsFetchedAndWrittenBehind: fetched values come back as
// the very values fetch returned (no encode/decode on the request path);
// once the background write lands, later calls read them from the store as
// bytes without fetching; a value that does not encode is served, not cached.
func TestValuesAreServedAsFetchedAndWrittenBehind(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			clock := newFakeClock()
			c, err := New(sk.open(t, clock), Options{Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			keys := []Key{{Conn: "c", Kind: "rfis", Scope: "project:1", Params: "a"}, {Conn: "c", Kind: "rfis", Scope: "project:1", Params: "b"}}
			fetched := map[Key]any{keys[0]: &rfiValue{ID: 1, Subject: "Beam"}, keys[1]: &rfiValue{ID: 2, Subject: "unencodable"}}
			var calls atomic.Int64
			fetch := func(_ context.Context, missing []Key) (map[Key]any, error) {
				calls.Add(1)
				out := map[Key]any{}
				for _, k := range missing {
					out[k] = fetched[k]
				}
				return out, nil
			}
			got, err := c.GetOrFetchManyValues(ctx, keys, fetch, encodeValue)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if got[k].Value != fetched[k] || got[k].Bytes != nil {
					t.Fatalf("%v: got %+v, want the fetched value itself", k.Params, got[k])
				}
			}
			if err := c.Close(); err != nil { // waits for the write-behind
				t.Fatal(err)
			}
			again, err := c.GetOrFetchManyValues(ctx, keys, fetch, encodeValue)
			if err != nil {
				t.Fatal(err)
			}
			var v rfiValue
			if err := json.Unmarshal(again[keys[0]].Bytes, &v); err != nil || v != *fetched[keys[0]].(*rfiValue) {
				t.Fatalf("second read of a: %+v (%v), want its stored bytes", again[keys[0]], err)
			}
			if again[keys[1]].Value != fetched[keys[1]] {
				t.Fatalf("the unencodable value was not fetched again: %+v", again[keys[1]])
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("fetch ran %d times, want 2 (the unencodable value is never cached)", n)
			}
		})
	}
}

// TestConcurrentMissesShareOneFetchWhileTheWriteIsBehind: callers missing
// the same key while the first caller's values are still being written join
// its flight instead of fetching again.
func TestConcurrentMissesShareOneFetchWhileTheWriteIsBehind(t *testing.T) {
	clock := newFakeClock()
	mem, err := NewMemory(MemoryOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowSetStore{Store: mem, release: make(chan struct{})}
	c, err := New(slow, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	key := Key{Conn: "c", Kind: "rfis", Scope: "project:1"}
	var calls atomic.Int64
	fetch := func(context.Context, []Key) (map[Key]any, error) {
		calls.Add(1)
		return map[Key]any{key: &rfiValue{ID: 7}}, nil
	}
	ctx := context.Background()
	if _, err := c.GetOrFetchManyValues(ctx, []Key{key}, fetch, encodeValue); err != nil {
		t.Fatal(err)
	}
	// The first call returned; its write is held in SetMany.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.GetOrFetchManyValues(ctx, []Key{key}, fetch, encodeValue)
			if err != nil || got[key].Value == nil {
				t.Errorf("joined call: %+v, %v", got, err)
			}
		}()
	}
	wg.Wait()
	close(slow.release)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetch ran %d times, want 1", n)
	}
	// A GetOrFetchMany (bytes) caller gets the stored bytes.
	b, err := c.GetOrFetch(ctx, key, func(context.Context) ([]byte, error) { return nil, errors.New("must not fetch") })
	if err != nil || string(b) != `{"ID":7,"Subject":""}` {
		t.Fatalf("bytes read after the write: %q, %v", b, err)
	}
}

// slowSetStore holds SetMany until release is closed.
type slowSetStore struct {
	Store
	release chan struct{}
}

func (s *slowSetStore) SetMany(ctx context.Context, e []Entry) error {
	select {
	case <-s.release:
	case <-time.After(10 * time.Second):
	}
	return s.Store.SetMany(ctx, e)
}

// TestGetFreshAnswersOnlyWhatNeedsNoFetch: GetFresh answers a key whose
// value is stored, valid and fresh, with the bytes GetOrFetchManyValues
// reads, and records it in the request's Deps as it does; a missing key, a
// stale one, an invalidated scope or a request for fresh data is not
// answered.
func TestGetFreshAnswersOnlyWhatNeedsNoFetch(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			clock := newFakeClock()
			c, err := New(sk.open(t, clock), Options{Now: clock.Now, DefaultTTL: time.Minute, StaleWhileRevalidate: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			a := Key{Conn: "c", Kind: "rfis", Scope: "project:1", Params: "a"}
			b := Key{Conn: "c", Kind: "rfis", Scope: "project:2", Params: "b"}
			if _, ok := c.GetFresh(ctx, a); ok {
				t.Fatal("answered a key never stored")
			}
			fetch := func(_ context.Context, missing []Key) (map[Key]any, error) {
				out := map[Key]any{}
				for _, k := range missing {
					out[k] = &rfiValue{ID: 1, Subject: k.Params}
				}
				return out, nil
			}
			fctx, done := context.WithCancel(ctx)
			if _, err := c.GetOrFetchManyValues(fctx, []Key{a, b}, fetch, encodeValue); err != nil {
				t.Fatal(err)
			}
			done()
			if err := c.Close(); err != nil { // waits for the write-behind
				t.Fatal(err)
			}
			dctx, deps := WithDeps(ctx)
			for _, k := range []Key{a, b} {
				got, ok := c.GetFresh(dctx, k)
				if !ok {
					t.Fatalf("%s: not answered, though stored and fresh", k.Params)
				}
				if string(got) != `{"ID":1,"Subject":"`+k.Params+`"}` {
					t.Fatalf("%s: got %q", k.Params, got)
				}
			}
			if ok, why := deps.Cacheable(); !ok {
				t.Fatalf("the reads were not recorded as cacheable dependencies: %s", why)
			}
			if _, ok := c.GetFresh(WithFresh(ctx), a); ok {
				t.Fatal("answered a request that asked for fresh data")
			}
			if err := c.Invalidate(ctx, "c", "project:2"); err != nil {
				t.Fatal(err)
			}
			if _, ok := c.GetFresh(ctx, b); ok {
				t.Fatal("answered a key whose scope was invalidated")
			}
			if _, ok := c.GetFresh(ctx, a); !ok {
				t.Fatal("the invalidation of another scope took a")
			}
			clock.Advance(90 * time.Second) // past the TTL, within stale-while-revalidate
			if _, ok := c.GetFresh(ctx, a); ok {
				t.Fatal("answered a stale key (GetOrFetchManyValues would refresh it)")
			}
		})
	}
}
