package cache

// Added by the lead: a failing reproduction found end to end (the dashboard
// query's warm run refetched RFIs and submittals). Batches of different kinds
// in the same scope, first used concurrently, must not orphan each other's
// values (the scope's generation token must be created once, atomically).

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestConcurrentFirstUseOfAScopeKeepsEveryValue(t *testing.T) {
	for round := 0; round < 20; round++ {
		m, _ := NewMemory(MemoryOptions{})
		c, _ := New(m, Options{})
		kinds := []string{"rfis", "submittals", "commitments", "invoices"}
		var mu sync.Mutex
		calls := map[string]int{}
		run := func() {
			var wg sync.WaitGroup
			for _, kind := range kinds {
				for p := 1; p <= 3; p++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						k := Key{Conn: "c1", User: "u", Kind: kind, Scope: fmt.Sprintf("project:%d", p), Params: "limit=200"}
						_, _ = c.GetOrFetchMany(context.Background(), []Key{k}, func(ctx context.Context, miss []Key) (map[Key][]byte, error) {
							mu.Lock()
							calls[k.String()]++
							mu.Unlock()
							return map[Key][]byte{k: []byte("v")}, nil
						})
					}()
				}
			}
			wg.Wait()
		}
		run()
		run()
		for k, n := range calls {
			if n != 1 {
				t.Fatalf("round %d: %s fetched %d times, want 1", round, k, n)
			}
		}
	}
}
