package events_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"procoregraph/adapter"
	"procoregraph/cache/cachetest"
	"procoregraph/events"
)

// newRedisBus returns a bus on a key prefix of its own, deleted at cleanup.
func newRedisBus(t testing.TB, c redis.UniversalClient, prefix string, o events.RedisBusOptions) *events.RedisBus {
	t.Helper()
	o.Client = c
	o.Prefix = prefix
	if o.Block == 0 {
		o.Block = 200 * time.Millisecond
	}
	b, err := events.NewRedisBus(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func testPrefix(t testing.TB, c redis.UniversalClient) string {
	p := fmt.Sprintf("test:events:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, p+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

func rfiEvent(conn string, project, item int64, to string) events.Event {
	return events.Event{
		Conn: conn, ProjectID: project, Kind: events.KindBallInCourtChanged, ItemKind: events.ItemRFI, ItemID: item,
		Title: "Footing depth", NewBallInCourt: []adapter.Person{{ID: 5_000_000_001, Login: to + "@example.com", Name: to}},
		At: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Source: events.SourceWebhook,
	}
}

func receive(t testing.TB, s *events.Subscription) events.Event {
	t.Helper()
	select {
	case e, ok := <-s.C:
		if !ok {
			t.Fatalf("subscription ended early (err %v)", s.Err())
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return events.Event{}
}

func expectNothing(t testing.TB, s *events.Subscription, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-s.C:
		if ok {
			t.Fatalf("unexpected event %+v", e)
		}
	case <-time.After(d):
	}
}

func TestRedisBus(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()

	t.Run("EventPublishedOnOneReplicaReachesAnother", func(t *testing.T) {
		p := testPrefix(t, c)
		a := newRedisBus(t, c, p, events.RedisBusOptions{})
		b := newRedisBus(t, c, p, events.RedisBusOptions{})
		sub, err := b.Subscribe(ctx, events.Filter{Conn: "c1"}, "")
		if err != nil {
			t.Fatal(err)
		}
		want := rfiEvent("c1", 7_000_000_001, 9_000_000_001, "ann")
		id, err := a.Publish(ctx, want)
		if err != nil {
			t.Fatal(err)
		}
		got := receive(t, sub)
		if got.ID != id || got.ItemID != want.ItemID || got.ProjectID != want.ProjectID || !got.At.Equal(want.At) ||
			got.NewBallInCourt[0] != want.NewBallInCourt[0] || got.Source != want.Source || got.Title != want.Title {
			t.Fatalf("got %+v, want %+v with id %s", got, want, id)
		}
	})

	t.Run("SubmittalStatusObjectsSurviveTheStream", func(t *testing.T) {
		p := testPrefix(t, c)
		a := newRedisBus(t, c, p, events.RedisBusOptions{})
		b := newRedisBus(t, c, p, events.RedisBusOptions{})
		sub, err := b.Subscribe(ctx, events.Filter{Conn: "c1"}, "")
		if err != nil {
			t.Fatal(err)
		}
		prev := &adapter.SubmittalStatus{ID: 4_300_000_000_001, Name: "Open", Status: "Open"}
		next := &adapter.SubmittalStatus{ID: 4_300_000_000_002, Name: "Revise and Resubmit", Status: "Open"}
		want := events.Event{Conn: "c1", ProjectID: 1, Kind: events.KindStatusChanged, ItemKind: events.ItemSubmittal, ItemID: 2,
			PreviousStatus: "OPEN", NewStatus: "REVISE_AND_RESUBMIT", PreviousSubmittalStatus: prev, NewSubmittalStatus: next,
			At: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Source: events.SourcePoller}
		if _, err := a.Publish(ctx, want); err != nil {
			t.Fatal(err)
		}
		got := receive(t, sub)
		if got.PreviousSubmittalStatus == nil || *got.PreviousSubmittalStatus != *prev || got.NewSubmittalStatus == nil || *got.NewSubmittalStatus != *next {
			t.Fatalf("status objects %+v → %+v, want %+v → %+v", got.PreviousSubmittalStatus, got.NewSubmittalStatus, prev, next)
		}
		// Other kinds carry none.
		if _, err := a.Publish(ctx, rfiEvent("c1", 1, 3, "x")); err != nil {
			t.Fatal(err)
		}
		if got := receive(t, sub); got.PreviousSubmittalStatus != nil || got.NewSubmittalStatus != nil {
			t.Fatalf("an RFI event carries submittal statuses %+v %+v", got.PreviousSubmittalStatus, got.NewSubmittalStatus)
		}
	})

	t.Run("ResumesAfterCursorWithoutGapOrDuplicate", func(t *testing.T) {
		p := testPrefix(t, c)
		a := newRedisBus(t, c, p, events.RedisBusOptions{})
		var ids []string
		for i := range 5 {
			id, err := a.Publish(ctx, rfiEvent("c1", 1, int64(100+i), "x"))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		b := newRedisBus(t, c, p, events.RedisBusOptions{})
		sub, err := b.Subscribe(ctx, events.Filter{Conn: "c1"}, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		for i := 2; i < 5; i++ {
			if e := receive(t, sub); e.ID != ids[i] || e.ItemID != int64(100+i) {
				t.Fatalf("replay %d: got %s item %d, want %s", i, e.ID, e.ItemID, ids[i])
			}
		}
		id, err := a.Publish(ctx, rfiEvent("c1", 1, 200, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if e := receive(t, sub); e.ID != id {
			t.Fatalf("live: got %s, want %s", e.ID, id)
		}
		expectNothing(t, sub, 300*time.Millisecond)
	})

	t.Run("TrimmedCursorReplaysWhatRetentionHolds", func(t *testing.T) {
		p := testPrefix(t, c)
		a := newRedisBus(t, c, p, events.RedisBusOptions{})
		var ids []string
		for i := range 6 {
			id, _ := a.Publish(ctx, rfiEvent("c1", 1, int64(i), "x"))
			ids = append(ids, id)
		}
		if err := c.XTrimMaxLen(ctx, a.StreamKey("c1"), 2).Err(); err != nil {
			t.Fatal(err)
		}
		sub, err := a.Subscribe(ctx, events.Filter{Conn: "c1"}, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if e := receive(t, sub); e.ID != ids[4] {
			t.Fatalf("first replayed %s, want the oldest retained %s", e.ID, ids[4])
		}
		if e := receive(t, sub); e.ID != ids[5] {
			t.Fatalf("second replayed %s, want %s", e.ID, ids[5])
		}
	})

	t.Run("SubscriberSeesOnlyItsConnectionAndFilter", func(t *testing.T) {
		p := testPrefix(t, c)
		a := newRedisBus(t, c, p, events.RedisBusOptions{})
		sub, err := a.Subscribe(ctx, events.Filter{Conn: "c1", ProjectID: 2, ItemKinds: []events.ItemKind{events.ItemRFI}}, "")
		if err != nil {
			t.Fatal(err)
		}
		a.Publish(ctx, rfiEvent("c2", 2, 1, "other-tenant"))
		a.Publish(ctx, rfiEvent("c1", 3, 1, "other-project"))
		sm := rfiEvent("c1", 2, 1, "submittal")
		sm.ItemKind = events.ItemSubmittal
		a.Publish(ctx, sm)
		id, _ := a.Publish(ctx, rfiEvent("c1", 2, 1, "match"))
		if e := receive(t, sub); e.ID != id {
			t.Fatalf("got %+v, want only the matching event %s", e, id)
		}
	})

	t.Run("SlowSubscriberIsDroppedOthersKeepUp", func(t *testing.T) {
		p := testPrefix(t, c)
		a := newRedisBus(t, c, p, events.RedisBusOptions{Buffer: 2})
		slow, _ := a.Subscribe(ctx, events.Filter{Conn: "c1"}, "")
		fast, _ := a.Subscribe(ctx, events.Filter{Conn: "c1"}, "")
		done := make(chan int)
		go func() {
			n := 0
			for range fast.C {
				n++
				if n == 6 {
					break
				}
			}
			done <- n
		}()
		for i := range 6 {
			if _, err := a.Publish(ctx, rfiEvent("c1", 1, int64(i), "x")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // let the fast reader keep its buffer short
		}
		select {
		case n := <-done:
			if n != 6 {
				t.Fatalf("fast subscriber got %d events", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("fast subscriber was blocked by the slow one")
		}
		deadline := time.After(5 * time.Second)
		for n := 0; ; n++ {
			select {
			case _, ok := <-slow.C:
				if !ok {
					if !errors.Is(slow.Err(), events.ErrSlowSubscriber) {
						t.Fatalf("slow subscriber ended with %v, want ErrSlowSubscriber", slow.Err())
					}
					if n > 3 { // the 2 queued plus the one its goroutine held
						t.Fatalf("slow subscriber drained %d events from a buffer of 2", n)
					}
					return
				}
			case <-deadline:
				t.Fatal("slow subscriber was not dropped")
			}
		}
	})

	t.Run("MalformedCursorIsBadUserInput", func(t *testing.T) {
		a := newRedisBus(t, c, testPrefix(t, c), events.RedisBusOptions{})
		_, err := a.Subscribe(ctx, events.Filter{Conn: "c1"}, "not-a-cursor")
		if adapter.ErrorCode(err) != adapter.CodeBadUserInput || !errors.Is(err, events.ErrBadCursor) {
			t.Fatalf("got %v, want BAD_USER_INPUT wrapping ErrBadCursor", err)
		}
	})

	t.Run("CancelAndCloseLeaveNoGoroutine", func(t *testing.T) {
		base := runtime.NumGoroutine()
		a := newRedisBus(t, c, testPrefix(t, c), events.RedisBusOptions{})
		sctx, cancel := context.WithCancel(ctx)
		var subs []*events.Subscription
		for i := range 50 {
			after := ""
			if i%2 == 1 {
				after = "0-0"
			}
			s, err := a.Subscribe(sctx, events.Filter{Conn: "c" + strconv.Itoa(i%3)}, after)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}
		cancel()
		for _, s := range subs {
			for range s.C {
			}
			if s.Err() != nil {
				t.Fatalf("cancelled subscription ended with %v", s.Err())
			}
		}
		_ = a.Close()
		waitGoroutines(t, base)
	})
}

// cancelOnCommand is a go-redis hook that cancels a context just before the
// first command named cmd is sent, so a test can cancel "during" that command
// without racing it.
type cancelOnCommand struct {
	cmd    string
	cancel context.CancelFunc
	fired  atomic.Bool
}

func (h *cancelOnCommand) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *cancelOnCommand) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *cancelOnCommand) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == h.cmd && h.fired.CompareAndSwap(false, true) {
			h.cancel()
		}
		return next(ctx, cmd)
	}
}

// TestRedisBusCancelDuringReplay subscribes with a replay cursor and cancels
// while the replay's XRANGE is in flight: the subscriber must leave its hub
// (Subscribers back to 0), its channel must close with Err nil, and the
// hub's reader and the feed goroutine must end (Readers back to 0,
// goroutines back to baseline) without closing the bus.
func TestRedisBusCancelDuringReplay(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	p := testPrefix(t, c)
	pub := newRedisBus(t, c, p, events.RedisBusOptions{})
	first, err := pub.Publish(ctx, rfiEvent("c1", 1, 1, "x"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := pub.Publish(ctx, rfiEvent("c1", 1, int64(2+i), "x")); err != nil {
			t.Fatal(err)
		}
	}

	hooked := redisClient(t) // a client of its own, so the hook sees only this bus
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hook := &cancelOnCommand{cmd: "xrange", cancel: cancel}
	hooked.AddHook(hook)
	base := runtime.NumGoroutine()
	b := newRedisBus(t, hooked, p, events.RedisBusOptions{Block: 50 * time.Millisecond})

	sub, err := b.Subscribe(sctx, events.Filter{Conn: "c1"}, first)
	if err != nil {
		t.Fatal(err)
	}
	for e := range sub.C {
		t.Fatalf("got %+v from a subscription cancelled before its replay read anything", e)
	}
	if !hook.fired.Load() {
		t.Fatal("the replay sent no XRANGE: the test did not cancel during the replay")
	}
	if err := sub.Err(); err != nil {
		t.Fatalf("cancelled subscription ended with %v, want nil", err)
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left after the only one was cancelled during its replay", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Readers() != 0 { // the hub's reader stops once its hub is empty
		if time.Now().After(deadline) {
			t.Fatalf("%d hub readers still running with no subscriber", b.Readers())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitGoroutines(t, base)
}

// waitGoroutines waits until the goroutine count is back to base.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func redisClient(t testing.TB) redis.UniversalClient { return cachetest.Client(t) }
