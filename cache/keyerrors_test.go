package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
)

var errForbidden = errors.New("403 forbidden")

// readAPI is one of the two ways to read through the cache, seen as string
// values: GetOrFetchMany (bytes) and GetOrFetchManyValues (decoded values).
type readAPI struct {
	name string
	get  func(ctx context.Context, c *Cache, keys []Key, fetch FetchFunc) (map[Key]string, error)
}

func readAPIs() []readAPI {
	return []readAPI{
		{name: "Bytes", get: func(ctx context.Context, c *Cache, keys []Key, fetch FetchFunc) (map[Key]string, error) {
			got, err := c.GetOrFetchMany(ctx, keys, fetch)
			out := make(map[Key]string, len(got))
			for k, v := range got {
				out[k] = string(v)
			}
			return out, err
		}},
		{name: "Values", get: func(ctx context.Context, c *Cache, keys []Key, fetch FetchFunc) (map[Key]string, error) {
			got, err := c.GetOrFetchManyValues(ctx, keys, func(ctx context.Context, m []Key) (map[Key]any, error) {
				b, err := fetch(ctx, m)
				out := make(map[Key]any, len(b))
				for k, v := range b {
					out[k] = string(v)
				}
				return out, err
			}, encodeString)
			out := make(map[Key]string, len(got))
			for k, v := range got {
				if s, ok := v.Value.(string); ok {
					out[k] = s
				} else {
					out[k] = string(v.Bytes)
				}
			}
			return out, err
		}},
	}
}

// keyErrorsOf returns err as KeyErrors, failing the test when it is not one.
func keyErrorsOf(t *testing.T, who string, err error) KeyErrors {
	t.Helper()
	var ke KeyErrors
	if !errors.As(err, &ke) {
		t.Fatalf("%s: err = %v (%T), want a KeyErrors", who, err, err)
	}
	return ke
}

// TestWaitersOfAKeyThatFailedGetItsErrorNotNotFound: the leader's fetch of
// three keys answers the first, fails the second on its own (KeyErrors) and
// does not find the third. Callers that waited on that fetch get the second
// key's error (not "not found"), and the third key as not found without an
// error; the leader's caller gets the same; nobody fetches again, and the
// failed key is not cached: the next call fetches it (and the absent key)
// again.
func TestWaitersOfAKeyThatFailedGetItsErrorNotNotFound(t *testing.T) {
	for _, api := range readAPIs() {
		for _, sk := range storeKinds() {
			t.Run(api.name+"/"+sk.name, func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				ctx := context.Background()
				keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 3)
				found, failed, absent := keys[0], keys[1], keys[2]
				leader := &fetcher{skip: map[Key]bool{failed: true, absent: true}, err: KeyErrors{failed: errForbidden}}
				fetch, gate := gatedFetch(leader)
				waiter := &fetcher{}

				type result struct {
					got map[Key]string
					err error
				}
				var lead, withFailed, withAbsent result
				var wg sync.WaitGroup
				wg.Go(func() { lead.got, lead.err = api.get(ctx, c, keys, fetch) })
				waitFor(t, func() bool { return c.inFlight(found) && c.inFlight(failed) && c.inFlight(absent) })
				wg.Go(func() { withFailed.got, withFailed.err = api.get(ctx, c, []Key{found, failed}, waiter.fetch) })
				wg.Go(func() { withAbsent.got, withAbsent.err = api.get(ctx, c, []Key{absent}, waiter.fetch) })
				waitFor(t, func() bool {
					return c.waitersOf(found) == 1 && c.waitersOf(failed) == 1 && c.waitersOf(absent) == 1
				})
				close(gate)
				wg.Wait()

				for _, r := range []struct {
					who string
					result
				}{{"leader", lead}, {"waiter of the failed key", withFailed}} {
					if len(r.got) != 1 || r.got[found] != "p0@0" {
						t.Fatalf("%s got %v, want only the found key's p0@0", r.who, r.got)
					}
					ke := keyErrorsOf(t, r.who, r.err)
					if len(ke) != 1 || !errors.Is(ke[failed], errForbidden) {
						t.Fatalf("%s: key errors %v, want only the failed key's %v", r.who, ke, errForbidden)
					}
					if !errors.Is(r.err, errForbidden) {
						t.Fatalf("%s: errors.Is(%v, errForbidden) = false", r.who, r.err)
					}
				}
				if withAbsent.err != nil || len(withAbsent.got) != 0 {
					t.Fatalf("waiter of the absent key got %v, %v; want not found: no value, no error", withAbsent.got, withAbsent.err)
				}
				if n := waiter.callCount(); n != 0 {
					t.Fatalf("waiters fetched %d times, want 0 (they share the leader's fetch)", n)
				}

				waitFor(t, func() bool { return !c.inFlight(found) && !c.inFlight(failed) && !c.inFlight(absent) })
				again := &fetcher{}
				got, err := api.get(ctx, c, keys, again.fetch)
				if err != nil || len(got) != 3 || got[found] != "p0@0" || got[failed] != "p1@0" {
					t.Fatalf("next call got %v, %v; want every key", got, err)
				}
				if len(again.calls) != 1 || len(again.calls[0]) != 2 || again.calls[0][0] != failed || again.calls[0][1] != absent {
					t.Fatalf("next call fetched %v, want exactly the failed and the absent key (neither was cached)", again.calls)
				}
			})
		}
	}
}

// TestAWaiterOfFlightsThatFailedDifferentlyGetsEachKeysError: one batch waits
// on two fetches: one failed as a whole (a plain error), the other failed its
// key on its own (KeyErrors). The batch gets a KeyErrors with each key's
// error, so neither key reads as not found or as the other's failure.
func TestAWaiterOfFlightsThatFailedDifferentlyGetsEachKeysError(t *testing.T) {
	for _, api := range readAPIs() {
		for _, sk := range storeKinds() {
			t.Run(api.name+"/"+sk.name, func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				ctx := context.Background()
				keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 2)
				whole, own := keys[0], keys[1]
				fetchWhole, gateWhole := gatedFetch(&fetcher{err: errBoom, skip: map[Key]bool{whole: true}})
				fetchOwn, gateOwn := gatedFetch(&fetcher{err: KeyErrors{own: errForbidden}, skip: map[Key]bool{own: true}})
				var wg sync.WaitGroup
				var leaderErrs [2]error
				wg.Go(func() { _, leaderErrs[0] = api.get(ctx, c, []Key{whole}, fetchWhole) })
				wg.Go(func() { _, leaderErrs[1] = api.get(ctx, c, []Key{own}, fetchOwn) })
				waitFor(t, func() bool { return c.inFlight(whole) && c.inFlight(own) })
				waiter := &fetcher{}
				var got map[Key]string
				var err error
				wg.Go(func() { got, err = api.get(ctx, c, keys, waiter.fetch) })
				waitFor(t, func() bool { return c.waitersOf(whole) == 1 && c.waitersOf(own) == 1 })
				close(gateWhole)
				close(gateOwn)
				wg.Wait()
				if leaderErrs[0] != errBoom {
					t.Fatalf("leader of the whole failure got %v, want fetch's error as is", leaderErrs[0])
				}
				if ke := keyErrorsOf(t, "leader of the key's failure", leaderErrs[1]); len(ke) != 1 || ke[own] != errForbidden {
					t.Fatalf("leader of the key's failure got %v, want its key's error", ke)
				}
				if len(got) != 0 || waiter.callCount() != 0 {
					t.Fatalf("waiter got %v after %d fetches; want no value and no fetch", got, waiter.callCount())
				}
				ke := keyErrorsOf(t, "waiter", err)
				if len(ke) != 2 || ke[whole] != errBoom || ke[own] != errForbidden {
					t.Fatalf("waiter's key errors = %v; want %v for the first key and %v for the second", ke, errBoom, errForbidden)
				}
			})
		}
	}
}

// TestWaiterOfACutOffLeaderRetriesAKeyItsFetchFailed: the leader's request
// ends while it fetches, and its fetch fails the key on its own with an
// error that does not say so (a body cut off). A waiter whose request goes
// on fetches the key itself instead of taking that error.
func TestWaiterOfACutOffLeaderRetriesAKeyItsFetchFailed(t *testing.T) {
	for _, api := range readAPIs() {
		for _, sk := range storeKinds() {
			t.Run(api.name+"/"+sk.name, func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				k := keysOf("conn1", "u1", "rfi", "project:1:rfis", 1)[0]
				leaderCtx, cancelLeader := context.WithCancel(context.Background())
				cutOff, gate := gatedFetch(&fetcher{err: KeyErrors{k: errors.New("unexpected EOF")}, skip: map[Key]bool{k: true}})
				var wg sync.WaitGroup
				wg.Go(func() { _, _ = api.get(leaderCtx, c, []Key{k}, cutOff) })
				waitFor(t, func() bool { return c.inFlight(k) })
				f := &fetcher{}
				var got map[Key]string
				var err error
				wg.Go(func() { got, err = api.get(context.Background(), c, []Key{k}, f.fetch) })
				waitFor(t, func() bool { return c.waitersOf(k) == 1 })
				cancelLeader()
				close(gate)
				wg.Wait()
				if err != nil || got[k] != "p0@0" {
					t.Fatalf("waiter got %v, %v; want its own fetch's p0@0", got, err)
				}
				if n := f.callCount(); n != 1 {
					t.Fatalf("waiter fetched %d times, want 1", n)
				}
			})
		}
	}
}

// TestKeyErrorsOfOneKeyCallers: GetOrFetch and GetOrFetchJSON, for callers
// of one key, return a key's own error rather than the KeyErrors, and read
// a key the fetch left out of both maps as missing.
func TestKeyErrorsOfOneKeyCallers(t *testing.T) {
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			clock := newFakeClock()
			c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
			ctx := context.Background()
			keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 2)
			failed, absent := keys[0], keys[1]
			// A batch caller leads; one-key callers wait on its fetch.
			fetch, gate := gatedFetch(&fetcher{err: KeyErrors{failed: errForbidden}, skip: map[Key]bool{failed: true, absent: true}})
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = c.GetOrFetchMany(ctx, keys, fetch) })
			waitFor(t, func() bool { return c.inFlight(failed) && c.inFlight(absent) })
			var errBytes, errJSON, errAbsent error
			never := func(context.Context) ([]byte, error) { return []byte("fetched"), nil }
			wg.Go(func() { _, errBytes = c.GetOrFetch(ctx, failed, never) })
			wg.Go(func() {
				_, errJSON = GetOrFetchJSON(ctx, c, failed, func(context.Context) (string, error) { return "fetched", nil })
			})
			wg.Go(func() { _, errAbsent = c.GetOrFetch(ctx, absent, never) })
			waitFor(t, func() bool { return c.waitersOf(failed) == 2 && c.waitersOf(absent) == 1 })
			close(gate)
			wg.Wait()
			if errBytes != errForbidden || errJSON != errForbidden {
				t.Fatalf("GetOrFetch err = %v, GetOrFetchJSON err = %v; want the key's own %v", errBytes, errJSON, errForbidden)
			}
			var ke KeyErrors
			if errAbsent == nil || errors.As(errAbsent, &ke) {
				t.Fatalf("GetOrFetch of the absent key err = %v; want the no-value error", errAbsent)
			}
		})
	}
}

// TestKeyErrorsMessage: the message names the first failed key by its kind
// and counts the others; nil entries are not failures.
func TestKeyErrorsMessage(t *testing.T) {
	keys := keysOf("conn1", "u1", "rfis", "project:1:rfis", 3)
	tests := []struct {
		name string
		ke   KeyErrors
		want string
	}{
		{"OneKey", KeyErrors{keys[1]: errForbidden}, "cache: rfis: 403 forbidden"},
		{"ThreeKeysNameTheFirst", KeyErrors{keys[2]: errBoom, keys[0]: errForbidden, keys[1]: errBoom}, "cache: rfis: 403 forbidden (and 2 more failed keys)"},
		{"NilEntriesAreNotFailures", KeyErrors{keys[0]: nil}, "cache: no key failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ke.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
