package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// heldRead is a Store whose next GetMany, once armed, reads at once and then
// waits for release before returning what it read: a caller whose read
// misses just before another caller's value is written.
type heldRead struct {
	Store
	armed   atomic.Bool
	read    chan struct{}
	release chan struct{}
}

func (s *heldRead) GetMany(ctx context.Context, keys []string) (map[string]Item, error) {
	items, err := s.Store.GetMany(ctx, keys)
	if s.armed.CompareAndSwap(true, false) {
		close(s.read)
		<-s.release
	}
	return items, err
}

// TestMissReadJustBeforeAWriteIsNotFetchedAgain: B reads the store and
// misses while A is fetching the key; A writes it and releases its flight
// before B looks for a flight to join. B finds none, but reads the key
// again instead of fetching it a second time.
func TestMissReadJustBeforeAWriteIsNotFetchedAgain(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			clock := newFakeClock()
			store := &heldRead{Store: sk.open(t, clock), read: make(chan struct{}), release: make(chan struct{})}
			c, _ := newTestCache(t, store, clock, Options{})
			f := &fetcher{}
			k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
			fetch, gate := gatedFetch(f)
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = c.GetOrFetchMany(context.Background(), []Key{k}, fetch) }) // A
			waitFor(t, func() bool { return c.inFlight(k) })
			store.armed.Store(true)
			var got map[Key][]byte
			var err error
			done := make(chan struct{})
			go func() { // B
				defer close(done)
				got, err = c.GetOrFetchMany(context.Background(), []Key{k}, f.fetch)
			}()
			<-store.read // B has read: a miss
			close(gate)
			wg.Wait() // A has fetched, written and released its flight
			if c.inFlight(k) {
				t.Fatal("A's flight is still there")
			}
			close(store.release)
			<-done
			if err != nil {
				t.Fatal(err)
			}
			if n := f.callCount(); n != 1 {
				t.Fatalf("fetch calls = %d, want 1 (B would have fetched the key A had just written)", n)
			}
			if string(got[k]) != "p0@0" {
				t.Fatalf("B got %q, want A's p0@0", got[k])
			}
			if c.inFlight(k) {
				t.Fatal("B left a flight behind")
			}
		})
	}
}

// TestWaiterOfACutOffLeaderFetchesInsteadOfNotFound: the leader's request
// ends while it fetches, and its fetch reports the key neither found nor
// failed (the loaders keep per-key errors to themselves). A waiter whose
// request goes on fetches the key itself rather than taking it as not found.
func TestWaiterOfACutOffLeaderFetchesInsteadOfNotFound(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			clock := newFakeClock()
			c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
			k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
			leaderCtx, cancelLeader := context.WithCancel(context.Background())
			gate := make(chan struct{})
			cutOff := func(ctx context.Context, _ []Key) (map[Key]any, error) {
				<-gate
				return map[Key]any{}, nil // the key's error stayed with the caller
			}
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = c.GetOrFetchManyValues(leaderCtx, []Key{k}, cutOff, encodeString) })
			waitFor(t, func() bool { return c.inFlight(k) })
			f := &fetcher{}
			var got map[Key]Value
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				got, err = c.GetOrFetchManyValues(context.Background(), []Key{k}, func(ctx context.Context, m []Key) (map[Key]any, error) {
					b, err := f.fetch(ctx, m)
					out := map[Key]any{}
					for k, v := range b {
						out[k] = string(v)
					}
					return out, err
				}, encodeString)
			}()
			waitFor(t, func() bool { return c.waitersOf(k) == 1 })
			cancelLeader()
			close(gate)
			wg.Wait()
			<-done
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := got[k]; !ok || v.Value != "p0@0" {
				t.Fatalf("waiter got %+v (present %v), want its own fetch's p0@0", got[k], ok)
			}
			if n := f.callCount(); n != 1 {
				t.Fatalf("waiter fetched %d times, want 1", n)
			}
		})
	}
}

func encodeString(v any) ([]byte, error) { return []byte(v.(string)), nil }
