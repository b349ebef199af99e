package events

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rfiSnap(conn, status string, at time.Time, court ...int64) Snapshot {
	s := Snapshot{Conn: conn, ProjectID: 10, ItemKind: ItemRFI, ItemID: 42, Title: "Beam size", Status: status, UpdatedAt: at}
	for _, id := range court {
		s.BallInCourt = append(s.BallInCourt, adapter.Person{ID: id, Name: "P" + string(rune('A'+id%26))})
	}
	return s
}

// collect subscribes to conn's events and returns a function that returns
// everything received so far (after a short settle).
func collect(t *testing.T, b Bus, conn string) func() []Event {
	t.Helper()
	sub, _ := subscribe(t, b, Filter{Conn: conn}, "")
	var mu sync.Mutex
	var got []Event
	go func() {
		for e := range sub.C {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}
	}()
	return func() []Event {
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return append([]Event(nil), got...)
	}
}

func observe(t *testing.T, d Observer, s Snapshot) []Event {
	t.Helper()
	evs, err := d.Observe(context.Background(), s, SourceMutation)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return evs
}

func TestDiffer(t *testing.T) {
	stores := map[string]func(*testing.T) cache.Store{"Memory": memoryStore, "Redis": redisStore}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Run("StatusChangeObservedTwicePublishesOnce", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				got := collect(t, bus, "c1")
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				if evs := observe(t, d, rfiSnap("c1", "OPEN", t0, 1)); len(evs) != 0 {
					t.Fatalf("baseline published %+v", evs)
				}
				closedSnap := rfiSnap("c1", "CLOSED", t0.Add(time.Minute), 1)
				evs := observe(t, d, closedSnap)
				if len(evs) != 1 || evs[0].Kind != KindStatusChanged || evs[0].PreviousStatus != "OPEN" || evs[0].NewStatus != "CLOSED" {
					t.Fatalf("first report of the change = %+v, want one OPEN→CLOSED", evs)
				}
				if again := observe(t, d, closedSnap); len(again) != 0 {
					t.Fatalf("second report of the same change published %+v", again)
				}
				all := got()
				if len(all) != 1 || all[0].ID == "" || all[0].ID != evs[0].ID || all[0].Source != SourceMutation || !all[0].At.Equal(t0.Add(time.Minute)) {
					t.Fatalf("bus carried %+v, want exactly the one returned event", all)
				}
			})

			t.Run("SubmittalStatusChangeCarriesBothStatusObjects", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				open := &adapter.SubmittalStatus{ID: 1, Name: "Open", Status: "Open"}
				rr := &adapter.SubmittalStatus{ID: 2, Name: "Revise and Resubmit", Status: "Open"}
				sub := func(st *adapter.SubmittalStatus, at time.Time) Snapshot {
					return SubmittalSnapshot("c1", adapter.Submittal{ID: 5, ProjectID: 10, Number: "7", Title: "Rebar", Status: st, UpdatedAt: at})
				}
				if evs := observe(t, d, sub(open, t0)); len(evs) != 0 {
					t.Fatalf("baseline published %+v", evs)
				}
				evs := observe(t, d, sub(rr, t0.Add(time.Minute)))
				if len(evs) != 1 || evs[0].Kind != KindStatusChanged || evs[0].NewStatus != "REVISE_AND_RESUBMIT" ||
					evs[0].PreviousSubmittalStatus == nil || *evs[0].PreviousSubmittalStatus != *open ||
					evs[0].NewSubmittalStatus == nil || *evs[0].NewSubmittalStatus != *rr {
					t.Fatalf("change = %+v, want Open → Revise and Resubmit with both objects", evs)
				}
				evs = observe(t, d, sub(nil, t0.Add(2*time.Minute)))
				if len(evs) != 1 || evs[0].NewSubmittalStatus != nil || evs[0].PreviousSubmittalStatus == nil || *evs[0].PreviousSubmittalStatus != *rr {
					t.Fatalf("status removed = %+v, want previous Revise and Resubmit, now none", evs)
				}
			})

			t.Run("CreatedOnlyWhenTheSourceSaysSo", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				got := collect(t, bus, "c1")
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				s := rfiSnap("c1", "OPEN", t0, 7)
				s.Created = true
				evs := observe(t, d, s)
				if len(evs) != 1 || evs[0].Kind != KindCreated || evs[0].NewStatus != "OPEN" || len(evs[0].NewBallInCourt) != 1 || evs[0].NewBallInCourt[0].ID != 7 {
					t.Fatalf("created = %+v", evs)
				}
				if again := observe(t, d, s); len(again) != 0 {
					t.Fatalf("a repeated create report published %+v", again)
				}
				other := rfiSnap("c1", "OPEN", t0, 7)
				other.ItemID = 43
				if evs := observe(t, d, other); len(evs) != 0 {
					t.Fatalf("first sight without Created published %+v", evs)
				}
				if n := len(got()); n != 1 {
					t.Fatalf("bus carried %d events, want 1", n)
				}
			})

			t.Run("BallInCourtComparedAsASetOfPeople", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				observe(t, d, rfiSnap("c1", "OPEN", t0, 1, 2))
				if evs := observe(t, d, rfiSnap("c1", "OPEN", t0.Add(time.Second), 2, 1)); len(evs) != 0 {
					t.Fatalf("same people in another order published %+v", evs)
				}
				evs := observe(t, d, rfiSnap("c1", "OPEN", t0.Add(2*time.Second), 3))
				if len(evs) != 1 || evs[0].Kind != KindBallInCourtChanged {
					t.Fatalf("court change = %+v", evs)
				}
				prev, next := evs[0].PreviousBallInCourt, evs[0].NewBallInCourt
				if len(prev) != 2 || prev[0].ID != 1 || prev[1].ID != 2 || len(next) != 1 || next[0].ID != 3 {
					t.Fatalf("previous %+v new %+v, want [1 2] → [3]", prev, next)
				}
			})

			t.Run("CreateReportedAfterASilentBaselineIsAnnouncedOnce", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				got := collect(t, bus, "c1")
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				// The primer lists the new RFI before the create reports it.
				if evs := observe(t, d, rfiSnap("c1", "OPEN", t0, 1)); len(evs) != 0 {
					t.Fatalf("baseline published %+v", evs)
				}
				created := rfiSnap("c1", "OPEN", t0, 1)
				created.Created = true
				evs := observe(t, d, created)
				if len(evs) != 1 || evs[0].Kind != KindCreated || evs[0].NewStatus != "OPEN" {
					t.Fatalf("the create's report after the baseline published %+v, want one CREATED", evs)
				}
				if again := observe(t, d, created); len(again) != 0 {
					t.Fatalf("a second create report (its webhook) published %+v", again)
				}
				// A create report older than a change the baseline already saw
				// still announces the creation, with the newer state.
				moved := rfiSnap("c1", "OPEN", t0.Add(time.Minute), 2)
				moved.ItemID = 43
				observe(t, d, moved)
				late := rfiSnap("c1", "OPEN", t0, 1)
				late.ItemID, late.Created = 43, true
				evs = observe(t, d, late)
				if len(evs) != 1 || evs[0].Kind != KindCreated || evs[0].NewBallInCourt[0].ID != 2 {
					t.Fatalf("a late create report published %+v, want one CREATED with the known court [2]", evs)
				}
				if all := got(); len(all) != 2 {
					t.Fatalf("bus carried %+v, want the two CREATED events", all)
				}
			})

			t.Run("StatusAndCourtTogetherAreTwoEvents", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				observe(t, d, rfiSnap("c1", "OPEN", t0, 1))
				evs := observe(t, d, rfiSnap("c1", "CLOSED", t0.Add(time.Second)))
				if len(evs) != 2 || evs[0].Kind != KindStatusChanged || evs[1].Kind != KindBallInCourtChanged {
					t.Fatalf("got %+v, want STATUS_CHANGED then BALL_IN_COURT_CHANGED", evs)
				}
			})

			t.Run("IgnoresReportsOlderThanTheKnownState", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				observe(t, d, rfiSnap("c1", "OPEN", t0, 1))
				observe(t, d, rfiSnap("c1", "CLOSED", t0.Add(2*time.Minute)))
				// A webhook about the earlier state arrives late.
				if evs := observe(t, d, rfiSnap("c1", "OPEN", t0.Add(time.Minute), 1)); len(evs) != 0 {
					t.Fatalf("stale report published %+v", evs)
				}
			})

			t.Run("ConnectionsNeverShareState", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{})
				defer bus.Close()
				d := NewDiffer(newStore(t), bus, DifferOptions{})
				observe(t, d, rfiSnap("c1", "OPEN", t0))
				// Same item id, other connection: its own baseline, no event.
				if evs := observe(t, d, rfiSnap("c2", "CLOSED", t0.Add(time.Second))); len(evs) != 0 {
					t.Fatalf("another connection's report published %+v", evs)
				}
			})

			t.Run("ConcurrentReplicasPublishATransitionOnce", func(t *testing.T) {
				bus := NewMemoryBus(MemoryOptions{Buffer: 1024})
				defer bus.Close()
				got := collect(t, bus, "c1")
				store := newStore(t)
				replicas := []Observer{NewDiffer(store, bus, DifferOptions{}), NewDiffer(store, bus, DifferOptions{})}
				observe(t, replicas[0], rfiSnap("c1", "OPEN", t0, 1))
				var wg sync.WaitGroup
				for i := range 40 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := replicas[i%2].Observe(context.Background(), rfiSnap("c1", "CLOSED", t0.Add(time.Minute)), SourceWebhook); err != nil {
							t.Errorf("Observe: %v", err)
						}
					}()
				}
				wg.Wait()
				all := got()
				if len(all) != 2 || all[0].Kind != KindStatusChanged || all[1].Kind != KindBallInCourtChanged {
					t.Fatalf("40 concurrent reports of one transition published %d events: %+v", len(all), all)
				}
			})
		})
	}

	t.Run("FailedPublishIsRetriedByTheNextReport", func(t *testing.T) {
		bus := &flakyBus{Bus: NewMemoryBus(MemoryOptions{}), fails: 1}
		defer bus.Close()
		d := NewDiffer(memoryStore(t), bus, DifferOptions{PublishAttempts: 1})
		observe(t, d, rfiSnap("c1", "OPEN", t0))
		closedSnap := rfiSnap("c1", "CLOSED", t0.Add(time.Minute))
		if _, err := d.Observe(context.Background(), closedSnap, SourceMutation); err == nil {
			t.Fatal("Observe hid the publish failure")
		}
		evs := observe(t, d, closedSnap)
		if len(evs) != 1 || evs[0].Kind != KindStatusChanged {
			t.Fatalf("after a failed publish the next report published %+v, want the transition", evs)
		}
	})

	t.Run("SecondEventOfAChangeFailingOnceIsRetriedNotLost", func(t *testing.T) {
		bus := &flakyBus{Bus: NewMemoryBus(MemoryOptions{}), failCalls: map[int]bool{2: true}}
		defer bus.Close()
		got := collect(t, bus, "c1")
		d := NewDiffer(memoryStore(t), bus, DifferOptions{PublishBackoff: time.Millisecond})
		observe(t, d, rfiSnap("c1", "OPEN", t0, 1))
		changed := rfiSnap("c1", "CLOSED", t0.Add(time.Minute), 2)
		evs, err := d.Observe(context.Background(), changed, SourceMutation)
		if err != nil || len(evs) != 2 || evs[0].Kind != KindStatusChanged || evs[1].Kind != KindBallInCourtChanged {
			t.Fatalf("Observe = %+v, %v; want STATUS_CHANGED and BALL_IN_COURT_CHANGED despite one failed publish", evs, err)
		}
		if again := observe(t, d, changed); len(again) != 0 {
			t.Fatalf("the same report again published %+v", again)
		}
		if all := got(); len(all) != 2 || all[0].Kind != KindStatusChanged || all[1].Kind != KindBallInCourtChanged {
			t.Fatalf("bus carried %+v, want the two events once each", all)
		}
	})

	t.Run("SecondEventOfAChangeStillFailingIsPublishedAloneByTheNextReport", func(t *testing.T) {
		bus := &flakyBus{Bus: NewMemoryBus(MemoryOptions{}), failCalls: map[int]bool{2: true}}
		defer bus.Close()
		got := collect(t, bus, "c1")
		d := NewDiffer(memoryStore(t), bus, DifferOptions{PublishAttempts: 1})
		observe(t, d, rfiSnap("c1", "OPEN", t0, 1))
		changed := rfiSnap("c1", "CLOSED", t0.Add(time.Minute), 2)
		evs, err := d.Observe(context.Background(), changed, SourceMutation)
		if err == nil || len(evs) != 1 || evs[0].Kind != KindStatusChanged {
			t.Fatalf("Observe = %+v, %v; want the STATUS_CHANGED it published and the error of the second", evs, err)
		}
		evs = observe(t, d, changed)
		if len(evs) != 1 || evs[0].Kind != KindBallInCourtChanged || evs[0].PreviousBallInCourt[0].ID != 1 || evs[0].NewBallInCourt[0].ID != 2 {
			t.Fatalf("the next report published %+v, want only the missing BALL_IN_COURT_CHANGED 1→2", evs)
		}
		if all := got(); len(all) != 2 || all[0].Kind != KindStatusChanged || all[1].Kind != KindBallInCourtChanged {
			t.Fatalf("bus carried %+v, want STATUS_CHANGED then BALL_IN_COURT_CHANGED, once each", all)
		}
	})

	t.Run("RedisBusPublishesTheEventsOfAChangeAllOrNone", func(t *testing.T) {
		rdb := cachetest.Client(t)
		hook := &failPipelines{fail: map[int]bool{1: true, 3: true}}
		rdb.AddHook(hook)
		bus, err := NewRedisBus(RedisBusOptions{Client: rdb, Prefix: cachetest.Prefix(t, rdb, "differ-batch")})
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		d := NewDiffer(memoryStore(t), bus, DifferOptions{PublishAttempts: 1})
		observe(t, d, rfiSnap("c1", "OPEN", t0, 1))
		key := bus.StreamKey("c1")

		// Redis fails the first write: neither event is in the stream.
		changed := rfiSnap("c1", "CLOSED", t0.Add(time.Minute), 2)
		if evs, err := d.Observe(context.Background(), changed, SourceMutation); err == nil || len(evs) != 0 {
			t.Fatalf("Observe with Redis failing = %+v, %v; want no event and the error", evs, err)
		}
		if n := rdb.XLen(context.Background(), key).Val(); n != 0 {
			t.Fatalf("a failed batch left %d events in the stream, want none", n)
		}
		// The next report writes both in one transaction (the second write
		// passes), so a failure of the one after (the third) cannot split them.
		evs := observe(t, d, changed)
		if len(evs) != 2 || evs[0].Kind != KindStatusChanged || evs[1].Kind != KindBallInCourtChanged {
			t.Fatalf("the next report published %+v, want both events of the change", evs)
		}
		msgs := rdb.XRange(context.Background(), key, "-", "+").Val()
		if len(msgs) != 2 || msgs[0].ID != evs[0].ID || msgs[1].ID != evs[1].ID {
			t.Fatalf("stream holds %+v, want exactly the two events %s %s", msgs, evs[0].ID, evs[1].ID)
		}
		if n := hook.calls(); n != 2 {
			t.Fatalf("%d Redis writes for two reports, want one transaction each", n)
		}
	})

	t.Run("RefusesSnapshotWithoutIdentity", func(t *testing.T) {
		d := NewDiffer(memoryStore(t), NewMemoryBus(MemoryOptions{}), DifferOptions{})
		if _, err := d.Observe(context.Background(), Snapshot{ItemKind: ItemRFI, ItemID: 1}, SourcePoller); err == nil {
			t.Fatal("a snapshot without a connection was accepted")
		}
	})
}

// flakyBus fails its first fails publishes, and the publishes whose
// 1-based number is in failCalls. It offers no PublishBatch.
type flakyBus struct {
	Bus
	mu        sync.Mutex
	fails     int
	failCalls map[int]bool
	calls     int
}

func (b *flakyBus) Publish(ctx context.Context, e Event) (string, error) {
	b.mu.Lock()
	b.calls++
	if b.fails > 0 || b.failCalls[b.calls] {
		b.fails = max(b.fails-1, 0)
		b.mu.Unlock()
		return "", errors.New("bus down")
	}
	b.mu.Unlock()
	return b.Bus.Publish(ctx, e)
}

// failPipelines is a go-redis hook that counts the pipelines and
// transactions that write events (XADD), and fails those whose 1-based
// number is in fail before they reach Redis.
type failPipelines struct {
	mu   sync.Mutex
	fail map[int]bool
	n    int
}

func (h *failPipelines) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *failPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *failPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *failPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c.Name() == "xadd" }) {
			return next(ctx, cmds)
		}
		h.mu.Lock()
		h.n++
		fail := h.fail[h.n]
		h.mu.Unlock()
		if fail {
			return errors.New("injected: Redis unreachable")
		}
		return next(ctx, cmds)
	}
}

func TestNormalizeStatus(t *testing.T) {
	for in, want := range map[string]string{"Open": "OPEN", "Revise and Resubmit": "REVISE_AND_RESUBMIT", " Approved as Noted ": "APPROVED_AS_NOTED", "": ""} {
		if got := NormalizeStatus(in); got != want {
			t.Errorf("NormalizeStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func memoryStore(t *testing.T) cache.Store { return cachetest.Memory(t) }

func redisStore(t *testing.T) cache.Store {
	s, _, _ := cachetest.Redis(t, "events")
	return s
}

// TestDifferDeletions: a deletion is announced once however many sources
// report it, with the last status known, and the item's older state reported
// after it changes nothing.
func TestDifferDeletions(t *testing.T) {
	bus := NewMemoryBus(MemoryOptions{})
	t.Cleanup(func() { _ = bus.Close() })
	d := NewDiffer(memoryStore(t), bus, DifferOptions{})
	observe(t, d, rfiSnap("c1", "OPEN", t0, 7)) // baseline
	gone := Snapshot{Conn: "c1", ProjectID: 10, ItemKind: ItemRFI, ItemID: 42, Deleted: true}
	evs := observe(t, d, gone)
	if len(evs) != 1 || evs[0].Kind != KindDeleted || evs[0].NewStatus != "OPEN" || evs[0].PreviousStatus != "OPEN" ||
		len(evs[0].NewBallInCourt) != 0 || len(evs[0].PreviousBallInCourt) != 1 {
		t.Fatalf("deletion events %+v, want one DELETED with the last status OPEN and the court emptied", evs)
	}
	bin := rfiSnap("c1", "OPEN", t0.Add(time.Minute), 7)
	bin.Deleted = true // the recycle bin reports the same deletion
	if evs := observe(t, d, bin); len(evs) != 0 {
		t.Fatalf("a second report of the deletion published %+v", evs)
	}
	if evs := observe(t, d, rfiSnap("c1", "CLOSED", t0.Add(-time.Minute))); len(evs) != 0 {
		t.Fatalf("an older state after the deletion published %+v", evs)
	}
	t.Run("UnknownItemIsStillAnnounced", func(t *testing.T) {
		s := Snapshot{Conn: "c1", ProjectID: 10, ItemKind: ItemRFI, ItemID: 43, Deleted: true}
		if evs := observe(t, d, s); len(evs) != 1 || evs[0].Kind != KindDeleted || evs[0].NewStatus != "" {
			t.Fatalf("events %+v, want one DELETED without a status", evs)
		}
	})
}
