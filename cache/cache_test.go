package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestGetOrFetchMany(t *testing.T) {
	ctx := context.Background()
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("ColdBatchIsFetchedOnceThenServedFromCache", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 5)
				got := mustGet(t, c, keys, f.fetch)
				if f.callCount() != 1 || f.fetchedKeys() != 5 || len(got) != 5 {
					t.Fatalf("cold: %d fetch calls for %d keys, %d values; want 1 call, 5 keys, 5 values", f.callCount(), f.fetchedKeys(), len(got))
				}
				f.setVersion(2) // a refetch would be visible
				got = mustGet(t, c, keys, f.fetch)
				if f.callCount() != 1 {
					t.Fatalf("warm batch called fetch again (%d calls)", f.callCount())
				}
				for i, k := range keys {
					if want := fmt.Sprintf("p%d@0", i); string(got[k]) != want {
						t.Fatalf("warm value of %s = %q, want %q", k.Params, got[k], want)
					}
				}
			})

			t.Run("OnlyMissingKeysAreFetched", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 5)
				mustGet(t, c, keys[:2], f.fetch)
				mustGet(t, c, keys, f.fetch)
				last := f.calls[len(f.calls)-1]
				if len(last) != 3 || last[0] != keys[2] || last[1] != keys[3] || last[2] != keys[4] {
					t.Fatalf("second fetch got %v; want exactly the 3 keys not cached yet", last)
				}
			})

			t.Run("KeysFetchLeavesOutAreAbsentAndNotCached", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				keys := keysOf("conn1", "u1", "rfi", "project:1:rfis", 2)
				f := &fetcher{skip: map[Key]bool{keys[1]: true}}
				got := mustGet(t, c, keys, f.fetch)
				if _, ok := got[keys[1]]; ok || len(got) != 1 {
					t.Fatalf("got %v; want only the key fetch returned", got)
				}
				mustGet(t, c, keys, f.fetch)
				if last := f.calls[len(f.calls)-1]; len(last) != 1 || last[0] != keys[1] {
					t.Fatalf("second fetch got %v; want only the not-found key again", last)
				}
			})

			t.Run("FetchErrorReturnsCachedValuesAndTheError", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 3)
				mustGet(t, c, keys[:1], (&fetcher{}).fetch)
				failing := &fetcher{err: errBoom, skip: map[Key]bool{keys[1]: true, keys[2]: true}}
				got, err := c.GetOrFetchMany(ctx, keys, failing.fetch)
				if !errors.Is(err, errBoom) {
					t.Fatalf("err = %v; want fetch's error", err)
				}
				if len(got) != 1 || string(got[keys[0]]) != "p0@0" {
					t.Fatalf("got %v; want the cached value only", got)
				}
			})

			t.Run("DuplicateKeysAreFetchedOnce", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
				got := mustGet(t, c, []Key{k, k, k}, f.fetch)
				if f.fetchedKeys() != 1 || len(got) != 1 {
					t.Fatalf("fetched %d keys, got %d values; want 1 and 1", f.fetchedKeys(), len(got))
				}
			})

			t.Run("ConnectionsAndUsersNeverSeeEachOthersValues", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				calls := 0
				fetch := func(_ context.Context, missing []Key) (map[Key][]byte, error) {
					calls++
					out := map[Key][]byte{}
					for _, k := range missing {
						out[k] = []byte(k.Conn + "/" + k.User)
					}
					return out, nil
				}
				for _, who := range [][2]string{{"tenantA", "u1"}, {"tenantB", "u1"}, {"tenantA", "u2"}} {
					k := Key{Conn: who[0], User: who[1], Kind: "projects", Params: "all"}
					for range 2 {
						got := mustGet(t, c, []Key{k}, fetch)
						if want := who[0] + "/" + who[1]; string(got[k]) != want {
							t.Fatalf("%v read %q; want its own %q", who, got[k], want)
						}
					}
				}
				if calls != 3 {
					t.Fatalf("fetch calls = %d; want one per (connection, user)", calls)
				}
			})

			t.Run("KeyWithoutConnectionIsRefused", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				_, err := c.GetOrFetchMany(ctx, []Key{{Kind: "rfis"}}, f.fetch)
				if !errors.Is(err, ErrInvalidKey) || f.callCount() != 0 {
					t.Fatalf("err = %v, %d fetches; want ErrInvalidKey and no fetch", err, f.callCount())
				}
			})
		})
	}
}

func TestFreshness(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			opts := Options{TTL: map[string]time.Duration{"budget": 5 * time.Minute}, DefaultTTL: time.Minute, StaleWhileRevalidate: 30 * time.Second}
			tests := []struct {
				name       string
				kind       string
				advance    time.Duration
				wantValue  string
				wantFetch  int // synchronous fetches by the second call
				wantResult string
			}{
				{name: "HitJustBeforeTTL", kind: "rfis", advance: 59 * time.Second, wantValue: "p0@0", wantFetch: 0, wantResult: "hit"},
				{name: "StaleInsideTheWindowIsServed", kind: "rfis", advance: 61 * time.Second, wantValue: "p0@0", wantFetch: 0, wantResult: "stale"},
				{name: "MissPastTTLAndWindow", kind: "rfis", advance: 91 * time.Second, wantValue: "p0@1", wantFetch: 1, wantResult: "miss"},
				{name: "PerKindTTLKeepsLongerKindsFresh", kind: "budget", advance: 4 * time.Minute, wantValue: "p0@0", wantFetch: 0, wantResult: "hit"},
				{name: "PerKindTTLExpiresToo", kind: "budget", advance: 6 * time.Minute, wantValue: "p0@1", wantFetch: 1, wantResult: "miss"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					clock := newFakeClock()
					c, reg := newTestCache(t, sk.open(t, clock), clock, opts)
					f := &fetcher{}
					k := keysOf("conn1", "u1", tt.kind, "project:1", 1)[0]
					mustGet(t, c, []Key{k}, f.fetch)
					clock.Advance(tt.advance)
					f.setVersion(1)
					got := mustGet(t, c, []Key{k}, f.fetch)
					c.bg.Wait() // a stale value's background refresh
					if string(got[k]) != tt.wantValue {
						t.Fatalf("value = %q, want %q", got[k], tt.wantValue)
					}
					wantCalls := 1 + tt.wantFetch
					if tt.wantResult == "stale" {
						wantCalls = 2 // the background refresh
					}
					if f.callCount() != wantCalls {
						t.Fatalf("fetch calls = %d, want %d", f.callCount(), wantCalls)
					}
					if n := counterValue(t, reg, "procoregraph_cache_requests_total", map[string]string{"kind": tt.kind, "result": tt.wantResult}); n < 1 {
						t.Fatalf("requests_total{result=%q} = %v; want it counted", tt.wantResult, n)
					}
				})
			}
		})
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("ServesStaleAndRefreshesOnceInTheBackground", func(t *testing.T) {
				clock := newFakeClock()
				c, reg := newTestCache(t, sk.open(t, clock), clock, Options{DefaultTTL: time.Minute, StaleWhileRevalidate: 30 * time.Second})
				f := &fetcher{}
				keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 3)
				mustGet(t, c, keys, f.fetch)

				clock.Advance(70 * time.Second)
				f.setVersion(1)
				gate := make(chan struct{})
				refreshing := make(chan struct{}, 8)
				slow := func(ctx context.Context, m []Key) (map[Key][]byte, error) {
					refreshing <- struct{}{}
					<-gate
					return f.fetch(ctx, m)
				}
				// Both calls return while the refresh is held at the gate:
				// stale values are served without waiting for upstream.
				for i := range 2 {
					got := mustGet(t, c, keys, slow)
					if string(got[keys[0]]) != "p0@0" {
						t.Fatalf("stale call %d = %q; want the stale value p0@0", i, got[keys[0]])
					}
				}
				<-refreshing
				close(gate)
				c.bg.Wait()
				if len(refreshing) != 0 || f.callCount() != 2 || len(f.calls[1]) != 3 {
					t.Fatalf("fetch calls = %v; want the cold fetch and exactly one refresh of the 3 keys", f.calls)
				}
				got := mustGet(t, c, keys, f.fetch)
				if string(got[keys[0]]) != "p0@1" || f.callCount() != 2 {
					t.Fatalf("after refresh = %q with %d fetches; want the refreshed p0@1 as a hit", got[keys[0]], f.callCount())
				}
				if n := counterValue(t, reg, "procoregraph_cache_requests_total", map[string]string{"kind": "rfis", "result": "stale"}); n != 6 {
					t.Fatalf("stale lookups = %v, want 6", n)
				}
			})

			t.Run("InvalidatedValueIsNotServedStale", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				k := keysOf("conn1", "u1", "rfis", "project:1:rfis", 1)[0]
				mustGet(t, c, []Key{k}, f.fetch)
				clock.Advance(70 * time.Second)
				if err := c.Invalidate(context.Background(), "conn1", "project:1"); err != nil {
					t.Fatal(err)
				}
				f.setVersion(1)
				if got := mustGet(t, c, []Key{k}, f.fetch); string(got[k]) != "p0@1" {
					t.Fatalf("after Invalidate = %q; want a synchronous refetch p0@1", got[k])
				}
			})
		})
	}
}

func TestSingleFlight(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("TwentyConcurrentMissesOfOneKeyFetchOnce", func(t *testing.T) {
				clock := newFakeClock()
				c, reg := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
				fetch, gate := gatedFetch(f)
				const n = 20
				results := make([]string, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						got, err := c.GetOrFetchMany(context.Background(), []Key{k}, fetch)
						if err != nil {
							results[i] = err.Error()
							return
						}
						results[i] = string(got[k])
					})
				}
				// Release the one fetch only when the other 19 wait for it.
				waitFor(t, func() bool { return c.waitersOf(k) == n-1 })
				close(gate)
				wg.Wait()
				if f.callCount() != 1 {
					t.Fatalf("fetch calls = %d, want exactly 1", f.callCount())
				}
				for i, r := range results {
					if r != "p0@0" {
						t.Fatalf("caller %d got %q, want p0@0", i, r)
					}
				}
				if n := counterValue(t, reg, "procoregraph_cache_requests_total", map[string]string{"kind": "rfi", "result": "miss"}); n != 20 {
					t.Fatalf("misses = %v, want 20 (every caller missed the cache)", n)
				}
			})

			t.Run("OverlappingBatchesFetchEachKeyOnce", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				f := &fetcher{}
				keys := keysOf("conn1", "u1", "rfi", "project:1:rfis", 4)
				fetch, gate := gatedFetch(f)
				var wg sync.WaitGroup
				var second map[Key][]byte
				wg.Go(func() { _, _ = c.GetOrFetchMany(context.Background(), keys[:3], fetch) })
				waitFor(t, func() bool { return c.inFlight(keys[0]) })
				wg.Go(func() { second, _ = c.GetOrFetchMany(context.Background(), keys[1:], fetch) })
				waitFor(t, func() bool { return c.waitersOf(keys[1]) == 1 && c.waitersOf(keys[2]) == 1 })
				close(gate)
				wg.Wait()
				if f.fetchedKeys() != 4 || len(second) != 3 {
					t.Fatalf("fetched %d keys in %v, second batch got %d; want each of the 4 keys fetched once", f.fetchedKeys(), f.calls, len(second))
				}
			})

			t.Run("WaiterFetchesItselfWhenTheLeadersRequestIsCancelled", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
				leaderCtx, cancel := context.WithCancel(context.Background())
				leaderFetch := func(ctx context.Context, _ []Key) (map[Key][]byte, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}
				done := make(chan error, 1)
				go func() {
					_, err := c.GetOrFetchMany(leaderCtx, []Key{k}, leaderFetch)
					done <- err
				}()
				waitFor(t, func() bool { return c.inFlight(k) })
				f := &fetcher{}
				var got map[Key][]byte
				var err error
				waited := make(chan struct{})
				go func() {
					got, err = c.GetOrFetchMany(context.Background(), []Key{k}, f.fetch)
					close(waited)
				}()
				waitFor(t, func() bool { return c.waitersOf(k) == 1 })
				cancel()
				<-waited
				if err != nil || string(got[k]) != "p0@0" {
					t.Fatalf("waiter got %q, %v; want its own fetch's value", got[k], err)
				}
				if lerr := <-done; !errors.Is(lerr, context.Canceled) {
					t.Fatalf("leader err = %v, want context.Canceled", lerr)
				}
			})

			t.Run("PanickingFetchFailsEveryCallerInsteadOfHanging", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
				gate := make(chan struct{})
				fetch := func(context.Context, []Key) (map[Key][]byte, error) {
					<-gate
					panic("upstream decoder bug")
				}
				errs := make(chan error, 2)
				for range 2 {
					go func() {
						_, err := c.GetOrFetchMany(context.Background(), []Key{k}, fetch)
						errs <- err
					}()
				}
				waitFor(t, func() bool { return c.waitersOf(k) == 1 })
				close(gate)
				for range 2 {
					if err := <-errs; err == nil || !strings.Contains(err.Error(), "panicked") {
						t.Fatalf("err = %v; want the panic as an error", err)
					}
				}
			})
		})
	}
}

func TestBatchReads(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("OneMultiGetPerBatch", func(t *testing.T) {
				clock := newFakeClock()
				cs := &countingStore{Store: sk.open(t, clock)}
				c, _ := newTestCache(t, cs, clock, Options{})
				f := &fetcher{}
				var first, keys []Key // first: 5 keys in each of 3 scopes; keys: 10 in each
				for p := range 3 {
					ks := keysOf("conn1", "u1", "rfis", fmt.Sprintf("project:%d:rfis", p), 10)
					first = append(first, ks[:5]...)
					keys = append(keys, ks...)
				}
				steps := []struct {
					name                                   string
					keys                                   []Key
					getMany, getOrSetMany, setMany, fetchs int64
				}{
					// Cold: one read, one write of the new generation tokens, one write of the values.
					{"Cold", first, 1, 1, 1, 1},
					// Warm: one read and nothing else.
					{"Warm", first, 2, 1, 1, 1},
					// New keys in known scopes: the tokens exist, so no token write.
					{"NewKeysInKnownScopes", keys, 3, 1, 2, 2},
					{"WarmAgain", keys, 4, 1, 2, 2},
				}
				for _, st := range steps {
					got := mustGet(t, c, st.keys, f.fetch)
					if len(got) != len(st.keys) {
						t.Fatalf("%s: %d values for %d keys", st.name, len(got), len(st.keys))
					}
					if cs.getMany.Load() != st.getMany || cs.getOrSetMany.Load() != st.getOrSetMany || cs.setMany.Load() != st.setMany || int64(f.callCount()) != st.fetchs {
						t.Fatalf("%s: GetMany %d, GetOrSetMany %d, SetMany %d, fetch %d; want %d, %d, %d, %d", st.name,
							cs.getMany.Load(), cs.getOrSetMany.Load(), cs.setMany.Load(), f.callCount(),
							st.getMany, st.getOrSetMany, st.setMany, st.fetchs)
					}
				}
			})
		})
	}
}

func TestInvalidate(t *testing.T) {
	ctx := context.Background()
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			// Entries of two connections over two projects and two users.
			a1rfis := Key{Conn: "A", User: "u1", Kind: "rfis", Scope: "project:1:rfis", Params: "all"}
			a1rfisU2 := Key{Conn: "A", User: "u2", Kind: "rfis", Scope: "project:1:rfis", Params: "first=10"}
			a1subs := Key{Conn: "A", User: "u1", Kind: "submittals", Scope: "project:1:submittals", Params: "all"}
			a1proj := Key{Conn: "A", User: "u1", Kind: "project", Scope: "project:1", Params: "1"}
			a2rfis := Key{Conn: "A", User: "u1", Kind: "rfis", Scope: "project:2:rfis", Params: "all"}
			aConn := Key{Conn: "A", User: "u1", Kind: "projects", Params: "all"}
			b1rfis := Key{Conn: "B", User: "u1", Kind: "rfis", Scope: "project:1:rfis", Params: "all"}
			all := []Key{a1rfis, a1rfisU2, a1subs, a1proj, a2rfis, aConn, b1rfis}

			tests := []struct {
				name    string
				conn    string
				scopes  []string
				dropped []Key
			}{
				{name: "LeafScopeDropsOnlyItsEntries", conn: "A", scopes: []string{"project:1:rfis"}, dropped: []Key{a1rfis, a1rfisU2}},
				{name: "ProjectScopeDropsItsToolsForEveryUserButNotOtherProjects", conn: "A", scopes: []string{"project:1"}, dropped: []Key{a1rfis, a1rfisU2, a1subs, a1proj}},
				{name: "ConnectionScopeDropsAllOfTheConnectionOnly", conn: "A", scopes: []string{""}, dropped: []Key{a1rfis, a1rfisU2, a1subs, a1proj, a2rfis, aConn}},
				{name: "OtherConnectionIsUntouched", conn: "B", scopes: []string{"project:1"}, dropped: []Key{b1rfis}},
				{name: "SeveralScopesAtOnce", conn: "A", scopes: []string{"project:1:submittals", "project:2"}, dropped: []Key{a1subs, a2rfis}},
				{name: "UnrelatedScopeDropsNothing", conn: "A", scopes: []string{"project:3"}},
				{name: "SegmentPrefixIsNotAScopePrefix", conn: "A", scopes: []string{"project:1:rfi"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					clock := newFakeClock()
					c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
					f := &fetcher{}
					mustGet(t, c, all, f.fetch)
					if err := c.InvalidateMany(ctx, tt.conn, tt.scopes); err != nil {
						t.Fatal(err)
					}
					f.setVersion(1)
					mustGet(t, c, all, f.fetch)
					refetched := map[Key]bool{}
					if f.callCount() == 2 {
						for _, k := range f.calls[1] {
							refetched[k] = true
						}
					}
					want := map[Key]bool{}
					for _, k := range tt.dropped {
						want[k] = true
					}
					for _, k := range all {
						if refetched[k] != want[k] {
							t.Errorf("%s/%s/%s refetched = %v, want %v", k.Conn, k.User, k.Scope, refetched[k], want[k])
						}
					}
				})
			}

			t.Run("InvalidationDuringAFetchIsNotLost", func(t *testing.T) {
				for _, warmFirst := range []bool{true, false} {
					name := map[bool]string{true: "TokensExisted", false: "ColdScope"}[warmFirst]
					t.Run(name, func(t *testing.T) {
						clock := newFakeClock()
						c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
						f := &fetcher{}
						if warmFirst {
							// Create every token of the chain, then let the
							// value expire so that the next read misses.
							mustGet(t, c, []Key{a1rfis}, f.fetch)
							clock.Advance(2 * time.Minute)
						}
						gate := make(chan struct{})
						inFetch := make(chan struct{})
						slow := func(ctx context.Context, m []Key) (map[Key][]byte, error) {
							close(inFetch)
							<-gate
							return f.fetch(ctx, m) // read upstream before the change
						}
						done := make(chan struct{})
						go func() { _, _ = c.GetOrFetchMany(ctx, []Key{a1rfis}, slow); close(done) }()
						<-inFetch
						if err := c.Invalidate(ctx, "A", "project:1:rfis"); err != nil {
							t.Fatal(err)
						}
						close(gate)
						<-done
						before := f.callCount()
						f.setVersion(1)
						got := mustGet(t, c, []Key{a1rfis}, f.fetch)
						if f.callCount() != before+1 || string(got[a1rfis]) != "all@1" {
							t.Fatalf("after an invalidation that raced a fetch: %q with %d new fetches; want a refetch", got[a1rfis], f.callCount()-before)
						}
					})
				}
			})

			t.Run("RequestAfterInvalidationDoesNotJoinAnOlderFetch", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				gate := make(chan struct{})
				old := func(_ context.Context, m []Key) (map[Key][]byte, error) {
					<-gate
					return map[Key][]byte{m[0]: []byte("before")}, nil
				}
				done := make(chan struct{})
				go func() { _, _ = c.GetOrFetchMany(ctx, []Key{a1rfis}, old); close(done) }()
				waitFor(t, func() bool { return c.inFlight(a1rfis) })
				if err := c.Invalidate(ctx, "A", "project:1"); err != nil {
					t.Fatal(err)
				}
				got := mustGet(t, c, []Key{a1rfis}, func(_ context.Context, m []Key) (map[Key][]byte, error) {
					return map[Key][]byte{m[0]: []byte("after")}, nil
				})
				close(gate)
				<-done
				if string(got[a1rfis]) != "after" {
					t.Fatalf("read after Invalidate = %q; want its own fetch (after)", got[a1rfis])
				}
			})

			t.Run("LostGenerationTokenMeansMiss", func(t *testing.T) {
				clock := newFakeClock()
				store := sk.open(t, clock)
				c, _ := newTestCache(t, store, clock, Options{})
				f := &fetcher{}
				mustGet(t, c, []Key{a1rfis, a2rfis}, f.fetch)
				// As if Redis or otter evicted one token.
				if err := store.Delete(ctx, genKey("A", "project:1")); err != nil {
					t.Fatal(err)
				}
				mustGet(t, c, []Key{a1rfis, a2rfis}, f.fetch)
				if f.callCount() != 2 || len(f.calls[1]) != 1 || f.calls[1][0] != a1rfis {
					t.Fatalf("fetches = %v; want only the entry under the lost token refetched", f.calls)
				}
			})

			t.Run("RefusesEmptyConnectionOrBadScope", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				if err := c.Invalidate(ctx, "", "project:1"); !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Invalidate without connection = %v; want ErrInvalidKey", err)
				}
				if err := c.Invalidate(ctx, "A", "project::1"); !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("Invalidate with an empty segment = %v; want ErrInvalidKey", err)
				}
			})
		})
	}
}

func TestReplicasSharingRedis(t *testing.T) {
	ctx := context.Background()
	t.Run("SeeEachOthersEntriesAndInvalidations", func(t *testing.T) {
		clock := newFakeClock()
		open := openSharedRedis()
		// Two stores on two clients: two replicas with their own connections.
		c1, _ := newTestCache(t, open(t, clock), clock, Options{})
		c2, _ := newTestCache(t, open(t, clock), clock, Options{})
		f1, f2 := &fetcher{}, &fetcher{}
		keys := keysOf("A", "u1", "rfis", "project:1:rfis", 5)

		mustGet(t, c1, keys, f1.fetch)
		got := mustGet(t, c2, keys, f2.fetch)
		if f2.callCount() != 0 || len(got) != 5 {
			t.Fatalf("replica 2 fetched %d times; want all 5 values from replica 1's writes", f2.callCount())
		}
		if err := c2.Invalidate(ctx, "A", "project:1"); err != nil {
			t.Fatal(err)
		}
		f1.setVersion(1)
		got = mustGet(t, c1, keys, f1.fetch)
		if f1.callCount() != 2 || string(got[keys[0]]) != "p0@1" {
			t.Fatalf("replica 1 after replica 2's Invalidate: %q with %d fetches; want a refetch", got[keys[0]], f1.callCount())
		}
		other := keysOf("B", "u1", "rfis", "project:1:rfis", 5)
		mustGet(t, c2, other, f2.fetch)
		if f2.callCount() != 1 {
			t.Fatalf("another connection on replica 2 made %d fetches; want its own 1", f2.callCount())
		}
	})
}

func TestStoreFailure(t *testing.T) {
	ctx := context.Background()
	keys := keysOf("A", "u1", "rfis", "project:1:rfis", 3)

	t.Run("DeadRedisAnswersFromUpstreamAndCountsTheError", func(t *testing.T) {
		rdb, err := ParseRedisURL("redis://" + deadAddr(t) + "/0")
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		rs, _ := NewRedis(RedisOptions{Client: rdb})
		cs := &countingStore{Store: rs}
		clock := newFakeClock()
		c, reg := newTestCache(t, cs, clock, Options{StoreRetryAfter: time.Second})
		f := &fetcher{}
		errorsOf := func(op string) float64 {
			return counterValue(t, reg, "procoregraph_cache_errors_total", map[string]string{"op": op})
		}

		got, err := c.GetOrFetchMany(ctx, keys, f.fetch)
		if err != nil || len(got) != 3 || f.fetchedKeys() != 3 {
			t.Fatalf("with Redis down: %d values, err %v, %d fetched; want all 3 from upstream", len(got), err, f.fetchedKeys())
		}
		if errorsOf("get") != 1 {
			t.Fatalf("errors_total{op=get} = %v, want 1", errorsOf("get"))
		}
		// Inside StoreRetryAfter the store is not even tried.
		got, err = c.GetOrFetchMany(ctx, keys, f.fetch)
		if err != nil || len(got) != 3 || cs.getMany.Load() != 1 || errorsOf("bypass") != 1 {
			t.Fatalf("second call: err %v, %d values, %d GetMany, bypass %v; want upstream answers without touching the store", err, len(got), cs.getMany.Load(), errorsOf("bypass"))
		}
		clock.Advance(2 * time.Second)
		_, _ = c.GetOrFetchMany(ctx, keys, f.fetch)
		if cs.getMany.Load() != 2 || errorsOf("get") != 2 {
			t.Fatalf("after StoreRetryAfter: %d GetMany, get errors %v; want the store tried again", cs.getMany.Load(), errorsOf("get"))
		}
		if err := c.Invalidate(ctx, "A", "project:1"); err == nil || errorsOf("invalidate") != 1 {
			t.Fatalf("Invalidate with Redis down = %v (counted %v); want an error, counted", err, errorsOf("invalidate"))
		}
	})

	t.Run("RedisStoppedMidTestThenBack", func(t *testing.T) {
		addr, db := redisAddrOf(t)
		p := startProxy(t, addr)
		rdb, err := ParseRedisURL(fmt.Sprintf("redis://%s/%d", p.addr, db))
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatalf("Redis through the proxy: %v", err)
		}
		clock := newFakeClock()
		rs, _ := NewRedis(RedisOptions{Client: rdb, Prefix: testPrefix(t, redisClient(t)), Now: clock.Now})
		c, reg := newTestCache(t, rs, clock, Options{StoreRetryAfter: time.Second})
		f := &fetcher{}

		mustGet(t, c, keys, f.fetch)
		mustGet(t, c, keys, f.fetch)
		if f.callCount() != 1 {
			t.Fatalf("happy path: %d fetches, want 1 then a warm hit", f.callCount())
		}

		p.stop() // Redis goes away
		f.setVersion(1)
		got, err := c.GetOrFetchMany(ctx, keys, f.fetch)
		if err != nil || len(got) != 3 || string(got[keys[0]]) != "p0@1" {
			t.Fatalf("with Redis stopped: %q, %d values, err %v; want every value from upstream", got[keys[0]], len(got), err)
		}
		if n := counterValue(t, reg, "procoregraph_cache_errors_total", map[string]string{"op": "get"}); n != 1 {
			t.Fatalf("errors_total{op=get} = %v, want 1", n)
		}

		p.restart() // Redis is back
		clock.Advance(2 * time.Second)
		// The first call may still meet a pooled connection the outage broke;
		// within a few calls one is answered from Redis without a fetch.
		waitFor(t, func() bool {
			before := f.callCount()
			got, err = c.GetOrFetchMany(ctx, keys, f.fetch)
			clock.Advance(2 * time.Second)
			return err == nil && f.callCount() == before
		})
		if string(got[keys[0]]) != "p0@0" {
			t.Fatalf("after Redis came back: %q; want the entry cached before the outage", got[keys[0]])
		}
	})

	t.Run("HungRedisDoesNotFailQueries", func(t *testing.T) {
		rdb, err := ParseRedisURL("redis://" + blackhole(t) + "/0?read_timeout=60s&write_timeout=60s&max_retries=-1")
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		rs, _ := NewRedis(RedisOptions{Client: rdb, Timeout: 50 * time.Millisecond})
		clock := newFakeClock()
		c, reg := newTestCache(t, rs, clock, Options{})
		got, err := c.GetOrFetchMany(ctx, keys, (&fetcher{}).fetch)
		if err != nil || len(got) != 3 {
			t.Fatalf("with Redis hung: %d values, err %v; want all from upstream", len(got), err)
		}
		if n := counterValue(t, reg, "procoregraph_cache_errors_total", map[string]string{"op": "get"}); n != 1 {
			t.Fatalf("errors_total{op=get} = %v, want 1", n)
		}
	})
}

func TestObservability(t *testing.T) {
	ctx := context.Background()
	t.Run("OnResultReportsHitsAndMissesPerKind", func(t *testing.T) {
		clock := newFakeClock()
		store, _ := NewMemory(MemoryOptions{Now: clock.Now})
		type report struct {
			kind         string
			hits, misses int
		}
		var mu sync.Mutex
		var reports []report
		c, reg := newTestCache(t, store, clock, Options{OnResult: func(_ context.Context, kind string, hits, misses int) {
			mu.Lock()
			reports = append(reports, report{kind, hits, misses})
			mu.Unlock()
		}})
		keys := append(keysOf("A", "u1", "rfis", "project:1:rfis", 3), keysOf("A", "u1", "submittals", "project:1:submittals", 2)...)
		f := &fetcher{}
		mustGet(t, c, keys[:4], f.fetch) // 3 rfis, 1 submittal: all miss
		mustGet(t, c, keys, f.fetch)     // 4 hits, 1 miss
		want := map[report]bool{{"rfis", 0, 3}: true, {"submittals", 0, 1}: true, {"rfis", 3, 0}: true, {"submittals", 1, 1}: true}
		if len(reports) != len(want) {
			t.Fatalf("reports = %v, want %v", reports, want)
		}
		for _, r := range reports {
			if !want[r] {
				t.Fatalf("unexpected report %v in %v", r, reports)
			}
		}
		for _, m := range []struct {
			kind, result string
			want         float64
		}{{"rfis", "miss", 3}, {"rfis", "hit", 3}, {"submittals", "miss", 2}, {"submittals", "hit", 1}, {"rfis", "stale", 0}} {
			if n := counterValue(t, reg, "procoregraph_cache_requests_total", map[string]string{"kind": m.kind, "result": m.result}); n != m.want {
				t.Errorf("requests_total{kind=%s,result=%s} = %v, want %v", m.kind, m.result, n, m.want)
			}
		}
	})

	t.Run("TwoCachesShareOneRegistry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		s1, _ := NewMemory(MemoryOptions{})
		s2, _ := NewMemory(MemoryOptions{})
		c1, err1 := New(s1, Options{Registerer: reg})
		c2, err2 := New(s2, Options{Registerer: reg})
		if err1 != nil || err2 != nil {
			t.Fatalf("New with a shared registry: %v, %v", err1, err2)
		}
		k := keysOf("A", "u1", "rfis", "project:1:rfis", 1)
		mustGet(t, c1, k, (&fetcher{}).fetch)
		mustGet(t, c2, k, (&fetcher{}).fetch)
		if n := counterValue(t, reg, "procoregraph_cache_requests_total", map[string]string{"kind": "rfis", "result": "miss"}); n != 2 {
			t.Fatalf("shared miss counter = %v, want 2", n)
		}
	})

	t.Run("NilCacheFetchesEverything", func(t *testing.T) {
		var c *Cache
		f := &fetcher{}
		k := keysOf("A", "u1", "rfis", "project:1:rfis", 2)
		for range 2 {
			if got := mustGet(t, c, k, f.fetch); len(got) != 2 {
				t.Fatalf("nil cache returned %d values", len(got))
			}
		}
		if f.callCount() != 2 {
			t.Fatalf("nil cache: %d fetches, want 2", f.callCount())
		}
		if err := c.Invalidate(ctx, "A", ""); err != nil {
			t.Fatal(err)
		}
	})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitersOf reports how many callers wait on the current fetch of k.
func (c *Cache) waitersOf(k Key) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.flights[k.String()]; ok {
		return f.waiters
	}
	return 0
}

// inFlight reports whether k is being fetched.
func (c *Cache) inFlight(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.flights[k.String()]
	return ok
}
