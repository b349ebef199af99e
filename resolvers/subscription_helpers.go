package resolvers

import (
	"context"
	"errors"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
	"procoregraph/events"
	"procoregraph/graph/model"
	"procoregraph/loaders"
	"procoregraph/safe"
	"procoregraph/subshare"
	"procoregraph/tenant"
)

// droppedMarker starts the cursor of the last element a dropped subscription
// sends: the cursor resolvers turn it into the SLOW_SUBSCRIBER error.
const droppedMarker = "\x00dropped:"

// subscribe runs one subscription: it subscribes to the bus (so nothing
// published from now on is missed), primes the differ's baseline for what the
// subscription watches, and forwards every event conv accepts into the
// channel gqlgen reads. The forwarding goroutine owns the channel: it closes
// it when the client goes away, the bus closes, or the bus drops the
// subscriber for being too slow (then, first, an element made by dropped
// that reports SLOW_SUBSCRIBER with the last cursor delivered). On a bus
// that delivers to a Sink, a subscription that replays nothing has no
// forwarding goroutine (subscribeSink).
func subscribe[T any](ctx context.Context, f events.Filter, prime []events.ItemKind, after *string,
	conv func(events.Event) (*T, bool), dropped func(cursor string) *T) (<-chan *T, error) {
	c, err := conn(ctx)
	if err != nil {
		return nil, err
	}
	live := events.LiveFrom(ctx)
	if live == nil || live.Bus == nil {
		return nil, adapter.Errorf(adapter.CodeInternal, "subscriptions are not configured")
	}
	f.Conn = c.ID
	// Connections of one company share its events; a narrower credential (a
	// key with a project allowlist, a person) gets only its projects'.
	if f.ProjectID != 0 {
		// A project that does not exist, or that this credential cannot see,
		// is refused rather than watched in silence forever (one lookup,
		// cached like any other).
		if !c.Sees(ctx, f.ProjectID) {
			return nil, adapter.Errorf(adapter.CodeNotFound, "project %d not found", f.ProjectID)
		}
		if _, err := projectByID(ctx, f.ProjectID); err != nil {
			if adapter.IsNotFound(err) {
				return nil, adapter.Errorf(adapter.CodeNotFound, "project %d not found", f.ProjectID)
			}
			return nil, err
		}
	}
	cursor := ""
	if after != nil {
		cursor = *after
	}
	// A subscription that replays nothing, and whose events need no
	// per-project visibility check (which may read Procore), is fed by the
	// bus's goroutine: no goroutine of its own.
	if ss, ok := live.Bus.(events.SinkSubscriber); ok && cursor == "" && (f.ProjectID != 0 || c.CanSeeProject == nil) {
		return subscribeSink(ctx, live, ss, c, f, prime, conv, dropped)
	}
	sub, err := live.Bus.Subscribe(ctx, f, cursor)
	if err != nil {
		if errors.Is(err, events.ErrBadCursor) {
			return nil, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "after is not an event cursor of this gateway", Err: err}
		}
		return nil, err
	}
	stop := follow(ctx, live, c, f, prime)
	rec := subshare.RecorderFrom(ctx)
	ch := make(chan *T)
	go func() {
		defer close(ch)
		defer stop()
		defer safe.Recover(nil) // a panic ends this subscription, not the process
		last := cursor
		for e := range sub.C {
			last = e.ID
			if f.ProjectID == 0 && e.ProjectID != 0 && !c.Sees(ctx, e.ProjectID) {
				continue
			}
			v, ok := conv(e)
			if !ok {
				continue
			}
			rec.Record(e.ID)
			select {
			case <-ctx.Done():
				return
			case ch <- v:
			}
			if live.Delivered != nil {
				live.Delivered(e)
			}
		}
		if errors.Is(sub.Err(), events.ErrSlowSubscriber) {
			rec.Record(last)
			select {
			case <-ctx.Done():
			case ch <- dropped(droppedMarker + last):
			}
		}
	}()
	return ch, nil
}

// subscribeSink is subscribe for a bus that delivers to a Sink: conv runs
// in the bus's goroutine, which puts the subscription's elements in the
// channel gqlgen reads, buffered as the bus would (SubscriberBuffer); a
// subscription whose channel is full is dropped and ends, after what it
// holds, with the element made by dropped.
func subscribeSink[T any](ctx context.Context, live *events.Live, ss events.SinkSubscriber, c *tenant.Connection, f events.Filter,
	prime []events.ItemKind, conv func(events.Event) (*T, bool), dropped func(cursor string) *T) (<-chan *T, error) {
	n := max(ss.SubscriberBuffer(), 1)
	ch := make(chan *T, n+1) // the last slot is for the element that reports a drop
	last := ""               // the cursor of the last event taken; guarded by the bus's lock
	rec := subshare.RecorderFrom(ctx)
	sink := events.Sink{
		Deliver: func(e events.Event) (ok bool) {
			defer safe.Recover(func() { ok = false }) // a panic drops this subscription, not the publisher
			v, keep := conv(e)
			if !keep {
				last = e.ID
				return true
			}
			if len(ch) >= n {
				return false
			}
			rec.Record(e.ID)
			ch <- v
			last = e.ID
			if live.Delivered != nil {
				live.Delivered(e)
			}
			return true
		},
		End: func(err error) {
			if errors.Is(err, events.ErrSlowSubscriber) {
				rec.Record(last)
				ch <- dropped(droppedMarker + last) // never blocks: Deliver left the last slot free
			}
			close(ch)
		},
	}
	if err := ss.SubscribeSink(ctx, f, sink); err != nil {
		return nil, err
	}
	// gqlgen ends the operation's context when the subscription ends,
	// whichever side ends it (the client, or the bus closing the channel).
	context.AfterFunc(ctx, follow(ctx, live, c, f, prime))
	return ch, nil
}

// follow does what every started subscription does: it primes the sources
// for the watched kinds (a failed priming is logged by the primer; the
// subscription still delivers what the sources report), holds the poller
// on the kinds that cost whole lists while the subscription watches them,
// and counts it open. The returned stop undoes the hold and the count;
// call it once, when the subscription ends.
func follow(ctx context.Context, live *events.Live, c *tenant.Connection, f events.Filter, prime []events.ItemKind) (stop func()) {
	if live.Prime != nil {
		_ = live.Prime(ctx, c, f.ProjectID, prime)
	}
	release := func() {}
	if live.Hold != nil {
		release = live.Hold(ctx, c, f.ProjectID, prime)
	}
	if live.Active != nil {
		live.Active.Add(1)
	}
	return func() {
		release()
		if live.Active != nil {
			live.Active.Add(-1)
		}
	}
}

// eventCursor returns an event's cursor, or the SLOW_SUBSCRIBER error for
// the element a dropped subscription ends with.
func eventCursor(c string) (string, error) {
	last, ok := strings.CutPrefix(c, droppedMarker)
	if !ok {
		return c, nil
	}
	return "", SlowSubscriberError(last)
}

// SlowSubscriberError is the error that ends a subscription dropped for
// not keeping up with its events; last is the cursor of the last event it
// was sent, to subscribe again with.
func SlowSubscriberError(last string) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    "subscription dropped: the client did not keep up with its events; subscribe again with after: lastCursor",
		Extensions: map[string]any{"code": "SLOW_SUBSCRIBER", "lastCursor": last},
	}
}

// statusFilter selects the creations and status changes of items of the
// given kinds, in one project and of one item when those are given.
func statusFilter(projectID, itemID *int64, kinds ...events.ItemKind) events.Filter {
	return events.Filter{ProjectID: projectFilter(projectID), ItemID: projectFilter(itemID), ItemKinds: kinds,
		Kinds: []events.Kind{events.KindStatusChanged, events.KindCreated}}
}

func projectFilter(projectID *int64) int64 {
	if projectID == nil {
		return 0
	}
	return *projectID
}

func previous[T ~string](s string) *T {
	if s == "" {
		return nil
	}
	v := T(s)
	return &v
}

func people(ps []adapter.Person) []adapter.User {
	if ps == nil {
		return []adapter.User{}
	}
	return ps
}

// findInProject loads a project's whole list of T (cached, shared by every
// subscriber of the event) and returns the item with id, nil when gone.
func findInProject[T any](ctx context.Context, pick func(*loaders.Loaders) *loaders.ListLoader[T], projectID, id int64, idOf func(T) int64) (*T, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	page, err := pick(l).Load(ctx, loaders.NewListKey(projectID, 0, nil))()
	if err != nil {
		if adapter.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	for i := range page.Items {
		if idOf(page.Items[i]) == id {
			return &page.Items[i], nil
		}
	}
	return nil, nil
}

func rfiOf(ctx context.Context, projectID, id int64) (*adapter.RFI, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	r, err := l.RFIDetail.Load(ctx, loaders.ItemKey{ProjectID: projectID, ID: id})()
	if adapter.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func submittalOf(ctx context.Context, projectID, id int64) (*adapter.Submittal, error) {
	return findInProject(ctx, func(l *loaders.Loaders) *loaders.ListLoader[adapter.Submittal] { return l.Submittals },
		projectID, id, func(s adapter.Submittal) int64 { return s.ID })
}

func punchItemOf(ctx context.Context, projectID, id int64) (*adapter.PunchItem, error) {
	return findInProject(ctx, func(l *loaders.Loaders) *loaders.ListLoader[adapter.PunchItem] { return l.PunchItems },
		projectID, id, func(p adapter.PunchItem) int64 { return p.ID })
}

func commitmentOf(ctx context.Context, projectID, id int64) (*adapter.Commitment, error) {
	return findInProject(ctx, func(l *loaders.Loaders) *loaders.ListLoader[adapter.Commitment] { return l.Commitments },
		projectID, id, func(c adapter.Commitment) int64 { return c.ID })
}

func invoiceOf(ctx context.Context, projectID, id int64) (*adapter.Invoice, error) {
	l, err := ld(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := l.InvoiceDetail.Load(ctx, loaders.ItemKey{ProjectID: projectID, ID: id})()
	if adapter.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &inv, nil
}

var ballInCourtKinds = map[model.BallInCourtItemKind]events.ItemKind{
	model.BallInCourtItemKindRfi:       events.ItemRFI,
	model.BallInCourtItemKindSubmittal: events.ItemSubmittal,
	model.BallInCourtItemKindPunchItem: events.ItemPunchItem,
}
