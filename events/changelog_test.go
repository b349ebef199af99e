package events_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"procoregraph/events"
)

// changeLogs are the buses the changes feed reads, each with a way to drop
// its oldest events as retention does.
func changeLogs(t *testing.T) map[string]func(t *testing.T) (events.Bus, events.ChangeLog, func()) {
	return map[string]func(t *testing.T) (events.Bus, events.ChangeLog, func()){
		"Memory": func(t *testing.T) (events.Bus, events.ChangeLog, func()) {
			now := time.Now()
			b := events.NewMemoryBus(events.MemoryOptions{Retention: time.Minute, Now: func() time.Time { return now }})
			t.Cleanup(func() { _ = b.Close() })
			return b, b, func() { now = now.Add(2 * time.Minute) }
		},
		"Redis": func(t *testing.T) (events.Bus, events.ChangeLog, func()) {
			c := redisClient(t)
			now := time.Now()
			b := newRedisBus(t, c, testPrefix(t, c), events.RedisBusOptions{Retention: time.Hour,
				Now: func() time.Time { return now }})
			return b, b, func() {
				// What MINID trimming does once the retention has passed.
				now = now.Add(2 * time.Hour)
				if err := c.XTrimMaxLen(context.Background(), b.StreamKey("c1"), 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

func TestChangeLogReadPage(t *testing.T) {
	ctx := context.Background()
	for name, open := range changeLogs(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("PagesResumeFromEndWithoutGapOrRepeat", func(t *testing.T) {
				bus, log, _ := open(t)
				start, err := log.ReadPage(ctx, events.Filter{Conn: "c1"}, "", 10, 100)
				if err != nil || start.End == "" || len(start.Events) != 0 || start.More {
					t.Fatalf("watermark %+v %v", start, err)
				}
				var want []int64
				for i := range int64(7) {
					project := int64(1 + i%2) // projects 1 and 2 alternate
					if _, err := bus.Publish(ctx, rfiEvent("c1", project, 100+i, "a")); err != nil {
						t.Fatal(err)
					}
					if _, err := bus.Publish(ctx, rfiEvent("c2", project, 900+i, "a")); err != nil {
						t.Fatal(err)
					}
					if project == 1 {
						want = append(want, 100+i)
					}
				}
				var got []int64
				cursor := start.End
				for pages := 0; ; pages++ {
					if pages > 10 {
						t.Fatal("never ended")
					}
					p, err := log.ReadPage(ctx, events.Filter{Conn: "c1", ProjectIDs: []int64{1}}, cursor, 2, 100)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range p.Events {
						if e.Conn != "c1" || e.ProjectID != 1 || e.ID == "" {
							t.Fatalf("event %+v outside the filter", e)
						}
						got = append(got, e.ItemID)
					}
					if p.End == "" {
						t.Fatal("page without End")
					}
					cursor = p.End
					if !p.More {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("items %v, want %v", got, want)
				}
				// The end of an exhausted log reads nothing, then what follows.
				p, err := log.ReadPage(ctx, events.Filter{Conn: "c1"}, cursor, 10, 100)
				if err != nil || len(p.Events) != 0 || p.More || p.End == "" {
					t.Fatalf("past the end: %+v %v", p, err)
				}
				if _, err := bus.Publish(ctx, rfiEvent("c1", 1, 555, "a")); err != nil {
					t.Fatal(err)
				}
				p, err = log.ReadPage(ctx, events.Filter{Conn: "c1"}, p.End, 10, 100)
				if err != nil || len(p.Events) != 1 || p.Events[0].ItemID != 555 {
					t.Fatalf("after a new event: %+v %v", p, err)
				}
			})
			t.Run("ScanBoundsAPageOfANarrowFilter", func(t *testing.T) {
				bus, log, _ := open(t)
				start, _ := log.ReadPage(ctx, events.Filter{Conn: "c1"}, "", 10, 100)
				for i := range int64(5) {
					if _, err := bus.Publish(ctx, rfiEvent("c1", 2, 100+i, "a")); err != nil {
						t.Fatal(err)
					}
				}
				p, err := log.ReadPage(ctx, events.Filter{Conn: "c1", ProjectIDs: []int64{1}}, start.End, 10, 3)
				if err != nil || len(p.Events) != 0 || !p.More {
					t.Fatalf("page %+v %v, want empty with more after 3 scanned", p, err)
				}
				p, err = log.ReadPage(ctx, events.Filter{Conn: "c1", ProjectIDs: []int64{1}}, p.End, 10, 3)
				if err != nil || len(p.Events) != 0 || p.More {
					t.Fatalf("second page %+v %v, want empty and done", p, err)
				}
			})
			t.Run("CursorBeforeDroppedEventsIsExpired", func(t *testing.T) {
				bus, log, drop := open(t)
				start, _ := log.ReadPage(ctx, events.Filter{Conn: "c1"}, "", 10, 100)
				if _, err := bus.Publish(ctx, rfiEvent("c1", 1, 1, "a")); err != nil {
					t.Fatal(err)
				}
				drop()
				if _, err := bus.Publish(ctx, rfiEvent("c1", 1, 2, "a")); err != nil {
					t.Fatal(err)
				}
				if _, err := log.ReadPage(ctx, events.Filter{Conn: "c1"}, start.End, 10, 100); !errors.Is(err, events.ErrCursorExpired) {
					t.Fatalf("err %v, want ErrCursorExpired", err)
				}
			})
			t.Run("MalformedCursorIsBad", func(t *testing.T) {
				_, log, _ := open(t)
				if _, err := log.ReadPage(ctx, events.Filter{Conn: "c1"}, "nope", 10, 100); !errors.Is(err, events.ErrBadCursor) {
					t.Fatalf("err %v, want ErrBadCursor", err)
				}
			})
		})
	}
}

// TestRedisChangeLogOfAQuietConnection: a connection without events has no
// stream; a client that reads at least once per retention minus 5 minutes
// keeps a valid cursor (each End moves on with the clock, at most 5 minutes
// behind it), one that stays away longer than the retention is told to
// sync fully.
func TestRedisChangeLogOfAQuietConnection(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	now := time.Now()
	b := newRedisBus(t, c, testPrefix(t, c), events.RedisBusOptions{Retention: time.Hour,
		Now: func() time.Time { return now }})
	f := events.Filter{Conn: "quiet"}
	p, err := b.ReadPage(ctx, f, "", 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []time.Duration{30 * time.Minute, 50 * time.Minute, 54 * time.Minute} {
		now = now.Add(step)
		next, err := b.ReadPage(ctx, f, p.End, 10, 100)
		if err != nil || len(next.Events) != 0 || next.End == p.End {
			t.Fatalf("after %v: %+v %v, want an empty page with a newer End", step, next, err)
		}
		p = next
	}
	now = now.Add(2 * time.Hour)
	if _, err := b.ReadPage(ctx, f, p.End, 10, 100); !errors.Is(err, events.ErrCursorExpired) {
		t.Fatalf("after 2h away: %v, want ErrCursorExpired", err)
	}
}
