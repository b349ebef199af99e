// Package cache is procoregraph's cache layer: a byte-level Store with two
// implementations (MemoryStore, the single-replica default, bounded by bytes;
// RedisStore, shared by every replica, Redis Cluster included) and Cache, the
// read-through layer the dataloaders use on top of a Store.
//
// # Reading through the cache
//
// A loader's batch function builds one Key per item it needs and calls
//
//	vals, err := c.GetOrFetchMany(ctx, keys, fetchMissing)          // []byte values
//	rfis, err := cache.GetOrFetchManyJSON(ctx, c, keys, fetchRFIs)  // typed values
//
// which reads every key with one Store.GetMany, serves fresh values, serves
// stale ones (within Options.StaleWhileRevalidate) while one background fetch
// refreshes them, and calls fetch once for the misses, sharing in-flight
// fetches with concurrent requests. When the store fails, everything is
// fetched and the query still succeeds.
//
// A fetch that fails some keys on their own (one project's list refused)
// returns the others' values with a KeyErrors naming the failed keys: those
// are not cached, and every caller sharing the fetch gets each key's own
// error, while a key in neither map is not found.
//
// # Keys
//
// Values: pg:v1:{<conn>}:<user>:<kind>:<scope>:<params> (see Key). Generation
// tokens: pg:v1g:{<conn>}:<scope>. Other per-connection data (idempotency
// records, locks, sessions, last-known resource state): AuxKey,
// pg:aux:{<conn>}:<purpose>:<parts...>. The connection is in every key and is
// its Redis Cluster hash tag; RedisOptions.Prefix goes in front of all of them.
//
// # Invalidation
//
// Mutations, the webhook receiver and the poller call
// Cache.Invalidate(ctx, conn, scope) with the narrowest scope that covers what
// changed ("project:123:rfis" after an RFI changed, "project:123" after a
// change that touches several tools). The design (generation tokens, read in
// the same round trip as the values) is explained on Cache.
//
// # Idempotency records and locks
//
// These use a Store directly, with AuxKey keys: the gateway's correctness-state
// store (package state), never the evicting store under a Cache, because
// losing one is a bug rather than a miss:
//
//	won, err := store.SetNX(ctx, cache.AuxKey(conn, "idem", key), pending, 24*time.Hour)  // first caller wins
//	ok, err := store.CompareAndSwap(ctx, lockKey, token, token, ttl)                      // extend my lease
//	ok, err := store.CompareAndDelete(ctx, lockKey, token)                                // release only my lease
package cache
