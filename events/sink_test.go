package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"procoregraph/events"
)

// sinkRecorder is a Sink with a bounded buffer, as the resolvers' is.
type sinkRecorder struct {
	mu    sync.Mutex
	limit int
	got   []int64 // item ids, in delivery order
	ended chan error
}

func newSinkRecorder(limit int) *sinkRecorder {
	return &sinkRecorder{limit: limit, ended: make(chan error, 2)}
}

// wantEnded waits for r's End and fails unless its error is want (nil: no
// error) and, once it ended, count reports no subscriber left.
func wantEnded(t *testing.T, r *sinkRecorder, want error, after string, count func() int) {
	t.Helper()
	if err := r.waitEnd(t); !errors.Is(err, want) {
		t.Fatalf("End after %s: %v, want %v", after, err, want)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d subscribers after %s", n, after)
	}
}

// recordSink subscribes a recorder that keeps at most limit events to b (a
// SinkSubscriber) with f.
func recordSink(t *testing.T, ctx context.Context, b events.Bus, f events.Filter, limit int) *sinkRecorder {
	t.Helper()
	r := newSinkRecorder(limit)
	if err := b.(events.SinkSubscriber).SubscribeSink(ctx, f, r.sink()); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *sinkRecorder) sink() events.Sink {
	return events.Sink{
		Deliver: func(e events.Event) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.got) >= r.limit {
				return false
			}
			r.got = append(r.got, e.ItemID)
			return true
		},
		End: func(err error) { r.ended <- err },
	}
}

func (r *sinkRecorder) items() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.got...)
}

func (r *sinkRecorder) waitItems(t *testing.T, n int) []int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := r.items(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink got %v, want %d events", r.items(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *sinkRecorder) waitEnd(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.ended:
		select {
		case again := <-r.ended:
			t.Fatalf("End called twice (%v, then %v)", err, again)
		default:
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the sink's subscription did not end")
		return nil
	}
}

// TestSinkSubscriber checks SubscribeSink on both buses: every matching
// event once, in order; a sink that refuses an event ends with
// ErrSlowSubscriber; a cancelled context and a closed bus end it with nil,
// once; the subscriber count returns to zero.
func TestSinkSubscriber(t *testing.T) {
	buses := map[string]func(t *testing.T) events.Bus{
		"MemoryBus": func(t *testing.T) events.Bus {
			b := events.NewMemoryBus(events.MemoryOptions{})
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
		"RedisBus": func(t *testing.T) events.Bus {
			c := redisClient(t)
			return newRedisBus(t, c, testPrefix(t, c), events.RedisBusOptions{})
		},
	}
	subscribers := func(b events.Bus) int {
		switch b := b.(type) {
		case *events.MemoryBus:
			return b.Subscribers()
		case *events.RedisBus:
			return b.Subscribers()
		}
		return -1
	}
	for name, newBus := range buses {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t.Run("EveryMatchingEventOnceInOrder", func(t *testing.T) {
				b := newBus(t)
				subCtx, cancel := context.WithCancel(ctx)
				r := recordSink(t, subCtx, b, events.Filter{Conn: "a", ProjectID: 1}, 1000)
				for i := int64(1); i <= 20; i++ {
					if _, err := b.Publish(ctx, rfiEvent("a", 1, i, "x")); err != nil {
						t.Fatal(err)
					}
					// Other connections' and projects' events never reach it.
					if _, err := b.Publish(ctx, rfiEvent("b", 1, 100+i, "x")); err != nil {
						t.Fatal(err)
					}
					if _, err := b.Publish(ctx, rfiEvent("a", 2, 200+i, "x")); err != nil {
						t.Fatal(err)
					}
				}
				got := r.waitItems(t, 20)
				if _, err := b.Publish(ctx, rfiEvent("a", 1, 21, "x")); err != nil {
					t.Fatal(err)
				}
				got = r.waitItems(t, 21)
				for i, id := range got {
					if id != int64(i+1) {
						t.Fatalf("the sink got %v, want 1..21 in order, once each", got)
					}
				}
				cancel()
				wantEnded(t, r, nil, "cancel", func() int { return subscribers(b) })
			})
			t.Run("RefusedEventDropsTheSubscriber", func(t *testing.T) {
				b := newBus(t)
				r := recordSink(t, ctx, b, events.Filter{Conn: "a"}, 3)
				for i := int64(1); i <= 6; i++ {
					if _, err := b.Publish(ctx, rfiEvent("a", 1, i, "x")); err != nil {
						t.Fatal(err)
					}
				}
				wantEnded(t, r, events.ErrSlowSubscriber, "the drop", func() int { return subscribers(b) })
				if got := r.items(); len(got) != 3 || got[0] != 1 || got[2] != 3 {
					t.Fatalf("the sink got %v, want 1, 2, 3", got)
				}
			})
			t.Run("CloseEndsIt", func(t *testing.T) {
				b := newBus(t)
				r := recordSink(t, ctx, b, events.Filter{Conn: "a"}, 10)
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				if err := r.waitEnd(t); err != nil {
					t.Fatalf("End after Close: %v, want nil", err)
				}
				if err := b.(events.SinkSubscriber).SubscribeSink(ctx, events.Filter{Conn: "a"}, r.sink()); !errors.Is(err, events.ErrClosed) {
					t.Fatalf("SubscribeSink after Close: %v, want ErrClosed", err)
				}
			})
		})
	}
}
