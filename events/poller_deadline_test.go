package events_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/events"
	"procoregraph/sandbox"
)

// renewCounter is a Store that counts compare-and-swaps of one key (the
// poller's lock renewals).
type renewCounter struct {
	cache.Store
	key string
	n   atomic.Int64
}

func (s *renewCounter) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	ok, err := s.Store.CompareAndSwap(ctx, key, old, value, ttl)
	if key == s.key && ok && err == nil {
		s.n.Add(1)
	}
	return ok, err
}

// pollInBackground runs p.PollOnce and returns its outcome on a channel.
func pollInBackground(ctx context.Context, p *events.Poller) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := p.PollOnce(ctx)
		errc <- err
	}()
	return errc
}

// outcome waits for a background poll, with a generous bound that guards
// against a hang (not a latency assertion).
func outcome(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the poll was still running a minute later")
		return nil
	}
}

// TestPollerDeadlines: the lock (in Redis) of the replica that polls a
// connection is renewed while a poll runs, released when a poll outlives its
// deadline, and expires when the replica stalls, so another replica's poller
// can take over in each case where it should.
func TestPollerDeadlines(t *testing.T) {
	ctx := context.Background()

	t.Run("StalledPollEndsAtItsDeadlineAndReleasesTheLock", func(t *testing.T) {
		w := newWorld(t)
		store, _, _ := cachetest.Redis(t, "poller-deadline")
		opts := events.PollerOptions{Store: store, Observer: w.differ, Interval: time.Hour, Lease: time.Minute,
			CycleTimeout: 500 * time.Millisecond}
		a, _ := events.NewPoller(w.conn, opts)
		b, _ := events.NewPoller(w.conn, opts)
		if _, err := a.PollOnce(ctx); err != nil || !a.Holding() {
			t.Fatalf("first poll: err %v, holding %v", err, a.Holding())
		}

		w.sb.SetFaults(sandbox.Faults{StallBody: true}) // Procore stops mid-answer
		err := outcome(t, pollInBackground(ctx, a))
		w.sb.SetFaults(sandbox.Faults{})
		if !errors.Is(err, events.ErrCycleTimeout) {
			t.Fatalf("stalled poll ended with %v, want ErrCycleTimeout", err)
		}
		if a.Holding() {
			t.Fatal("the stalled replica still holds the lock")
		}
		if _, held, err := store.Get(ctx, cache.AuxKey(w.conn.ID, "poller", "lock")); err != nil || held {
			t.Fatalf("the lock is still in Redis after the stalled poll (err %v)", err)
		}
		if _, err := b.PollOnce(ctx); err != nil || !b.Holding() {
			t.Fatalf("another replica could not take the released lock: err %v, holding %v", err, b.Holding())
		}
	})

	t.Run("LockIsRenewedWhileALongPollRuns", func(t *testing.T) {
		w := newWorld(t)
		redis, _, _ := cachetest.Redis(t, "poller-renew")
		key := cache.AuxKey(w.conn.ID, "poller", "lock")
		store := &renewCounter{Store: redis, key: key}
		const lease = 1500 * time.Millisecond
		a, _ := events.NewPoller(w.conn, events.PollerOptions{Store: store, Observer: w.differ, Interval: time.Hour,
			Lease: lease, CycleTimeout: time.Hour})
		b, _ := events.NewPoller(w.conn, events.PollerOptions{Store: redis, Observer: w.differ, Interval: time.Hour, Lease: lease})

		w.sb.SetFaults(sandbox.Faults{StallBody: true}) // the poll waits for Procore
		errc := pollInBackground(ctx, a)
		waitFor(t, func() bool { return w.sb.Stats().StalledBodies > 0 })
		// Four renewals, each a third of a lease after the last: more than a
		// lease has passed since a took the lock, so without them it would
		// have expired by now.
		waitFor(t, func() bool { return store.n.Load() >= 4 })
		if _, err := b.PollOnce(ctx); err != nil || b.Holding() {
			t.Fatalf("another replica took the lock of a running poll: err %v, holding %v", err, b.Holding())
		}
		w.sb.SetFaults(sandbox.Faults{}) // Procore answers again
		if err := outcome(t, errc); err != nil {
			t.Fatalf("the long poll failed: %v", err)
		}
		if !a.Holding() {
			t.Fatal("the poller lost its lock during a long poll")
		}
	})

	t.Run("PollWhoseLockWasTakenEndsAndLeavesItAlone", func(t *testing.T) {
		w := newWorld(t)
		store, _, _ := cachetest.Redis(t, "poller-lost")
		key := cache.AuxKey(w.conn.ID, "poller", "lock")
		a, _ := events.NewPoller(w.conn, events.PollerOptions{Store: store, Observer: w.differ, Interval: time.Hour,
			Lease: 600 * time.Millisecond, CycleTimeout: time.Hour})
		w.sb.SetFaults(sandbox.Faults{StallBody: true})
		errc := pollInBackground(ctx, a)
		waitFor(t, func() bool { return w.sb.Stats().StalledBodies > 0 })
		// The lock expired while a could not renew it, and another replica
		// took it.
		if err := store.Set(ctx, key, []byte("another-replica"), time.Minute); err != nil {
			t.Fatal(err)
		}
		err := outcome(t, errc)
		w.sb.SetFaults(sandbox.Faults{})
		if !errors.Is(err, events.ErrLockLost) || a.Holding() {
			t.Fatalf("poll ended with %v (holding %v), want ErrLockLost", err, a.Holding())
		}
		if it, ok, err := store.Get(ctx, key); err != nil || !ok || string(it.Value) != "another-replica" {
			t.Fatalf("the other replica's lock was touched: %q, present %v, err %v", it.Value, ok, err)
		}
	})

	t.Run("StalledReplicasLockExpiresForAnother", func(t *testing.T) {
		w := newWorld(t)
		store, _, _ := cachetest.Redis(t, "poller-expire")
		opts := events.PollerOptions{Store: store, Observer: w.differ, Interval: time.Hour, Lease: 500 * time.Millisecond}
		a, _ := events.NewPoller(w.conn, opts)
		b, _ := events.NewPoller(w.conn, opts)
		if _, err := a.PollOnce(ctx); err != nil || !a.Holding() {
			t.Fatalf("first poll: err %v, holding %v", err, a.Holding())
		}
		// a stalls: it neither polls nor renews again. Its lease runs out and b
		// takes over.
		waitFor(t, func() bool {
			_, err := b.PollOnce(ctx)
			return err == nil && b.Holding()
		})
	})
}
