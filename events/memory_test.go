package events

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"procoregraph/cache/cachetest"
)

// newFakeClock is a settable clock for retention tests.
func newFakeClock() *cachetest.Clock {
	return cachetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func ev(conn string, project, item int64, kind Kind) Event {
	return Event{Conn: conn, ProjectID: project, ItemKind: ItemRFI, ItemID: item, Kind: kind, NewStatus: "OPEN"}
}

func publish(t *testing.T, b Bus, e Event) string {
	t.Helper()
	id, err := b.Publish(context.Background(), e)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return id
}

func subscribe(t *testing.T, b Bus, f Filter, after string) (*Subscription, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := b.Subscribe(ctx, f, after)
	if err != nil {
		cancel()
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(cancel)
	return sub, cancel
}

// next receives one event or fails after a second.
func next(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case e, ok := <-s.C:
		if !ok {
			t.Fatalf("subscription closed early (err %v)", s.Err())
		}
		return e
	case <-time.After(time.Second):
		t.Fatal("no event within 1s")
	}
	return Event{}
}

// none asserts that nothing arrives for a short while.
func none(t *testing.T, s *Subscription) {
	t.Helper()
	select {
	case e, ok := <-s.C:
		if ok {
			t.Fatalf("unexpected event %+v", e)
		}
	case <-time.After(30 * time.Millisecond):
	}
}

// closed waits for the subscription's channel to close and returns Err.
func closed(t *testing.T, s *Subscription) error {
	t.Helper()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-s.C:
			if !ok {
				return s.Err()
			}
		case <-deadline:
			t.Fatal("subscription did not close within 2s")
		}
	}
}

func TestMemoryBus(t *testing.T) {
	t.Run("DeliversOnlyMatchingEventsInOrder", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		sub, _ := subscribe(t, b, Filter{Conn: "a", ProjectID: 7, Kinds: []Kind{KindStatusChanged}}, "")
		publish(t, b, ev("b", 7, 1, KindStatusChanged))      // other connection
		publish(t, b, ev("a", 8, 2, KindStatusChanged))      // other project
		publish(t, b, ev("a", 7, 3, KindBallInCourtChanged)) // other kind
		id4 := publish(t, b, ev("a", 7, 4, KindStatusChanged))
		id5 := publish(t, b, ev("a", 7, 5, KindStatusChanged))
		if got := next(t, sub); got.ItemID != 4 || got.ID != id4 {
			t.Fatalf("first event = item %d id %q, want item 4 id %q", got.ItemID, got.ID, id4)
		}
		if got := next(t, sub); got.ItemID != 5 || got.ID != id5 {
			t.Fatalf("second event = item %d id %q, want item 5 id %q", got.ItemID, got.ID, id5)
		}
		none(t, sub)
	})

	t.Run("EmptyCursorDeliversOnlyNewEvents", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		publish(t, b, ev("a", 1, 1, KindCreated))
		sub, _ := subscribe(t, b, Filter{Conn: "a"}, "")
		none(t, sub)
		publish(t, b, ev("a", 1, 2, KindCreated))
		if got := next(t, sub); got.ItemID != 2 {
			t.Fatalf("got item %d, want 2", got.ItemID)
		}
	})

	t.Run("ReplaysAfterCursorThenLive", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		var ids []string
		for i := int64(1); i <= 5; i++ {
			ids = append(ids, publish(t, b, ev("a", 1, i, KindCreated)))
		}
		sub, _ := subscribe(t, b, Filter{Conn: "a"}, ids[1])
		for want := int64(3); want <= 5; want++ {
			if got := next(t, sub); got.ItemID != want || got.ID != ids[want-1] {
				t.Fatalf("replayed item %d (%s), want %d (%s)", got.ItemID, got.ID, want, ids[want-1])
			}
		}
		publish(t, b, ev("a", 1, 6, KindCreated))
		if got := next(t, sub); got.ItemID != 6 {
			t.Fatalf("live item %d, want 6", got.ItemID)
		}
		none(t, sub)
	})

	t.Run("ExpiredCursorReplaysWhatIsRetained", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{MaxRetained: 3})
		defer b.Close()
		first := publish(t, b, ev("a", 1, 1, KindCreated))
		for i := int64(2); i <= 5; i++ {
			publish(t, b, ev("a", 1, i, KindCreated))
		}
		sub, _ := subscribe(t, b, Filter{Conn: "a"}, first)
		for want := int64(3); want <= 5; want++ {
			if got := next(t, sub); got.ItemID != want {
				t.Fatalf("replayed item %d, want %d", got.ItemID, want)
			}
		}
		none(t, sub)
	})

	t.Run("RetentionWindowForgetsOldEvents", func(t *testing.T) {
		clock := newFakeClock()
		b := NewMemoryBus(MemoryOptions{Retention: time.Minute, Now: clock.Now})
		defer b.Close()
		first := publish(t, b, ev("a", 1, 1, KindCreated))
		publish(t, b, ev("a", 1, 2, KindCreated))
		clock.Advance(2 * time.Minute)
		publish(t, b, ev("a", 1, 3, KindCreated))
		sub, _ := subscribe(t, b, Filter{Conn: "a"}, first)
		if got := next(t, sub); got.ItemID != 3 {
			t.Fatalf("replayed item %d, want only 3 (1 and 2 are past retention)", got.ItemID)
		}
		none(t, sub)
	})

	t.Run("CursorOfAnotherInstanceReplaysEverythingRetained", func(t *testing.T) {
		clock := newFakeClock()
		other := NewMemoryBus(MemoryOptions{Now: clock.Now})
		defer other.Close()
		foreign := publish(t, other, ev("a", 1, 99, KindCreated))
		clock.Advance(time.Second)
		b := NewMemoryBus(MemoryOptions{Now: clock.Now})
		defer b.Close()
		publish(t, b, ev("a", 1, 1, KindCreated))
		publish(t, b, ev("a", 1, 2, KindCreated))
		sub, _ := subscribe(t, b, Filter{Conn: "a"}, foreign)
		if a, c := next(t, sub), next(t, sub); a.ItemID != 1 || c.ItemID != 2 {
			t.Fatalf("replayed items %d, %d; want 1, 2", a.ItemID, c.ItemID)
		}
	})

	t.Run("RefusesMalformedCursor", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		for _, c := range []string{"nope", "-1", "abc-x"} {
			if _, err := b.Subscribe(context.Background(), Filter{Conn: "a"}, c); !errors.Is(err, ErrBadCursor) {
				t.Errorf("cursor %q: err = %v, want ErrBadCursor", c, err)
			}
		}
	})

	t.Run("RefusesSubscriptionWithoutConnection", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		if _, err := b.Subscribe(context.Background(), Filter{}, ""); err == nil {
			t.Fatal("Subscribe without a connection succeeded")
		}
	})

	t.Run("DropsSlowSubscriberWithoutBlockingOthers", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{Buffer: 4})
		defer b.Close()
		slow, _ := subscribe(t, b, Filter{Conn: "a"}, "")
		fast, _ := subscribe(t, b, Filter{Conn: "a"}, "")
		// The fast subscriber reads each event before the next is published;
		// the slow one never reads. Publish must never block on it.
		for i := int64(1); i <= 100; i++ {
			publish(t, b, ev("a", 1, i, KindCreated))
			if got := next(t, fast); got.ItemID != i {
				t.Fatalf("fast subscriber got item %d, want %d", got.ItemID, i)
			}
		}
		if err := closed(t, slow); !errors.Is(err, ErrSlowSubscriber) {
			t.Fatalf("slow subscriber ended with %v, want ErrSlowSubscriber", err)
		}
		if n := b.Subscribers(); n != 1 {
			t.Fatalf("%d subscribers left, want 1 (the fast one)", n)
		}
	})

	t.Run("DroppedLiveSubscriberReadsItsBufferInOrder", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{Buffer: 4})
		defer b.Close()
		slow, _ := subscribe(t, b, Filter{Conn: "a"}, "")
		for i := int64(1); i <= 10; i++ {
			publish(t, b, ev("a", 1, i, KindCreated))
		}
		// Dropped at the 5th event: it still reads the 4 it holds, in
		// order, exactly once, and then its channel closes.
		for i := int64(1); i <= 4; i++ {
			if got := next(t, slow); got.ItemID != i {
				t.Fatalf("dropped subscriber got item %d, want %d", got.ItemID, i)
			}
		}
		if err := closed(t, slow); !errors.Is(err, ErrSlowSubscriber) {
			t.Fatalf("slow subscriber ended with %v, want ErrSlowSubscriber", err)
		}
	})

	t.Run("LiveSubscriptionsRunNoGoroutine", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		base := runtime.NumGoroutine()
		const n = 1000
		subs := make([]*Subscription, n)
		cancels := make([]context.CancelFunc, n)
		for i := range subs {
			subs[i], cancels[i] = subscribe(t, b, Filter{Conn: "a"}, "")
		}
		if g := runtime.NumGoroutine() - base; g >= n/10 {
			t.Fatalf("%d subscriptions without replay run %d goroutines", n, g)
		}
		publish(t, b, ev("a", 1, 7, KindCreated))
		for _, s := range subs {
			if got := next(t, s); got.ItemID != 7 {
				t.Fatalf("got item %d, want 7", got.ItemID)
			}
		}
		for i, s := range subs {
			cancels[i]()
			if err := closed(t, s); err != nil {
				t.Fatalf("Err after cancel = %v, want nil", err)
			}
		}
		if n := b.Subscribers(); n != 0 {
			t.Fatalf("%d subscribers left after every cancel", n)
		}
	})

	t.Run("CancelEndsSubscriptionWithoutError", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		defer b.Close()
		sub, cancel := subscribe(t, b, Filter{Conn: "a"}, "")
		cancel()
		if err := closed(t, sub); err != nil {
			t.Fatalf("Err after cancel = %v, want nil", err)
		}
		waitFor(t, func() bool { return b.Subscribers() == 0 })
	})

	t.Run("CloseEndsSubscriptionsAndRefusesPublish", func(t *testing.T) {
		b := NewMemoryBus(MemoryOptions{})
		sub, _ := subscribe(t, b, Filter{Conn: "a"}, "")
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := closed(t, sub); err != nil {
			t.Fatalf("Err after Close = %v, want nil", err)
		}
		if _, err := b.Publish(context.Background(), ev("a", 1, 1, KindCreated)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Publish after Close: %v, want ErrClosed", err)
		}
		if _, err := b.Subscribe(context.Background(), Filter{Conn: "a"}, ""); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
		}
	})

	t.Run("LeaksNoGoroutinesAfterThousandSubscriptions", func(t *testing.T) {
		before := runtime.NumGoroutine()
		b := NewMemoryBus(MemoryOptions{Buffer: 8})
		var cancels []context.CancelFunc
		var subs []*Subscription
		for i := range 1000 {
			ctx, cancel := context.WithCancel(context.Background())
			sub, err := b.Subscribe(ctx, Filter{Conn: "a", ItemID: int64(i%10 + 1)}, "")
			if err != nil {
				t.Fatal(err)
			}
			cancels, subs = append(cancels, cancel), append(subs, sub)
		}
		// Every subscriber gets one event (ItemID filter), then they all go.
		for i := int64(1); i <= 10; i++ {
			publish(t, b, ev("a", 1, i, KindCreated))
		}
		var wg sync.WaitGroup
		for i, sub := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if e := <-sub.C; e.ItemID != int64(i%10+1) {
					t.Errorf("subscriber %d got item %d", i, e.ItemID)
				}
			}()
		}
		wg.Wait()
		for i, c := range cancels {
			if i%2 == 0 {
				c()
			}
		}
		_ = b.Close() // the other half ends by Close
		for _, c := range cancels {
			c()
		}
		waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
	})
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("condition not met within 5s (goroutines: %d)", runtime.NumGoroutine()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
