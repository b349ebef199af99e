package resolvers

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
	"procoregraph/events"
	"procoregraph/graph/model"
	"procoregraph/loaders"
	"procoregraph/tenant"
)

// scriptedBus is a Bus whose one subscription delivers evs and then ends
// with err.
type scriptedBus struct {
	evs    []events.Event
	err    error
	filter events.Filter
	after  string
}

func (b *scriptedBus) Publish(context.Context, events.Event) (string, error) { return "", nil }
func (b *scriptedBus) Close() error                                          { return nil }
func (b *scriptedBus) Subscribe(ctx context.Context, f events.Filter, after string) (*events.Subscription, error) {
	b.filter, b.after = f, after
	if after == "bad" {
		return nil, events.ErrBadCursor
	}
	ch := make(chan events.Event)
	go func() {
		defer close(ch)
		for _, e := range b.evs {
			select {
			case ch <- e:
			case <-ctx.Done():
				return
			}
		}
		if b.err == nil {
			<-ctx.Done()
		}
	}()
	return &events.Subscription{C: ch, Err: func() error { return b.err }}, nil
}

// oneProject is a Procore that knows project 7 only (subscriptions to a
// project check that it exists).
type oneProject struct{ adapter.Procore }

func (oneProject) Projects(_ context.Context, companyID int64, _ adapter.ProjectFilter, opt adapter.ListOptions) (adapter.Page[adapter.Project], error) {
	var out []adapter.Project
	for _, id := range opt.IDs {
		if id == 7 {
			out = append(out, adapter.Project{ID: 7, CompanyID: companyID, Name: "Seven"})
		}
	}
	return adapter.Page[adapter.Project]{Items: out, Total: len(out)}, nil
}

func liveCtx(bus events.Bus) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	conn := &tenant.Connection{ID: "c1", CompanyID: 1, Procore: oneProject{}}
	ctx = tenant.With(ctx, conn)
	ctx = loaders.With(ctx, loaders.New(conn, loaders.Options{}))
	return events.WithLive(ctx, &events.Live{Bus: bus}), cancel
}

func TestBallInCourtChanged(t *testing.T) {
	ev := func(id string, kind events.Kind) events.Event {
		return events.Event{ID: id, Conn: "c1", ProjectID: 7, Kind: kind, ItemKind: events.ItemRFI, ItemID: 9, Source: events.SourceWebhook}
	}
	r := New()

	t.Run("SlowSubscriberEndsWithErrorCarryingLastCursor", func(t *testing.T) {
		bus := &scriptedBus{evs: []events.Event{ev("1-0", events.KindBallInCourtChanged), ev("2-0", events.KindBallInCourtChanged)},
			err: events.ErrSlowSubscriber}
		ctx, cancel := liveCtx(bus)
		defer cancel()
		p := int64(7)
		ch, err := r.Subscription().BallInCourtChanged(ctx, &p, []model.BallInCourtItemKind{model.BallInCourtItemKindRfi}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bus.filter.Conn != "c1" || bus.filter.ProjectID != 7 || len(bus.filter.ItemKinds) != 1 || bus.filter.ItemKinds[0] != events.ItemRFI {
			t.Fatalf("bus filter %+v", bus.filter)
		}
		var got []*model.BallInCourtChange
		for v := range ch {
			got = append(got, v)
		}
		if len(got) != 3 {
			t.Fatalf("got %d elements, want 2 events and the drop notice", len(got))
		}
		for i, want := range []string{"1-0", "2-0"} {
			if c, err := r.BallInCourtChange().Cursor(ctx, got[i]); err != nil || c != want {
				t.Fatalf("event %d cursor %q %v, want %q", i, c, err, want)
			}
		}
		_, err = r.BallInCourtChange().Cursor(ctx, got[2])
		var ge *gqlerror.Error
		if !errors.As(err, &ge) || ge.Extensions["code"] != "SLOW_SUBSCRIBER" || ge.Extensions["lastCursor"] != "2-0" {
			t.Fatalf("drop notice error %v, want SLOW_SUBSCRIBER with lastCursor 2-0", err)
		}
	})

	t.Run("SlowSubscriberOfASinkBusEndsWithErrorCarryingLastCursor", func(t *testing.T) {
		// The in-memory bus feeds the subscription's channel itself (no
		// goroutine of its own): a full channel drops it, and it ends,
		// after every event it holds in order, with the drop notice.
		bus := events.NewMemoryBus(events.MemoryOptions{Buffer: 3})
		defer bus.Close()
		ctx, cancel := liveCtx(bus)
		defer cancel()
		p := int64(7)
		ch, err := r.Subscription().BallInCourtChanged(ctx, &p, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var cursors []string
		for i := range 5 {
			e := ev("", events.KindBallInCourtChanged)
			e.ItemID = int64(i + 1)
			c, err := bus.Publish(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			cursors = append(cursors, c)
		}
		var got []*model.BallInCourtChange
		for v := range ch {
			got = append(got, v)
		}
		if len(got) != 4 {
			t.Fatalf("got %d elements, want 3 events and the drop notice", len(got))
		}
		for i := range 3 {
			if c, err := r.BallInCourtChange().Cursor(ctx, got[i]); err != nil || c != cursors[i] || got[i].ItemID != int64(i+1) {
				t.Fatalf("element %d: cursor %q %v item %d, want %q item %d", i, c, err, got[i].ItemID, cursors[i], i+1)
			}
		}
		_, err = r.BallInCourtChange().Cursor(ctx, got[3])
		var ge *gqlerror.Error
		if !errors.As(err, &ge) || ge.Extensions["code"] != "SLOW_SUBSCRIBER" || ge.Extensions["lastCursor"] != cursors[2] {
			t.Fatalf("drop notice error %v, want SLOW_SUBSCRIBER with lastCursor %s", err, cursors[2])
		}
	})

	t.Run("CreatedInNobodysCourtIsNotABallMove", func(t *testing.T) {
		created := ev("1-0", events.KindCreated)
		moved := ev("2-0", events.KindBallInCourtChanged)
		bus := &scriptedBus{evs: []events.Event{created, moved}, err: errors.New("end")}
		ctx, cancel := liveCtx(bus)
		defer cancel()
		ch, err := r.Subscription().BallInCourtChanged(ctx, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var cursors []string
		for v := range ch {
			cursors = append(cursors, v.Cursor)
		}
		if len(cursors) != 1 || cursors[0] != "2-0" {
			t.Fatalf("delivered %v, want only 2-0", cursors)
		}
	})

	t.Run("MalformedCursorIsBadUserInput", func(t *testing.T) {
		ctx, cancel := liveCtx(&scriptedBus{})
		defer cancel()
		after := "bad"
		_, err := r.Subscription().RfiChanged(ctx, nil, nil, &after)
		if err == nil || !errors.Is(err, events.ErrBadCursor) || !strings.Contains(err.Error(), "BAD_USER_INPUT") {
			t.Fatalf("got %v, want BAD_USER_INPUT", err)
		}
	})

	t.Run("ClientGoneEndsTheGoroutine", func(t *testing.T) {
		base := runtime.NumGoroutine()
		bus := &scriptedBus{evs: []events.Event{ev("1-0", events.KindBallInCourtChanged)}}
		ctx, cancel := liveCtx(bus)
		ch, err := r.Subscription().BallInCourtChanged(ctx, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cancel() // gqlgen stops reading when the client goes away
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				t.Fatalf("goroutines %d, baseline %d", runtime.NumGoroutine(), base)
			}
			time.Sleep(5 * time.Millisecond)
		}
		for range ch { // closed by its producer
		}
	})
}
