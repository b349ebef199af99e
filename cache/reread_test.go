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
			gate := make(chan struct{})
			fetch := func(ctx context.Context, m []Key) (map[Key][]byte, error) {
				<-gate
				return f.fetch(ctx, m)
			}
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
