package cache

import (
	"procoregraph/safe"

	"context"
	"time"
)

// Encoder turns a fetched value into the bytes the store keeps.
type Encoder func(v any) ([]byte, error)

// ValueFetchFunc is FetchFunc for values not yet encoded.
type ValueFetchFunc func(ctx context.Context, missing []Key) (map[Key]any, error)

// Value is one result of GetOrFetchManyValues: Bytes when it was read from
// the store (the caller decodes it), otherwise Value, as fetch returned it
// (to this call or to a concurrent one it joined). Callers must not modify
// either.
type Value struct {
	Bytes []byte
	Value any
}

// GetOrFetchManyValues is GetOrFetchMany for callers that fetch decoded
// values: what fetch returns is handed back as is, and encoded and written to
// the store after the call returns (write-behind), so encoding is off the
// request's path. The generation tokens the values are written under are
// settled before it returns, so Deps recorded by the call are exact; until
// the write lands, concurrent callers missing the same keys join the flight
// and get the values without fetching. A value that does not encode is
// served but not cached.
func (c *Cache) GetOrFetchManyValues(ctx context.Context, keys []Key, fetch ValueFetchFunc, encode Encoder) (map[Key]Value, error) {
	uniq, err := uniqueKeys(keys)
	if err != nil || len(uniq) == 0 {
		return map[Key]Value{}, err
	}
	fetch = markFetch(fetch)
	if c == nil {
		vals, ferr := safeFetch(ctx, fetch, uniq)
		out := make(map[Key]Value, len(vals))
		for _, k := range uniq {
			if v, ok := vals[k]; ok {
				out[k] = Value{Value: v}
			}
		}
		return out, fetchErr(uniq, vals, ferr)
	}
	b := c.newBatch(uniq)
	storeOK := c.read(ctx, b)
	now := c.now()
	payloads, missing, stale, hits := c.classify(b, now, Fresh(ctx))
	out := make(map[Key]Value, len(uniq))
	for k, p := range payloads {
		out[k] = Value{Bytes: p}
	}
	if len(stale) > 0 {
		c.refreshInBackground(ctx, b, stale, encodedFetch(fetch, encode), storeOK)
	}
	if len(missing) > 0 {
		err = c.fetchSharedValues(ctx, b, missing, fetch, encode, storeOK, out)
	}
	c.finish(ctx, b, storeOK, now, func(k Key) bool { _, ok := out[k]; return ok }, missing, stale, hits)
	return out, err
}

// GetFresh answers key from the store alone: ok only when the key is there,
// valid and fresh, and ctx does not ask for fresh data (WithFresh), that is
// when GetOrFetchManyValues would neither fetch nor refresh it. It then
// returns the bytes GetOrFetchManyValues would and records the same in the
// request's Deps and the metrics. Otherwise it returns ok false having
// recorded nothing, and the caller asks GetOrFetchManyValues, which reads
// the store again. One key, so none of a batch's maps of results.
func (c *Cache) GetFresh(ctx context.Context, key Key) ([]byte, bool) {
	if c == nil || Fresh(ctx) || !c.storeAvailable() || key.validate() != nil {
		return nil, false
	}
	b := c.newBatch([]Key{key})
	if c.readStore(ctx, b) != nil {
		return nil, false
	}
	now := c.now()
	payload, storedAt, ok := b.valid(0)
	if !ok || now.Sub(storedAt) >= c.TTL(key.Kind) {
		return nil, false
	}
	c.finish(ctx, b, true, now, func(Key) bool { return true }, nil, nil, map[string]*[3]int{key.Kind: {1, 0, 0}})
	return payload, true
}

// encodedFetch adapts a ValueFetchFunc to a FetchFunc (for background
// refreshes, which write synchronously in their own goroutine).
func encodedFetch(fetch ValueFetchFunc, encode Encoder) FetchFunc {
	return func(ctx context.Context, missing []Key) (map[Key][]byte, error) {
		vals, err := fetch(ctx, missing)
		out := make(map[Key][]byte, len(vals))
		for k, v := range vals {
			if b, eerr := encode(v); eerr == nil {
				out[k] = b
			}
		}
		return out, err
	}
}

// fetchSharedValues is fetchShared for decoded values, with write-behind.
func (c *Cache) fetchSharedValues(ctx context.Context, b *batch, idx []int, fetch ValueFetchFunc, encode Encoder, storeOK bool, out map[Key]Value) error {
	led, ledFlights, waits, waitFlights, reread := c.join(b, idx)
	if reread {
		led, ledFlights = c.rereadReleased(ctx, b, led, ledFlights, func(i int, p []byte) { out[b.keys[i]] = Value{Bytes: p} })
	}
	var fs failures
	if len(led) > 0 {
		keys := pick(b.keys, led)
		vals, ferr := safeFetch(ctx, fetch, keys)
		ended := ctx.Err() != nil
		for j, i := range led {
			f := ledFlights[j]
			f.obj, f.ok = vals[b.keys[i]]
			f.enc = encode
			if !f.ok {
				f.fail(b.keys[i], ferr, ended)
			}
			close(f.done)
		}
		for _, k := range keys {
			if v, ok := vals[k]; ok {
				out[k] = Value{Value: v}
			}
		}
		recordFetch(&fs, keys, vals, ferr)
		if storeOK && len(vals) > 0 && c.mint(context.WithoutCancel(ctx), b, led, func(k Key) bool { _, ok := vals[k]; return ok }) {
			c.writeBehind(ctx, b, led, ledFlights, vals, encode)
		} else {
			c.release(b, led, ledFlights)
		}
	}
	retry, err := awaitFlights(ctx, b.keys, waits, waitFlights, &fs, func(i int, f *flight) bool {
		if f.obj != nil {
			out[b.keys[i]] = Value{Value: f.obj}
		} else {
			out[b.keys[i]] = Value{Bytes: f.val}
		}
		return true
	})
	if err != nil {
		return err
	}
	if len(retry) > 0 {
		keys := pick(b.keys, retry)
		vals, ferr := safeFetch(ctx, fetch, keys)
		for _, k := range keys {
			if v, ok := vals[k]; ok {
				out[k] = Value{Value: v}
			}
		}
		recordFetch(&fs, keys, vals, ferr)
	}
	return fs.err()
}

// writeBehindDelay bounds how long a write waits for its request to end.
const writeBehindDelay = 250 * time.Millisecond

// writeBehind encodes and stores fetched values in the background, then
// releases their flights. The write starts when the caller's request ends
// (its context is done: the answer has been sent, so the encoding does not
// compete with it for the CPU), or after writeBehindDelay for long-lived
// contexts (subscriptions). Once Close has begun it runs on the caller's
// goroutine.
func (c *Cache) writeBehind(reqCtx context.Context, b *batch, idx []int, fl []*flight, vals map[Key]any, encode Encoder) {
	ctx := context.WithoutCancel(reqCtx)
	run := func() {
		enc := make(map[Key][]byte, len(vals))
		for k, v := range vals {
			if bb, err := encode(v); err == nil {
				enc[k] = bb
			}
		}
		c.storeValues(ctx, b, idx, enc)
		c.release(b, idx, fl)
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.bg.Add(1)
	}
	c.mu.Unlock()
	if closed {
		run()
		return
	}
	go func() {
		defer c.bg.Done()
		defer safe.Recover(nil)
		if done := reqCtx.Done(); done != nil {
			t := time.NewTimer(writeBehindDelay)
			select {
			case <-done:
			case <-t.C:
			}
			t.Stop()
		}
		run()
	}()
}
